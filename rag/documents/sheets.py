"""Spreadsheets (.xlsx, .csv, .tsv): one line per row that names its columns; each sheet a page."""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import zipfile
from pathlib import Path

from rag.documents.model import DocumentError, Parsed, TextBuilder, archive
from rag.documents.plain import decode
from rag.documents.table import iter_row_lines

# Above this much XML, collect the cycle openpyxl leaves (see load_xlsx): a full collection takes
# ~80 ms in a loaded ingest process, nothing next to parsing that many rows.
_COLLECT_ABOVE = 4_000_000


def load_xlsx(data: bytes | Path) -> Parsed:
    """Read every worksheet of an .xlsx, streaming rows (openpyxl's read-only mode) into the text."""
    import openpyxl

    try:
        with zipfile.ZipFile(archive(data)) as zipped:
            unpacked = sum(info.file_size for info in zipped.infolist())
        book = openpyxl.load_workbook(archive(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as e:
        raise DocumentError(f"unreadable Excel file ({type(e).__name__}: {str(e)[:80]})") from None
    if unpacked > _COLLECT_ABOVE:
        # A sheet without a <dimension> (openpyxl's own write-only exports) makes read-only mode
        # parse it whole to look for one, keeping an empty element per row inside a reference
        # cycle of ElementTree.iterparse (Python < 3.13) until the cyclic GC runs: 8.8 MB for
        # 100,000 rows, still held while the rows are read unless collected now.
        gc.collect()
    builder = TextBuilder(paged=True)
    try:
        title = (book.properties.title or "").strip() if book.properties else ""
        for sheet in book.worksheets:
            builder.new_page(f"sheet {sheet.title}")
            builder.section(sheet.title)
            builder.lines(iter_row_lines(sheet.iter_rows(values_only=True)))  # row by row, no block string
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
