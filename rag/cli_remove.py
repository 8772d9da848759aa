"""`rag remove PATH`: take a root, a folder or a document out of the index, asking first when it is many."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rag.cli_options import err, make_settings, store_options, user_errors

SHOWN = 10  # documents listed before asking


def register(app: typer.Typer) -> None:
    """Add `rag remove` to the `rag` command."""
    app.command("remove")(remove)


@store_options
def remove(
    target: Annotated[str, typer.Argument(help="A folder or file given to ingest, or a source as cited.")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Don't ask before removing many documents.")
    ] = False,
    *,
    store: dict[str, Any],
) -> None:
    """Remove documents from the index: a whole root, a folder or file inside one, or one source."""
    from rag.ingest import remove as run_remove

    def confirm(sources: tuple[str, ...]) -> bool:
        for source in sources[:SHOWN]:
            err.print(f"  {source}", highlight=False, markup=False)
        if len(sources) > SHOWN:
            err.print(f"  … and {len(sources) - SHOWN} more", highlight=False)
        return typer.confirm(f"Remove these {len(sources)} documents from the index?", default=False)

    with user_errors():
        settings = make_settings(store)
        report = run_remove(
            settings, Path(target) if Path(target).exists() else target, confirm=None if yes else confirm
        )
        if report.cancelled:
            err.print("nothing removed", highlight=False)
            raise typer.Exit(1)
        for root in report.forgotten:
            err.print(f"forgotten: {root} (a plain `rag ingest` no longer reads it)", highlight=False)
        err.print(
            f"removed {len(report.removed)} documents ({report.chunks_removed} chunks); "
            f"{report.chunks_total} chunks left in the index",
            highlight=False,
        )
