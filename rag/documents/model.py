"""The types every loader returns, and the builder that lays a file's text out with its pages and sections."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PAGE_BREAK = "\f"


class DocumentError(Exception):
    """A file that cannot be indexed; the message says why in a few words."""


def archive(data: bytes | Path) -> IO[bytes] | str:
    """Return what a zip-based parser opens: the file by name (read from disk as needed), or bytes."""
    return io.BytesIO(data) if isinstance(data, bytes) else str(data)


@dataclass(frozen=True)
class SourceDocument:
    """The text of one file, as offsets refer to it."""

    source: str
    text: str
    title: str
    sha256: str
    pages: tuple[tuple[int, int], ...] = ()  # (start, end) of each page, slide or sheet; empty if unpaged
    # (start, end, heading path or sheet name): chunks never cross one; empty for unstructured text.
    sections: tuple[tuple[int, int, str], ...] = ()
    atomic: tuple[tuple[int, int], ...] = ()  # spans a chunk boundary never falls inside (fenced code)
    encoding: str = "utf-8"  # what the bytes were decoded from ("" for binary formats)
    notes: tuple[str, ...] = ()  # what was left out and why (e.g. scanned pages without Tesseract)
    page_labels: tuple[str, ...] = ()  # what a citation calls each page: "page 3", "slide 2", "sheet Staff"


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: `text == document.text[start:end]`."""

    id: str
    source: str
    title: str
    page: int | None
    start: int
    end: int
    text: str
    section: str = ""  # heading path ("Setup > Install"), slide title or sheet name
    page_label: str = ""  # how a citation names its page ("page 3", "slide 2", "sheet Staff"); "" unpaged


@dataclass(frozen=True)
class Skipped:
    """A path that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Parsed:
    """What a format's loader extracted, before it is checked and named."""

    text: str
    title: str = ""
    pages: tuple[tuple[int, int], ...] = ()
    sections: tuple[tuple[int, int, str], ...] = ()
    atomic: tuple[tuple[int, int], ...] = ()
    encoding: str = ""
    notes: tuple[str, ...] = ()
    page_labels: tuple[str, ...] = ()


@dataclass
class TextBuilder:
    """Append blocks of text, marking pages and sections, so offsets come out right by construction.

    The text accumulates as UTF-8 in one buffer rather than as a list of strings: building it then
    peaks at the buffer plus the decoded text (about 2× the text), where a list of 100,000 rows
    cost ~57 bytes of object header a row on top, and joining it another copy.
    """

    paged: bool = False
    pages: list[tuple[int, int]] = field(default_factory=list)
    sections: list[tuple[int, int, str]] = field(default_factory=list)
    page_labels: list[str] = field(default_factory=list)
    _out: io.BytesIO = field(default_factory=io.BytesIO)
    _len: int = 0  # characters written (offsets count characters, not bytes)
    _page_start: int | None = None
    _first_block: bool = True  # no separator before the first block of the document or of a page
    _open: tuple[int, str] | None = None  # the current section: (start, name)
    _next: str | None = None  # a section to open at the next block
    _last_end: int = 0  # end of the last block written

    def _write(self, text: str) -> None:
        self._out.write(text.encode("utf-8", "surrogatepass"))  # a PDF's lone surrogate round-trips
        self._len += len(text)

    def _close_section(self) -> None:
        if self._open is not None:
            start, name = self._open
            if self._last_end > start:
                self.sections.append((start, self._last_end, name))
            self._open = None

    def block(self, text: str, sep: str = "\n\n") -> tuple[int, int]:
        """Add a paragraph (or a run of rows) after a blank line; return its (start, end)."""
        if PAGE_BREAK in text:  # (a copy only when needed: a sheet's text can be megabytes)
            text = text.replace(PAGE_BREAK, " ")
        text = text.strip()
        if not text:
            return self._len, self._len
        start = self._open_block(sep)
        self._write(text)
        self._last_end = self._len
        return start, self._len

    def lines(self, lines: Iterable[str], sep: str = "\n\n") -> tuple[int, int]:
        """Add a block of lines (a sheet's rows) written one at a time; return its (start, end).

        Each line is cleaned as `block` cleans a block; empty ones are left out.
        """
        start: int | None = None
        for line in lines:
            if PAGE_BREAK in line:
                line = line.replace(PAGE_BREAK, " ")
            line = line.strip()
            if not line:
                continue
            if start is None:
                start = self._open_block(sep)
            else:
                self._write("\n")
            self._write(line)
        if start is None:
            return self._len, self._len
        self._last_end = self._len
        return start, self._len

    def _open_block(self, sep: str) -> int:
        """Write the separator before a block and open a pending section at it; return its start."""
        if not self._first_block:
            self._write(sep)
        self._first_block = False
        start = self._len
        if self._next is not None:
            self._close_section()
            if self._next:
                self._open = (start, self._next)
            self._next = None
        return start

    def section(self, name: str) -> None:
        """Start a section named `name` at the next block ("" ends the current one there)."""
        self._next = name

    def new_page(self, label: str) -> None:
        """Start the next page, which citations call `label` ("slide 2"); the page break ends the section."""
        self.end_page()
        if self.pages:
            self._write(PAGE_BREAK)
        self._page_start = self._len
        self._first_block = True
        self.page_labels.append(" ".join(label.split()))

    def end_page(self) -> None:
        """Close the current page, if one is open."""
        if self._page_start is not None:
            self._close_section()
            self._next = None
            self.pages.append((self._page_start, self._len))
            self._page_start = None

    def build(self, title: str = "", notes: tuple[str, ...] = ()) -> Parsed:
        """Return the text with its pages and sections."""
        self.end_page()
        self._close_section()
        data = self._out.getvalue()  # the buffer itself, not a copy
        self._out.close()
        return Parsed(
            text=data.decode("utf-8", "surrogatepass"),
            title=title,
            pages=tuple(self.pages) if self.paged else (),
            sections=tuple(self.sections),
            notes=notes,
            page_labels=tuple(self.page_labels) if self.paged else (),
        )
