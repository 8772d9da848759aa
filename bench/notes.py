"""How each figure was made: the notes under BENCHMARKS.md's tables."""

from __future__ import annotations

from typing import Any


def _load_notes(r: dict[str, Any]) -> list[str]:
    chat = r.get("chat") or {}
    if not chat.get("available"):
        return []
    memory = chat["memory"]
    return [
        f"Chat load: one `rag serve` child on `seeds/` (indexed first by `rag ingest -q`), driven by "
        f"`tests/load_chat.py` over real HTTP (gradio_client): {chat['load']['users']} concurrent sessions "
        f"× {chat['load']['questions_per_user']} questions, each answer checked to cite the file that holds "
        "it; latency is per question, client side, queueing included. Peak RSS: the server's VmHWM after "
        "the load.",
        f"Memory over new sessions: then {memory['sessions']:,} more questions, each in a new Gradio "
        f"session (`Client.reset_session()` after every answer), {memory['concurrency']} at a time in "
        "rounds; the server's VmRSS after each round. Flat: the second half of the sessions adds "
        "< 10 KB per session (growth from the point nearest half way to the end).",
    ]


def notes(r: dict[str, Any], collection: str) -> list[str]:
    """Return one line per kind of figure: what was run, on what, and how it was timed."""
    peer, emb = r["peer"], r["embedding"]
    serve_index = r["cold_start"].get("serve_during_index") or {}
    lines = [
        f"Corpus: the first {emb['documents']:,} SciFact documents, each written as `<id>.txt` (title, blank "
        f"line, text) and ingested by `rag.ingest` (collection `{collection}`, chunks of "
        f"{r['config']['chunk_size']} tokens, overlap {r['config']['chunk_overlap']}); queries: the first "
        f"{r['latency']['queries']} of queries.jsonl.",
        "Raw limit: `LocalEmbeddings.embed_array` on the exact chunk texts ingest produces, with the same "
        "session ingest uses; timed before and after the ingest and averaged. Throughputs are per wall "
        "second and per CPU-second of this process (all threads): on a busy machine the CPU figure is the "
        "steadier one, though ONNX Runtime's spinning threads inflate it too. Chroma writes are timed by "
        "writing the ingested chunks again, in ingest's flushes, to a scratch collection.",
        f"Peer: {peer['pipeline']}, same embeddings object. Its chunks are longer ({peer['chunks']:,} chunks "
        f"of {peer['mean_chunk_tokens']} tokens on average, {peer['chunks_over_model_limit']} over the "
        f"model's 256-token window and truncated; ours {emb['chunks']:,} of {emb['mean_chunk_tokens']}), "
        "so documents/s is the fair ingest comparison. Its time covers reading, splitting, embedding and "
        "writing; ours also builds the BM25 index.",
        "Latency: warm (after one warm-up query), one process, `Retriever.search(q, k=5, mode=...)` "
        "(the product's top_k). Extractive answers: `build_chain(...).invoke`, first pass on an empty "
        "sentence cache (cold), second pass warm.",
        "LLM path: the test suite's loopback OpenAI-compatible stub (`tests/openai_stub.py`) streams a "
        "fixed answer at once; first token = `chain.stream` call to its first text delta minus a bare "
        "`http.client` request's time to the stub's first event (made right after, same connection "
        "costs); overhead = that minus the extractive chain's time to its first delta for the same "
        "question, both with refusals off so every question reaches the model. The first request (which "
        "opens the HTTP client) is reported apart.",
        r["scale"]["how"],
        "Peak RSS: the child's VmHWM from /proc, sampled every 20 ms (`rag ingest -q` into a fresh data "
        "dir; `rag serve` at its first HTTP 200, before any question).",
        f"Cold start: `rag ask --json` on the indexed data dir, {len(r['cold_start']['ask']['runs_s'])} "
        "run(s), median, after one `python -X importtime` run that also warms the page cache; `rag serve` "
        "until `GET /` answers 200.",
    ]
    if "timeout_s" in serve_index:
        lines.append(
            f"Serve during a first index: `rag serve` on a fresh data dir over the first "
            f"{serve_index['files']:,} SciFact documents (as `<id>.txt`), start to the first HTTP 200 of "
            f"`GET /`, given up after {serve_index['timeout_s']:.0f} s; the full index would take "
            f"≈ {serve_index['full_index_estimate_s']} s at this run's ingest rate."
        )
    lines += _load_notes(r)
    formats = r.get("formats") or {}
    if formats.get("how"):
        lines.append(str(formats["how"]))
    return lines
