"""Run the chain over a dataset and write the evaluation: results.jsonl, summary.json, report.md, plots."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from rag.evals.metrics import Row, Span, flatten, score_row, summarize
from rag.settings import Settings

PLOTS = ("metrics.png", "latency.png", "questions.png")
# Metrics on a 0..1 scale, with the labels the plot and the report use.
SCORE_LABELS = {
    "retrieval.hit_at_k": "retrieval hit@k",
    "retrieval.recall_at_k": "retrieval recall@k",
    "retrieval.mrr": "retrieval MRR",
    "citation.precision": "citation precision",
    "citation.recall": "citation recall",
    "answer.f1": "answer token F1",
    "answer.exact_match": "answer exact match",
    "groundedness": "groundedness",
    "refusal.accuracy": "refusal accuracy",
    "refusal.false_rate": "false-refusal rate",
}


@dataclass
class EvalRun:
    """The per-question results and the summary of one evaluation."""

    results: list[dict[str, Any]]
    summary: dict[str, Any]
    failures: list[str] = field(default_factory=list)


def corpus_hash(corpus_dir: Path) -> str:
    """Hash the corpus: every indexable file's name and bytes."""
    from rag.sources import discover

    digest = hashlib.sha256()
    for path, source in discover([corpus_dir], corpus_dir).files:
        digest.update(f"{source}\x00{hashlib.sha256(path.read_bytes()).hexdigest()}\x00".encode())
    return digest.hexdigest()


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


def eval_settings(settings: Settings, corpus_dir: Path, digest: str) -> Settings:
    """Return settings with the eval's own collection: one per corpus content and embedding model."""
    key = hashlib.sha256(f"{digest}\x00{settings.embedding_model_id}".encode()).hexdigest()[:8]
    return settings.model_copy(update={"corpus_dir": corpus_dir, "collection": f"eval-{key}"})


def run_config(settings: Settings, digest: str, dataset: Path) -> dict[str, Any]:
    """Describe what a run measured, for summary.json."""
    return {
        "k": settings.top_k,
        "mode": settings.retrieval_mode,
        "llm": settings.llm_mode,
        "chat_model": settings.chat_model if settings.llm_mode == "openai" else None,
        "embedding_model": settings.embedding_model_id,
        "corpus_hash": digest,
        "corpus": str(settings.corpus_dir),
        "dataset": str(dataset),
        "refuse_below": settings.refuse_below,
        "collection": settings.collection,
    }


def run_eval(
    settings: Settings,
    rows: Sequence[Row],
    config: dict[str, Any],
    *,
    embeddings: Embeddings | None = None,
    judge: BaseChatModel | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> EvalRun:
    """Answer every row with the chain the UI uses, score it, and summarise (settings name the index)."""
    from rag.chain import build_chain

    chain = build_chain(settings, embeddings=embeddings)
    k, mode = chain.top_k, chain.retrieval_mode
    chain.invoke({"question": rows[0].question})  # untimed warm-up: latencies are a warm chain's
    results = []
    for row in rows:
        answer = chain.invoke({"question": row.question, "history": [list(t) for t in row.history]})
        # The same search the chain ran (retrieval is deterministic), for the retrieval metrics and
        # the evidence score the refusal threshold is compared with.
        hits = chain.retriever.search(answer.retrieval_query, k=k, mode=mode)
        result = score_row(row, answer, [Span(h.source, h.start, h.end) for h in hits], k)
        result["evidence_score"] = answer.evidence
        if judge is not None and row.answerable and row.answer is not None:
            from rag.evals.judge import judge_answer

            result.update(judge_answer(judge, row, answer, settings.prompts_dir))
        results.append(result)
        if on_row is not None:
            on_row(result)
    return EvalRun(results, summarize(results, config))


def check_thresholds(
    summary: dict[str, Any], minimums: dict[str, float], maximums: dict[str, float]
) -> list[str]:
    """Return a line per failed --min/--max check (an absent metric fails)."""
    flat = flatten(summary)
    failed = []
    for name, limit in minimums.items():
        value = flat.get(name)
        if not isinstance(value, int | float) or value < limit:
            failed.append(f"{name} = {value} is below the minimum {limit}")
    for name, limit in maximums.items():
        value = flat.get(name)
        if not isinstance(value, int | float) or value > limit:
            failed.append(f"{name} = {value} is above the maximum {limit}")
    return failed


def write_report(run: EvalRun, out: Path) -> list[Path]:
    """Write every file of a run into `out` and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    results.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in run.results), encoding="utf-8"
    )
    summary = out / "summary.json"
    summary.write_text(json.dumps(run.summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plots = write_plots(run, out)
    report = out / "report.md"
    report.write_text(render_markdown(run), encoding="utf-8")
    return [results, summary, report, *plots]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) <= 1 else f"{value:.1f}"
    return str(value)


def render_markdown(run: EvalRun) -> str:
    """Render the run as a Markdown report: configuration, metrics, plots and the failed questions."""
    summary = run.summary
    flat = flatten({k: v for k, v in summary.items() if k != "config"})
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
    if run.failures:
        lines += ["**Thresholds failed:**", "", *(f"- {f}" for f in run.failures), ""]
    lines += [f"![{name.removesuffix('.png')}]({name})" for name in PLOTS]
    lines += _sweep_lines(run)
    failed = [r for r in run.results if not r["passed"]]
    lines += ["", f"## Questions that failed ({len(failed)})", ""]
    if failed:
        lines += ["| id | question | answerable | refused | answer |", "|---|---|---|---|---|"]
        for r in failed:
            answer = " ".join(str(r["answer"]).split())[:160].replace("|", "\\|")
            question = r["question"].replace("|", "\\|")
            lines.append(f"| {r['id']} | {question} | {r['answerable']} | {r['refused']} | {answer} |")
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


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
