"""Read one file into a `SourceDocument`: the size limit enforced while reading, one loader per format."""

from __future__ import annotations

import functools
import hashlib
import logging
import stat
from collections.abc import Callable
from pathlib import Path

from rag.documents.model import DocumentError, Parsed, SourceDocument, TextBuilder
from rag.documents.plain import decode, markdown, unwrap

SUPPORTED = (
    ".txt",
    ".md",
    ".markdown",
    ".html",
    ".htm",
    ".pdf",
    ".docx",
    ".pptx",
    ".xlsx",
    ".csv",
    ".tsv",
    ".epub",
)
_TITLE_CHARS = 120
_TABLES = (".xlsx", ".csv", ".tsv")
_log = logging.getLogger("rag.documents")


def _text(data: bytes) -> Parsed:
    text, encoding = decode(data)
    return Parsed(text=unwrap(text), encoding=encoding)


def _markdown(data: bytes) -> Parsed:
    text, encoding = decode(data)
    parsed = markdown(text)
    return Parsed(text=parsed.text, sections=parsed.sections, atomic=parsed.atomic, encoding=encoding)


def _html(data: bytes) -> Parsed:
    from rag.documents.html import html_blocks

    text, encoding = decode(data)
    paragraphs, title, _ = html_blocks(text)
    builder = TextBuilder()
    paragraphs.reverse()
    while paragraphs:  # each paragraph freed once in the builder's buffer: the text is not held twice
        builder.block(paragraphs.pop())
    parsed = builder.build(title=title)
    return Parsed(text=parsed.text, title=title, encoding=encoding)


def _pdf(data: bytes) -> Parsed:
    from rag.documents.pdf import load_pdf

    return load_pdf(data)


def _docx(data: bytes | Path) -> Parsed:
    from rag.documents.office import load_docx

    return load_docx(data)


def _pptx(data: bytes | Path) -> Parsed:
    from rag.documents.office import load_pptx

    return load_pptx(data)


def _xlsx(data: bytes | Path) -> Parsed:
    from rag.documents.sheets import load_xlsx

    return load_xlsx(data)


def _csv(data: bytes) -> Parsed:
    from rag.documents.sheets import load_delimited

    return load_delimited(data, ",")


def _tsv(data: bytes) -> Parsed:
    from rag.documents.sheets import load_delimited

    return load_delimited(data, "\t")


def _epub(data: bytes | Path) -> Parsed:
    from rag.documents.epub import load_epub

    return load_epub(data)


_LOADERS: dict[str, Callable[[bytes], Parsed]] = {
    ".txt": _text,
    ".md": _markdown,
    ".markdown": _markdown,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
    ".pptx": _pptx,
    ".xlsx": _xlsx,
    ".csv": _csv,
    ".tsv": _tsv,
    ".epub": _epub,
}
# Office files and e-books are zip archives, which zipfile reads member by member from disk: hashing
# such a file in blocks instead of reading it whole keeps its bytes out of memory while it is parsed
# (they were 1× of the ~10× of its size that parsing may take).
_ZIPPED: dict[str, Callable[[bytes | Path], Parsed]] = {
    ".docx": _docx,
    ".pptx": _pptx,
    ".xlsx": _xlsx,
    ".epub": _epub,
}
_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _too_big(max_bytes: int, size: int | None = None) -> DocumentError:
    got = f"{size / 1e6:.1f} MB is over" if size is not None else "longer than"
    return DocumentError(f"{got} the {max_bytes / 1e6:g} MB limit (RAG_MAX_FILE_MB)")


def _check_file(path: Path, max_bytes: int | None) -> None:
    """Refuse what is not a regular file, or is over the limit by its size; OSError if it can't be seen."""
    info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        raise DocumentError("cannot read (Is a directory)")
    for test, kind in _KINDS:
        if test(info.st_mode):  # reading one could block or never end (a link to /dev/zero)
            raise DocumentError(f"not a regular file ({kind})")
    if max_bytes is not None and info.st_size > max_bytes:
        raise _too_big(max_bytes, info.st_size)


def _cannot_read(e: OSError) -> DocumentError:
    return DocumentError(f"cannot read ({e.strerror or type(e).__name__})")


def read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """Read a regular file's bytes, at most `max_bytes` of them (a file that grows is caught too)."""
    try:
        _check_file(path, max_bytes)
        with path.open("rb") as f:
            data = f.read(-1 if max_bytes is None else max_bytes + 1)
    except OSError as e:
        raise _cannot_read(e) from None
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_big(max_bytes)
    return data


def _hash_file(path: Path, max_bytes: int | None) -> tuple[str, int]:
    """Return a regular file's sha256 and size, read in blocks with the limit enforced as it reads."""
    digest, size = hashlib.sha256(), 0
    try:
        _check_file(path, max_bytes)
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                size += len(block)
                if max_bytes is not None and size > max_bytes:
                    raise _too_big(max_bytes)
                digest.update(block)
    except OSError as e:
        raise _cannot_read(e) from None
    return digest.hexdigest(), size


def _parse(suffix: str, load: Callable[[], Parsed]) -> Parsed:
    """Run a format's loader; any failure of the third-party parser underneath is one line."""
    try:
        return load()
    except DocumentError:
        raise
    except Exception as e:  # noqa: BLE001 - third-party parsers of untrusted files: any failure is one line
        kind = suffix.lstrip(".").upper() or "text"
        raise DocumentError(f"unreadable {kind} file ({type(e).__name__}: {str(e)[:80]})") from None


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            if len(line) <= _TITLE_CHARS:
                return line
            return line[:_TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return ""


def load_document(
    path: Path, source: str, data: bytes | None = None, *, max_bytes: int | None = None
) -> SourceDocument:
    """Read one file into a `SourceDocument`; raise `DocumentError` with the reason it can't be."""
    suffix = path.suffix.lower()
    if data is None and suffix in _ZIPPED:
        sha256, size = _hash_file(path, max_bytes)
        if size == 0:
            raise DocumentError("empty file")
        parsed = _parse(suffix, lambda: _ZIPPED[suffix](path))
        try:
            grew = path.stat().st_size != size
        except OSError as e:
            raise _cannot_read(e) from None
        if grew:  # what was parsed is not what was hashed (and may be past the limit): next time
            raise DocumentError("changed while it was being read")
    else:
        if data is None:
            data = read_bytes(path, max_bytes)
        elif max_bytes is not None and len(data) > max_bytes:
            raise _too_big(max_bytes, len(data))
        if not data.strip():
            raise DocumentError("empty file")
        sha256 = hashlib.sha256(data).hexdigest()
        parsed = _parse(suffix, functools.partial(_LOADERS.get(suffix, _text), data))
    if not parsed.text.strip():
        if parsed.notes:
            raise DocumentError(f"no text layer (scanned PDF?): {parsed.notes[0].split(': ', 1)[-1]}")
        raise DocumentError("no extractable text (scanned PDF?)" if suffix == ".pdf" else "no text in file")
    for note in parsed.notes:
        _log.warning("%s: %s", source, note)
    return SourceDocument(
        source=source,
        text=parsed.text,
        # A spreadsheet's first line is a row, not a title: its file name says more.
        title=parsed.title or (path.stem if suffix in _TABLES else _first_line_title(parsed.text)),
        sha256=sha256,
        pages=parsed.pages,
        sections=parsed.sections,
        atomic=parsed.atomic,
        encoding=parsed.encoding,
        notes=parsed.notes,
        page_labels=parsed.page_labels,
    )


def load_text(path: Path) -> str:
    """Return the text a file's chunk offsets refer to."""
    return load_document(path, path.name).text
