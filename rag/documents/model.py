"""The types every loader returns, and the builder that lays a file's text out with its pages and sections."""

from __future__ import annotations

from dataclasses import dataclass, field

PAGE_BREAK = "\f"


class DocumentError(Exception):
    """A file that cannot be indexed; the message says why in a few words."""


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


@dataclass
class TextBuilder:
    """Append blocks of text, marking pages and sections, so offsets come out right by construction."""

    paged: bool = False
    pages: list[tuple[int, int]] = field(default_factory=list)
    sections: list[tuple[int, int, str]] = field(default_factory=list)
    _parts: list[str] = field(default_factory=list)
    _len: int = 0
    _page_start: int | None = None
    _first_block: bool = True  # no separator before the first block of the document or of a page
    _open: tuple[int, str] | None = None  # the current section: (start, name)
    _next: str | None = None  # a section to open at the next block
    _last_end: int = 0  # end of the last block written

    def _write(self, text: str) -> None:
        self._parts.append(text)
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
        if not self._first_block:
            self._write(sep)
        self._first_block = False
        start = self._len
        if self._next is not None:
            self._close_section()
            if self._next:
                self._open = (start, self._next)
            self._next = None
        self._write(text)
        self._last_end = self._len
        return start, self._len

    def section(self, name: str) -> None:
        """Start a section named `name` at the next block ("" ends the current one there)."""
        self._next = name

    def new_page(self) -> None:
        """Start the next page (slide, sheet): a page break, which also ends the section."""
        self.end_page()
        if self.pages:
            self._write(PAGE_BREAK)
        self._page_start = self._len
        self._first_block = True

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
        return Parsed(
            text="".join(self._parts),
            title=title,
            pages=tuple(self.pages) if self.paged else (),
            sections=tuple(self.sections),
            notes=notes,
        )
