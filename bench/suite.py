"""`python -m bench`: ingest against the model's limit, latency, scale, start-up, chat load, the peer.

Everything runs in one go on SciFact (a BEIR dataset) and is written to BENCHMARKS.md and bench.json.
The per-area measurements live in bench.embedding, bench.peer, bench.latency, bench.scale,
bench.proc, bench.serve, bench.load and bench.formats; bench.targets checks the budgets and
bench.figures renders the page.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
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
from bench.figures import markdown
from bench.report import BenchError, foreign_sections, peer_ratios
from bench.targets import targets
from rag.embeddings import LocalEmbeddings
from rag.settings import Settings

SCIFACT_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip"
COLLECTION = "bench-scifact"
_WORD = re.compile(r"[A-Za-z][A-Za-z-]+")


@dataclass(frozen=True)
class BenchConfig:
    """What `python -m bench` runs."""

    beir: Path
    out: Path
    command: str
    docs: int | None = None  # None: all
    queries: int = 200
    scale: tuple[int, ...] = (1_000, 10_000, 100_000)
    ask_runs: int = 3
    skip_serve: bool = False
    skip_formats: bool = False
    sessions: int = 2_000  # new Gradio sessions for the memory plateau
    serve_files: int = 5_000  # SciFact files of the first index `rag serve` must serve during
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


def _formats(corpus: Path, ingest_cpu_s: float, on_stage: Callable[[str], None]) -> dict[str, Any]:
    """Run bench.formats (PDF pages/s, OCR s/page, parsing's CPU share) when that module exists."""
    try:  # written alongside by another engineer; imported by name so the suite runs without it
        formats = importlib.import_module("bench.formats")
    except ModuleNotFoundError as e:
        if e.name != "bench.formats":
            raise
        return {"available": False, "reason": "bench/formats.py is not in this tree yet"}
    on_stage("formats: PDF text pages/s, OCR s/page, parsing's share of ingest CPU")
    try:
        figures = formats.measure_formats(corpus, ingest_cpu_s)
    except (ImportError, OSError, subprocess.CalledProcessError) as e:
        return {"available": False, "reason": f"failed: {type(e).__name__}: {e}"[:300]}
    return {"available": True, **figures}


def _serving(
    config: BenchConfig, work: Path, docs_per_s: float | None, on_stage: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Start-up of `rag serve` on the index and during a first index, and the chat under load."""
    from bench import proc as bench_proc
    from bench.load import measure_chat_load
    from bench.serve import measure_serve, measure_serve_during_index

    if config.skip_serve:
        skipped = {"available": False, "reason": "skipped (--skip-serve)"}
        return skipped, dict(skipped), dict(skipped)
    on_stage("serve: `rag serve` to its first HTTP 200 on the index")
    serve = measure_serve(bench_proc.child_env(work / "corpus", work / "proc-data", COLLECTION))
    documents, _ = load_beir(config.beir, config.serve_files, 1)
    on_stage(f"serve: during a first index of {len(documents):,} files")
    corpus = write_docs(documents, work / "serve-corpus")
    env = bench_proc.child_env(corpus, work / "serve-data", COLLECTION)
    during = measure_serve_during_index(env, len(documents), docs_per_s)
    try:
        chat = {"available": True, **measure_chat_load(work, config.sessions, on_stage)}
    except (BenchError, OSError) as e:
        chat = {"available": False, "reason": f"failed: {e}"}
    return serve, during, chat


def run_bench(config: BenchConfig, on_stage: Callable[[str], None]) -> dict[str, Any]:
    """Run every measurement, write BENCHMARKS.md and bench.json into `config.out`, return the figures."""
    from bench import proc as bench_proc
    from bench import workspace as bench_workspace
    from bench.latency import measure_latency
    from bench.notes import notes
    from bench.peer import build_peer
    from bench.scale import measure_scale

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
        words = corpus_words(chunk_texts(settings, embeddings))
        scale = measure_scale(settings, embeddings, queries, words, config.scale, work, on_stage)
        on_stage("processes: rag ingest (peak RSS), rag ask (cold)")
        env = bench_proc.child_env(corpus, work / "proc-data", COLLECTION)
        processes = {"ingest": bench_proc.measure_ingest_process(env, embedding["chunks"])}
        ask = bench_proc.measure_ask(env, queries[0], config.ask_runs)
        serve, during, chat = _serving(config, work, embedding["docs_per_s"], on_stage)
        workspace = bench_workspace.for_suite(work, embeddings, config.skip_serve, on_stage)
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
                "sessions": config.sessions,
                "serve_files": config.serve_files,
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
            "cold_start": {
                "ask": ask,
                "import_rag": bench_proc.measure_import_rag(),
                "serve": serve,
                "serve_during_index": during,
            },
            "chat": chat,
            "workspace": workspace,
            "formats": (
                {"available": False, "reason": "skipped (--skip-formats)"}
                if config.skip_formats
                else _formats(corpus, embedding["ingest_cpu_s"], on_stage)
            ),
        }
        result["peer"]["ratios"] = peer_ratios(result)
        result["seconds"] = round(time.perf_counter() - began, 1)
        result["targets"] = targets(result)
        result["notes"] = notes(result, COLLECTION)
        config.out.mkdir(parents=True, exist_ok=True)
        (config.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        page = config.out / "BENCHMARKS.md"
        kept = foreign_sections(page.read_text(encoding="utf-8")) if page.is_file() else ""
        page.write_text(markdown(result) + kept, encoding="utf-8")
        return result
    finally:
        if config.work is None:
            shutil.rmtree(work, ignore_errors=True)
