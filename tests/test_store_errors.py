"""Errors that used to escape as tracebacks: Chroma's while iterating, a dead embeddings endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from typer.testing import CliRunner

from rag import ingest
from rag.cli import app
from rag.errors import RagError, StoreError
from rag.settings import Settings
from rag.store import Store
from tests.conftest import free_port
from tests.openai_stub import OpenAIStub


def test_chroma_errors_while_iterating_records_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.txt").write_text("A short document.\n")
    settings = Settings(corpus_dir=tmp_path / "c", data_dir=tmp_path / "d")
    ingest(settings, embeddings=DeterministicFakeEmbedding(size=384))
    store = Store.open(settings, create=True)
    records = store.iter_records()
    Store.reset(settings)  # deleted under the open handle
    with pytest.raises(StoreError) as caught:
        next(records)
    assert "was deleted" in str(caught.value) and "\n" not in str(caught.value)
    store.close()


def test_a_dead_embeddings_endpoint_is_one_line_for_ingest_ask_and_search(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The Yongbyon reactor is in North Korea.\n")
    data = tmp_path / "d"
    env = {"RAG_EMBEDDING": "openai", "RAG_OPENAI_API_KEY": "sk-test", "RAG_LLM": "extractive"}
    with OpenAIStub() as stub:  # index once while the endpoint is up
        settings = Settings(
            corpus_dir=corpus,
            data_dir=data,
            openai_base_url=stub.base_url,
            **{"embedding": "openai", "openai_api_key": "sk-test"},
        )
        assert ingest(settings).chunks_total == 1
    (corpus / "b.txt").write_text("A new file to embed.\n")
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    common = ["--corpus", str(corpus), "--data-dir", str(data)]
    runner = CliRunner()
    for args in (["ingest", "-q"], ["ask", "Where is Yongbyon?"], ["search", "Yongbyon"]):
        result = runner.invoke(app, [*args, *common], env={**env, "RAG_OPENAI_BASE_URL": dead})
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and not isinstance(result.exception, RagError)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: the embeddings endpoint"), result.output
        assert "RAG_EMBEDDING=local" in lines[0]
