"""Split documents into chunks with exact offsets: within a page and a section, boilerplate left out.

Offsets are Python string indices into the text `load_text` returns for a file. Every chunk satisfies
`load_text(path)[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

from rag.documents.model import Chunk, SourceDocument

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
_SEPARATORS = [r"\n\s*\n", r"\n", r"(?<=[.!?…])\s+", r"(?<=[;:])\s+", r"(?<=,)\s+", r"\s+", ""]
# A fenced code block is one chunk up to this many chunk sizes; a longer one is a listing, split at lines.
MAX_ATOMIC_CHUNKS = 4


def _kept_spans(
    text: str, start: int, end: int, seen: set[str], atomic: list[tuple[int, int]]
) -> Iterator[tuple[int, int]]:
    """Yield the maximal spans of text[start:end] left once boilerplate and repeated lines go.

    Lines inside `atomic` spans (code) are always kept: a repeated `}` is not page furniture.
    """
    span_start: int | None = None
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        key = " ".join(line.split())
        code = bool(atomic) and _inside(atomic, pos)
        drop = bool(key) and not code and (key.casefold() in seen or _BOILERPLATE.fullmatch(key) is not None)
        if key and not code:
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


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    i = bisect.bisect_right(spans, (pos, 1 << 62)) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def chunk_id(source: str, text: str, occurrence: int) -> str:
    """Hash a chunk's content: the same text in the same file keeps its id when offsets move."""
    digest = hashlib.sha256(f"{source}\x00{occurrence}\x00{text}".encode())
    return digest.hexdigest()[:32]


def page_label(doc: SourceDocument, page: int | None) -> str:
    """Return what a citation calls a page of `doc` ("slide 2", "sheet Staff"), "" when unpaged."""
    if page is None:
        return ""
    if 0 < page <= len(doc.page_labels) and doc.page_labels[page - 1]:
        return doc.page_labels[page - 1]
    return f"page {page}"


def _spans(doc: SourceDocument) -> Iterator[tuple[int, int, int | None, str]]:
    """Yield (start, end, page, section) for each page cut at its sections' edges."""
    pages = doc.pages or ((0, len(doc.text)),)
    sections = sorted(doc.sections)
    i = 0
    for page_no, (page_start, page_end) in enumerate(pages, start=1):
        page = page_no if doc.pages else None
        pos = page_start
        while i < len(sections) and sections[i][1] <= page_start:
            i += 1
        j = i
        while j < len(sections) and sections[j][0] < page_end:
            start, end = max(sections[j][0], pos), min(sections[j][1], page_end)
            if start > pos:
                yield pos, start, page, ""
            if end > start:
                yield start, end, page, sections[j][2]
                pos = end
            j += 1
        if pos < page_end:
            yield pos, page_end, page, ""


def _pieces(splitter: Any, text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Yield the (start, end) in `text` of the splitter's pieces of text[start:end]."""
    span = text[start:end]
    # The splitter's own add_start_index mixes token and character units. Chunks come in order
    # and each adds text past the previous one's end, so search from there: the piece's text may
    # also occur inside the previous chunk (a repeated short sentence).
    prev_start, prev_end = -1, 0
    for piece in splitter.split_text(span):
        at = span.find(piece, max(prev_start + 1, prev_end - len(piece) + 1))
        if at < 0:  # pragma: no cover - a chunk that only repeats the previous one's end
            at = span.find(piece, prev_start + 1)
        if at < 0:  # pragma: no cover - the splitter only returns substrings
            continue
        prev_start, prev_end = at, at + len(piece)
        yield start + at, start + at + len(piece)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _with_atomic(
    splitter: Any,
    text: str,
    start: int,
    end: int,
    atomic: list[tuple[int, int]],
    count_tokens: Callable[[str], int],
    chunk_size: int,
) -> list[tuple[int, int]]:
    """Split text[start:end] so that no piece boundary falls inside an atomic span, then merge small ones."""
    inner = [(max(a, start), min(b, end)) for a, b in atomic if a < end and b > start]
    if not inner:
        return list(_pieces(splitter, text, start, end))
    pieces: list[tuple[int, int, int]] = []  # (start, end, segment)
    pos = start
    for segment, (a, b) in enumerate(inner):
        if a > pos:
            pieces.extend((s, e, 2 * segment) for s, e in _pieces(splitter, text, pos, a))
        s, e = _trim(text, a, b)
        if e > s:
            if count_tokens(text[s:e]) <= MAX_ATOMIC_CHUNKS * chunk_size:
                pieces.append((s, e, 2 * segment + 1))
            else:
                pieces.extend((ps, pe, 2 * segment + 1) for ps, pe in _pieces(splitter, text, s, e))
        pos = max(pos, b)
    if pos < end:
        pieces.extend((s, e, 2 * len(inner)) for s, e in _pieces(splitter, text, pos, end))
    merged: list[tuple[int, int, int]] = []
    for s, e, seg in pieces:
        if merged:
            ps, pe, pseg = merged[-1]
            if pseg != seg and s >= pe and count_tokens(text[ps:e]) <= chunk_size:
                merged[-1] = (ps, e, seg)
                continue
        merged.append((s, e, seg))
    return [(s, e) for s, e, _ in merged]


def split_document(
    doc: SourceDocument, count_tokens: Callable[[str], int], chunk_size: int, chunk_overlap: int
) -> list[Chunk]:
    """Split a document into chunks of at most `chunk_size` tokens, skipping boilerplate.

    No chunk crosses a page or a section; a fenced code block is never cut (up to a size).
    """
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
    atomic = sorted(doc.atomic)
    seen: set[str] = set()
    chunks: list[Chunk] = []
    occurrences: dict[str, int] = {}
    for span_start, span_end, page, section in _spans(doc):
        label = page_label(doc, page)
        for kept_start, kept_end in _kept_spans(doc.text, span_start, span_end, seen, atomic):
            for start, end in _with_atomic(
                splitter, doc.text, kept_start, kept_end, atomic, count_tokens, chunk_size
            ):
                piece = doc.text[start:end]
                n = occurrences.get(piece, 0)
                occurrences[piece] = n + 1
                chunks.append(
                    Chunk(
                        id=chunk_id(doc.source, piece, n),
                        source=doc.source,
                        title=doc.title,
                        page=page,
                        start=start,
                        end=end,
                        text=piece,
                        section=section,
                        page_label=label,
                    )
                )
    return chunks
