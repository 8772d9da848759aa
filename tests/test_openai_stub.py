"""The OpenAI stub server, exercised through the real openai SDK and langchain-openai clients."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletionMessageParam

from tests.openai_stub import OpenAIStub

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Where was the 2024 summit?"}]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    """A started stub, stopped after the test."""
    with OpenAIStub() as s:
        yield s


def client(stub: OpenAIStub, **kwargs: Any) -> openai.OpenAI:
    """An openai SDK client pointed at the stub."""
    return openai.OpenAI(base_url=stub.base_url, api_key="sk-test", **kwargs)


def test_non_stream_chat_returns_text_and_records_request(stub: OpenAIStub) -> None:
    """A queued reply comes back whole; the stub logs model, messages and auth header."""
    stub.reply("Hanoi, in February 2024.")
    resp = client(stub).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert resp.choices[0].message.content == "Hanoi, in February 2024."
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "gpt-test"
    assert resp.usage is not None and resp.usage.total_tokens > 0
    [req] = stub.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["json"]["model"] == "gpt-test"
    assert req["json"]["messages"] == MESSAGES
    assert req["headers"]["authorization"] == "Bearer sk-test"


def test_empty_queue_uses_default_text(stub: OpenAIStub) -> None:
    """With nothing queued, the default text is the answer."""
    resp = client(stub).chat.completions.create(model="m", messages=MESSAGES)
    assert resp.choices[0].message.content == OpenAIStub.default_text


def test_stream_chat_yields_chunks_in_order(stub: OpenAIStub) -> None:
    """Streaming yields each queued chunk in order, then a stop chunk and usage when asked."""
    stub.reply("ignored", chunks=["Ha", "noi", ", 2024."])
    stream = client(stub).chat.completions.create(
        model="m",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    events = list(stream)
    pieces = [e.choices[0].delta.content for e in events if e.choices and e.choices[0].delta.content]
    assert pieces == ["Ha", "noi", ", 2024."]
    assert [e.choices[0].finish_reason for e in events if e.choices][-1] == "stop"
    assert events[-1].usage is not None and not events[-1].choices


def test_stream_default_chunking_joins_to_text(stub: OpenAIStub) -> None:
    """Without explicit chunks the text is split into several pieces that join back exactly."""
    text = "The summit was held in Hanoi in February 2024 , twice."
    stub.reply(text)
    stream = client(stub).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    pieces = [e.choices[0].delta.content or "" for e in stream if e.choices]
    assert len([p for p in pieces if p]) > 1
    assert "".join(pieces) == text


def test_langchain_invoke_and_stream(stub: OpenAIStub) -> None:
    """ChatOpenAI works against the stub for both invoke and stream."""
    llm = ChatOpenAI(model="m", base_url=stub.base_url, api_key="sk-test", max_retries=0)  # type: ignore[arg-type]
    stub.reply("Answer one.")
    assert llm.invoke("question?").content == "Answer one."
    stub.reply("Answer two, streamed in pieces.", chunks=["Answer two,", " streamed", " in pieces."])
    pieces = [c.content for c in llm.stream("question?")]
    assert [p for p in pieces if p] == ["Answer two,", " streamed", " in pieces."]
    assert "".join(str(p) for p in pieces) == "Answer two, streamed in pieces."
    assert [r["json"]["model"] for r in stub.requests] == ["m", "m"]
    assert stub.requests[1]["json"]["stream"] is True


def test_failures_are_retried_then_succeed(stub: OpenAIStub) -> None:
    """Two 500s then a reply: a client with max_retries=2 gets the reply after 3 requests."""
    stub.fail(500, times=2)
    stub.reply("Third time lucky.")
    resp = client(stub, max_retries=2).chat.completions.create(model="m", messages=MESSAGES)
    assert resp.choices[0].message.content == "Third time lucky."
    assert len(stub.requests) == 3


def test_failure_without_retries_raises(stub: OpenAIStub) -> None:
    """A 500 with max_retries=0 surfaces as InternalServerError carrying the error body."""
    stub.fail(500)
    with pytest.raises(openai.InternalServerError) as exc:
        client(stub, max_retries=0).chat.completions.create(model="m", messages=MESSAGES)
    assert exc.value.status_code == 500
    assert len(stub.requests) == 1


def test_custom_failure_body(stub: OpenAIStub) -> None:
    """A 429 with a custom body maps to RateLimitError with that message."""
    stub.fail(429, body={"error": {"message": "slow down", "type": "rate_limit", "code": "rate_limit"}})
    with pytest.raises(openai.RateLimitError, match="slow down"):
        client(stub, max_retries=0).chat.completions.create(model="m", messages=MESSAGES)


def test_stall_times_out_client(stub: OpenAIStub) -> None:
    """A stall longer than the client timeout raises APITimeoutError quickly."""
    stub.stall(5)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client(stub, timeout=0.5, max_retries=0).chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - started < 2


def test_short_stall_then_answers_with_next_item(stub: OpenAIStub) -> None:
    """After a short stall the next queued reply is served."""
    stub.stall(0.2)
    stub.reply("Late but here.")
    resp = client(stub, timeout=5).chat.completions.create(model="m", messages=MESSAGES)
    assert resp.choices[0].message.content == "Late but here."


def test_stop_is_prompt_during_stall() -> None:
    """stop() returns quickly even while a handler is stalled."""
    stub = OpenAIStub().start()
    stub.stall(30)
    with pytest.raises(openai.APITimeoutError):
        client(stub, timeout=0.3, max_retries=0).chat.completions.create(model="m", messages=MESSAGES)
    started = time.monotonic()
    stub.stop()
    assert time.monotonic() - started < 1


def test_client_disconnect_mid_stream_does_not_break_server(stub: OpenAIStub) -> None:
    """A client that drops a stream early leaves the server serving."""
    stub.reply("x", chunks=[f"piece {i} " * 200 for i in range(500)])
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{stub.base_url}/chat/completions", json=body) as resp:
        next(resp.iter_lines())
    stub.reply("Still alive.")
    resp2 = client(stub).chat.completions.create(model="m", messages=MESSAGES)
    assert resp2.choices[0].message.content == "Still alive."


def test_embeddings_are_unit_384_dim_and_deterministic(stub: OpenAIStub) -> None:
    """Embeddings: one 384-dim unit vector per input, same input gives same vector."""
    c = client(stub)
    first = c.embeddings.create(model="e", input=["alpha", "beta", "alpha"])
    vecs = [d.embedding for d in first.data]
    assert [d.index for d in first.data] == [0, 1, 2]
    assert all(len(v) == 384 for v in vecs)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in vecs)
    assert vecs[0] == vecs[2] and vecs[0] != vecs[1]
    again = c.embeddings.create(model="e", input="beta", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(vecs[1], abs=1e-6)
    tokens = c.embeddings.create(model="e", input=[[1, 2, 3], [4, 5]])
    assert len(tokens.data) == 2 and all(len(d.embedding) == 384 for d in tokens.data)


def test_garbage_body_makes_client_raise(stub: OpenAIStub) -> None:
    """A 200 whose body is not JSON makes the SDK raise."""
    stub.garbage()
    with pytest.raises((openai.APIError, json.JSONDecodeError, ValueError)):
        client(stub, max_retries=0).chat.completions.create(model="m", messages=MESSAGES)


def test_models_and_unknown_path(stub: OpenAIStub) -> None:
    """GET /v1/models lists a model; unknown paths get a 404 JSON error."""
    assert [m.id for m in client(stub).models.list()] == ["stub-model"]
    resp = httpx.post(f"{stub.base_url}/nope", json={})
    assert resp.status_code == 404 and "error" in resp.json()
