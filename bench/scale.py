"""Retrieval latency as the embedded store grows: synthetic collections of 1k, 10k and 100k chunks."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.latency import MODES
from bench.report import interleaved, summarize
from rag.embeddings import DIMENSIONS, LocalEmbeddings
from rag.lexical import open_bm25
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import Store

WORDS_PER_TEXT = 40
_BATCH = 2000  # records per Chroma upsert

HOW = (
    "Scale collections are synthetic: unit vectors drawn from a standard normal (numpy, seed 0) and "
    f"normalised, each with a text of {WORDS_PER_TEXT} words drawn at random (same seed) from the words "
    "of the SciFact chunks, frequencies kept; written to fresh embedded Chroma collections through "
    "`rag.store.Store.add` in batches, the BM25 index built from them as ingest does. Random vectors have "
    "no cluster structure, the hard case for HNSW. Queries are real SciFact queries embedded by the "
    "local model (the latency includes embedding them)."
)


def _collection(
    settings: Settings, n: int, rng: np.random.Generator, words: Sequence[str]
) -> tuple[Store, float, float]:
    """Build a collection of `n` synthetic chunks; return it with its add and BM25 build times."""
    Store.reset(settings)
    store = Store.open(settings, create=True)
    vectors = rng.standard_normal((n, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picks = rng.integers(0, len(words), size=(n, WORDS_PER_TEXT))
    texts = [" ".join(words[j] for j in row) for row in picks.tolist()]
    began = time.perf_counter()
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        ids = [f"syn-{i:07d}" for i in range(start, stop)]
        metas = [
            {"source": f"synthetic/{i // 4:06d}.txt", "title": "synthetic", "start": 0, "end": len(texts[i])}
            for i in range(start, stop)
        ]
        store.add(ids, texts[start:stop], metas, vectors[start:stop])
    added = time.perf_counter() - began
    store.bump_generation()
    began = time.perf_counter()
    open_bm25(store, settings)
    return store, added, time.perf_counter() - began


def _nearest(store: Store, vectors: dict[str, list[float]], query: str) -> object:
    return store.query(vectors[query], 40)


def _freshness(retriever: Retriever) -> Callable[[str], object]:
    """Time the check `hybrid` and `bm25` make per query that the BM25 index is not stale."""
    return lambda _query: retriever.bm25()


def _limits(row: dict[str, Any]) -> str:
    parts = [
        f"query embedding {row['query_embedding']['p50']} ms",
        f"HNSW top-40 {row['hnsw_top40']['p50']} ms",
        f"BM25 top-40 (chunks + documents) {row['bm25_top40']['p50']} ms",
        f"BM25 staleness check (2 Chroma calls) {row['bm25_freshness']['p50']} ms",
    ]
    return "p50 of the parts: " + " + ".join(parts) + " + fusion and fetching texts"


def measure_scale(
    base: Settings,
    embeddings: LocalEmbeddings,
    queries: Sequence[str],
    words: Sequence[str],
    sizes: Sequence[int],
    work: Path,
    on_stage: Callable[[str], None],
) -> dict[str, Any]:
    """Time vector and hybrid retrieval (and their parts) on synthetic collections of each size."""
    rng = np.random.default_rng(0)
    vocab = list(words) or ["word"]
    vectors = dict(zip(queries, embeddings.embed_array(list(queries)).tolist(), strict=True))
    rows = []
    for n in sizes:
        on_stage(f"scale: building {n:,} synthetic chunks")
        folder = work / f"scale-{n}"
        settings = base.model_copy(update={"data_dir": folder, "collection": f"bench-scale-{n}"})
        store, add_s, bm25_s = _collection(settings, n, rng, vocab)
        retriever = Retriever(settings, store, embeddings)
        on_stage(f"scale: timing {len(queries)} queries at {n:,} chunks")
        row: dict[str, Any] = {"chunks": n, "add_s": round(add_s, 2), "bm25_s": round(bm25_s, 2)}
        calls: dict[str, Callable[[str], object]] = {
            mode: partial(retriever.search, k=settings.top_k, mode=mode) for mode in MODES
        }
        bm25 = retriever.bm25()
        calls["bm25_top40"] = partial(bm25.search, k=40, doc_weight=settings.bm25_doc_weight)
        calls["bm25_freshness"] = _freshness(retriever)
        calls["hnsw_top40"] = partial(_nearest, store, vectors)
        calls["query_embedding"] = embeddings.embed_query
        samples = interleaved(calls, queries)
        row.update((name, summarize(ms)) for name, ms in samples.items())
        row["limited_by"] = _limits(row)
        rows.append(row)
        Store.reset(settings)
        shutil.rmtree(folder, ignore_errors=True)
    return {"how": HOW, "sizes": rows}
