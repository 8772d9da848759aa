"""Retrieval over the chunk store: vector (cosine), BM25 (bm25s, stemmed) and hybrid (RRF)."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import QuestionError
from rag.settings import RetrievalMode, Settings
from rag.store import Record, Store, side_index_dir

MAX_QUERY_CHARS = 20_000
STALE_CHECK_SECONDS = 2.0
BM25_PARAMS = (1.5, 0.75)  # bm25s' defaults (k1, b); settings choose the product's


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with where it comes from; `text == source_text[start:end]`."""

    rank: int
    id: str
    source: str
    title: str
    page: int | None
    start: int
    end: int
    score: float
    text: str

    @classmethod
    def from_record(cls, rank: int, record: Record, score: float) -> Hit:
        """Build a hit from a stored record."""
        meta = record.metadata
        return cls(
            rank=rank,
            id=record.id,
            source=str(meta.get("source", "")),
            title=str(meta.get("title", "")),
            page=int(meta["page"]) if meta.get("page") is not None else None,
            start=int(meta.get("start", 0)),
            end=int(meta.get("end", 0)),
            score=float(score),
            text=record.text,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the documented JSON shape of `rag search --json`."""
        return {
            "rank": self.rank,
            "source": self.source,
            "title": self.title,
            "page": self.page,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 6),
            "text": self.text,
        }


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


class BM25Index:
    """A bm25s index of the collection's chunks, saved beside the store with the state it reflects."""

    def __init__(
        self, ids: list[str], retriever: Any, generation: str, count: int, params: tuple[float, float]
    ) -> None:
        self.ids = ids
        self.retriever = retriever
        self.generation = generation
        self.count = count
        self.params = params  # (k1, b)
        self._stem = _stemmer()

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        generation: str,
        params: tuple[float, float] = BM25_PARAMS,
    ) -> BM25Index:
        """Index `texts` (stemmed, English stopwords removed) with BM25 parameters (k1, b)."""
        import bm25s

        retriever = bm25s.BM25(k1=params[0], b=params[1])
        if texts:
            tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False)
            retriever.index(tokens, show_progress=False)
        return cls(list(ids), retriever, generation, len(ids), params)

    @classmethod
    def from_store(cls, store: Store, params: tuple[float, float] = BM25_PARAMS) -> BM25Index:
        """Build the index from every chunk in the store."""
        generation = store.generation()
        ids, texts = [], []
        for record in store.iter_records(with_text=True):
            ids.append(record.id)
            texts.append(record.text)
        return cls.build(ids, texts, generation, params)

    def save(self, folder: Path) -> None:
        """Write the index atomically: a crash leaves the old one or the new one, never half."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".bm25-", dir=folder.parent))
        if self.ids:
            self.retriever.save(str(tmp / "index"), show_progress=False)
        state = {"generation": self.generation, "count": self.count, "params": self.params, "ids": self.ids}
        (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
        old = folder.with_name(folder.name + ".old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> BM25Index | None:
        """Load a saved index, or None when there is none or it is unreadable."""
        import bm25s

        try:
            state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
            retriever = (
                bm25s.BM25.load(str(folder / "index"), mmap=True, show_progress=False)
                if state["ids"]
                else bm25s.BM25()
            )
            params = tuple(state.get("params", (1.5, 0.75)))
            return cls(
                list(state["ids"]),
                retriever,
                str(state["generation"]),
                int(state["count"]),
                (params[0], params[1]),
            )
        except (OSError, ValueError, KeyError):
            return None

    def is_current(self, store: Store) -> bool:
        """Tell whether this index reflects the store as it is now."""
        return self.generation == store.generation() and self.count == store.count()

    def idf(self, term: str) -> float:
        """Return the inverse document frequency of a stemmed term over the chunks (unseen: highest)."""
        column = self.retriever.vocab_dict.get(term) if self.ids else None
        df = 0
        if column is not None:
            indptr = self.retriever.scores["indptr"]
            df = int(indptr[column + 1] - indptr[column])
        return math.log((len(self.ids) + 1) / (df + 0.5))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Return up to `k` (chunk id, BM25 score) pairs, best first; only chunks sharing a term."""
        import bm25s

        if not self.ids:
            return []
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stem, return_ids=False, show_progress=False
        )
        vocab = self.retriever.vocab_dict
        terms = [[t for t in tokens[0] if t in vocab]]
        if not terms[0]:
            return []
        docs, scores = self.retriever.retrieve(
            terms, k=min(k, len(self.ids)), show_progress=False, n_threads=1
        )
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


def bm25_params(settings: Settings) -> tuple[float, float]:
    """Return the configured BM25 (k1, b)."""
    return (settings.bm25_k1, settings.bm25_b)


def open_bm25(store: Store, settings: Settings) -> BM25Index:
    """Load the saved BM25 index if it matches the store and settings, else rebuild and save it."""
    folder = side_index_dir(settings)
    index = BM25Index.load(folder)
    if index is not None and index.params == bm25_params(settings) and index.is_current(store):
        return index
    index = BM25Index.from_store(store, bm25_params(settings))
    index.save(folder)
    return index


def rrf(rankings: Sequence[Sequence[str]], k: int) -> list[tuple[str, float]]:
    """Fuse ranked id lists by reciprocal rank fusion: sum of 1 / (k + rank)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, id_ in enumerate(ranking, start=1):
            fused[id_] = fused.get(id_, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def _min_max(scored: Sequence[tuple[str, float]]) -> dict[str, float]:
    if not scored:
        return {}
    values = [s for _, s in scored]
    lo, hi = min(values), max(values)
    return {id_: (s - lo) / (hi - lo) if hi > lo else 1.0 for id_, s in scored}


def weighted_fusion(
    vector: Sequence[tuple[str, float]], lexical: Sequence[tuple[str, float]], weight: float
) -> list[tuple[str, float]]:
    """Fuse two scored lists: weight × min-max(vector) + (1 − weight) × min-max(BM25); absent = 0."""
    v, b = _min_max(vector), _min_max(lexical)
    fused = {id_: weight * v.get(id_, 0.0) + (1 - weight) * b.get(id_, 0.0) for id_ in v.keys() | b.keys()}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


class Retriever:
    """Search the store by meaning, by words, or both."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embeddings: Embeddings,
        embed_texts: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embeddings = embeddings
        # The answer chain passes its cached embedder, so the question it scores sentences against
        # is embedded once, not once here and again there.
        self.embed_texts = embed_texts
        self._bm25: BM25Index | None = None
        self._checked = float("-inf")

    def bm25(self) -> BM25Index:
        """Return the BM25 index, loading or rebuilding it on first use or when the store changed."""
        index = self._bm25
        now = time.monotonic()
        # Checking staleness costs two store calls (~2 ms at 10k chunks, ~9 ms at 100k on a server):
        # do it at most every STALE_CHECK_SECONDS. A search in that window after another process's
        # ingest may miss new chunks by BM25 (vector search still sees them); removed ones are skipped.
        if index is not None and now - self._checked < STALE_CHECK_SECONDS:
            return index
        if index is None or index.params != bm25_params(self.settings) or not index.is_current(self.store):
            index = self._bm25 = open_bm25(self.store, self.settings)
        self._checked = now
        return index

    def embed_query(self, query: str) -> np.ndarray:
        """Embed a query as a unit vector."""
        if self.embed_texts is not None:
            return np.asarray(self.embed_texts([query])[0], dtype=np.float32)
        return np.asarray(self.embeddings.embed_query(query), dtype=np.float32)

    def search(self, query: str, k: int | None = None, mode: RetrievalMode | None = None) -> list[Hit]:
        """Return the `k` best chunks for `query`, best first."""
        query = " ".join(query.split())
        if not query:
            raise QuestionError("the query is empty: type a question or some words to search for")
        if len(query) > MAX_QUERY_CHARS:
            raise QuestionError(f"the query is {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}")
        k = k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        if mode == "vector":
            records = self.store.query(self.embed_query(query).tolist(), k)
            return [Hit.from_record(i, r, r.score) for i, r in enumerate(records, start=1)]
        known: dict[str, Record] = {}
        if mode == "bm25":
            scored = self.bm25().search(query, k)
        else:
            pool = max(4 * k, 40)
            vector = self.store.query(self.embed_query(query).tolist(), pool)
            known = {r.id: r for r in vector}
            lexical = self.bm25().search(query, pool)
            if self.settings.fusion == "rrf":
                scored = rrf([[r.id for r in vector], [i for i, _ in lexical]], self.settings.rrf_k)[:k]
            else:
                vector_scores = [(r.id, r.score) for r in vector]
                scored = weighted_fusion(vector_scores, lexical, self.settings.fusion_weight)[:k]
        known.update((r.id, r) for r in self.store.get([i for i, _ in scored if i not in known]))
        hits = [(known[id_], score) for id_, score in scored if id_ in known]
        return [Hit.from_record(i, r, s) for i, (r, s) in enumerate(hits, start=1)]


def open_retriever(
    settings: Settings,
    embeddings: Embeddings | None = None,
    embed_texts: Callable[[list[str]], np.ndarray] | None = None,
) -> Retriever:
    """Open the configured index for searching."""
    from rag.providers import make_embeddings

    store = Store.open(settings)
    return Retriever(settings, store, embeddings or make_embeddings(settings), embed_texts)
