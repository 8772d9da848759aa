"""Embedding throughput: the ONNX session alone (the limit) against `rag.ingest` of the same corpus."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.report import clocked
from rag.embeddings import DIMENSIONS, LocalEmbeddings
from rag.settings import Settings
from rag.store import Store
from rag.writer import FLUSH_CHUNKS


def chunk_texts(settings: Settings, embeddings: LocalEmbeddings) -> list[str]:
    """Return the exact chunk texts `rag ingest` embeds for the corpus folder."""
    from rag.documents import load_document, split_document
    from rag.sources import discover

    texts: list[str] = []
    for path, source in discover([settings.corpus_dir], settings.corpus_dir).files:
        doc = load_document(path, source)
        chunks = split_document(doc, embeddings.count_tokens, settings.chunk_size, settings.chunk_overlap)
        texts.extend(c.text for c in chunks)
    return texts


def _store_writes(settings: Settings, vectors: dict[str, np.ndarray]) -> tuple[float, float]:
    """Time writing the ingested chunks again, as ingest does (flushes of 256), to a scratch collection."""
    records = list(Store.open(settings).iter_records(with_text=True))
    scratch = settings.model_copy(update={"collection": f"{settings.collection}-writes"})
    Store.reset(scratch)
    store = Store.open(scratch, create=True)
    matrix = (
        np.stack([vectors[r.text] for r in records]) if records else np.zeros((0, DIMENSIONS), np.float32)
    )

    def write() -> None:
        for start in range(0, len(records), FLUSH_CHUNKS):
            batch = records[start : start + FLUSH_CHUNKS]
            store.add(
                [r.id for r in batch],
                [r.text for r in batch],
                [r.metadata for r in batch],
                matrix[start : start + FLUSH_CHUNKS],
            )

    _, wall, cpu = clocked(write)
    Store.reset(scratch)
    return wall, cpu


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 2) if seconds > 0 else 0.0


def measure_embedding(settings: Settings, embeddings: LocalEmbeddings, documents: int) -> dict[str, Any]:
    """Raw ONNX throughput on the chunk texts (sorted, unsorted) against `rag.ingest` of the corpus."""
    from rag.ingest import ingest
    from rag.lexical import BM25Index

    texts, chunk_wall, chunk_cpu = clocked(lambda: chunk_texts(settings, embeddings))
    embeddings.embed_array(texts[:64])  # warm-up: the session allocates on its first runs
    _, raw1_wall, raw1_cpu = clocked(lambda: embeddings.embed_array(texts))
    _, unsorted_wall, unsorted_cpu = clocked(lambda: embeddings.embed_array(texts, sort_by_length=False))
    report, ingest_wall, ingest_cpu = clocked(lambda: ingest(settings, embeddings=embeddings, reset=True))
    vectors, raw2_wall, raw2_cpu = clocked(lambda: embeddings.embed_array(texts))
    _, bm25_wall, bm25_cpu = clocked(lambda: BM25Index.from_store(Store.open(settings)))
    writes_wall, writes_cpu = _store_writes(settings, dict(zip(texts, vectors, strict=True)))
    # Raw runs bracket the ingest, so a load that drifts during the run weighs on both sides alike.
    raw_wall, raw_cpu = (raw1_wall + raw2_wall) / 2, (raw1_cpu + raw2_cpu) / 2
    n = len(texts)
    rest = ingest_cpu - raw_cpu - chunk_cpu - bm25_cpu - writes_cpu
    tokens = [embeddings.count_tokens(t) for t in texts]
    return {
        "documents": documents,
        "chunks": n,
        "chunks_ingested": report.chunks_embedded,
        "mean_chunk_tokens": round(sum(tokens) / max(1, n), 1),
        "chunking_s": round(chunk_wall, 2),
        "raw_sorted_wall_s": [round(raw1_wall, 2), round(raw2_wall, 2)],
        "raw_sorted_cpu_s": [round(raw1_cpu, 2), round(raw2_cpu, 2)],
        "raw_sorted_per_s": _rate(n, raw_wall),
        "raw_sorted_per_cpu_s": _rate(n, raw_cpu),
        "raw_unsorted_per_s": _rate(n, unsorted_wall),
        "raw_unsorted_per_cpu_s": _rate(n, unsorted_cpu),
        "sorted_vs_unsorted": round(unsorted_wall / raw_wall, 3),
        "sorted_vs_unsorted_cpu": round(unsorted_cpu / raw_cpu, 3),
        "ingest_wall_s": round(ingest_wall, 2),
        "ingest_cpu_s": round(ingest_cpu, 2),
        "ingest_per_s": _rate(report.chunks_embedded, ingest_wall),
        "ingest_per_cpu_s": _rate(report.chunks_embedded, ingest_cpu),
        "docs_per_s": _rate(documents, ingest_wall),
        "docs_per_cpu_s": _rate(documents, ingest_cpu),
        "ingest_vs_raw": round(raw_wall / ingest_wall, 3),
        "ingest_vs_raw_cpu": round(raw_cpu / ingest_cpu, 3),
        "bm25_build_s": round(bm25_wall, 2),
        "store_writes_s": round(writes_wall, 2),
        "limited_by": (
            f"of {ingest_cpu:.1f} CPU-s: embedding ≈ {raw_cpu:.1f}, reading and chunking (tokenizer "
            f"counts) {chunk_cpu:.1f}, Chroma writes ≈ {writes_cpu:.1f}, BM25 build ≈ {bm25_cpu:.1f}, "
            f"the rest {rest:+.1f} (noise of a busy machine included)"
        ),
    }
