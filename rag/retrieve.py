"""Retrieval over the chunk store: vector (cosine), BM25 (bm25s, stemmed) and hybrid (fused)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.lexical import BM25Cache, BM25Index
from rag.schema import Passage, clean_question
from rag.settings import RetrievalMode, Settings
from rag.store import Record, Store

STALE_CHECK_SECONDS = 2.0


Hit = Passage  # what a search returns; the name integrators and older code use


def _hit(rank: int, record: Record, score: float) -> Hit:
    """Build a hit from a stored record."""
    meta = record.metadata
    return Hit(
        rank=rank,
        id=record.id,
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        page=int(meta["page"]) if meta.get("page") is not None else None,
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        score=float(score),
        text=record.text,
        page_label=str(meta["page_label"]) if meta.get("page_label") else None,  # older indexes: none
    )


def rrf(rankings: Sequence[Sequence[str]], k: int) -> list[tuple[str, float]]:
    """Fuse ranked id lists by reciprocal rank fusion: sum of 1 / (k + rank)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, id_ in enumerate(ranking, start=1):
            fused[id_] = fused.get(id_, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def _by_best(scored: Sequence[tuple[str, float]]) -> dict[str, float]:
    hi = max((s for _, s in scored), default=0.0)
    return {id_: s / hi if hi > 0 else 0.0 for id_, s in scored}


def weighted_fusion(
    vector: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    weight: float,
    depth: int | None = None,
) -> list[tuple[str, float]]:
    """Fuse two scored lists: weight × vector + (1 − weight) × BM25, each divided by its list's best.

    `depth` is how many results each list was asked for. A chunk missing from a list that was cut
    at `depth` gets that list's lowest score: it ranks below everything the list returned, and no
    lower than we know. A list shorter than `depth` (or any list when `depth` is None) is
    complete, so a chunk missing from it scores 0 there (BM25 lists only chunks sharing a word).
    Dividing by the best (not min-max) keeps how far apart the scores are: a list whose top is
    barely above the rest sways the order less, and the result hardly depends on how deep the
    lists go (the chat fetches 40, `eval-retrieval` 1,200). On SciFact train: 0.7496 nDCG@10
    against 0.7464 for min-max at its best weight (evals/README.md).
    """

    def floor(scores: dict[str, float]) -> float:
        cut = depth is not None and len(scores) >= depth
        return min(scores.values(), default=0.0) if cut else 0.0

    v, b = _by_best(vector), _by_best(lexical)
    v_floor, b_floor = floor(v), floor(b)
    fused = {
        id_: weight * v.get(id_, v_floor) + (1 - weight) * b.get(id_, b_floor) for id_ in v.keys() | b.keys()
    }
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
        # Checking staleness costs a store call or two (~2 ms at 10k chunks, ~9 ms at 100k on a server):
        # do it at most every STALE_CHECK_SECONDS. In that window after another process's ingest a
        # search may miss new chunks; removed ones are skipped.
        self._bm25 = BM25Cache(store, settings, STALE_CHECK_SECONDS)
        self._refreshed = float("-inf")
        self._refresh_lock = threading.Lock()

    def refresh(self, now: float | None = None) -> None:
        """Reopen the store when another process reset or changed it (at most every few seconds)."""
        now = time.monotonic() if now is None else now
        if now - self._refreshed < STALE_CHECK_SECONDS or not self._refresh_lock.acquire(blocking=False):
            return  # checked lately, or another thread is checking right now
        try:
            self.store.refresh()
            self._refreshed = now
        finally:
            self._refresh_lock.release()

    def bm25(self) -> BM25Index:
        """Return the BM25 index, loading or rebuilding it on first use or when the store changed."""
        now = time.monotonic()
        self.refresh(now)
        return self._bm25.get(now)

    def embed_query(self, query: str) -> np.ndarray:
        """Embed a query as a unit vector."""
        if self.embed_texts is not None:
            return np.asarray(self.embed_texts([query])[0], dtype=np.float32)
        return np.asarray(self.embeddings.embed_query(query), dtype=np.float32)

    def search(self, query: str, k: int | None = None, mode: RetrievalMode | None = None) -> list[Hit]:
        """Return the `k` best chunks for `query`, best first."""
        query = clean_question(query, self.settings.max_question_chars)
        k = k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        self.refresh()
        if mode == "vector":
            records = self.store.query(self.embed_query(query).tolist(), k)
            return [_hit(i, r, r.score) for i, r in enumerate(records, start=1)]
        if mode == "bm25":
            scored = self.bm25().search(query, k, self.settings.bm25_doc_weight)
        else:
            pool = max(4 * k, 40)
            vector = self.store.query(self.embed_query(query).tolist(), pool, with_text=False)
            lexical = self.bm25().search(query, pool, self.settings.bm25_doc_weight)
            if self.settings.fusion == "rrf":
                scored = rrf([[r.id for r in vector], [i for i, _ in lexical]], self.settings.rrf_k)[:k]
            else:
                vector_scores = [(r.id, r.score) for r in vector]
                scored = weighted_fusion(vector_scores, lexical, self.settings.fusion_weight, pool)[:k]
        # Texts and metadata only for the k kept (the fused candidates carry ids and scores).
        known = {r.id: r for r in self.store.get([i for i, _ in scored])}
        hits = [(known[id_], score) for id_, score in scored if id_ in known]
        return [_hit(i, r, s) for i, (r, s) in enumerate(hits, start=1)]


def open_retriever(
    settings: Settings,
    embeddings: Embeddings | None = None,
    embed_texts: Callable[[list[str]], np.ndarray] | None = None,
) -> Retriever:
    """Open the configured index for searching."""
    from rag.providers import make_embeddings

    store = Store.open(settings)
    return Retriever(settings, store, embeddings or make_embeddings(settings), embed_texts)
