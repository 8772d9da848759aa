"""Soft matching: how much of the question a sentence holds in meaning, word by word.

Each question word is matched with the sentence word nearest in meaning (cosine of the local
model's contextual word vectors, as BERTScore does), so "legal official" finds "Prosecutor
General" and "headed home" no longer passes for "the head of the delegation" as a stem match does.
Weights are the words' IDF (a word the corpus lacks weighs the most and is matched only by meaning).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.vectors import WordVectors

SOFT_FEATURES: tuple[str, ...] = (
    "soft",  # IDF-weighted mean, over the question's content words, of the best match in the sentence
    "soft_ctx",  # ... in the sentence or its neighbours
    "soft_min",  # the worst-matched question word's match: the part of the question the sentence lacks
    "soft_ctx_min",  # ... with its neighbours
    "soft_rel",  # soft minus the best sentence's
)


def best_matches(words: np.ndarray, sentences: Sequence[WordVectors]) -> np.ndarray:
    """Return an (n, k) array: each of k word vectors' best cosine with a word of each sentence."""
    return np.stack(
        [
            (words @ s.vectors.astype(np.float32).T).max(axis=1) if len(s.words) else np.zeros(len(words))
            for s in sentences
        ]
    ).reshape(len(sentences), len(words))


def soft_features(
    question: WordVectors,
    weights: dict[str, float],
    sentences: Sequence[WordVectors],
    prev: Sequence[int | None],
    nxt: Sequence[int | None],
) -> np.ndarray:
    """Return an (n, SOFT_FEATURES) array for the candidate sentences; `weights` maps content words."""
    n = len(sentences)
    keep = [i for i, w in enumerate(question.words) if w in weights]
    if not keep or not n:
        return np.zeros((n, len(SOFT_FEATURES)), dtype=np.float64)
    q = question.vectors[keep].astype(np.float32)
    w = np.array([weights[question.words[i]] for i in keep], dtype=np.float64)
    w /= w.sum()
    best = best_matches(q, sentences).astype(np.float64)
    out = np.zeros((n, len(SOFT_FEATURES)), dtype=np.float64)
    for i in range(n):
        ctx = best[i].copy()
        for j in (prev[i], nxt[i]):
            if j is not None:
                ctx = np.maximum(ctx, best[j])
        out[i, :4] = (best[i] @ w, ctx @ w, best[i].min(), ctx.min())
    out[:, 4] = out[:, 0] - out[:, 0].max()
    return out
