"""The embedding model as the page's indexer hands it to ingest: a slice at a time, counted, yielding.

Ingest stores 256 chunks per write, about 13 s of embedding on 2 cores (more on a busy machine). The
model is one session behind a lock, so a question asked meanwhile waited for the whole write before
its query was embedded (4–17 s measured during a first index). Embedding a write one model batch
(16 texts) at a time, stepping aside between them, bounds that wait to one batch; counting them lets
an upload's "indexing n%" move every second or so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

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


__all__ = ["CountingEmbeddings"]
