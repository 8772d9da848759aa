"""Latency: retrieval per mode, extractive answers (cold and warm), and the LLM path's own cost.

The LLM path is timed against the test suite's loopback OpenAI-compatible stub (tests/openai_stub.py),
which streams a fixed answer at once.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from bench.report import interleaved, summarize
from rag.chain import RagChain
from rag.embeddings import LocalEmbeddings
from rag.schema import Answer
from rag.settings import RetrievalMode, Settings
from tests.openai_stub import OpenAIStub

MODES: tuple[RetrievalMode, ...] = ("vector", "bm25", "hybrid")

ANSWER = "The passages report this finding [1]. A second passage agrees [2]."


def endpoint_first_event_ms(base_url: str) -> float:
    """Time a bare HTTP client's streamed chat request to the endpoint's first event, in ms.

    What the endpoint and the loopback connection cost on their own, subtracted from the chain's
    time to its first delta to leave the chain's part.
    """
    address = urlsplit(base_url)
    body = json.dumps({"model": "bench", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    began = time.perf_counter()
    conn = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
    try:
        conn.request("POST", f"{address.path}/chat/completions", body, {"content-type": "application/json"})
        response = conn.getresponse()
        while (line := response.readline()) and not line.startswith(b"data:"):
            pass
        elapsed = (time.perf_counter() - began) * 1000
        response.read()
    finally:
        conn.close()
    return elapsed


def _first_delta_ms(chain: RagChain, question: str) -> tuple[float | None, Answer | None]:
    """Time `chain.stream` to its first text delta, then drain it; return (ms, final answer)."""
    began = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    for event in chain.stream({"question": question}):
        if isinstance(event, Answer):
            answer = event
        elif first is None:
            first = (time.perf_counter() - began) * 1000
    return first, answer


def measure_llm_path(chain: RagChain, queries: Sequence[str]) -> dict[str, Any]:
    """Time the first token of the openai answerer against the test suite's stub, and its overhead.

    Per question: the extractive chain's time to its first delta, then the openai chain's time to
    its first delta minus a bare client's time to the stub's first event. Neither chain refuses
    here, and both share the index and the sentence cache (warm after the extractive passes).
    """
    with OpenAIStub() as stub:
        stub.default_text = ANSWER  # every request gets the same streamed answer
        # Never refuse, so every question reaches the model (and the extractive answerer).
        answer_all = chain.settings.model_copy(update={"refuse_below": 0.0})
        llm_settings = answer_all.model_copy(
            update={"llm": "openai", "openai_base_url": stub.base_url, "openai_api_key": SecretStr("bench")}
        )
        extractive = RagChain(answer_all, chain.retriever, chain.embeddings, vectors=chain.vectors)
        began = time.perf_counter()
        llm_chain = RagChain(llm_settings, chain.retriever, chain.embeddings, vectors=chain.vectors)
        build_ms = (time.perf_counter() - began) * 1000
        first_call_ms: float | None = None
        first: list[float] = []
        overhead: list[float] = []
        endpoint: list[float] = []
        for question in queries:
            extractive_ms, _ = _first_delta_ms(extractive, question)
            calls = len(stub.requests)
            token_ms, _ = _first_delta_ms(llm_chain, question)
            if len(stub.requests) == calls or token_ms is None or extractive_ms is None:
                continue  # refused before the model was asked
            endpoint.append(endpoint_first_event_ms(stub.base_url))
            own = token_ms - endpoint[-1]
            if first_call_ms is None:
                first_call_ms = round(own, 1)  # the first request also opens the HTTP client
                continue
            first.append(own)
            overhead.append(own - extractive_ms)
    return {
        "build_chain_ms": round(build_ms, 1),
        "first_call_ms": first_call_ms,
        "first_token": summarize(first),
        "overhead": summarize(overhead),
        "endpoint_first_event": summarize(endpoint),
    }


def measure_latency(
    settings: Settings,
    embeddings: LocalEmbeddings,
    queries: Sequence[str],
    peer_search: Callable[[str], object],
) -> dict[str, Any]:
    """Retrieval p50/p95 per mode (and the peer's), then extractive answers, cold and warm, then LLM."""
    from rag.chain import build_chain
    from rag.retrieve import open_retriever

    retriever = open_retriever(settings, embeddings)
    calls: dict[str, Callable[[str], object]] = {
        mode: partial(retriever.search, k=settings.top_k, mode=mode) for mode in MODES
    }
    samples = interleaved({**calls, "peer": peer_search, "query_embedding": embeddings.embed_query}, queries)
    retrieval = {mode: summarize(samples[mode]) for mode in MODES}
    chain = build_chain(settings, embeddings=embeddings)
    chain.retriever.search(queries[0], k=chain.top_k)  # loads BM25; leaves the sentence cache empty
    passes: list[dict[str, Any]] = []
    for _ in range(2):
        total: list[float] = []
        retrieve: list[float] = []
        evidence: list[float] = []
        refused = 0
        for q in queries:
            began = time.perf_counter()
            answer = chain.invoke({"question": q})
            total.append((time.perf_counter() - began) * 1000)
            retrieve.append(answer.timings["retrieve_ms"])
            evidence.append(answer.timings["evidence_ms"])
            refused += answer.refused
        passes.append(
            {
                **summarize(total),
                "retrieve": summarize(retrieve),
                "evidence": summarize(evidence),
                "refused": refused,
            }
        )
    warm = passes[1]
    return {
        "k": 10,
        "queries": len(queries),
        "retrieval": retrieval,
        "peer_similarity_search": summarize(samples["peer"]),
        "query_embedding": summarize(samples["query_embedding"]),
        "extractive_cold": passes[0],
        "extractive_warm": warm,
        "extractive_limited_by": (
            f"p50 of the parts: retrieval (hybrid, k={chain.top_k}) {warm['retrieve']['p50']} ms + "
            f"sentence scoring {warm['evidence']['p50']} ms; a cold cache embeds every passage sentence "
            f"(p50 {passes[0]['p50']} ms)"
        ),
        "llm": measure_llm_path(chain, queries),
    }
