"""`rag bench`: ingest against the model's limit, retrieval and answer latency, scale, cold start, peer.

Everything runs in one go on SciFact (a BEIR dataset) and is written to BENCHMARKS.md and bench.json.
The per-area measurements live in bench_embedding, bench_peer, bench_latency, bench_scale and
bench_proc; the figures and
targets are rendered by bench_report.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.embedding import chunk_texts, measure_embedding
from bench.report import BenchError, foreign_sections, markdown, peer_ratios, targets
from rag.embeddings import LocalEmbeddings
from rag.settings import Settings

SCIFACT_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip"
COLLECTION = "bench-scifact"
_WORD = re.compile(r"[A-Za-z][A-Za-z-]+")


@dataclass(frozen=True)
class BenchConfig:
    """What `rag bench` runs."""

    beir: Path
    out: Path
    command: str
    docs: int | None = None  # None: all
    queries: int = 200
    scale: tuple[int, ...] = (1_000, 10_000, 100_000)
    ask_runs: int = 3
    skip_serve: bool = False
    work: Path | None = None  # default: a temporary folder, removed afterwards


def load_beir(folder: Path, docs: int | None, queries: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Read the first `docs` documents (id, title, text) and `queries` query texts of a BEIR folder."""
    corpus, qfile = folder / "corpus.jsonl", folder / "queries.jsonl"
    if not corpus.is_file() or not qfile.is_file():
        raise BenchError(
            f"no BEIR dataset at {folder} (corpus.jsonl, queries.jsonl): download BEIR's scifact.zip "
            f"({SCIFACT_URL}), unzip it and pass the folder with --beir"
        )

    def rows(path: Path, limit: int | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if limit is not None and len(out) >= limit:
                    break
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise BenchError(f"{path} line {n} is not JSON: {e.msg}") from None
        return out

    documents = [
        (str(r.get("_id", n)), str(r.get("title") or ""), str(r.get("text") or ""))
        for n, r in enumerate(rows(corpus, docs))
    ]
    texts = [str(r.get("text") or "").strip() for r in rows(qfile, None)]
    texts = [t for t in texts if t][:queries]
    if not documents or not texts:
        raise BenchError(f"{folder} has no documents or no queries")
    return documents, texts


def write_docs(documents: Sequence[tuple[str, str, str]], folder: Path) -> Path:
    """Write each document as `<id>.txt`: its title, a blank line, its text."""
    folder.mkdir(parents=True, exist_ok=True)
    for id_, title, text in documents:
        body = f"{title.strip()}\n\n{text.strip()}\n" if title.strip() else f"{text.strip()}\n"
        (folder / f"{quote(id_, safe='')}.txt").write_text(body, encoding="utf-8")
    return folder


def corpus_words(texts: Sequence[str]) -> list[str]:
    """Return every word of the texts, repeats kept (for synthetic texts with the same frequencies)."""
    return [w.lower() for t in texts for w in _WORD.findall(t)]


def _notes(r: dict[str, Any]) -> list[str]:
    peer, emb = r["peer"], r["embedding"]
    return [
        f"Corpus: the first {emb['documents']:,} SciFact documents, each written as `<id>.txt` (title, blank "
        f"line, text) and ingested by `rag.ingest` (collection `{COLLECTION}`, chunks of "
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
        "(the product's top_k). "
        "Extractive answers: `build_chain(...).invoke`, first pass on an empty sentence cache, second pass "
        "warm; the target is checked on the warm pass.",
        "LLM path: a loopback OpenAI-compatible endpoint (rag/bench_latency.py) streams a fixed answer at "
        "once; first token = `chain.stream` call to its first text delta minus the endpoint's own time to "
        "its first event; overhead = that minus the extractive chain's time to its first delta for the same "
        "question, both with refusals off so every question reaches the model. The first request (which "
        "opens the HTTP client) is reported apart.",
        r["scale"]["how"],
        "Peak RSS: the child's VmHWM from /proc, sampled every 20 ms (`rag ingest -q` into a fresh data "
        "dir; `rag serve` at its first HTTP 200, before any question).",
        f"Cold start: `rag ask --json` on the indexed data dir, {len(r['cold_start']['ask']['runs_s'])} "
        "run(s), median, after one `python -X importtime` run that also warms the page cache; `rag serve` "
        "until `GET /` answers 200.",
    ]


def run_bench(config: BenchConfig, on_stage: Callable[[str], None]) -> dict[str, Any]:
    """Run every measurement, write BENCHMARKS.md and bench.json into `config.out`, return the figures."""
    from bench.latency import measure_latency
    from bench.peer import build_peer
    from bench.scale import measure_scale
    from rag import bench_proc

    began, load_start = time.perf_counter(), bench_proc.load_average()
    documents, queries = load_beir(config.beir, config.docs, config.queries)
    work = config.work or Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        corpus = write_docs(documents, work / "corpus")
        values: dict[str, Any] = {
            "corpus_dir": corpus,
            "data_dir": work / "data",
            "collection": COLLECTION,
            "chroma_url": "",
            "embedding": "local",
            "embedding_model": "",
            "llm": "extractive",
        }
        settings = Settings(**values)
        embeddings = LocalEmbeddings(batch_size=settings.embedding_batch_size)
        on_stage(f"embedding: raw model and rag.ingest on {len(documents):,} documents")
        embedding = measure_embedding(settings, embeddings, len(documents))
        on_stage("peer: LangChain splitter + Chroma.from_documents")
        peer, peer_search = build_peer(corpus, embeddings, work / "peer")
        on_stage(f"latency: {len(queries)} queries per mode and the peer's, extractive and LLM answers")
        latency = measure_latency(settings, embeddings, queries, peer_search)
        peer["query"] = latency.pop("peer_similarity_search")
        scale = measure_scale(
            settings,
            embeddings,
            queries,
            corpus_words(chunk_texts(settings, embeddings)),
            config.scale,
            work,
            on_stage,
        )
        on_stage("processes: rag ingest (peak RSS), rag ask (cold), rag serve (ready)")
        env = bench_proc.child_env(corpus, work / "proc-data", COLLECTION)
        processes = {"ingest": bench_proc.measure_ingest_process(env, embedding["chunks"])}
        ask = bench_proc.measure_ask(env, queries[0], config.ask_runs)
        serve: dict[str, Any] = (
            {"available": False, "reason": "skipped (--skip-serve)"}
            if config.skip_serve
            else bench_proc.measure_serve(env)
        )
        processes["serve"] = {"peak_rss_mb": serve.get("peak_rss_mb")} if serve.get("available") else {}
        result: dict[str, Any] = {
            "command": config.command,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": bench_proc.machine(embeddings, load_start),
            "config": {
                "beir": str(config.beir),
                "documents": len(documents),
                "queries": len(queries),
                "scale": list(config.scale),
                "chunk_size": settings.chunk_size,
                "chunk_overlap": settings.chunk_overlap,
                "embedding_model": settings.embedding_model_id,
                "python": sys.version.split()[0],
            },
            "embedding": embedding,
            "peer": peer,
            "latency": latency,
            "scale": scale,
            "processes": processes,
            "cold_start": {"ask": ask, "import_rag": bench_proc.measure_import_rag(), "serve": serve},
        }
        result["peer"]["ratios"] = peer_ratios(result)
        result["seconds"] = round(time.perf_counter() - began, 1)
        result["targets"] = targets(result)
        result["notes"] = _notes(result)
        config.out.mkdir(parents=True, exist_ok=True)
        (config.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        page = config.out / "BENCHMARKS.md"
        kept = foreign_sections(page.read_text(encoding="utf-8")) if page.is_file() else ""
        page.write_text(markdown(result) + kept, encoding="utf-8")
        return result
    finally:
        if config.work is None:
            shutil.rmtree(work, ignore_errors=True)
