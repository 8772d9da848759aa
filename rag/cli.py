"""The `rag` command line: a thin adapter over the public API. Options mirror `RAG_*` variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rag.cli_options import RichProgress, err, make_settings, out, store_options, user_errors
from rag.cli_remove import register as register_remove_command
from rag.errors import RagError
from rag.evals.cli import register as register_eval_commands
from rag.offline import apply_offline_env
from rag.settings import LLMMode, RetrievalMode

if TYPE_CHECKING:
    from rag.ingest import IngestReport
    from rag.schema import Answer, Passage

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ask questions of your documents; answers cite the passages they come from.",
)
KOpt = Annotated[int | None, typer.Option("-k", "--top-k", help="Passages to retrieve [RAG_TOP_K].")]
ModeOpt = Annotated[RetrievalMode | None, typer.Option("--mode", help="[RAG_RETRIEVAL_MODE]")]
LLMOpt = Annotated[LLMMode | None, typer.Option("--llm", help="Answer with extractive or openai [RAG_LLM].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"rag {version('rag')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Ask questions of your documents; answers cite the passages they come from."""


def print_report(report: IngestReport) -> None:
    """Print what an ingest did: a table of files and chunks, then each skipped file."""
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
@store_options
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: the corpus).")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Delete the index first and rebuild it.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow-symlinks", help="Follow symlinks that lead outside the indexed folders.")
    ] = False,
    *,
    store: dict[str, Any],
) -> None:
    """Index documents: new and changed files are embedded, deleted ones removed (see `rag remove`)."""
    from rag.ingest import ingest as run_ingest

    with user_errors():
        settings = make_settings(store)
        if quiet:
            report = run_ingest(settings, paths or None, reset=reset, follow_symlinks=follow)
        else:
            progress = RichProgress()
            with progress.bar:
                report = run_ingest(
                    settings, paths or None, reset=reset, progress=progress, follow_symlinks=follow
                )
            print_report(report)
        if not (report.indexed or report.unchanged) and report.chunks_total == 0:
            err.print("[bold red]error:[/] no documents were indexed", highlight=False)
            raise typer.Exit(1)


def _print_hits(hits: list[Passage]) -> None:
    from rich.markup import escape  # a title or file name is document text: never markup

    if not hits:
        out.print("no matching passages")
    for hit in hits:
        page = f", {escape(hit.page_label or f'page {hit.page}')}" if hit.page is not None else ""
        out.print(
            f"[bold]{hit.rank}.[/] {escape(hit.title)} [dim]({escape(hit.source)}{page}, "
            f"chars {hit.start}–{hit.end}, "
            f"score {hit.score:.3f})[/]",
            highlight=False,
        )
        out.print(f"   {hit.text}", highlight=False, markup=False)


def _prompt_lines() -> Iterator[str]:
    while True:
        try:
            yield input("search> ")
        except EOFError:
            return


@app.command()
@store_options
def search(
    query: Annotated[str | None, typer.Argument(help="What to search for; omit it for a prompt.")] = None,
    k: KOpt = None,
    mode: ModeOpt = None,
    as_json: JsonOpt = False,
    *,
    store: dict[str, Any],
) -> None:
    """Show the passages that best match a query (vector, bm25 or hybrid retrieval)."""
    from rag.retrieve import open_retriever

    with user_errors():
        settings = make_settings(store, top_k=k, retrieval_mode=mode)
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


def _print_answer(answer: Answer, mode_note: str) -> None:
    from rich.markup import escape

    unsupported = set(answer.unsupported)
    if answer.sentences and unsupported:
        parts = [
            f"[red]{escape(s)} [unsupported][/]" if i in unsupported else escape(s)
            for i, s in enumerate(answer.sentences)
        ]
        out.print(" ".join(parts), highlight=False)
    elif answer.refused:
        out.print(f"[yellow]{escape(answer.text)}[/]", highlight=False)
    else:
        out.print(escape(answer.text), highlight=False)
    if answer.citations:
        out.print("\n[bold]Sources[/]")
    for c in answer.citations:
        page = f", {escape(c.page_label or f'page {c.page}')}" if c.page is not None else ""
        out.print(
            f"[bold][{c.n}][/] {escape(c.title)} [dim]({escape(c.source)}{page}, chars {c.start}–{c.end})[/]",
            highlight=False,
        )
        out.print(f"    “{escape(c.quote)}”", highlight=False)
    err.print(f"[dim]{mode_note} · {answer.timings.get('total_ms', 0):.0f} ms[/]", highlight=False)


@app.command()
@store_options
def ask(
    question: Annotated[str, typer.Argument(help="Your question about the documents.")],
    llm: LLMOpt = None,
    k: KOpt = None,
    mode: ModeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    *,
    store: dict[str, Any],
) -> None:
    """Answer a question from the documents, citing the passages each sentence comes from."""
    from rag.chain import build_chain

    with user_errors():
        settings = make_settings(store, top_k=k, retrieval_mode=mode, llm=llm)
        answer = build_chain(settings).invoke({"question": question})
        if as_json:
            print(answer.model_dump_json(indent=2))
            return
        note = f"answered by: {settings.llm_mode}"
        if settings.llm_mode == "openai":
            note += f" ({settings.chat_model} at {settings.openai_base_url or 'OpenAI'})"
        _print_answer(answer, note)


def _credentials(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not (sep and user and password):
        raise RagError("--auth takes user:password (both non-empty)")
    return user, password


@app.command()
@store_options
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 127.0.0.1 is this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 7860,
    auth: Annotated[str | None, typer.Option("--auth", help="Require a login: user:password.")] = None,
    no_ingest: Annotated[
        bool, typer.Option("--no-ingest", help="Serve the index as it is; don't index changed files.")
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow listening beyond this machine without --auth.")
    ] = False,
    *,
    store: dict[str, Any],
) -> None:
    """Open the chat page at once; changed files are indexed in the background, progress on the page."""
    import importlib
    import threading

    from rag.answer import answer_vectors
    from rag.app.indexer import Indexer  # no gradio: that is the page's
    from rag.app.starting import StartupPage, skip_gradio_stubs
    from rag.app.uploads import Progress
    from rag.chain import build_chain
    from rag.providers import make_embeddings
    from rag.store import Store

    with user_errors():
        settings = make_settings(store)
        credentials = _credentials(auth)
        if credentials is None and host not in ("127.0.0.1", "localhost", "::1") and not insecure:
            raise RagError(
                f"refusing to listen on {host} without a login: add --auth user:password "
                "(or --insecure to allow anyone who can reach it)"
            )
        # Gradio's import (~2.5 s of CPU without its stub writing) overlaps loading the model and the store.
        skip_gradio_stubs()
        ui = threading.Thread(target=importlib.import_module, args=("rag.app.page",), daemon=True)
        ui.start()
        if not no_ingest and not settings.corpus_dir.is_dir():
            raise RagError(f"the corpus folder {settings.corpus_dir} does not exist: set RAG_CORPUS_DIR")
        starting = StartupPage(host, port)  # HTTP answers now: a page that reloads once the chat is up
        if not no_ingest:  # what the index will do first, while the model loads
            starting.show_index(lambda: Progress(True, 0, 0, "", ""))
        embeddings = make_embeddings(settings)
        indexed = Store.open(settings, create=True).count()  # a fresh data dir serves an empty index
        chain = build_chain(settings, embeddings=embeddings)
        answer_vectors()  # the answer encoder loads (and is checked) while gradio imports, not on a question
        # The index starts now, shown on the start-up page until the chat takes over: a first index
        # finds the files, then waits for the page (reading and chunking them, or the records of an
        # index to check, hold the GIL that gradio's import needs).
        indexer = Indexer(settings, embeddings)
        if not no_ingest:
            indexer.hold(find_files=indexed == 0)
            indexer.sync_corpus()
            starting.show_index(indexer.progress)
        ui.join()
        from rag.app import build_app, launch  # the only place gradio is imported

        demo = build_app(chain, settings, per_user=credentials is not None, indexer=indexer)
        starting.close()  # Gradio binds the port next
        url = launch(demo, host=host, port=port, auth=credentials, max_file_mb=settings.max_file_mb)
        indexer.resume()
        out.print(f"Chat on {url}  (answered by {chain.mode}; Ctrl-C stops)", highlight=False)
        out.file.flush()  # the URL must show now, even when stdout is a pipe
        if not no_ingest:
            err.print("indexing changed files in the background: progress on the page", highlight=False)
            threading.Thread(target=_print_index_summary, args=(indexer,), daemon=True).start()
        if credentials is None and host not in ("127.0.0.1", "localhost", "::1"):
            err.print(f"[yellow]warning:[/] listening on {host} without --auth", highlight=False)
        demo.block_thread()


def _print_index_summary(indexer: Any) -> None:
    """Print the background index's outcome in the terminal once it is done."""
    from rag.ingest import IngestReport

    indexer.wait(timeout=float("inf"))
    report = indexer.last_report
    if isinstance(report, IngestReport):
        for item in report.skipped:
            err.print(f"[yellow]skipped[/] {item.path}: {item.reason}", highlight=False)
        err.print(
            f"index: {report.chunks_total} chunks; {len(report.indexed)} files indexed now, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed",
            highlight=False,
        )
    elif indexer.progress().error:
        err.print(f"[bold red]error:[/] {indexer.progress().error}", highlight=False)


@app.command("feedback")
@store_options
def feedback(
    action: Annotated[str, typer.Argument(help="export")],
    file: Annotated[Path, typer.Argument(help="JSONL file to write the rated answers to.")],
    *,
    store: dict[str, Any],
) -> None:
    """Export rated answers (thumbs up / down in the chat) as `rag eval` rows for a reviewer to finish."""
    from rag.app.conversations import ConversationStore, eval_rows

    with user_errors():
        if action != "export":
            raise RagError(f"unknown feedback action {action!r}: use `rag feedback export FILE`")
        settings = make_settings(store)
        db = settings.data_dir / "app.sqlite3"
        if not db.is_file():
            raise RagError(f"no saved conversations in {settings.data_dir}: nothing was rated yet")
        rows = list(eval_rows(ConversationStore(db)))
        file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        err.print(f"{len(rows)} rated answers written to {file}", highlight=False)


register_remove_command(app)
register_eval_commands(app)  # rag eval, rag eval-retrieval: after the everyday commands in --help


def main() -> None:
    """Run the `rag` command."""
    apply_offline_env()
    app(prog_name="rag")


if __name__ == "__main__":  # pragma: no cover
    main()
