"""Sentence and word vectors for answering, through LRU caches: passage sentences recur between questions."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
from langchain_core.embeddings import Embeddings

# Word vectors cost ~20 KB a sentence (float16): this many sentences is at most ~100 MB.
MAX_WORD_ITEMS = 4_000


@dataclass(frozen=True)
class WordVectors:
    """A text's words (lower-cased, those with a letter or digit) and their vectors in context."""

    words: tuple[str, ...]
    vectors: np.ndarray  # (len(words), d) float16 unit vectors: the mean of each word's pieces


class WordModel(Protocol):
    """An embedding model that also gives each word's vector in context (rag.embeddings)."""

    def embed_with_words(self, texts: Sequence[str]) -> tuple[np.ndarray, list[WordVectors]]:
        """Return the texts' unit vectors and their words' vectors."""
        ...


class TextVectors:
    """Embed texts through an LRU cache, and give their word vectors for the soft-match features.

    Word vectors come from the local model's own pass over the text (the pooled sentence vector is
    their mean), so when the chain embeds with the local model both come from one run. With another
    embedding provider the local model, which ships with the package, gives the word vectors.
    """

    def __init__(
        self, embeddings: Embeddings, max_items: int = 20_000, max_word_items: int = MAX_WORD_ITEMS
    ) -> None:
        self.embeddings = embeddings
        self.max_items, self.max_word_items = max_items, max_word_items
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._words: OrderedDict[str, WordVectors] = OrderedDict()
        self._lock = threading.Lock()
        self._own_model: WordModel | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Return an (n, d) array of unit vectors for `texts`, embedding only the unseen ones."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = self._embed(missing) if missing else np.zeros((0, 1), dtype=np.float32)
        rows = self._lookup(self._cache, texts, missing, list(fresh))
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)

    def words(self, texts: list[str]) -> list[WordVectors]:
        """Return each text's word vectors, computing only the unseen ones."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._words))
        fresh: list[WordVectors] = []
        if missing:
            model = self._word_model()
            pooled, fresh = model.embed_with_words(missing)
            with self._lock:
                self._words.update(zip(missing, fresh, strict=True))
                if model is not self._own_model:  # the chain's own model: its sentence vectors too
                    self._cache.update(zip(missing, pooled, strict=True))
        return self._lookup(self._words, texts, missing, fresh)

    def _lookup(
        self, cache: OrderedDict[str, Any], texts: list[str], missing: list[str], fresh: list[Any]
    ) -> list[Any]:
        """Read `texts` from `cache` (most recent last), then trim both caches to their bounds."""
        with self._lock:
            out = []
            for t in texts:
                item = cache.get(t)
                if item is None:  # evicted by a concurrent caller between the two steps
                    item = fresh[missing.index(t)]
                else:
                    cache.move_to_end(t)
                out.append(item)
            _trim(self._cache, self.max_items)
            _trim(self._words, self.max_word_items)
        return out

    def _embed(self, missing: list[str]) -> np.ndarray:
        with_words = getattr(self.embeddings, "embed_with_words", None)
        if with_words is not None:  # one run: keep the word vectors the answer will ask for next
            pooled, words = with_words(missing)
            with self._lock:
                self._words.update(zip(missing, words, strict=True))
            fresh = np.asarray(pooled)
        else:
            embed_array = getattr(self.embeddings, "embed_array", None)
            fresh = (
                np.asarray(embed_array(missing))
                if embed_array is not None
                else np.asarray(self.embeddings.embed_documents(missing), dtype=np.float32)
            )
        with self._lock:
            self._cache.update(zip(missing, fresh, strict=True))
        return fresh

    def _word_model(self) -> WordModel:
        if hasattr(self.embeddings, "embed_with_words"):
            return cast(WordModel, self.embeddings)
        with self._lock:
            if self._own_model is None:
                from rag.embeddings import LocalEmbeddings

                self._own_model = LocalEmbeddings()
            return self._own_model


def as_vectors(embeddings: Embeddings | TextVectors) -> TextVectors:
    """Return `embeddings` itself if it is a TextVectors, else one over it."""
    return embeddings if isinstance(embeddings, TextVectors) else TextVectors(embeddings)


def _trim(cache: OrderedDict[str, Any], n: int) -> None:
    while len(cache) > n:
        cache.popitem(last=False)
