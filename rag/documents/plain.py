"""Plain text and Markdown: decoding with encoding detection, hard-wrapped lines, Markdown structure."""

from __future__ import annotations

import bisect
import codecs
import re

from rag.documents.model import DocumentError, Parsed

SNIFF_BYTES = 8192
# charset-normalizer's mess ratio (0 = clean) above which a guessed encoding is not trusted (its default).
MAX_CHAOS = 0.2
_PREFERRED = {name: rank for rank, name in enumerate(("cp1252", "latin_1", "iso8859_15"))}
_TIE_CHAOS = 0.05
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# A line that starts a list item, quote, table row, heading or HTML block: never joined to the one before.
_STARTS_BLOCK = re.compile(r"\s*([-*+•▪◦‣]\s|\d{1,3}[.)]\s|[a-zA-Z][.)]\s|>|\||#{1,6}(\s|$)|<|```|~~~)|\s{4}")
# A heading, table row or HTML line: never continued by the next one.
_WHOLE_LINE = re.compile(r"\s*(\||#{1,6}(\s|$)|<|```|~~~)")


def decode(data: bytes) -> tuple[str, str]:
    """Return the text of `data` and the encoding it was read in; raise `DocumentError` if unsure."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                raise DocumentError(f"invalid {encoding.upper()} text") from None
    if b"\x00" in data[:SNIFF_BYTES]:
        raise DocumentError("binary file")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        bad = e.start
    from charset_normalizer import from_bytes

    results = list(from_bytes(data))
    if not results or results[0].chaos > MAX_CHAOS:
        raise DocumentError(f"not UTF-8 text (invalid byte at offset {bad}) and no other encoding fits")
    # Short texts fit several code pages about as well, and charset-normalizer then picks cp1250 or
    # mac_iceland for French or Swedish Latin-1 text: prefer the common Western code pages when
    # they read nearly as cleanly as the best guess.
    best = results[0]
    near = [r for r in results if r.encoding in _PREFERRED and r.chaos <= best.chaos + _TIE_CHAOS]
    encoding = min(near, key=lambda r: _PREFERRED[r.encoding]).encoding if near else best.encoding
    if encoding not in _PREFERRED:  # charset-normalizer names one of the code pages that read alike
        encoding = next((e for e in _PREFERRED if _decodes_alike(data, e, encoding)), encoding)
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        raise DocumentError(
            f"not UTF-8 text (invalid byte at offset {bad}) and no other encoding fits"
        ) from None


def _decodes_alike(data: bytes, one: str, other: str) -> bool:
    try:
        return data.decode(one) == data.decode(other)
    except (UnicodeDecodeError, LookupError):
        return False


def unwrap(text: str, fenced: tuple[tuple[int, int], ...] = ()) -> str:
    """Join the lines of hard-wrapped paragraphs, keeping every offset: each joining newline becomes a space.

    A file is hard-wrapped when most lines inside its paragraphs end near one width (at most 100
    characters) and hardly any line is longer; then a line that reaches that width and is
    followed by plain text continues.
    """
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    in_code = [False] * len(lines)
    for a, b in fenced:
        i = bisect.bisect_right(starts, a) - 1
        while i < len(lines) and starts[i] < b:
            in_code[i] = True
            i += 1

    def plain(i: int) -> bool:
        return bool(lines[i].strip()) and not in_code[i] and not _WHOLE_LINE.match(lines[i])

    # Widths of the lines inside paragraphs (next to another line); headings and code left out.
    lengths = sorted(
        len(lines[i].rstrip())
        for i in range(len(lines))
        if plain(i)
        and not _STARTS_BLOCK.match(lines[i])
        and ((i + 1 < len(lines) and lines[i + 1].strip()) or (i > 0 and lines[i - 1].strip()))
    )
    if len(lengths) < 3:
        return text
    width = lengths[int(0.9 * (len(lengths) - 1))]
    if not 30 <= width <= 100 or sum(n >= 0.75 * width for n in lengths) < 0.5 * len(lengths):
        return text
    # Wrapped text has (almost) no line past its width: one paragraph per line has many.
    every = [
        len(lines[i].rstrip()) for i in range(len(lines)) if plain(i) and not _STARTS_BLOCK.match(lines[i])
    ]
    if sum(n > 1.15 * width for n in every) > 0.05 * len(every):
        return text
    out = list(text)
    for i in range(len(lines) - 1):
        line, nxt = lines[i], lines[i + 1]
        if len(line.rstrip()) >= 0.6 * width and plain(i) and plain(i + 1) and not _STARTS_BLOCK.match(nxt):
            end = starts[i + 1] - 1  # the newline after `line`
            out[end] = " "
            if line.endswith("\r"):
                out[end - 1] = " "
    return "".join(out)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def markdown(text: str) -> Parsed:
    """Find a Markdown file's headings (as sections) and fenced code (kept whole); offsets into `text`."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    md.core.ruler.disable(["inline", "text_join"])  # block structure is all we need: cheaper
    tokens = md.parse(text)
    starts = _line_starts(text) + [len(text) + 1]

    def offset(line: int) -> int:
        return min(starts[line], len(text))

    atomic: list[tuple[int, int]] = []
    headings: list[tuple[int, int, str]] = []  # (offset, level, text)
    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        if token.type in ("fence", "code_block"):
            atomic.append((offset(token.map[0]), offset(token.map[1]) - 1))
        elif token.type == "heading_open":
            name = " ".join(tokens[i + 1].content.split())
            headings.append((offset(token.map[0]), int(token.tag[1]), name))
    sections: list[tuple[int, int, str]] = []
    path: list[tuple[int, str]] = []
    for n, (at, level, name) in enumerate(headings):
        path = [(lv, t) for lv, t in path if lv < level] + [(level, name)]
        end = headings[n + 1][0] if n + 1 < len(headings) else len(text)
        sections.append((at, end, " > ".join(t for _, t in path if t)))
    atomic = [(a, max(a, b)) for a, b in atomic]
    fenced = tuple(atomic)
    return Parsed(text=unwrap(text, fenced), sections=tuple(sections), atomic=fenced)
