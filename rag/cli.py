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
