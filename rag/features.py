"""Features of passage sentences for answering a question: shared by the answerer and its fitting script.

Every word feature counts only the question's words the corpus holds, weighted by their IDF, so
a word found nowhere in the documents ("kimchi", "position") neither helps nor sinks a question.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.questions import QUESTION_TYPES, entities, negated, offers, profile, qualifiers, question_type
from rag.soft import SOFT_FEATURES, soft_features
from rag.text import stems, term_forms, words
from rag.vectors import WordVectors

if TYPE_CHECKING:
    from rag.answer import Candidate
    from rag.retrieve import Hit

UNSEEN_TERM = "\x00unseen\x00"  # a term no corpus holds: its IDF is the unseen value
_TYPES = (*QUESTION_TYPES, "yesno", "other")

SENTENCE_FEATURES: tuple[str, ...] = (
    "cos",  # embedding cosine with the question
    "cos_rel",  # ... minus the best sentence's
    "ctx_cos",  # the best neighbour's cosine
    "cov",  # share of the question's (known) terms held
    "wcov",  # ... IDF-weighted
    "wcov_rel",  # ... minus the best sentence's
    "exact",  # IDF-weighted share held as the very word, not only its stem
    "stem_only",  # wcov - exact
    "ctx_wcov",  # IDF-weighted share held by the sentence and its neighbours
    "passage_wcov",  # ... by its passage
    "novel",  # share of its terms that are not the question's: information beyond the question
    "log_novel",
    "type_match",  # offers what the question asks for (a name for who, a date for when, ...)
    *(f"offers_{t}" for t in QUESTION_TYPES),  # ... per kind (zero unless the question asks it)
    "ent_cov",  # share of the question's names and numbers held (1 when it has none)
    "ent_ctx",  # ... by the sentence and its neighbours
    "ent_passage",  # ... by its passage
    "rank_inv",  # 1 / its passage's retrieval rank
    "hit_rel",  # its passage's retrieval score / the best
    "log_words",
    "neg_mismatch",  # one of question and sentence is negated, the other not
    "missing_max",  # IDF (÷ unseen IDF) of the rarest known question term its neighbourhood lacks
    "missing_passage_max",  # ... its passage lacks
    "mass",  # summed IDF (÷ unseen IDF) of the question's terms held: evidence, whatever else is absent
    "ctx_mass",  # ... by the sentence and its neighbours
    "bigram",  # share of the question's adjacent term pairs that stand together in the sentence
    "run",  # longest run of the question's terms in its order in the sentence, ÷ known terms
    "qual_missing",  # qualifiers of the question ("only", "not", "first") its neighbourhood lacks
    "has_ents",
    "n_known",  # log(1 + known question terms)
    "q_negated",  # the question holds a negation
    "prev_wcov",  # wcov of the sentence before it in its passage (0 at the start): the answer often
    "next_wcov",  # follows the sentence that restates the question ("Instead, what we have seen ...")
    "ent_missing",  # IDF (÷ unseen IDF) of the rarest known name or number of the question its
    # neighbourhood lacks: "Which agreement did Kim Chol Won sign with Sergei Lavrov?"
)
_WORD_FEATURES = len(SENTENCE_FEATURES)
SENTENCE_FEATURES += SOFT_FEATURES  # the question's words matched in meaning (rag.soft)
_RELATIVE = ("cos_rel", "wcov_rel", "soft_rel")  # zero for the best sentence: no gate feature
GATE_FEATURES: tuple[str, ...] = (
    "p_best",  # logit of the best sentence's probability
    "margin",  # its probability minus the second's
    *(f"best_{f}" for f in SENTENCE_FEATURES if f not in _RELATIVE),
    "max_cos",
    "max_wcov",
    "max_ctx_wcov",
    "max_ent_ctx",
    "min_missing_max",
    *(f"asks_{t}" for t in _TYPES),
)


class Lexicon(Protocol):
    """What the features need of the corpus: a stemmed term's inverse document frequency."""

    def idf(self, term: str) -> float:
        """Return the IDF of `term` over the corpus (highest for a term it never holds)."""
        ...


@dataclass(frozen=True)
class SentenceFeatures:
    """The feature matrix of a question's candidate sentences, and which question terms each holds."""

    x: np.ndarray  # (sentences, SENTENCE_FEATURES)
    held: list[frozenset[str]]  # the known question terms each sentence holds
    weights: dict[str, float]  # IDF weight of each known question term, summing to 1
    qtype: str


def term_weights(
    terms: Sequence[str], idf: Lexicon | Callable[[str], float] | None
) -> tuple[dict[str, float], dict[str, float]]:
    """Return (normalised IDF weights of the terms the corpus holds, IDF ÷ unseen IDF of each)."""
    if idf is None:
        return ({t: 1 / len(terms) for t in terms} if terms else {}), {t: 1.0 for t in terms}
    fn = idf.idf if not callable(idf) else idf
    unseen = fn(UNSEEN_TERM)
    raw = {t: fn(t) for t in terms}
    known = {t: max(v, 1e-3) for t, v in raw.items() if v < unseen - 1e-9}
    total = sum(known.values())
    return {t: v / total for t, v in known.items()}, {t: v / unseen for t, v in known.items()}


def sentence_features(
    question: str,
    cands: Sequence[Candidate],
    hits: Sequence[Hit],
    qvec: np.ndarray,
    cvecs: np.ndarray,
    idf: Lexicon | Callable[[str], float] | None,
    word_vectors: tuple[WordVectors, Sequence[WordVectors]],
) -> SentenceFeatures:
    """Compute SENTENCE_FEATURES for each candidate sentence (`word_vectors`: question's, sentences')."""
    qtype = question_type(question)
    qforms = term_forms(question)
    weights, rarity = term_weights(sorted(qforms), idf)
    known = set(weights)
    qwords = set(words(question))
    ents = {w for e in entities(question) for w in words(e)}
    q_neg = negated(question)
    q_seq = [t for t in stems(question) if t in known]
    q_pairs = {(a, b) for a, b in zip(q_seq, q_seq[1:], strict=False) if a != b}
    q_quals = qualifiers(question)
    cos = (np.asarray(cvecs, dtype=np.float64) @ np.asarray(qvec, dtype=np.float64)[0]).astype(np.float64)
    profiles = [profile(c.text) for c in cands]
    forms = [p.forms for p in profiles]
    seqs = [list(p.stems) for p in profiles]
    quals = [set(p.qualifiers) for p in profiles]
    cwords = [set(p.words) for p in profiles]
    used = sorted({c.hit for c in cands})
    hit_terms = {h: set(profile(hits[h].text).forms) for h in used}
    hit_words = {h: set(profile(hits[h].text).words) for h in used}
    prev, nxt = neighbours(cands)
    best_score = max((h.score for h in hits), default=1.0) or 1.0
    n = len(cands)
    held = [frozenset(known & set(f)) for f in forms]

    def wsum(terms: set[str] | frozenset[str]) -> float:
        return float(sum(weights[t] for t in terms))

    def ent_share(have: set[str]) -> float:
        return len(ents & have) / len(ents) if ents else 1.0

    def missing(have: set[str], among: set[str] = known) -> float:
        return max((rarity[t] for t in among - have), default=0.0)

    ent_terms = {t for t in known if qforms[t] & ents}

    rows = []
    for i, c in enumerate(cands):
        window = [j for j in (prev[i], nxt[i]) if j is not None]
        ctx_terms = set(held[i]).union(*(held[j] for j in window))
        ctx_words = cwords[i].union(*(cwords[j] for j in window))
        exact = wsum({t for t in held[i] if qforms[t] & cwords[i]})
        wcov = wsum(held[i])
        novel_terms = set(forms[i]) - set(qforms)
        kinds = offers(c.text, qwords)
        pairs, run = _alignment(q_seq, q_pairs, seqs[i])
        ctx_quals = quals[i].union(*(quals[j] for j in window))
        match = float(kinds.get(qtype, False))
        rows.append(
            [
                cos[i],
                0.0,
                max((cos[j] for j in window), default=cos[i]),
                len(held[i]) / len(known) if known else 0.0,
                wcov,
                0.0,
                exact,
                wcov - exact,
                wsum(ctx_terms),
                wsum(known & hit_terms[c.hit]),
                len(novel_terms) / max(1, len(forms[i])),
                math.log1p(len(novel_terms)),
                match,
                *(float(qtype == t and kinds[t]) for t in QUESTION_TYPES),
                ent_share(cwords[i]),
                ent_share(ctx_words),
                ent_share(hit_words[c.hit]),
                1.0 / (c.hit + 1),
                hits[c.hit].score / best_score,
                math.log(max(1, len(c.text.split()))),
                float(q_neg != profiles[i].negated),
                missing(ctx_terms),
                missing(hit_terms[c.hit]),
                sum(rarity[t] for t in held[i]),
                sum(rarity[t] for t in ctx_terms),
                pairs,
                run / len(known) if known else 0.0,
                float(len(q_quals - ctx_quals)),
                float(bool(ents)),
                math.log1p(len(known)),
                float(q_neg),
                wsum(held[before]) if (before := prev[i]) is not None else 0.0,
                wsum(held[after]) if (after := nxt[i]) is not None else 0.0,
                missing(ctx_terms, ent_terms),
            ]
        )
    x = np.asarray(rows, dtype=np.float64).reshape(n, _WORD_FEATURES)
    if n:
        x[:, 1] = x[:, 0] - x[:, 0].max()
        x[:, 5] = x[:, 4] - x[:, 4].max()
    # A content word's soft-match weight: its IDF ÷ the unseen IDF (1 for a word the corpus lacks).
    soft_weights = {w: rarity.get(t, 1.0) for t, forms_of in qforms.items() for w in forms_of}
    soft = soft_features(word_vectors[0], soft_weights, word_vectors[1], prev, nxt)
    return SentenceFeatures(np.hstack([x, soft]), held, weights, qtype)


def gate_features(feats: SentenceFeatures, p: np.ndarray) -> np.ndarray:
    """Compute GATE_FEATURES from the candidates' features and their fitted probabilities."""
    x = feats.x
    if not len(p):
        return np.zeros(len(GATE_FEATURES), dtype=np.float64)
    order = np.argsort(-p, kind="stable")
    b = int(order[0])
    top = float(np.clip(p[b], 1e-6, 1 - 1e-6))
    second = float(p[order[1]]) if len(p) > 1 else 0.0
    col = {f: i for i, f in enumerate(SENTENCE_FEATURES)}
    best = [x[b, i] for f, i in col.items() if f not in _RELATIVE]
    return np.asarray(
        [
            math.log(top / (1 - top)),
            top - second,
            *best,
            x[:, col["cos"]].max(),
            x[:, col["wcov"]].max(),
            x[:, col["ctx_wcov"]].max(),
            x[:, col["ent_ctx"]].max(),
            x[:, col["missing_max"]].min(),
            *(float(feats.qtype == t) for t in _TYPES),
        ],
        dtype=np.float64,
    )


def _alignment(q_seq: list[str], q_pairs: set[tuple[str, str]], seq: list[str]) -> tuple[float, int]:
    """Share of the question's term pairs found within two words of each other, and the longest run."""
    where: dict[str, list[int]] = {}
    for k, t in enumerate(seq):
        where.setdefault(t, []).append(k)
    near = sum(any(abs(i - j) <= 2 for i in where.get(a, ()) for j in where.get(b, ())) for a, b in q_pairs)
    best = run = 0
    for a, b in zip(q_seq, q_seq[1:], strict=False):
        ok = any(0 < j - i <= 2 for i in where.get(a, ()) for j in where.get(b, ()))
        run = run + 1 if ok else 0
        best = max(best, run)
    held_any = any(t in where for t in q_seq)
    return (near / len(q_pairs) if q_pairs else 0.0), best + int(held_any)


def neighbours(cands: Sequence[Candidate]) -> tuple[list[int | None], list[int | None]]:
    """Return each candidate's previous and next sentence in the same passage, if any."""
    prev: list[int | None] = [None] * len(cands)
    nxt: list[int | None] = [None] * len(cands)
    by_hit: dict[int, list[int]] = {}
    for i, c in enumerate(cands):
        by_hit.setdefault(c.hit, []).append(i)
    for members in by_hit.values():
        members.sort(key=lambda i: cands[i].start)
        for a, b in zip(members, members[1:], strict=False):
            prev[b], nxt[a] = a, b
    return prev, nxt
