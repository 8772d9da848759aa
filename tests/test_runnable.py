"""`RagChain` as a LangChain Runnable: callbacks, tracing and `astream_events` see its runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from rag import Answer, RagChain, Settings, build_chain, ingest
from rag.embeddings import LocalEmbeddings
from tests.conftest import SEEDS
from tests.openai_stub import OpenAIStub

HANOI_Q = "Why did the Hanoi summit collapse?"


class Recorder(BaseCallbackHandler):
    """Record the callback events a run fires, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.events.append(("chain_start", kwargs.get("name")))

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self.events.append(("chain_end", outputs))

    def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        self.events.append(("chain_error", error))

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.events.append(("chat_model_start", messages))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.events.append(("llm_end", response))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Path:
    folder = tmp_path_factory.mktemp("runnable") / "data"
    ingest(Settings(corpus_dir=SEEDS, data_dir=folder), embeddings=embeddings)
    return folder


@pytest.fixture
def chain(data_dir: Path, embeddings: LocalEmbeddings) -> RagChain:
    return build_chain(Settings(corpus_dir=SEEDS, data_dir=data_dir), embeddings=embeddings)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def test_invoke_and_stream_fire_chain_callbacks(chain: RagChain) -> None:
    for run in ("invoke", "stream"):
        recorder = Recorder()
        config = {"callbacks": [recorder], "run_name": f"rag-{run}"}
        if run == "invoke":
            answer = chain.invoke({"question": HANOI_Q}, config=config)
        else:
            *_, answer = chain.stream({"question": HANOI_Q}, config=config)
        assert isinstance(answer, Answer) and not answer.refused
        assert recorder.events[0] == ("chain_start", f"rag-{run}")
        name, output = recorder.events[-1]
        assert name == "chain_end" and output == answer  # the run's output is the final Answer


def test_a_failed_question_reports_chain_error(chain: RagChain) -> None:
    recorder = Recorder()
    with pytest.raises(Exception, match="empty"):
        chain.invoke({"question": "   "}, config={"callbacks": [recorder]})
    assert recorder.names() == ["chain_start", "chain_error"]


def test_batch_passes_each_config(chain: RagChain) -> None:
    recorders = [Recorder(), Recorder()]
    questions = [HANOI_Q, "Who headed the Russian prosecutors' delegation to Pyongyang?"]
    answers = chain.batch(
        [{"question": q} for q in questions], config=[{"callbacks": [r]} for r in recorders]
    )
    assert [a.question for a in answers] == questions
    assert [a.text for a in answers] == [chain.invoke(q).text for q in questions]
    assert all(r.names() == ["chain_start", "chain_end"] for r in recorders)


def test_openai_mode_chat_model_runs_inside_the_chain_run(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    settings = Settings(
        corpus_dir=SEEDS,
        data_dir=data_dir,
        llm="openai",
        openai_base_url=stub.base_url,
        openai_api_key="sk-test",
        chat_model="test-model",
        llm_timeout=5,
        llm_max_retries=0,
    )
    chain = build_chain(settings, embeddings=embeddings)
    stub.reply("Trump walked out of the summit in Hanoi [1].")
    recorder = Recorder()
    answer = chain.invoke({"question": HANOI_Q}, config={"callbacks": [recorder]})
    assert not answer.refused
    assert recorder.names()[0] == "chain_start" and recorder.names()[-1] == "chain_end"
    assert "chat_model_start" in recorder.names() and "llm_end" in recorder.names()
    (messages,) = next(m for n, m in recorder.events if n == "chat_model_start")
    assert messages[0].type == "system" and HANOI_Q in messages[-1].content

    # astream_events (v2) yields the model's deltas and the chain's own stream events.
    stub.reply("Trump walked out of the summit in Hanoi [1].")

    async def collect() -> list[dict[str, Any]]:
        return [e async for e in chain.astream_events({"question": HANOI_Q}, version="v2")]

    events = asyncio.run(collect())
    kinds = [e["event"] for e in events]
    assert kinds[0] == "on_chain_start" and kinds[-1] == "on_chain_end"
    model_deltas = "".join(e["data"]["chunk"].text for e in events if e["event"] == "on_chat_model_stream")
    chain_deltas = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream"]
    assert "walked out" in model_deltas
    assert "".join(d for d in chain_deltas if isinstance(d, str)) == model_deltas
    assert isinstance(chain_deltas[-1], Answer)


def test_astream_events_extractive_yields_the_deltas(chain: RagChain) -> None:
    async def collect() -> list[dict[str, Any]]:
        return [e async for e in chain.astream_events({"question": HANOI_Q}, version="v2")]

    events = asyncio.run(collect())
    chunks = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream"]
    assert len(chunks) >= 2 and isinstance(chunks[-1], Answer)
    assert "".join(c for c in chunks[:-1] if isinstance(c, str)) == chunks[-1].text
