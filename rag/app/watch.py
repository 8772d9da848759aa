"""What the page's indexer hands ingest: the model a slice at a time (counted, yielding), a listener.

Ingest stores 256 chunks per write, about 13 s of embedding on 2 cores (more on a busy machine). The
model is one session behind a lock, so a question asked meanwhile waited for the whole write before
its query was embedded (4–17 s measured during a first index). Embedding a write one model batch
(16 texts) at a time, stepping aside between them, bounds that wait to one batch; counting them lets
an upload's "indexing n%" move every second or so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.app.uploads import Progress, same_upload

if TYPE_CHECKING:
    from rag.app.indexer import Indexer

YIELD_S = 0.005  # between slices: long enough for a waiting question to take the model's lock


class CountingEmbeddings(Embeddings):
    """Embed as `inner` does, a slice at a time, calling `on_texts(n)` after each slice."""

    def __init__(self, inner: Embeddings, on_texts: Callable[[int], None]) -> None:
        self.inner, self.on_texts = inner, on_texts
        # The model's own batch, so the batches (and the vectors) are the ones it makes.
        self.slice = int(getattr(inner, "batch_size", 16))

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)  # count_tokens, model_id, …: what the model has, and only that

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` in input order; shortest first, like the model, so padding stays the same."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts: list[tuple[list[int], np.ndarray]] = []
        for start in range(0, len(order), self.slice):
            idx = order[start : start + self.slice]
            parts.append((idx, self._embed([texts[i] for i in idx])))
            self.on_texts(len(idx))
            time.sleep(YIELD_S)  # a lock is not fair: without a pause this thread takes it straight back
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        out = np.empty((len(texts), parts[0][1].shape[1]), dtype=np.float32)
        for idx, vectors in parts:
            out[idx] = vectors
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        embed_array = getattr(self.inner, "embed_array", None)
        if embed_array is not None:
            return np.asarray(embed_array(texts), dtype=np.float32)
        return np.asarray(self.inner.embed_documents(texts), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (counted)."""
        return [list(map(float, v)) for v in self.embed_array(texts)]

    def embed_query(self, text: str) -> list[float]:
        """Embed one question (not counted)."""
        return self.inner.embed_query(text)


class Listener:
    """Ingest's progress, kept by the indexer: files done of the job, and each upload's share embedded.

    A file is done once its passages are stored (a batch was written after it was read): ingest reads
    far ahead of the model (255 of 300 small files read before the first write).
    """

    def __init__(self, indexer: Indexer, uploads: Sequence[str]) -> None:
        self.indexer, self.uploads = indexer, uploads
        self.order: list[str] = []  # the uploads in the order ingest read them
        self.queued: set[str] = set()  # files with passages waiting for the writer's next batch
        self.read: set[str] = set()  # of those, the ones read to the end

    def _upload(self, source: str) -> str | None:
        return next((rel for rel in self.uploads if same_upload(source, rel)), None)

    def start(self, files: int) -> None:
        held = not self.indexer._go.is_set()
        with self.indexer._lock:  # passages count on: the corpus job's second ingest (the uploads) adds to it
            passages = self.indexer._progress.passages
            self.indexer._progress = Progress(True, 0, files, "", "", passages, waiting=held)
        if held:  # reading and chunking hold the GIL: they would slow the page's start (see Indexer.hold)
            self.indexer._go.wait()
            with self.indexer._lock:
                self.indexer._progress = replace(self.indexer._progress, waiting=False)

    def file_done(self, source: str) -> None:
        # An upload is not "indexed" here: its last passages may wait for the writer's final flush.
        with self.indexer._lock:
            p = self.indexer._progress
            if source in self.queued:
                self.read.add(source)
                self.indexer._progress = replace(p, current=source)
            else:  # unchanged, skipped, or nothing new to embed
                self.indexer._progress = replace(p, done=p.done + 1, current=source)

    def embedded(self, chunks: int) -> None:
        with self.indexer._lock:  # a batch was written: the files read before it are in the store
            p = self.indexer._progress
            self.indexer._progress = replace(p, done=p.done + len(self.read))
            self.queued -= self.read
            self.read.clear()

    def file_embedded(self, source: str, chunks: int, total: int) -> None:
        if chunks == 0:  # its first passage is queued
            with self.indexer._lock:
                self.queued.add(source)
        rel = self._upload(source)
        if rel is not None:
            if rel not in self.order:
                self.order.append(rel)
            self.indexer._stored(rel, chunks, total)

    def texts_embedded(self, n: int) -> None:
        self.indexer._counted(self.order, n)
        with self.indexer._lock:
            p = self.indexer._progress
            self.indexer._progress = replace(p, passages=p.passages + n)


__all__ = ["CountingEmbeddings", "Listener"]
