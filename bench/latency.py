"""Latency: retrieval per mode, extractive answers (cold and warm), and the LLM path's own cost.

The LLM path is timed against a loopback OpenAI-compatible endpoint that streams a fixed answer at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from bench.report import interleaved, summarize
from rag.chain import RagChain
from rag.embeddings import LocalEmbeddings
from rag.schema import Answer
from rag.settings import RetrievalMode, Settings

MODES: tuple[RetrievalMode, ...] = ("vector", "bm25", "hybrid")

ANSWER_PIECES = ["The passages ", "report this ", "finding [1]. ", "A second passage ", "agrees [2]."]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    llm: LoopbackLLM

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client goes away."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """No access log."""

    def do_POST(self) -> None:
        """Stream the fixed answer as chat.completion.chunk events, timing the first one."""
        began = time.perf_counter()
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        self.close_connection = True
        base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0}
        base["model"] = body.get("model") or "bench"
        for n, piece in enumerate(ANSWER_PIECES):
            delta = {"role": "assistant", "content": piece}
            event = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
            if n == 0:
                self.server.llm.record((time.perf_counter() - began) * 1000)
        done = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()


class LoopbackLLM:
    """A minimal streaming chat endpoint on 127.0.0.1 that records its own time to the first event."""

    def __init__(self) -> None:
        self.server_ms: list[float] = []
        self.base_url = ""
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def record(self, ms: float) -> None:
        """Note the server's own time to its first event for one request."""
        with self._lock:
            self.server_ms.append(ms)

    def __enter__(self) -> LoopbackLLM:
        """Serve on a free port in a daemon thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.llm = self
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


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
    """Time the first token of the openai answerer against the loopback server, and its overhead.

    Per question: the extractive chain's time to its first delta, then the openai chain's time to
    its first delta minus the server's own time to its first event. Neither chain refuses here, and
    both share the index and the sentence cache (warm after the extractive passes).
    """
    with LoopbackLLM() as llm:
        # Never refuse, so every question reaches the model (and the extractive answerer).
        answer_all = chain.settings.model_copy(update={"refuse_below": 0.0})
        llm_settings = answer_all.model_copy(
            update={"llm": "openai", "openai_base_url": llm.base_url, "openai_api_key": SecretStr("bench")}
        )
        extractive = RagChain(answer_all, chain.retriever, chain.embeddings, vectors=chain.vectors)
        began = time.perf_counter()
        llm_chain = RagChain(llm_settings, chain.retriever, chain.embeddings, vectors=chain.vectors)
        build_ms = (time.perf_counter() - began) * 1000
        first_call_ms: float | None = None
        first: list[float] = []
        overhead: list[float] = []
        for question in queries:
            extractive_ms, _ = _first_delta_ms(extractive, question)
            calls = len(llm.server_ms)
            token_ms, _ = _first_delta_ms(llm_chain, question)
            if len(llm.server_ms) == calls or token_ms is None or extractive_ms is None:
                continue  # refused before the model was asked
            own = token_ms - llm.server_ms[-1]
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
        "server_first_event": summarize(llm.server_ms),
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
