"""The `rag` command line: a thin adapter over the public API. Options mirror `RAG_*` variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rag.errors import RagError
from rag.offline import apply_offline_env
from rag.settings import LLMMode, RetrievalMode, Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ask questions of your documents; answers cite the passages they come from.",
)
out = Console()
err = Console(stderr=True)

CorpusOpt = Annotated[Path | None, typer.Option("--corpus", help="Corpus folder [RAG_CORPUS_DIR].")]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Index folder [RAG_DATA_DIR].")]
ChromaOpt = Annotated[str | None, typer.Option("--chroma-url", help="Chroma server URL [RAG_CHROMA_URL].")]
CollectionOpt = Annotated[str | None, typer.Option("--collection", help="Collection [RAG_COLLECTION].")]


def _settings(**overrides: Any) -> Settings:
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise RagError(f"invalid setting {where}: {first['msg']}") from None


@contextmanager
def _user_errors() -> Iterator[None]:
    """Print a `RagError` as one line and exit 1; never show a traceback for one."""
    try:
        yield
    except RagError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


class _RichProgress:
    """Draw ingestion progress: files, chunks embedded, chunks/s."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[chunks]} chunks embedded · {task.fields[rate]:.0f} chunks/s"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        self.task: Any = None
        self.chunks = 0

    def start(self, files: int) -> None:
        self.task = self.bar.add_task("indexing", total=files, chunks=0, rate=0.0)

    def file_done(self, source: str) -> None:
        self.bar.advance(self.task)

    def embedded(self, chunks: int) -> None:
        self.chunks += chunks
        elapsed = self.bar.tasks[0].elapsed or 0.0
        self.bar.update(self.task, chunks=self.chunks, rate=self.chunks / elapsed if elapsed else 0.0)


def _print_report(report: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Index: {report.location}", title_justify="left", show_header=True)
    table.add_column("")
    table.add_column("files", justify="right")
    table.add_column("chunks", justify="right")
    table.add_row("indexed (new or changed)", str(len(report.indexed)), f"{report.chunks_embedded} embedded")
    table.add_row("unchanged", str(len(report.unchanged)), "")
    table.add_row("removed", str(len(report.removed)), f"{report.chunks_removed} removed")
    table.add_row("skipped", str(len(report.skipped)), "")
    table.add_row("[bold]total in index", "", f"[bold]{report.chunks_total}")
    err.print(table)
    for item in report.skipped:
        err.print(f"[yellow]skipped[/] {item.path}: {item.reason}", highlight=False)
    err.print(
        f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f} s "
        f"({report.chunks_per_second:.0f} chunks/s) with {report.embedding_model}",
        highlight=False,
    )


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: the corpus).")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Delete the index first and rebuild it.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    corpus: CorpusOpt = None,
    data_dir: DataOpt = None,
    chroma_url: ChromaOpt = None,
    collection: CollectionOpt = None,
) -> None:
    """Index documents (.txt .md .html .pdf): new and changed files are embedded, deleted ones removed."""
    from rag.ingest import ingest as run_ingest

    with _user_errors():
        settings = _settings(
            corpus_dir=corpus, data_dir=data_dir, chroma_url=chroma_url, collection=collection
        )
        progress = None if quiet else _RichProgress()
        if progress is None:
            report = run_ingest(settings, paths or None, reset=reset)
        else:
            with progress.bar:
                report = run_ingest(settings, paths or None, reset=reset, progress=progress)
        if not quiet:
            _print_report(report)
        if not (report.indexed or report.unchanged) and report.chunks_total == 0:
            err.print("[bold red]error:[/] no documents were indexed", highlight=False)
            raise typer.Exit(1)


def _print_hits(hits: list[Any]) -> None:
    if not hits:
        out.print("no matching passages")
    for hit in hits:
        page = f", page {hit.page}" if hit.page is not None else ""
        out.print(
            f"[bold]{hit.rank}.[/] {hit.title} [dim]({hit.source}{page}, chars {hit.start}–{hit.end}, "
            f"score {hit.score:.3f})[/]",
            highlight=False,
        )
        out.print(f"   {hit.text}", highlight=False, markup=False)


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="What to search for; omit it for a prompt.")] = None,
    k: Annotated[int | None, typer.Option("-k", "--top-k", help="Passages to return [RAG_TOP_K].")] = None,
    mode: Annotated[RetrievalMode | None, typer.Option("--mode", help="[RAG_RETRIEVAL_MODE]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as JSON.")] = False,
    corpus: CorpusOpt = None,
    data_dir: DataOpt = None,
    chroma_url: ChromaOpt = None,
    collection: CollectionOpt = None,
) -> None:
    """Show the passages that best match a query (vector, bm25 or hybrid retrieval)."""
    from rag.retrieve import open_retriever

    with _user_errors():
        settings = _settings(
            corpus_dir=corpus,
            data_dir=data_dir,
            chroma_url=chroma_url,
            collection=collection,
            top_k=k,
            retrieval_mode=mode,
        )
        retriever = open_retriever(settings)
        if query is not None:
            hits = retriever.search(query)
            if as_json:
                print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
            else:
                _print_hits(hits)
            return
        err.print(
            f"Searching {retriever.store.location} ({settings.retrieval_mode}). Empty line or Ctrl-D quits."
        )
        for line in _prompt_lines():
            if not line.strip():
                break
            try:
                _print_hits(retriever.search(line))
            except RagError as e:
                err.print(f"[bold red]error:[/] {e}", highlight=False)


def _print_answer(answer: Any, mode_note: str) -> None:
    from rich.markup import escape

    style = "yellow" if answer.refused else ""
    unsupported = set(answer.unsupported)
    if answer.sentences and unsupported:
        parts = [
            f"[red]{escape(s)} [unsupported][/]" if i in unsupported else escape(s)
            for i, s in enumerate(answer.sentences)
        ]
        out.print(" ".join(parts), highlight=False)
    else:
        out.print(f"[{style}]{escape(answer.text)}[/]" if style else escape(answer.text), highlight=False)
    if answer.citations:
        out.print("\n[bold]Sources[/]")
    for c in answer.citations:
        page = f", page {c.page}" if c.page is not None else ""
        out.print(
            f"[bold][{c.n}][/] {escape(c.title)} [dim]({escape(c.source)}{page}, chars {c.start}–{c.end})[/]",
            highlight=False,
        )
        out.print(f"    “{escape(c.quote)}”", highlight=False)
    err.print(f"[dim]{mode_note} · {answer.timings.get('total_ms', 0):.0f} ms[/]", highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question about the documents.")],
    llm: Annotated[LLMMode | None, typer.Option("--llm", help="extractive or openai [RAG_LLM].")] = None,
    k: Annotated[int | None, typer.Option("-k", "--top-k", help="Passages to retrieve [RAG_TOP_K].")] = None,
    mode: Annotated[RetrievalMode | None, typer.Option("--mode", help="[RAG_RETRIEVAL_MODE]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    corpus: CorpusOpt = None,
    data_dir: DataOpt = None,
    chroma_url: ChromaOpt = None,
    collection: CollectionOpt = None,
) -> None:
    """Answer a question from the documents, citing the passages each sentence comes from."""
    from rag.chain import build_chain

    with _user_errors():
        settings = _settings(
            corpus_dir=corpus,
            data_dir=data_dir,
            chroma_url=chroma_url,
            collection=collection,
            top_k=k,
            retrieval_mode=mode,
            llm=llm,
        )
        chain = build_chain(settings)
        answer = chain.invoke({"question": question})
        if as_json:
            print(answer.model_dump_json(indent=2))
            return
        note = f"answered by: {settings.llm_mode}"
        if settings.llm_mode == "openai":
            note += f" ({settings.chat_model} at {settings.openai_base_url or 'OpenAI'})"
        _print_answer(answer, note)
        if answer.refused:
            raise typer.Exit(0)


def _limits(values: list[str] | None, option: str) -> dict[str, float]:
    """Parse repeated METRIC=VALUE options, checking the metric is a summary.json key."""
    from rag.evals.metrics import SUMMARY_KEYS

    known = {*SUMMARY_KEYS, "judge.correctness", "judge.faithfulness"}
    limits: dict[str, float] = {}
    for item in values or []:
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in known:
            raise RagError(
                f"{option} {item!r}: unknown metric {name!r}; use one of {', '.join(sorted(known))}"
            )
        try:
            limits[name] = float(value)
        except ValueError:
            raise RagError(f"{option} {item!r}: expected METRIC=NUMBER") from None
    return limits


def _report_dir(out_dir: Path | None) -> Path:
    from datetime import datetime

    return out_dir or Path("evals") / "reports" / datetime.now().strftime("%Y%m%d-%H%M%S")


def _row_progress(total: int, what: str) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )
    bar.add_task(what, total=total)
    return bar


def _print_summary(summary: dict[str, Any], minimums: dict[str, float], maximums: dict[str, float]) -> None:
    from rich.table import Table

    from rag.evals.metrics import flatten

    table = Table(
        title=f"rag eval: {summary['n']} questions, {summary['passed']} passed", title_justify="left"
    )
    for column in ("metric", "value", "limit", ""):
        table.add_column(column, justify="right" if column in ("value", "limit") else "left")
    for name, value in flatten({k: v for k, v in summary.items() if k != "config"}).items():
        limit, ok = "", ""
        if name in minimums:
            limit = f"≥ {minimums[name]:g}"
            ok = "[green]ok" if isinstance(value, int | float) and value >= minimums[name] else "[red]FAIL"
        elif name in maximums:
            limit = f"≤ {maximums[name]:g}"
            ok = "[green]ok" if isinstance(value, int | float) and value <= maximums[name] else "[red]FAIL"
        shown = (
            "–"
            if value is None
            else f"{value:.3f}"
            if isinstance(value, float) and value <= 1
            else str(value)
        )
        table.add_row(name, shown, limit, ok)
    out.print(table)


@app.command("eval")
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
    corpus: CorpusOpt = None,
    data_dir: DataOpt = None,
    chroma_url: ChromaOpt = None,
) -> None:
    """Run a QA dataset through the chain and write metrics, plots and a report (offline, no judge)."""
    from rag.evals.metrics import load_dataset
    from rag.evals.run import check_thresholds, corpus_hash, eval_settings, run_config, run_eval, write_report
    from rag.ingest import ingest as run_ingest
    from rag.providers import make_chat_model, make_embeddings

    with _user_errors():
        base = _settings(
            corpus_dir=corpus, data_dir=data_dir, chroma_url=chroma_url, top_k=k, retrieval_mode=mode, llm=llm
        )
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


@app.command("eval-retrieval")
def eval_retrieval(
    beir: Annotated[Path, typer.Option("--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/.")],
    split: Annotated[str, typer.Option("--split", help="qrels/<split>.tsv to score against.")] = "test",
    mode: Annotated[
        RetrievalMode | None, typer.Option("--mode", help="One mode; default: all three.")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the JSON (default: evals/reports/TIMESTAMP).")
    ] = None,
    data_dir: DataOpt = None,
    chroma_url: ChromaOpt = None,
) -> None:
    """Score retrieval on a BEIR dataset (nDCG@10, recall@100, MRR@10), indexed by `rag ingest`'s code."""
    from rag.evals.beir import benchmark_settings, evaluate, load_beir, write_corpus
    from rag.ingest import ingest as run_ingest
    from rag.providers import make_embeddings

    with _user_errors():
        modes: list[RetrievalMode] = [mode] if mode else ["vector", "bm25", "hybrid"]
        data = load_beir(beir, split)
        settings = benchmark_settings(_settings(data_dir=data_dir, chroma_url=chroma_url), data)
        write_corpus(data, settings.corpus_dir)
        embeddings = make_embeddings(settings)
        progress = _RichProgress()
        with progress.bar:
            report = run_ingest(settings, embeddings=embeddings, progress=progress)
        bar = _row_progress(
            len(data.queries) * len(modes), f"{len(data.queries)} queries × {len(modes)} modes"
        )
        with bar:
            results = evaluate(
                settings, data, modes, embeddings=embeddings, on_query=lambda: bar.advance(bar.task_ids[0])
            )
        payload = {
            "dataset": data.name,
            "split": split,
            "documents": len(data.corpus),
            "queries": len(data.queries),
            "chunks": report.chunks_total,
            "embedding_model": settings.embedding_model_id,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "rrf_k": settings.rrf_k,
            "index_seconds": round(report.seconds, 1),
            "results": results,
        }
        folder = _report_dir(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"beir-{data.name}-{split}.json"
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        from rich.table import Table

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


def _credentials(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not (sep and user and password):
        raise RagError("--auth takes user:password (both non-empty)")
    return user, password


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 127.0.0.1 is this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 7860,
    auth: Annotated[str | None, typer.Option("--auth", help="Require a login: user:password.")] = None,
    no_ingest: Annotated[
        bool, typer.Option("--no-ingest", help="Serve the index as it is; don't index changed files first.")
    ] = False,
    corpus: CorpusOpt = None,
    data_dir: DataOpt = None,
    chroma_url: ChromaOpt = None,
    collection: CollectionOpt = None,
) -> None:
    """Open the chat page: streamed answers, each with its sources and the quotes highlighted."""
    from rag.chain import build_chain
    from rag.ingest import ingest as run_ingest
    from rag.providers import make_embeddings

    with _user_errors():
        settings = _settings(
            corpus_dir=corpus, data_dir=data_dir, chroma_url=chroma_url, collection=collection
        )
        credentials = _credentials(auth)
        embeddings = make_embeddings(settings)
        if not no_ingest:
            progress = _RichProgress()
            with progress.bar:
                report = run_ingest(settings, embeddings=embeddings, progress=progress)
            _print_ingest_summary(report)
        chain = build_chain(settings, embeddings=embeddings)
        from rag.app import build_app, launch  # the only place gradio is imported

        demo = build_app(chain, settings)
        url = launch(demo, host=host, port=port, auth=credentials)
        out.print(f"Chat on {url}  (answered by {chain.mode}; Ctrl-C stops)", highlight=False)
        out.file.flush()  # the URL must show now, even when stdout is a pipe
        if credentials is None and host not in ("127.0.0.1", "localhost", "::1"):
            err.print(f"[yellow]warning:[/] listening on {host} without --auth", highlight=False)
        demo.block_thread()


def _print_ingest_summary(report: Any) -> None:
    for item in report.skipped:
        err.print(f"[yellow]skipped[/] {item.path}: {item.reason}", highlight=False)
    err.print(
        f"index: {report.chunks_total} chunks; {len(report.indexed)} files indexed now, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed",
        highlight=False,
    )


def _sizes(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in value.split(",") if x.strip())
    except ValueError:
        raise RagError(f"--scale takes chunk counts separated by commas, got {value!r}") from None
    if not sizes or min(sizes) < 1:
        raise RagError(f"--scale takes positive chunk counts, got {value!r}")
    return sizes


@app.command()
def bench(
    beir: Annotated[
        Path, typer.Option("--beir", help="BEIR SciFact folder (corpus.jsonl, queries.jsonl).")
    ] = Path("../shared/bench/scifact"),
    docs: Annotated[
        int | None, typer.Option("--docs", min=1, help="Use the first N documents [default: all].")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for BENCHMARKS.md, bench.json.")] = Path("."),
    skip_serve: Annotated[bool, typer.Option("--skip-serve", help="Don't time `rag serve`.")] = False,
    scale: Annotated[str, typer.Option("--scale", hidden=True)] = "1000,10000,100000",
    queries: Annotated[int, typer.Option("--queries", min=1, hidden=True)] = 200,
    ask_runs: Annotated[int, typer.Option("--ask-runs", min=1, hidden=True)] = 3,
) -> None:
    """Benchmark ingest, retrieval, answers, scale and start-up on SciFact; write BENCHMARKS.md."""
    import shlex
    import sys

    from rag.bench import BenchConfig, run_bench
    from rag.bench_report import figure_rows

    with _user_errors():
        config = BenchConfig(
            beir=beir,
            out=out_dir,
            command=shlex.join(["rag", *sys.argv[1:]]) if sys.argv[1:2] == ["bench"] else "rag bench",
            docs=docs,
            queries=queries,
            scale=_sizes(scale),
            ask_runs=ask_runs,
            skip_serve=skip_serve,
        )
        result = run_bench(config, lambda stage: err.print(f"[dim]bench:[/] {stage}", highlight=False))
        from rich.table import Table

        table = Table(title="rag bench: targets", title_justify="left")
        for column in ("target", "value", "goal", "met"):
            table.add_column(column)
        for t in result["targets"]:
            met = "–" if t["met"] is None else ("[green]yes" if t["met"] else "[red]no")
            table.add_row(t["target"], t["value"], t["goal"], met)
        out.print(table)
        written = f"{out_dir / 'BENCHMARKS.md'} and {out_dir / 'bench.json'}"
        err.print(f"{len(figure_rows(result))} figures, and what limits each target: {written}")


def _prompt_lines() -> Iterator[str]:
    while True:
        try:
            yield input("search> ")
        except EOFError:
            return


def main() -> None:
    """Run the `rag` command."""
    apply_offline_env()
    app(prog_name="rag")


if __name__ == "__main__":  # pragma: no cover
    main()
