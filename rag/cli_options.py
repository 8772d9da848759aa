"""What every `rag` command shares: the consoles, the store options (declared once), settings, errors."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.console import Console

from rag.errors import RagError
from rag.settings import Settings

out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

# The options naming where the index lives; every command takes them, each mirrors a RAG_* variable.
_STORE_OPTIONS = {
    "corpus": Annotated[Path | None, typer.Option("--corpus", help="Corpus folder [RAG_CORPUS_DIR].")],
    "data_dir": Annotated[Path | None, typer.Option("--data-dir", help="Index folder [RAG_DATA_DIR].")],
    "chroma_url": Annotated[
        str | None, typer.Option("--chroma-url", help="Chroma server URL [RAG_CHROMA_URL].")
    ],
    "collection": Annotated[str | None, typer.Option("--collection", help="Collection [RAG_COLLECTION].")],
}
_FIELDS = {
    "corpus": "corpus_dir",
    "data_dir": "data_dir",
    "chroma_url": "chroma_url",
    "collection": "collection",
}


def store_options(command: F) -> F:
    """Give `command` the store options; it receives them as `store`, a dict of Settings overrides.

    Typer has no option groups shared by subcommands placed after the command name (a callback's
    options must come before it), so the options are added to the command's signature here, once.
    """
    signature = inspect.signature(command, eval_str=True)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        store = {_FIELDS[name]: kwargs.pop(name) for name in _STORE_OPTIONS}
        return command(*args, store={k: v for k, v in store.items() if v is not None}, **kwargs)

    params = [p for p in signature.parameters.values() if p.name != "store"]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        for name, annotation in _STORE_OPTIONS.items()
    ]
    wrapper.__dict__["__signature__"] = signature.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return cast(F, wrapper)


def make_settings(store: dict[str, Any], **overrides: Any) -> Settings:
    """Build the one Settings object of a command: env/.env, then the store options, then `overrides`."""
    from pydantic import ValidationError

    try:
        return Settings(**store, **{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise RagError(f"invalid setting {where}: {first['msg']}") from None


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a `RagError` as one line and exit 1; never show a traceback for one."""
    try:
        yield
    except RagError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


class RichProgress:
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
