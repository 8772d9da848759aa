"""A small version of the load script: concurrent sessions against one real server, all answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rag
from rag.app import build_app, launch
from rag.embeddings import LocalEmbeddings
from tests.conftest import SEEDS, free_port
from tests.load_chat import run_load


@pytest.fixture
def url(tmp_path: Path, embeddings: LocalEmbeddings) -> Iterator[str]:
    settings = rag.Settings(corpus_dir=SEEDS, data_dir=tmp_path / "data")
    rag.ingest(settings, embeddings=embeddings)
    demo = build_app(rag.build_chain(settings, embeddings=embeddings), settings)
    yield launch(demo, port=free_port())
    demo.close()


def test_ten_concurrent_sessions_all_answered_and_cited(url: str) -> None:
    summary = run_load(url, users=10, questions=2)
    assert summary["errors"] == []
    assert summary["answers"] == summary["correct"] == 20
