"""`rag eval` and `rag eval-retrieval`: evaluate answers and retrieval on a user's own data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.progress import Progress

from rag.cli_options import RichProgress, err, make_settings, out, store_options, user_errors
from rag.errors import RagError
from rag.settings import LLMMode, RetrievalMode

eval_app = typer.Typer()


def register(app: typer.Typer) -> None:
    """Add the eval commands to the `rag` command."""
    app.registered_commands.extend(eval_app.registered_commands)


def _limits(values: list[str] | None, option: str) -> dict[str, float]:
    """Parse repeated METRIC=VALUE options, checking the metric is a summary.json key."""
    from rag.evals.metrics import SUMMARY_KEYS, known_metric

    limits: dict[str, float] = {}
    for item in values or []:
        name, _, value = item.partition("=")
        name = name.strip()
        if not known_metric(name):
            raise RagError(
                f"{option} {item!r}: unknown metric {name!r}; use one of {', '.join(sorted(SUMMARY_KEYS))}, "
                "judge.correctness, judge.faithfulness, or by_kind.KIND.METRIC"
            )
        try:
            limits[name] = float(value)
        except ValueError:
            raise RagError(f"{option} {item!r}: expected METRIC=NUMBER") from None
    return limits


def _report_dir(out_dir: Path | None) -> Path:
    from datetime import datetime

    return out_dir or Path("evals") / "reports" / datetime.now().strftime("%Y%m%d-%H%M%S")


def _row_progress(total: int, what: str) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )
    bar.add_task(what, total=total)
    return bar


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) and value <= 1 else str(value)


def _print_summary(summary: dict[str, Any], minimums: dict[str, float], maximums: dict[str, float]) -> None:
    from rich.table import Table

    from rag.evals.metrics import flatten

    table = Table(
        title=f"rag eval: {summary['n']} questions, {summary['passed']} passed", title_justify="left"
    )
    for column in ("metric", "value", "limit", ""):
        table.add_column(column, justify="right" if column in ("value", "limit") else "left")
    limited = {*minimums, *maximums}
    for name, value in flatten({k: v for k, v in summary.items() if k != "config"}).items():
        if name.startswith("by_kind.") and name not in limited and not name.endswith((".n", ".passed")):
            continue  # by kind, the table shows rows and passes (report.md has every metric)
        limit, ok = "", ""
        number = isinstance(value, int | float)
        if name in minimums:
            limit = f"≥ {minimums[name]:g}"
            ok = "[green]ok" if number and value >= minimums[name] else "[red]FAIL"
        elif name in maximums:
            limit = f"≤ {maximums[name]:g}"
            ok = "[green]ok" if number and value <= maximums[name] else "[red]FAIL"
        table.add_row(name, _shown(value), limit, ok)
    out.print(table)


@eval_app.command("eval")
@store_options
def eval_(
    dataset: Annotated[Path, typer.Option("--dataset", help="JSONL dataset (see evals/README.md).")] = Path(
        "evals/datasets/seed_qa.jsonl"
    ),
    llm: Annotated[LLMMode | None, typer.Option("--llm", help="extractive or openai [RAG_LLM].")] = None,
    k: Annotated[int | None, typer.Option("-k", "--top-k", help="Passages to retrieve [RAG_TOP_K].")] = None,
    mode: Annotated[RetrievalMode | None, typer.Option("--mode", help="[RAG_RETRIEVAL_MODE]")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default: evals/reports/TIMESTAMP).")
    ] = None,
    minimum: Annotated[
        list[str] | None, typer.Option("--min", help="METRIC=VALUE: exit 1 when the metric is lower.")
    ] = None,
    maximum: Annotated[
        list[str] | None, typer.Option("--max", help="METRIC=VALUE: exit 1 when the metric is higher.")
    ] = None,
    judge: Annotated[
        bool, typer.Option("--judge", help="Also grade answers with the configured LLM (prompts/judge.md).")
    ] = False,
    *,
    store: dict[str, Any],
) -> None:
    """Run a QA dataset through the chain and write metrics, plots and a report (offline, no judge)."""
    from rag.evals.metrics import load_dataset
    from rag.evals.run import check_thresholds, corpus_hash, eval_settings, run_config, run_eval, write_report
    from rag.ingest import ingest as run_ingest
    from rag.providers import make_chat_model, make_embeddings

    with user_errors():
        base = make_settings(store, top_k=k, retrieval_mode=mode, llm=llm)
        minimums, maximums = _limits(minimum, "--min"), _limits(maximum, "--max")
        rows = load_dataset(dataset, base.corpus_dir)
        digest = corpus_hash(base.corpus_dir)
        settings = eval_settings(base, base.corpus_dir, digest)
        judge_model = None
        if judge:
            if settings.llm_mode != "openai" and not settings.openai_base_url:
                raise RagError("--judge needs an LLM: set OPENAI_API_KEY or RAG_OPENAI_BASE_URL")
            judge_model = make_chat_model(settings)
        embeddings = make_embeddings(settings)
        report = run_ingest(settings, embeddings=embeddings)
        err.print(
            f"index: {report.chunks_total} chunks in {report.location} "
            f"({report.chunks_embedded} embedded now)",
            highlight=False,
        )
        bar = _row_progress(len(rows), "evaluating")
        with bar:
            run = run_eval(
                settings,
                rows,
                run_config(settings, digest, dataset),
                embeddings=embeddings,
                judge=judge_model,
                on_row=lambda _: bar.advance(bar.task_ids[0]),
            )
        run.failures = check_thresholds(run.summary, minimums, maximums)
        folder = _report_dir(out_dir)
        write_report(run, folder)
        _print_summary(run.summary, minimums, maximums)
        err.print(f"report: {folder / 'report.md'}", highlight=False)
        for failure in run.failures:
            err.print(f"[bold red]threshold failed:[/] {failure}", highlight=False)
        if run.failures:
            raise typer.Exit(1)


@eval_app.command("eval-retrieval")
@store_options
def eval_retrieval(
    beir: Annotated[Path, typer.Option("--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/.")],
    split: Annotated[str, typer.Option("--split", help="qrels/<split>.tsv to score against.")] = "test",
    mode: Annotated[
        RetrievalMode | None, typer.Option("--mode", help="One mode; default: all of them.")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the JSON (default: evals/reports/TIMESTAMP).")
    ] = None,
    *,
    store: dict[str, Any],
) -> None:
    """Score retrieval on a BEIR dataset (nDCG@10, recall@100, MRR@10), indexed by `rag ingest`'s code."""
    from rich.table import Table

    from rag.evals.beir import benchmark_settings, evaluate, load_beir, results_payload, write_corpus
    from rag.ingest import ingest as run_ingest
    from rag.providers import make_embeddings

    with user_errors():
        modes: list[RetrievalMode] = [mode] if mode else list(get_args(RetrievalMode))
        data = load_beir(beir, split)
        settings = benchmark_settings(make_settings(store), data)
        write_corpus(data, settings.corpus_dir)
        embeddings = make_embeddings(settings)
        progress = RichProgress()
        with progress.bar:
            report = run_ingest(settings, embeddings=embeddings, progress=progress)
        bar = _row_progress(
            len(data.queries) * len(modes), f"{len(data.queries)} queries × {len(modes)} modes"
        )
        with bar:
            results = evaluate(
                settings, data, modes, embeddings=embeddings, on_query=lambda: bar.advance(bar.task_ids[0])
            )
        folder = _report_dir(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"beir-{data.name}-{split}.json"
        payload = results_payload(settings, data, split, report, results)
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        table = Table(title=f"{data.name} ({split}): {len(data.queries)} queries", title_justify="left")
        for column in ("mode", "nDCG@10", "recall@100", "MRR@10", "ms/query"):
            table.add_column(column, justify="left" if column == "mode" else "right")
        for name, r in results.items():
            table.add_row(
                name,
                f"{r['ndcg_at_10']:.4f}",
                f"{r['recall_at_100']:.4f}",
                f"{r['mrr_at_10']:.4f}",
                f"{r['ms_per_query']:.0f}",
            )
        out.print(table)
        err.print(f"written: {path}", highlight=False)
