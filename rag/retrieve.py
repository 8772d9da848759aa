"""Retrieval over the chunk store: vector (cosine), BM25 (bm25s, stemmed) and hybrid (fused)."""

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
# What the saved BM25 index holds; one saved with other fields is rebuilt on open.
BM25_FIELDS = "chunks+documents"


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
    """bm25s indexes of the collection's chunks and of their documents, saved beside the store.

    A chunk's lexical score is its own BM25 score plus `doc_weight` times its document's (each
    divided by the best in the query's results). The document index is the same words grouped by
    source file: a passage whose paper or article is about the question ranks above a passage
    that only shares a word with it, while the order of passages inside one document is left to
    their own words. Measured (evals/README.md): SciFact train hybrid nDCG@10 0.7367 -> 0.7492,
    and the seed eval's retrieval hit@5 0.958 -> 0.979, MRR 0.861 -> 0.865. No library does this
    two-level scoring; bm25s does each level.
    """

    def __init__(
        self,
        ids: list[str],
        retriever: Any,
        generation: str,
        count: int,
        params: tuple[float, float],
        doc_retriever: Any = None,
        chunk_doc: np.ndarray | None = None,
        fields: str = BM25_FIELDS,
    ) -> None:
        self.ids = ids
        self.retriever = retriever
        self.generation = generation
        self.count = count
        self.params = params  # (k1, b)
        self.doc_retriever = doc_retriever
        self.chunk_doc = chunk_doc  # chunk position -> document position
        self.fields = fields
        self._stem = _stemmer()

    def matches(self, params: tuple[float, float]) -> bool:
        """Tell whether this index was built with these BM25 parameters and holds today's fields."""
        return self.params == params and self.fields == BM25_FIELDS

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        generation: str,
        params: tuple[float, float] = BM25_PARAMS,
        sources: Sequence[str] | None = None,
    ) -> BM25Index:
        """Index `texts` (stemmed, English stopwords removed) with BM25 parameters (k1, b).

        With `sources` (each chunk's document, chunks in reading order within a document), the
        chunks of each document are also indexed together as one text.
        """
        import bm25s

        def index(docs: list[str]) -> Any:
            retriever = bm25s.BM25(k1=params[0], b=params[1])
            if docs:
                tokens = bm25s.tokenize(docs, stopwords="en", stemmer=_stemmer(), show_progress=False)
                retriever.index(tokens, show_progress=False)
            return retriever

        doc_retriever, chunk_doc = None, None
        if sources is not None and texts:
            positions: dict[str, int] = {}
            grouped: list[list[str]] = []
            chunk_doc = np.empty(len(texts), dtype=np.int32)
            for i, (source, text) in enumerate(zip(sources, texts, strict=True)):
                j = positions.setdefault(source, len(grouped))
                if j == len(grouped):
                    grouped.append([])
                grouped[j].append(text)
                chunk_doc[i] = j
            doc_retriever = index(["\n\n".join(parts) for parts in grouped])
        return cls(list(ids), index(list(texts)), generation, len(ids), params, doc_retriever, chunk_doc)

    @classmethod
    def from_store(cls, store: Store, params: tuple[float, float] = BM25_PARAMS) -> BM25Index:
        """Build the index from every chunk in the store."""
        generation = store.generation()
        records = sorted(
            store.iter_records(with_text=True),
            key=lambda r: (str(r.metadata.get("source", "")), int(r.metadata.get("start", 0))),
        )
        return cls.build(
            [r.id for r in records],
            [r.text for r in records],
            generation,
            params,
            sources=[str(r.metadata.get("source", "")) for r in records],
        )

    def save(self, folder: Path) -> None:
        """Write the index atomically: a crash leaves the old one or the new one, never half."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".bm25-", dir=folder.parent))
        if self.ids:
            self.retriever.save(str(tmp / "index"), show_progress=False)
        if self.doc_retriever is not None and self.chunk_doc is not None:
            self.doc_retriever.save(str(tmp / "documents"), show_progress=False)
            np.save(tmp / "chunk_doc.npy", self.chunk_doc)
        state = {
            "generation": self.generation,
            "count": self.count,
            "params": self.params,
            "fields": self.fields,
            "ids": self.ids,
        }
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
            doc_retriever, chunk_doc = None, None
            if (folder / "chunk_doc.npy").is_file():
                doc_retriever = bm25s.BM25.load(str(folder / "documents"), mmap=True, show_progress=False)
                chunk_doc = np.load(folder / "chunk_doc.npy")
            params = tuple(state.get("params", (1.5, 0.75)))
            return cls(
                list(state["ids"]),
                retriever,
                str(state["generation"]),
                int(state["count"]),
                (params[0], params[1]),
                doc_retriever,
                chunk_doc,
                str(state.get("fields", "chunks")),
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

    def search(self, query: str, k: int, doc_weight: float = 0.0) -> list[tuple[str, float]]:
        """Return up to `k` (chunk id, score) pairs, best first; only chunks sharing a term.

        With `doc_weight` 0 the score is the chunk's BM25 score. Otherwise it is the chunk's
        score ÷ the best chunk's + `doc_weight` × its document's score ÷ the best document's,
        over the best max(4k, 40) chunks by their own score.
        """
        import bm25s

        if not self.ids:
            return []
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stem, return_ids=False, show_progress=False
        )[0]
        vocab = self.retriever.vocab_dict
        terms = [t for t in tokens if t in vocab]
        if not terms:
            return []
        blend = doc_weight > 0 and self.doc_retriever is not None and self.chunk_doc is not None
        pool = min(max(4 * k, 40) if blend else k, len(self.ids))
        # get_scores + argpartition, not bm25s' retrieve(): the same result, and at 100k chunks
        # 0.8 ms against 17 ms (retrieve's per-call overhead; measured, see BENCHMARKS.md).
        scores = self.retriever.get_scores(terms)
        top = np.argpartition(-scores, pool - 1)[:pool] if pool < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        found = [(int(d), float(scores[d])) for d in top if scores[d] > 0]
        if not blend or not found:
            return [(self.ids[d], s) for d, s in found[:k]]
        assert self.doc_retriever is not None and self.chunk_doc is not None
        doc_terms = [t for t in tokens if t in self.doc_retriever.vocab_dict]
        if not doc_terms:  # pragma: no cover - the documents hold the chunks' words
            return [(self.ids[d], s) for d, s in found[:k]]
        doc_scores = self.doc_retriever.get_scores(doc_terms)
        best_chunk = found[0][1]
        best_doc = float(doc_scores.max()) or 1.0
        blended = [
            (self.ids[d], s / best_chunk + doc_weight * float(doc_scores[self.chunk_doc[d]]) / best_doc)
            for d, s in found
        ]
        blended.sort(key=lambda kv: (-kv[1], kv[0]))
        return blended[:k]


def bm25_params(settings: Settings) -> tuple[float, float]:
    """Return the configured BM25 (k1, b)."""
    return (settings.bm25_k1, settings.bm25_b)


def open_bm25(store: Store, settings: Settings) -> BM25Index:
    """Load the saved BM25 index if it matches the store and settings, else rebuild and save it."""
    folder = side_index_dir(settings)
    index = BM25Index.load(folder)
    if index is not None and index.matches(bm25_params(settings)) and index.is_current(store):
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
        if index is None or not index.matches(bm25_params(self.settings)) or not index.is_current(self.store):
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
