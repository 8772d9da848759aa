"""Answering from retrieved passages: the extractive answerer, evidence scores and citation checks."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.retrieve import Hit
from rag.schema import Citation
from rag.text import content_terms, cosine_rows, coverage, sentence_spans

# Weights of meaning (embedding cosine) and wording (shared content terms) in a support score.
COSINE_WEIGHT = 0.75
MAX_ANSWER_SENTENCES = 4
MIN_SENTENCE_WORDS = 4


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with its place in the source."""

    hit: int  # index into the hits
    start: int  # in the source text
    end: int
    text: str


def candidates(hits: list[Hit]) -> list[Candidate]:
    """Split the passages into sentences, once each (overlapping chunks repeat sentences)."""
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for i, hit in enumerate(hits):
        for start, end in sentence_spans(hit.text, base=hit.start):
            text = hit.text[start - hit.start : end - hit.start]
            if (hit.source, start) in seen or len(text.split()) < MIN_SENTENCE_WORDS:
                continue
            seen.add((hit.source, start))
            out.append(Candidate(i, start, end, text))
    return out


@dataclass(frozen=True)
class Evidence:
    """Sentences of the passages scored against a question."""

    candidates: list[Candidate]
    vectors: np.ndarray
    scores: np.ndarray  # meaning + share of the question's words: ranks sentences for the answer
    gate: np.ndarray  # meaning + IDF-weighted share of its words: decides whether to answer at all

    @property
    def best(self) -> float:
        """The best sentence's gate score: how well the passages answer at all."""
        return float(self.gate.max()) if len(self.gate) else 0.0


def score_evidence(
    question: str,
    hits: list[Hit],
    embeddings: Embeddings | TextVectors,
    idf: Callable[[str], float] | None = None,
) -> Evidence:
    """Score each passage sentence by meaning and shared words with the question.

    Shared words are weighted by `idf` (rare words, names above all, say more about whether a
    sentence answers than common ones; a word found nowhere in the corpus weighs most).
    """
    cands = candidates(hits)
    if not cands:
        empty = np.zeros(0, dtype=np.float32)
        return Evidence([], np.zeros((0, 1), dtype=np.float32), empty, empty)
    vectors = _vectors(embeddings)([question] + [c.text for c in cands])
    cos = cosine_rows(vectors[1:], vectors[:1])[:, 0]
    terms = content_terms(question)
    shared = [terms & content_terms(c.text) for c in cands]
    weights = {t: (idf(t) if idf else 1.0) for t in terms}
    total = sum(weights.values())
    plain = np.array([coverage(terms, s) if terms else 1.0 for s in shared], dtype=np.float32)
    weighted = np.array(
        [sum(weights[t] for t in s) / total if total else 1.0 for s in shared], dtype=np.float32
    )
    return Evidence(
        cands,
        vectors[1:],
        scores=COSINE_WEIGHT * cos + (1 - COSINE_WEIGHT) * plain,
        gate=COSINE_WEIGHT * cos + (1 - COSINE_WEIGHT) * weighted,
    )


class TextVectors:
    """Embed texts through an LRU cache: passage sentences recur from one question to the next."""

    def __init__(self, embeddings: Embeddings, max_items: int = 20_000) -> None:
        self.embeddings = embeddings
        self.max_items = max_items
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Return an (n, d) array of unit vectors for `texts`, embedding only the unseen ones."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            embed_array = getattr(self.embeddings, "embed_array", None)
            fresh = (
                np.asarray(embed_array(missing))
                if embed_array is not None
                else np.asarray(self.embeddings.embed_documents(missing), dtype=np.float32)
            )
            with self._lock:
                self._cache.update(zip(missing, fresh, strict=True))
        with self._lock:
            rows = []
            for t in texts:
                row = self._cache.get(t)
                if row is None:  # evicted by a concurrent caller between the two steps
                    row = fresh[missing.index(t)]
                else:
                    self._cache.move_to_end(t)
                rows.append(row)
            while len(self._cache) > self.max_items:
                self._cache.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)


def _vectors(embeddings: Embeddings | TextVectors) -> TextVectors:
    return embeddings if isinstance(embeddings, TextVectors) else TextVectors(embeddings)


def _citation(n: int, hit: Hit, cand: Candidate, score: float) -> Citation:
    return Citation(
        n=n,
        source=hit.source,
        title=hit.title,
        page=hit.page,
        start=cand.start,
        end=cand.end,
        quote=cand.text,
        score=round(max(0.0, min(1.0, score)), 4),
        chunk=hit.text,
        chunk_start=hit.start,
    )


def extract(
    evidence: Evidence, hits: list[Hit], *, diversity: float = 0.5, keep: float = 0.8
) -> tuple[list[str], list[Citation]]:
    """Pick 1–4 sentences that answer best without repeating each other; cite each.

    Maximal marginal relevance: each next sentence maximises its score minus `diversity` times its
    similarity to a sentence already picked; sentences scoring under `keep` × the best are left out.
    Picked sentences are ordered by document (best document first), then by position.
    """
    if not evidence.candidates:
        return [], []
    best = float(evidence.scores.max())
    picked: list[int] = []
    remaining = set(range(len(evidence.candidates)))
    sims = cosine_rows(evidence.vectors, evidence.vectors)
    while remaining and len(picked) < MAX_ANSWER_SENTENCES:

        def mmr(i: int) -> float:
            penalty = max((sims[i, j] for j in picked), default=0.0)
            return float(evidence.scores[i] - diversity * penalty)

        i = max(remaining, key=lambda j: (mmr(j), -j))
        remaining.discard(i)
        if evidence.scores[i] < keep * best or (picked and max(sims[i, j] for j in picked) > 0.9):
            continue
        picked.append(i)
    doc_order: dict[str, int] = {}
    for i in picked:
        doc_order.setdefault(hits[evidence.candidates[i].hit].source, len(doc_order))
    picked.sort(
        key=lambda i: (doc_order[hits[evidence.candidates[i].hit].source], evidence.candidates[i].start)
    )
    sentences, citations = [], []
    for n, i in enumerate(picked, start=1):
        cand = evidence.candidates[i]
        sentences.append(f"{cand.text} [{n}]")
        citations.append(_citation(n, hits[cand.hit], cand, float(evidence.scores[i])))
    return sentences, citations
