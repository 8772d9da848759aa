"""E-books (.epub): chapters in spine order, each chapter's title as its section."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from rag.documents.html import html_blocks
from rag.documents.model import DocumentError, Parsed, TextBuilder, archive
from rag.documents.plain import decode


def _toc_titles(toc: Any, out: dict[str, str]) -> dict[str, str]:
    """Map each chapter file to its table-of-contents title (the first entry pointing into it)."""
    for entry in toc:
        if isinstance(entry, tuple | list):
            section, children = entry[0], entry[1]
            _toc_titles([section], out)
            _toc_titles(children, out)
        elif getattr(entry, "href", None):
            out.setdefault(entry.href.split("#")[0], " ".join(str(entry.title or "").split()))
    return out


def load_epub(data: bytes | Path) -> Parsed:
    """Read an .epub's chapters in reading order; a chapter's title comes from the TOC or its heading."""
    import ebooklib
    from ebooklib import epub

    try:
        book = epub.read_epub(archive(data), options={"ignore_ncx": False})
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, epub.EpubException) as e:
        raise DocumentError(f"unreadable e-book ({type(e).__name__}: {str(e)[:80]})") from None
    titles = _toc_titles(book.toc, {})
    builder = TextBuilder()
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        try:
            text, _ = decode(item.get_content())
        except DocumentError:
            continue
        paragraphs, page_title, headings = html_blocks(text)
        if not paragraphs:
            continue
        name = titles.get(item.get_name()) or (headings[0] if headings else "") or page_title
        builder.section(name)
        for paragraph in paragraphs:
            builder.block(paragraph)
    meta = book.get_metadata("DC", "title")
    title = " ".join(str(meta[0][0]).split()) if meta else ""
    return builder.build(title=title)
