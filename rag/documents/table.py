"""Rows of a table as self-contained lines that name their columns: "station: Bergen; rainfall_mm: 2250."."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence


def cell_text(value: object) -> str:
    """Render a cell value as a reader would write it (2250, not 2250.0; dates as ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def iter_row_lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Yield one line per data row, naming each value by its column (the first non-empty row)."""
    header: list[str] | None = None
    for row in rows:
        cells = [cell_text(v) for v in row]
        if not any(cells):
            continue
        if header is None:
            header = [c or f"column {j + 1}" for j, c in enumerate(cells)]
            continue
        named = []
        for j, cell in enumerate(cells):
            if cell:
                name = header[j] if j < len(header) else f"column {j + 1}"
                named.append(f"{name}: {cell}")
        line = "; ".join(named)
        # A full stop makes the row read, and be quoted, as the sentence it is (a short line without
        # one reads as a heading).
        yield line if line.endswith((".", "!", "?", "…")) else line + "."


def row_lines(rows: Iterable[Sequence[object]]) -> list[str]:
    """Return the lines of `iter_row_lines`, or the header alone when the table has no data rows."""
    rows = list(rows)
    lines = list(iter_row_lines(rows))
    if len(lines) == 0 and rows:
        return ["; ".join(cell_text(v) for v in rows[0] if cell_text(v))]
    return lines
