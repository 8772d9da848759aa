"""Load files into text with their titles and pages, and split them into chunks with exact offsets.

Offsets are Python string indices into the text `load_text` returns for a file: for .txt/.md the
decoded file itself, for .html its extracted main text, for .pdf its pages' text joined by form
feeds. Every chunk satisfies `load_text(path)[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
PAGE_BREAK = "\f"
_SNIFF_BYTES = 8192
_TITLE_CHARS = 120

# Lines that web clippings carry around the article. Matched against a whole, whitespace-collapsed
# line, case-insensitively; lines repeated inside one file are dropped as well (see _kept_spans).
BOILERPLATE_LINES = (
    r"recent (features|posts|stories|articles)",
    r"advertisement",
    r"(related|more) (articles|stories|coverage|reading)",
    r"share (this|on) .{0,40}",
    r"read more",
    r"(photo |image )?credit: .{0,200}",
    r"skip to (main )?content",
    r"sign up for .{0,80}newsletter.{0,40}",
)
_BOILERPLATE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_LINES), re.IGNORECASE)

# Elements that start a new line of text; inline ones (a, em, span, ...) stay inside their sentence.
_HTML_BLOCKS = frozenset(
    "address article blockquote br caption dd details div dl dt figcaption figure h1 h2 h3 h4 h5 h6 hr "
    "li main ol p pre section summary table td th tr ul".split()
)

_SEPARATORS = [r"\n\s*\n", r"\n", r"(?<=[.!?…])\s+", r"(?<=[;:])\s+", r"(?<=,)\s+", r"\s+", ""]


class DocumentError(Exception):
    """A file that cannot be indexed; the message says why in a few words."""


@dataclass(frozen=True)
class SourceDocument:
    """The text of one file, as offsets refer to it."""

    source: str
    text: str
    title: str
    sha256: str
    pages: tuple[tuple[int, int], ...] = ()  # (start, end) of each page; empty for non-paged files


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


@dataclass(frozen=True)
class Skipped:
    """A path that was not indexed, and why."""

    path: str
    reason: str


# --- loading ----------------------------------------------------------------------------------


def _read_text(data: bytes) -> str:
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise DocumentError("binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DocumentError(f"not UTF-8 text (invalid byte at offset {e.start})") from None


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            if len(line) <= _TITLE_CHARS:
                return line
            return line[:_TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return ""


def _html_text(root: Any, navigable: type) -> str:
    """Return the text under `root`: whitespace collapsed (not in <pre>), block elements on lines.

    One iterative walk: bs4's insert_before/insert_after and recursive get_text are quadratic or
    overflow the stack on deeply nested pages.
    """
    out: list[str] = []
    stack: list[tuple[Any, bool, bool]] = [(root, False, False)]  # (node, closing, inside <pre>)
    while stack:
        node, closing, in_pre = stack.pop()
        if closing:
            out.append("\n")
        elif isinstance(node, navigable):
            if type(node) is navigable:  # not a comment, CDATA or doctype
                out.append(str(node) if in_pre else re.sub(r"\s+", " ", str(node)))
        else:
            in_pre = in_pre or node.name == "pre"
            if node.name in _HTML_BLOCKS:
                out.append("\n")
                stack.append((node, True, in_pre))
            stack.extend((child, False, in_pre) for child in reversed(node.contents))
    return "".join(out)


def _load_html(data: bytes) -> tuple[str, str]:
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(_read_text(data), "html.parser")
    title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    for tag in soup(
        [
            "script",
            "style",
            "noscript",
            "template",
            "svg",
            "nav",
            "header",
            "footer",
            "aside",
            "form",
            "iframe",
            "head",
        ]
    ):
        tag.decompose()
    main = soup.find("main") or soup.find("article") or soup.body or soup
    raw = _html_text(main, NavigableString)
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in raw.splitlines())
    text = "\n\n".join(line for line in lines if line)
    return text, title


def _load_pdf(data: bytes) -> tuple[str, str, tuple[tuple[int, int], ...]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError("encrypted PDF")
        page_texts = [(page.extract_text() or "").replace(PAGE_BREAK, " ") for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise DocumentError(f"unreadable PDF ({type(e).__name__}: {str(e)[:80]})") from None
    pages, offset = [], 0
    for page_text in page_texts:
        pages.append((offset, offset + len(page_text)))
        offset += len(page_text) + len(PAGE_BREAK)
    text = PAGE_BREAK.join(page_texts)
    return text, str(meta_title).strip(), tuple(pages)


def load_document(
    path: Path, source: str, data: bytes | None = None, *, max_bytes: int | None = None
) -> SourceDocument:
    """Read one file into a `SourceDocument`; raise `DocumentError` with the reason it can't be."""
    if data is None:
        try:
            size = path.stat().st_size
            if max_bytes is not None and size > max_bytes:
                raise DocumentError(
                    f"{size / 1e6:.1f} MB is over the {max_bytes / 1e6:g} MB limit (RAG_MAX_FILE_MB)"
                )
            data = path.read_bytes()
        except OSError as e:
            raise DocumentError(f"cannot read ({e.strerror or type(e).__name__})") from None
    if not data.strip():
        raise DocumentError("empty file")
    suffix = path.suffix.lower()
    pages: tuple[tuple[int, int], ...] = ()
    if suffix == ".pdf":
        text, title, pages = _load_pdf(data)
    elif suffix in (".html", ".htm"):
        text, title = _load_html(data)
    else:
        text, title = _read_text(data), ""
    if not text.strip():
        raise DocumentError("no text in file" if suffix != ".pdf" else "no extractable text (scanned PDF?)")
    return SourceDocument(
        source=source,
        text=text,
        title=title or _first_line_title(text),
        sha256=hashlib.sha256(data).hexdigest(),
        pages=pages,
    )


def load_text(path: Path) -> str:
    """Return the text a file's chunk offsets refer to."""
    return load_document(path, path.name).text


# --- chunking ---------------------------------------------------------------------------------


def _kept_spans(text: str, start: int, end: int, seen: set[str]) -> Iterator[tuple[int, int]]:
    """Yield the maximal spans of text[start:end] left once boilerplate and repeated lines go."""
    span_start: int | None = None
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        key = " ".join(line.split())
        drop = bool(key) and (key.casefold() in seen or _BOILERPLATE.fullmatch(key) is not None)
        if key:
            seen.add(key.casefold())
        if drop:
            if span_start is not None:
                yield span_start, pos
                span_start = None
        elif span_start is None and key:
            span_start = pos
        pos += len(line)
    if span_start is not None:
        yield span_start, end


def chunk_id(source: str, text: str, occurrence: int) -> str:
    """Hash a chunk's content: the same text in the same file keeps its id when offsets move."""
    digest = hashlib.sha256(f"{source}\x00{occurrence}\x00{text}".encode())
    return digest.hexdigest()[:32]


def split_document(
    doc: SourceDocument, count_tokens: Callable[[str], int], chunk_size: int, chunk_overlap: int
) -> list[Chunk]:
    """Split a document into chunks of at most `chunk_size` tokens, skipping boilerplate."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=_SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        length_function=count_tokens,
        strip_whitespace=True,
    )
    pages = doc.pages or ((0, len(doc.text)),)
    seen: set[str] = set()
    chunks: list[Chunk] = []
    occurrences: dict[str, int] = {}
    for page_no, (page_start, page_end) in enumerate(pages, start=1):
        for span_start, span_end in _kept_spans(doc.text, page_start, page_end, seen):
            span = doc.text[span_start:span_end]
            # The splitter's own add_start_index mixes token and character units. Chunks come in
            # order and each adds text past the previous one's end, so search from there: the
            # piece's text may also occur inside the previous chunk (a repeated short sentence).
            prev_start, prev_end = -1, 0
            for piece in splitter.split_text(span):
                at = span.find(piece, max(prev_start + 1, prev_end - len(piece) + 1))
                if at < 0:  # pragma: no cover - a chunk that only repeats the previous one's end
                    at = span.find(piece, prev_start + 1)
                if at < 0:  # pragma: no cover - the splitter only returns substrings
                    continue
                prev_start, prev_end = at, at + len(piece)
                n = occurrences.get(piece, 0)
                occurrences[piece] = n + 1
                start = span_start + at
                chunks.append(
                    Chunk(
                        id=chunk_id(doc.source, piece, n),
                        source=doc.source,
                        title=doc.title,
                        page=page_no if doc.pages else None,
                        start=start,
                        end=start + len(piece),
                        text=piece,
                    )
                )
    return chunks
