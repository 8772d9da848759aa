"""The written report of a `rag eval` run: report.md with the metrics overall and by kind, and the plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.evals.metrics import best_threshold, flatten, refusal_sweep

PLOTS = ("metrics.png", "latency.png", "questions.png")
# Metrics on a 0..1 scale, with the labels the plot and the report use.
SCORE_LABELS = {
    "retrieval.hit_at_k": "retrieval hit@k",
    "retrieval.recall_at_k": "retrieval recall@k",
    "retrieval.mrr": "retrieval MRR",
    "citation.precision": "citation precision",
    "citation.recall": "citation recall",
    "citation.answer_first": "answer first (1st citation gold)",
    "answer.f1": "answer token F1",
    "answer.exact_match": "answer exact match",
    "groundedness": "groundedness",
    "refusal.accuracy": "refusal accuracy",
    "refusal.false_rate": "false-refusal rate",
    "refusal.precision": "refusal precision",
    "refusal.recall": "refusal recall",
    "refusal.f1": "refusal F1",
}


@dataclass
class EvalRun:
    """The per-question results and the summary of one evaluation."""

    results: list[dict[str, Any]]
    summary: dict[str, Any]
    failures: list[str] = field(default_factory=list)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) <= 1 else f"{value:.1f}"
    return str(value)


def render_markdown(run: EvalRun) -> str:
    """Render the run as a Markdown report: configuration, metrics (overall, by kind), plots, failures."""
    summary = run.summary
    flat = flatten({k: v for k, v in summary.items() if k not in ("config", "by_kind")})
    lines = [
        "# Evaluation report",
        "",
        f"{summary['n']} questions, {summary['passed']} passed.",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | `{_fmt(v)}` |" for k, v in summary["config"].items()),
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| `{k}` | {_fmt(v)} |" for k, v in flat.items()),
        "",
    ]
    lines += _kind_lines(summary.get("by_kind") or {})
    if run.failures:
        lines += ["**Thresholds failed:**", "", *(f"- {f}" for f in run.failures), ""]
    lines += [f"![{name.removesuffix('.png')}]({name})" for name in PLOTS]
    lines += _sweep_lines(run)
    failed = [r for r in run.results if not r["passed"]]
    lines += ["", f"## Questions that failed ({len(failed)})", ""]
    if failed:
        lines += ["| id | kind | question | answerable | refused | answer |", "|---|---|---|---|---|---|"]
        for r in failed:
            answer = _cell(" ".join(str(r["answer"]).split())[:160])
            question = _cell(" → ".join([*r.get("turns", []), r["question"]]))
            lines.append(
                f"| {r['id']} | {r.get('kind', '')} | {question} | {r['answerable']} | {r['refused']} "
                f"| {answer} |"
            )
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _kind_lines(by_kind: dict[str, Any]) -> list[str]:
    """Tabulate every metric by row kind: one column a kind."""
    if not by_kind:
        return []
    kinds = list(by_kind)
    flats = {kind: flatten(by_kind[kind]) for kind in kinds}
    names = list(flats[kinds[0]])
    return [
        "## By kind",
        "",
        f"| metric | {' | '.join(kinds)} |",
        f"|---|{'---|' * len(kinds)}",
        *(f"| `{name}` | {' | '.join(_fmt(flats[k].get(name)) for k in kinds)} |" for name in names),
        "",
    ]


def _sweep_lines(run: EvalRun) -> list[str]:
    """Tabulate the refusal gate over thresholds, from each question's evidence score."""
    sweep = refusal_sweep(run.results, [t / 100 for t in range(30, 81)])
    best = best_threshold(sweep)
    if best is None:
        return []
    current = run.summary["config"].get("refuse_below")
    shown = [s for s in sweep if round(s[0] * 100) % 5 == 0 or s[0] in (best[0], current)]
    return [
        "",
        "## Refusal threshold",
        "",
        f"Were the evidence gate (`RAG_REFUSE_BELOW`, now {current}) at each threshold, with this run's "
        f"retrieval: the best by refusal accuracy minus false-refusal rate is **{best[0]:.2f}** "
        f"(accuracy {best[1]:.2f}, false-refusal rate {best[2]:.3f}). An LLM answerer may also refuse "
        "by itself, which this table does not model.",
        "",
        "| threshold | refusal accuracy | false-refusal rate |",
        "|---|---|---|",
        *(f"| {t:.2f}{' (best)' if t == best[0] else ''} | {a:.2f} | {f:.3f} |" for t, a, f in shown),
    ]


def write_plots(run: EvalRun, out: Path) -> list[Path]:
    """Draw the metrics bar chart, the latency histogram and the per-question pass/fail chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flat = flatten(run.summary)
    paths = [out / name for name in PLOTS]

    names = [k for k in SCORE_LABELS if isinstance(flat.get(k), int | float)]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    values = [float(flat[k]) for k in names]
    bars = ax.barh([SCORE_LABELS[k] for k in names], values, color="#4C72B0")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=3)
    ax.set_xlim(0, 1.1)
    ax.invert_yaxis()
    ax.set_title(f"Metrics ({run.summary['n']} questions)")
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)

    latencies = [r["latency_ms"] for r in run.results]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist(latencies, bins=min(30, max(5, len(latencies) // 2)), color="#55A868")
    for key, style in (("latency.p50_ms", "--"), ("latency.p95_ms", ":")):
        if isinstance(flat.get(key), int | float):
            ax.axvline(flat[key], color="black", linestyle=style, label=f"{key[8:11]} {flat[key]:.0f} ms")
    ax.set_xlabel("milliseconds per question")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)

    _question_plot(plt, run.results, paths[2])
    return paths


def _question_plot(plt: Any, results: Sequence[dict[str, Any]], path: Path) -> None:
    """Draw one bar per question: its citation recall (or 1 for a right refusal), green when it passed."""
    labels = [r["id"] for r in results]
    scores = [(r["citation_recall"] or 0.0) if r["answerable"] else float(r["refused"]) for r in results]
    colors = ["#55A868" if r["passed"] else "#C44E52" for r in results]
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(results) + 1.2))
    ax.barh(range(len(results)), [max(s, 0.02) for s in scores], color=colors)
    ax.set_yticks(range(len(results)), labels, fontsize=7)
    ax.set_ylim(len(results) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("citation recall (answerable) · refused (unanswerable)")
    passed = sum(bool(r["passed"]) for r in results)
    ax.set_title(f"Per question: {passed} passed (green), {len(results) - passed} failed (red)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
