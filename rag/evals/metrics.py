"""Offline evaluation: the dataset format, the metrics, and per-question scores and their summary.

Everything here is computed without a judge: spans are compared by character overlap, answers by
SQuAD-normalised tokens. `rag.evals.run` runs the chain over a dataset and writes the report.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import RagError

# summary.json's keys, dotted (besides `config` and the optional `judge.*`); see evals/README.md.
SUMMARY_KEYS = (
    "n",
    "retrieval.hit_at_k",
    "retrieval.recall_at_k",
    "retrieval.mrr",
    "citation.precision",
    "citation.recall",
    "answer.f1",
    "answer.exact_match",
    "groundedness",
    "refusal.accuracy",
    "refusal.false_rate",
    "latency.p50_ms",
    "latency.p95_ms",
    "passed",
)


class DatasetError(RagError):
    """A dataset file or row is malformed, or a quote is not in its source."""


@dataclass(frozen=True)
class Span:
    """A stretch of a source text: `source` relative to the corpus, `start`/`end` in characters."""

    source: str
    start: int
    end: int


@dataclass(frozen=True)
class Row:
    """One dataset question with its gold answer and evidence."""

    id: str
    question: str
    history: tuple[tuple[str, str], ...]
    answer: str | None
    answerable: bool
    evidence: tuple[Span, ...]


# --- the dataset ------------------------------------------------------------------------------


def _row(obj: Any, where: str, corpus_dir: Path, texts: dict[str, str]) -> Row:
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: a row must be a JSON object")
    id_ = obj.get("id")
    if not isinstance(id_, str) or not id_.strip():
        raise DatasetError(f"{where}: missing string field 'id'")
    where = f"{where} (row {id_!r})"
    question, answer, answerable = obj.get("question"), obj.get("answer"), obj.get("answerable")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: 'question' must be a non-empty string")
    if answer is not None and not isinstance(answer, str):
        raise DatasetError(f"{where}: 'answer' must be a string or null")
    if not isinstance(answerable, bool):
        raise DatasetError(f"{where}: 'answerable' must be true or false")
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(s, str) for s in t) for t in history
    ):
        raise DatasetError(f"{where}: 'history' must be a list of [user, assistant] string pairs")
    evidence = obj.get("evidence") or []
    if not isinstance(evidence, list):
        raise DatasetError(f"{where}: 'evidence' must be a list")
    spans = []
    for item in evidence:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("source", "quote")):
            raise DatasetError(f"{where}: each evidence item needs string 'source' and 'quote'")
        source, quote = item["source"], item["quote"]
        if source not in texts:
            from rag.documents import DocumentError, load_text

            try:
                texts[source] = load_text(corpus_dir / source)
            except DocumentError as e:
                raise DatasetError(f"{where}: evidence source {source!r} in {corpus_dir}: {e}") from None
        at = texts[source].find(quote) if quote else -1
        if at < 0:
            raise DatasetError(f"{where}: quote not found in {source}: {quote[:80]!r}")
        spans.append(Span(source, at, at + len(quote)))
    if answerable and not spans:
        raise DatasetError(f"{where}: an answerable row needs at least one evidence quote")
    if not answerable and (spans or answer is not None):
        raise DatasetError(f"{where}: an unanswerable row has answer null and no evidence")
    return Row(id_, question, tuple((u, a) for u, a in history), answer, answerable, tuple(spans))


def load_dataset(path: Path, corpus_dir: Path) -> list[Row]:
    """Read and validate a JSONL dataset; every quote must be an exact substring of its source."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read the dataset {path}: {e}") from None
    rows: list[Row] = []
    texts: dict[str, str] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{path} line {n}: not valid JSON ({e.msg})") from None
        rows.append(_row(obj, f"{path} line {n}", corpus_dir, texts))
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise DatasetError(f"{path}: row id {row.id!r} appears twice")
        seen.add(row.id)
    if not rows:
        raise DatasetError(f"{path} has no rows")
    return rows


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


# --- scoring ------------------------------------------------------------------------------------


def score_row(row: Row, answer: Any, retrieved: Sequence[Span], k: int) -> dict[str, Any]:
    """Score one answered (or refused) question."""
    cited = [Span(c.source, c.start, c.end) for c in answer.citations]
    hit, recall, rr = retrieval_scores(retrieved, row.evidence, k)
    precision, cit_recall = citation_scores(cited, row.evidence)
    text = "" if answer.refused else strip_markers(answer.text)
    grounded = None
    if not answer.refused and answer.sentences:
        grounded = 1 - len(answer.unsupported) / len(answer.sentences)
    has_gold = row.answerable and row.answer is not None
    result: dict[str, Any] = {
        "id": row.id,
        "question": row.question,
        "answerable": row.answerable,
        "refused": answer.refused,
        "answer": answer.text,
        "gold_answer": row.answer,
        "citations": [{"source": c.source, "start": c.start, "end": c.end} for c in cited],
        "retrieved": [{"source": s.source, "start": s.start, "end": s.end} for s in retrieved],
        "retrieval_query": answer.retrieval_query,
        "latency_ms": float(answer.timings.get("total_ms", 0.0)),
        "hit": hit if row.answerable else None,
        "recall": recall if row.answerable else None,
        "rr": rr if row.answerable else None,
        "citation_precision": precision if row.answerable else None,
        "citation_recall": cit_recall if row.answerable else None,
        "f1": token_f1(text, row.answer or "") if has_gold else None,
        "exact_match": exact_match(text, row.answer or "") if has_gold else None,
        "groundedness": grounded,
    }
    # Pass: an answerable row is answered and cites gold evidence; an unanswerable one is refused.
    result["passed"] = (not answer.refused and cit_recall > 0) if row.answerable else answer.refused
    return result


def summarize(results: Sequence[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """Aggregate per-question results into the documented summary.json shape."""

    def avg(key: str) -> float | None:
        value = mean([r[key] for r in results])
        return None if value is None else round(value, 4)

    accuracy, false_rate = refusal_scores(results)
    latencies = [r["latency_ms"] for r in results]
    summary: dict[str, Any] = {
        "n": len(results),
        "retrieval": {"hit_at_k": avg("hit"), "recall_at_k": avg("recall"), "mrr": avg("rr")},
        "citation": {"precision": avg("citation_precision"), "recall": avg("citation_recall")},
        "answer": {"f1": avg("f1"), "exact_match": avg("exact_match")},
        "groundedness": avg("groundedness"),
        "refusal": {
            "accuracy": None if accuracy is None else round(accuracy, 4),
            "false_rate": None if false_rate is None else round(false_rate, 4),
        },
        "latency": {
            "p50_ms": _round(percentile(latencies, 50)),
            "p95_ms": _round(percentile(latencies, 95)),
        },
        "passed": sum(bool(r["passed"]) for r in results),
    }
    if any("judge_correctness" in r for r in results):
        summary["judge"] = {
            "correctness": avg("judge_correctness"),
            "faithfulness": avg("judge_faithfulness"),
        }
    summary["config"] = config
    return summary


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested summary keys to dotted names (retrieval.mrr)."""
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
