"""Offline evaluation: the metrics, and per-question scores and their summary.

Everything here is computed without a judge: spans are compared by character overlap, answers by
SQuAD-normalised tokens. `rag.evals.run` runs the chain over a dataset and writes the report.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rag.evals.dataset import DatasetError, Row, Span, load_dataset

__all__ = [  # the dataset names are re-exported: callers import them from here
    "DatasetError",
    "Row",
    "Span",
    "SUMMARY_KEYS",
    "best_threshold",
    "citation_scores",
    "exact_match",
    "flatten",
    "known_metric",
    "load_dataset",
    "mean",
    "normalize_answer",
    "overlaps",
    "percentile",
    "refusal_prf",
    "refusal_scores",
    "refusal_sweep",
    "retrieval_scores",
    "score_row",
    "strip_markers",
    "summarize",
    "token_f1",
]

# summary.json's keys, dotted (besides `config` and the optional `judge.*`); see evals/README.md.
SUMMARY_KEYS = (
    "n",
    "retrieval.hit_at_k",
    "retrieval.recall_at_k",
    "retrieval.mrr",
    "citation.precision",
    "citation.recall",
    "citation.answer_first",
    "answer.f1",
    "answer.exact_match",
    "answer.words",
    "groundedness",
    "refusal.accuracy",
    "refusal.false_rate",
    "refusal.precision",
    "refusal.recall",
    "refusal.f1",
    "latency.p50_ms",
    "latency.p95_ms",
    "passed",
)


# --- metrics ----------------------------------------------------------------------------------


def overlaps(a: Span, b: Span) -> bool:
    """Tell whether two spans of the same source share at least one character."""
    return a.source == b.source and a.start < b.end and b.start < a.end


def retrieval_scores(retrieved: Sequence[Span], gold: Sequence[Span], k: int) -> tuple[float, float, float]:
    """Return hit@k, recall@k and reciprocal rank: a chunk is relevant when it overlaps a gold quote."""
    top = list(retrieved)[:k]
    ranks = [i for i, span in enumerate(top, start=1) if any(overlaps(span, g) for g in gold)]
    hit = 1.0 if ranks else 0.0
    recall = sum(any(overlaps(span, g) for span in top) for g in gold) / len(gold) if gold else 0.0
    return hit, recall, 1.0 / ranks[0] if ranks else 0.0


def citation_scores(cited: Sequence[Span], gold: Sequence[Span]) -> tuple[float | None, float]:
    """Return citation precision (None without citations) and recall against the gold quotes."""
    precision = sum(any(overlaps(c, g) for g in gold) for c in cited) / len(cited) if cited else None
    recall = sum(any(overlaps(c, g) for c in cited) for g in gold) / len(gold) if gold else 0.0
    return precision, recall


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def normalize_answer(text: str) -> str:
    """Normalise as SQuAD does: lower case, punctuation (Unicode too) deleted, no articles, single spaces."""
    text = text.casefold()
    text = "".join(
        ch for ch in text if ch not in string.punctuation and not unicodedata.category(ch).startswith("P")
    )
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """Return 1.0 when the normalised strings are equal."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """Return SQuAD token F1 between the normalised strings."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def strip_markers(text: str) -> str:
    """Remove the [n] citation markers from an answer."""
    return _MARKERS.sub("", text).strip()


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the q-th percentile (0-100) by linear interpolation between ranks, as numpy does."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean(values: Sequence[float | None]) -> float | None:
    """Average the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def refusal_scores(results: Sequence[dict[str, Any]]) -> tuple[float | None, float | None]:
    """Return refusal accuracy (unanswerable rows refused) and false-refusal rate (answerable refused)."""
    unanswerable = [r["refused"] for r in results if not r["answerable"]]
    answerable = [r["refused"] for r in results if r["answerable"]]
    return mean([float(x) for x in unanswerable]), mean([float(x) for x in answerable])


def refusal_prf(results: Sequence[dict[str, Any]]) -> tuple[float | None, float | None, float | None]:
    """Return precision, recall and F1 of refusing, an unanswerable row being the positive class."""
    right = sum(r["refused"] and not r["answerable"] for r in results)
    refused = sum(bool(r["refused"]) for r in results)
    unanswerable = sum(not r["answerable"] for r in results)
    precision = right / refused if refused else None
    recall = right / unanswerable if unanswerable else None
    if precision is None or recall is None:
        return precision, recall, None
    return precision, recall, 2 * precision * recall / (precision + recall) if right else 0.0


def refusal_sweep(
    results: Sequence[dict[str, Any]], thresholds: Sequence[float]
) -> list[tuple[float, float, float]]:
    """Return (threshold, refusal accuracy, false-refusal rate) were the evidence gate at each threshold."""
    unanswerable = [r["evidence_score"] for r in results if not r["answerable"]]
    answerable = [r["evidence_score"] for r in results if r["answerable"]]
    if not unanswerable or not answerable:
        return []
    return [
        (
            t,
            sum(s < t for s in unanswerable) / len(unanswerable),
            sum(s < t for s in answerable) / len(answerable),
        )
        for t in thresholds
    ]


def best_threshold(sweep: Sequence[tuple[float, float, float]]) -> tuple[float, float, float] | None:
    """Pick the threshold maximising accuracy minus false-refusal rate; on ties, fewer false refusals."""
    return max(sweep, key=lambda s: (round(s[1] - s[2], 9), -s[2], -s[0]), default=None)


# --- scoring ------------------------------------------------------------------------------------


def score_row(row: Row, answer: Any, retrieved: Sequence[Span], k: int) -> dict[str, Any]:
    """Score one answered (or refused) question; `retrieved` are the passages the answer was built from."""
    cited = [Span(c.source, c.start, c.end) for c in answer.citations]
    hit, recall, rr = retrieval_scores(retrieved, row.evidence, k)
    precision, cit_recall = citation_scores(cited, row.evidence)
    text = "" if answer.refused else strip_markers(answer.text)
    grounded = None
    if not answer.refused and answer.sentences:
        grounded = 1 - len(answer.unsupported) / len(answer.sentences)
    has_gold = row.answerable and row.answer is not None
    answered = row.answerable and not answer.refused
    result: dict[str, Any] = {
        "id": row.id,
        "kind": row.group,
        "question": row.question,
        "turns": list(row.turns),
        "answerable": row.answerable,
        "refused": answer.refused,
        "answer": answer.text,
        "gold_answer": row.answer,
        "citations": [{"source": c.source, "start": c.start, "end": c.end} for c in cited],
        "retrieved": [{"source": s.source, "start": s.start, "end": s.end} for s in retrieved],
        "retrieval_query": answer.retrieval_query,
        "history_used": answer.history_used,
        "latency_ms": float(answer.timings.get("total_ms", 0.0)),
        "hit": hit if row.answerable else None,
        "recall": recall if row.answerable else None,
        "rr": rr if row.answerable else None,
        "citation_precision": precision if row.answerable else None,
        "citation_recall": cit_recall if row.answerable else None,
        # Answer-first: the first citation of an answered row is gold (no citation at all: 0).
        "first_gold": float(bool(cited) and any(overlaps(cited[0], g) for g in row.evidence))
        if answered
        else None,
        "words": len(text.split()) if not answer.refused else None,
        "f1": token_f1(text, row.answer or "") if has_gold else None,
        "exact_match": exact_match(text, row.answer or "") if has_gold else None,
        "groundedness": grounded,
    }
    # Pass: an answerable row is answered and cites gold evidence; an unanswerable one is refused.
    result["passed"] = (not answer.refused and cit_recall > 0) if row.answerable else answer.refused
    return result


def _aggregate(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Compute every metric over `results`: the summary's body, also used for each kind."""

    def avg(key: str, digits: int = 4) -> float | None:
        value = mean([r.get(key) for r in results])
        return None if value is None else round(value, digits)

    accuracy, false_rate = refusal_scores(results)
    precision, recall, f1 = refusal_prf(results)
    latencies = [r["latency_ms"] for r in results]
    return {
        "n": len(results),
        "retrieval": {"hit_at_k": avg("hit"), "recall_at_k": avg("recall"), "mrr": avg("rr")},
        "citation": {
            "precision": avg("citation_precision"),
            "recall": avg("citation_recall"),
            "answer_first": avg("first_gold"),
        },
        "answer": {"f1": avg("f1"), "exact_match": avg("exact_match"), "words": avg("words", 1)},
        "groundedness": avg("groundedness"),
        "refusal": {
            "accuracy": _round(accuracy, 4),
            "false_rate": _round(false_rate, 4),
            "precision": _round(precision, 4),
            "recall": _round(recall, 4),
            "f1": _round(f1, 4),
        },
        "latency": {
            "p50_ms": _round(percentile(latencies, 50)),
            "p95_ms": _round(percentile(latencies, 95)),
        },
        "passed": sum(bool(r["passed"]) for r in results),
    }


def summarize(results: Sequence[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """Aggregate per-question results into the documented summary.json shape, overall and by kind."""
    summary = _aggregate(results)
    if any("judge_correctness" in r for r in results):
        summary["judge"] = {
            "correctness": _round(mean([r.get("judge_correctness") for r in results]), 4),
            "faithfulness": _round(mean([r.get("judge_faithfulness") for r in results]), 4),
        }
    kinds = sorted({r["kind"] for r in results})
    summary["by_kind"] = {kind: _aggregate([r for r in results if r["kind"] == kind]) for kind in kinds}
    summary["config"] = config
    return summary


def known_metric(name: str) -> bool:
    """Tell whether `name` is a summary key --min/--max may name (`by_kind.<kind>.<key>` included)."""
    if name in SUMMARY_KEYS or name in ("judge.correctness", "judge.faithfulness"):
        return True
    prefix, _, rest = name.partition(".")
    kind, _, key = rest.partition(".")
    return prefix == "by_kind" and bool(kind) and key in SUMMARY_KEYS


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested summary keys to dotted names (retrieval.mrr)."""
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
