"""Spreadsheets (.xlsx, .csv, .tsv): one line per row that names its columns; each sheet a page."""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile

from rag.documents.model import DocumentError, Parsed, TextBuilder
from rag.documents.plain import decode
from rag.documents.table import iter_row_lines


def load_xlsx(data: bytes) -> Parsed:
    """Read every worksheet of an .xlsx, streaming rows (openpyxl's read-only mode)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as e:
        raise DocumentError(f"unreadable Excel file ({type(e).__name__}: {str(e)[:80]})") from None
    builder = TextBuilder(paged=True)
    try:
        title = (book.properties.title or "").strip() if book.properties else ""
        for sheet in book.worksheets:
            builder.new_page()
            builder.section(sheet.title)
            rows = io.StringIO()  # one buffer, not a list of 100,000 row strings
            for n, line in enumerate(iter_row_lines(sheet.iter_rows(values_only=True))):
                rows.write(f"\n{line}" if n else line)
            builder.block(rows.getvalue())
    finally:
        book.close()
    return builder.build(title=title)


def load_delimited(data: bytes, delimiter: str) -> Parsed:
    """Read a .csv or .tsv (any encoding `decode` accepts): the first row names the columns."""
    text, encoding = decode(data)
    if delimiter == ",":
        with contextlib.suppress(csv.Error):  # some "CSV" files use semicolons (European Excel) or tabs
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
    builder = TextBuilder()
    try:
        rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
        builder.block("\n".join(iter_row_lines(rows)))
    except csv.Error as e:
        raise DocumentError(f"unreadable CSV ({str(e)[:80]})") from None
    parsed = builder.build()
    return Parsed(text=parsed.text, encoding=encoding)
