"""The openai answerer over real HTTP, against an OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag import Settings, build_chain, ingest, llm
from rag.cli import app
from rag.documents import load_text
from rag.embeddings import LocalEmbeddings
from rag.errors import EmbeddingMismatchError, ProviderError
from rag.schema import REFUSAL
from rag.store import Store
from tests.conftest import SEEDS
from tests.openai_stub import OpenAIStub

HANOI_Q = "Why did the Hanoi summit collapse?"
WALKED_OUT = "Trump walked out of the summit in Hanoi"
DELEGATION_Q = "Who headed the Russian prosecutors' delegation to Pyongyang?"
SIGNED = "signed an agreement on Monday to cooperate on law enforcement countering foreign influence"


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Path:
    folder = tmp_path_factory.mktemp("openai") / "data"
    ingest(Settings(corpus_dir=SEEDS, data_dir=folder), embeddings=embeddings)
    return folder


def _settings(stub: OpenAIStub, data_dir: Path, **extra: object) -> Settings:
    return Settings(
        corpus_dir=SEEDS,
        data_dir=data_dir,
        llm="openai",
        openai_base_url=stub.base_url,
        openai_api_key="sk-test-sentinel",
        chat_model="test-model",
        llm_timeout=5,
        llm_max_retries=1,
        **extra,
    )


def _chat_requests(stub: OpenAIStub) -> list[dict]:
    return [r["json"] for r in stub.requests if r["path"].endswith("/chat/completions")]


def test_answer_request_and_checked_reply(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    settings = _settings(stub, data_dir, top_k=3)
    chain = build_chain(settings, embeddings=embeddings)
    hits = chain.retriever.search(HANOI_Q, k=3)
    n = next(i for i, h in enumerate(hits, start=1) if WALKED_OUT in h.text)
    stub.reply(
        f"Trump walked out of the Hanoi summit and rejected Kim's offer to dismantle the Yongbyon nuclear "
        f"facility in exchange for sanctions relief [{n}]. "
        f"Afterwards both leaders went on a fishing trip to celebrate their friendship [{n}]. "
        f"Nuclear talks have stalled since 2019 [9]."
    )
    events = list(chain.stream({"question": HANOI_Q}))
    answer = events[-1]

    (request,) = _chat_requests(stub)
    assert request["model"] == "test-model" and request["stream"] is True
    assert request["max_completion_tokens"] == 512  # RAG_LLM_MAX_TOKENS: a looping model stops
    system, human = request["messages"]
    assert system["role"] == "system" and "I couldn't find this in the documents." in system["content"]
    for i, hit in enumerate(hits, start=1):
        assert f'<passage n="{i}" source="{hit.source}">\n{hit.text}\n</passage>' in human["content"]
    assert HANOI_Q in human["content"]
    auth = next(r["headers"]["authorization"] for r in stub.requests)
    assert auth == "Bearer sk-test-sentinel"

    assert "".join(e for e in events[:-1] if isinstance(e, str)).startswith("Trump walked out")
    assert not answer.refused and answer.mode == "openai"
    assert answer.unsupported == [1, 2]  # the invented trip; the sentence whose only marker was [9]
    assert "[9]" not in answer.text
    assert [c.n for c in answer.citations] == [n]
    c = answer.citations[0]
    assert load_text(SEEDS / c.source)[c.start : c.end] == c.quote and WALKED_OUT in c.quote


def test_model_refusal_is_a_refusal(stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings) -> None:
    stub.reply("I couldn't find this in the documents.")
    answer = build_chain(_settings(stub, data_dir), embeddings=embeddings).invoke({"question": HANOI_Q})
    assert answer.refused and answer.text == REFUSAL and answer.citations == []


def test_off_corpus_question_is_refused_without_calling_the_model(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    chain = build_chain(_settings(stub, data_dir), embeddings=embeddings)
    answer = chain.invoke({"question": "What is a good recipe for kimchi?"})
    assert answer.refused and _chat_requests(stub) == []


def test_follow_up_is_condensed_then_answered(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    chain = build_chain(_settings(stub, data_dir), embeddings=embeddings)
    standalone = "What did Prosecutor General Igor Krasnov sign in Pyongyang?"
    hits = chain.retriever.search(standalone)
    n = next(i for i, h in enumerate(hits, start=1) if SIGNED in h.text)
    stub.reply(standalone)
    stub.reply(
        f"Krasnov signed an agreement to cooperate on law enforcement countering foreign influence [{n}]."
    )
    history = [[DELEGATION_Q, "Prosecutor General Igor Krasnov headed it [1]."]]

    answer = chain.invoke({"question": "What did he sign there?", "history": history})

    condense, answer_request = _chat_requests(stub)
    assert condense["max_completion_tokens"] == answer_request["max_completion_tokens"] == 512
    prompt = condense["messages"][0]["content"]
    assert DELEGATION_Q in prompt and "What did he sign there?" in prompt
    assert answer.retrieval_query == standalone
    assert answer.unsupported == []
    assert any(SIGNED in c.quote for c in answer.citations)


def test_server_error_is_one_clear_line_after_bounded_retries(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    stub.fail(500, times=5)
    chain = build_chain(_settings(stub, data_dir), embeddings=embeddings)
    began = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        chain.invoke({"question": HANOI_Q})
    assert time.monotonic() - began < 5  # inside the configured timeout
    message = str(caught.value)
    assert "\n" not in message and stub.base_url in message and "after 2 tries" in message
    assert len(_chat_requests(stub)) == 2  # the first try and max_retries=1
    assert "sk-test-sentinel" not in message


def test_stalled_endpoint_times_out(stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings) -> None:
    stub.stall(30)
    settings = _settings(stub, data_dir).model_copy(update={"llm_timeout": 0.5, "llm_max_retries": 0})
    chain = build_chain(settings, embeddings=embeddings)
    began = time.monotonic()
    with pytest.raises(ProviderError, match="Timeout"):
        chain.invoke({"question": HANOI_Q})
    assert time.monotonic() - began < 3


def test_cli_ask_json_through_the_endpoint(
    stub: OpenAIStub, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.reply("The summit ended when Trump walked out of it in Hanoi [1].")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-sentinel")
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", stub.base_url)
    result = CliRunner().invoke(
        app,
        ["ask", "--json", "--llm", "openai", HANOI_Q, "--corpus", str(SEEDS), "--data-dir", str(data_dir)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "openai" and data["text"].startswith("The summit ended")
    assert "sk-test-sentinel" not in result.output


def test_openai_embeddings_build_their_own_index(stub: OpenAIStub, tmp_path: Path) -> None:
    settings = Settings(
        corpus_dir=SEEDS,
        data_dir=tmp_path / "d",
        embedding="openai",
        openai_api_key="sk-test",
        openai_base_url=stub.base_url,
        embedding_model="test-embed",
    )
    report = ingest(settings)
    assert report.chunks_total > 0 and report.embedding_model == "openai:test-embed"
    embeds = [r for r in stub.requests if r["path"].endswith("/embeddings")]
    assert embeds and embeds[0]["json"]["model"] == "test-embed"
    with pytest.raises(EmbeddingMismatchError, match="openai:test-embed"):
        Store.open(settings.model_copy(update={"embedding": "local", "embedding_model": ""}))


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_outages_are_retried_then_reported(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings, status: int
) -> None:
    stub.fail(status, times=1)
    stub.reply("Trump walked out of the summit in Hanoi [1].")
    chain = build_chain(_settings(stub, data_dir), embeddings=embeddings)
    assert not chain.invoke({"question": HANOI_Q}).refused  # one retry got through
    stub.fail(status, times=5)
    with pytest.raises(ProviderError, match="after 2 tries"):
        chain.invoke({"question": HANOI_Q})


def test_garbage_reply_is_one_clear_error(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    stub.garbage()
    stub.garbage()
    with pytest.raises(ProviderError) as caught:
        build_chain(_settings(stub, data_dir), embeddings=embeddings).invoke({"question": HANOI_Q})
    assert "\n" not in str(caught.value)


def test_stall_mid_stream_times_out_with_one_line(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    stub.reply("Trump walked out of the summit in Hanoi, rejecting Kim's offer [1].", stall_after=2)
    settings = _settings(stub, data_dir).model_copy(update={"llm_timeout": 1.0, "llm_max_retries": 0})
    chain = build_chain(settings, embeddings=embeddings)
    began = time.monotonic()
    events: list = []
    with pytest.raises(ProviderError, match="Timeout") as caught:
        for event in chain.stream({"question": HANOI_Q}):
            events.append(event)
    assert time.monotonic() - began < 5
    assert events and all(isinstance(e, str) for e in events)  # the first pieces did stream
    assert "\n" not in str(caught.value)
    stub.reply("Trump walked out of the summit in Hanoi [1].")
    assert not chain.invoke({"question": HANOI_Q}).refused  # the chain still works afterwards


def test_max_tokens_setting_reaches_the_wire(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    stub.reply("Trump walked out of the summit in Hanoi [1].")
    chain = build_chain(_settings(stub, data_dir, llm_max_tokens=64), embeddings=embeddings)
    chain.invoke({"question": HANOI_Q})
    (request,) = _chat_requests(stub)
    assert request["max_completion_tokens"] == 64 and "max_tokens" not in request


def test_deadline_ends_a_trickling_answer_with_one_line(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    # Each read returns in time (the per-read timeout never fires) but the answer never ends.
    stub.reply("Trump walked out of the summit in Hanoi, rejecting Kim's offer [1].", stall_after=3)
    settings = _settings(stub, data_dir, llm_deadline=1.5).model_copy(update={"llm_timeout": 30.0})
    chain = build_chain(settings, embeddings=embeddings)
    began = time.monotonic()
    events: list = []
    with pytest.raises(ProviderError, match="deadline") as caught:
        for event in chain.stream({"question": HANOI_Q}):
            events.append(event)
    assert time.monotonic() - began < 15  # the deadline, not the 30 s read timeout
    assert events and all(isinstance(e, str) for e in events)
    message = str(caught.value)
    assert "\n" not in message and "RAG_LLM_DEADLINE" in message and "writing the answer" in message
    stub.reply("Trump walked out of the summit in Hanoi [1].")
    assert not chain.invoke({"question": HANOI_Q}).refused  # the chain keeps working


def test_deadline_covers_the_rewrite(stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings) -> None:
    stub.stall(30)
    settings = _settings(stub, data_dir, llm_deadline=1.0).model_copy(update={"llm_timeout": 30.0})
    chain = build_chain(settings, embeddings=embeddings)
    history = [[DELEGATION_Q, "Prosecutor General Igor Krasnov headed it [1]."]]
    began = time.monotonic()
    with pytest.raises(ProviderError, match="rewriting the question"):
        chain.invoke({"question": "What did he sign there?", "history": history})
    assert time.monotonic() - began < 15  # not the 30 s read timeout


def test_llm_questions_queue_and_extractive_ones_never_wait(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    """RAG_LLM_CONCURRENCY=1 and a hung endpoint: the next LLM question queues, extractive ones don't."""
    stub.reply("Trump walked out of the summit in Hanoi [1].", stall_after=1)  # hangs until the stub stops
    settings = _settings(stub, data_dir, llm_concurrency=1, llm_deadline=1.5)
    chain = build_chain(settings.model_copy(update={"llm_timeout": 60.0}), embeddings=embeddings)
    quick = chain.with_options(mode="extractive")
    assert quick.llm_limit is chain.llm_limit and chain.with_options(top_k=3).llm_limit is chain.llm_limit
    with pytest.raises(ProviderError, match="deadline"):
        chain.invoke({"question": HANOI_Q})
    # The hung request still holds its slot: the limit counts requests open at the endpoint.
    assert chain.llm_limit.busy == 1
    began = time.monotonic()
    assert quick.invoke({"question": HANOI_Q}).mode == "extractive"
    assert time.monotonic() - began < 15  # not behind the hung call (it holds on for the 60 s timeout)
    with pytest.raises(ProviderError, match="waiting for a free chat slot"):
        chain.invoke({"question": DELEGATION_Q})  # queued behind it, until its own deadline
    assert len(_chat_requests(stub)) == 1  # the queued question never reached the endpoint
    stub.stop()  # the endpoint lets go: the slot comes back
    wait = time.monotonic() + 10
    while chain.llm_limit.busy and time.monotonic() < wait:
        time.sleep(0.02)
    assert chain.llm_limit.busy == 0


def test_leading_markers_repeats_and_false_attribution(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    chain = build_chain(_settings(stub, data_dir), embeddings=embeddings)
    hits = chain.retriever.search(DELEGATION_Q)
    n = next(i for i, h in enumerate(hits, start=1) if SIGNED in h.text)
    assert "Xi Jinping" not in hits[n - 1].text
    signed = f"Krasnov and Kim Chol Won {SIGNED}."
    stub.reply(f"[{n}] {signed} [{n}] {signed} [{n}] {signed}\nXi Jinping said that Krasnov {SIGNED} [{n}].")
    answer = chain.invoke({"question": DELEGATION_Q})
    assert answer.sentences[0] == f"{signed} [{n}]"  # the leading marker attached, the repeats collapsed
    assert len(answer.sentences) == 2 and answer.unsupported == [1]  # no Xi in the cited passage
    assert [c.n for c in answer.citations] == [n] and SIGNED in answer.citations[0].quote


def test_async_deadline_cancels_the_request_and_frees_the_slot(
    stub: OpenAIStub, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    stub.reply("Trump walked out of the summit in Hanoi, rejecting Kim's offer [1].", stall_after=2)
    settings = _settings(stub, data_dir, llm_deadline=1.0).model_copy(update={"llm_timeout": 30.0})
    chain = build_chain(settings, embeddings=embeddings)

    async def ask() -> list[object]:
        events: list[object] = []
        with pytest.raises(ProviderError, match="deadline"):
            async for event in chain.astream({"question": HANOI_Q}):
                events.append(event)
        return events

    began = time.monotonic()
    events = asyncio.run(ask())
    assert time.monotonic() - began < 15 and events  # not the 30 s read timeout
    assert chain.llm_limit.busy == 0  # cancelling the awaited read closed the request at once
    stub.reply("Trump walked out of the summit in Hanoi [1].")
    assert not asyncio.run(chain.ainvoke({"question": HANOI_Q})).refused


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("What did Igor Krasnov sign in Pyongyang?", "What did Igor Krasnov sign in Pyongyang?"),
        (
            'Standalone question: "What did Krasnov sign in Pyongyang?"\nNote: resolved he.',
            "What did Krasnov sign in Pyongyang?",
        ),
        ("User: What did he sign there?", "What did he sign there?"),
        ("The answer to the last question is: Igor Krasnov.", "FALLBACK"),  # an answer, not a question
        ("What did Kim Jong Un say in Hanoi?", "FALLBACK"),  # dropped "sign": another question
        ("", "FALLBACK"),
    ],
)
def test_a_rewrite_must_still_be_the_question(reply: str, expected: str) -> None:
    assert llm.standalone(reply, "What did he sign there?", 4000, "FALLBACK") == expected
