"""Word and PowerPoint files: paragraphs in reading order, headings as sections, tables as rows."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from rag.documents.model import DocumentError, Parsed, TextBuilder
from rag.documents.table import row_lines

_HEADING_STYLE = re.compile(r"(?:heading|überschrift|titre)\s*(\d)", re.IGNORECASE)
_OPEN_ERRORS: tuple[type[BaseException], ...] = (zipfile.BadZipFile, KeyError, ValueError, OSError)


def _unreadable(kind: str, e: BaseException) -> DocumentError:
    return DocumentError(f"unreadable {kind} ({type(e).__name__}: {str(e)[:80]})")


def _heading_level(paragraph: Any) -> int | None:
    """Return 1-9 for a heading paragraph (by style, else by outline level), 0 for a title, else None."""
    name = paragraph.style.name if paragraph.style is not None else ""
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name)
    if match:
        return int(match.group(1))
    levels = paragraph._p.xpath("./w:pPr/w:outlineLvl/@w:val")
    return int(levels[0]) + 1 if levels and levels[0].isdigit() and int(levels[0]) < 9 else None


def _docx_rows(table: Any) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is last:  # a merged cell repeats: keep it once
                continue
            last = cell._tc
            cells.append(" ".join(cell.text.split()))
        rows.append(cells)
    return rows


def load_docx(data: bytes) -> Parsed:
    """Read a .docx: its body's paragraphs and tables in order; headings open sections."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except _OPEN_ERRORS as e:
        raise _unreadable("Word file", e) from None
    builder = TextBuilder()
    path: list[tuple[int, str]] = []
    title = (document.core_properties.title or "").strip()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.block("\n".join(row_lines(_docx_rows(block))))
            continue
        text = "\n".join(" ".join(line.split()) for line in block.text.splitlines()).strip()
        if not text:
            continue
        level = _heading_level(block)
        if level == 0:  # the document's title: the chunks' title already, not a section
            title = title or " ".join(text.split())
            path = []
            builder.section("")
        elif level is not None:
            title = title or (text if level == 1 else "")
            path = [(lv, t) for lv, t in path if lv < level] + [(level, " ".join(text.split()))]
            builder.section(" > ".join(t for _, t in path))
        builder.block(text)
    return builder.build(title=title)


def _shape_blocks(shape: Any) -> list[str]:
    """Return a shape's text: paragraphs of a text frame, rows of a table, a group's shapes in order."""
    if shape.shape_type is not None and int(shape.shape_type) == 6:  # MSO_SHAPE_TYPE.GROUP
        return [b for inner in shape.shapes for b in _shape_blocks(inner)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[" ".join(c.text.split()) for c in row.cells] for row in shape.table.rows]
        return ["\n".join(row_lines(rows))]
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        lines = (" ".join(p.text.split()) for p in shape.text_frame.paragraphs)
        text = "\n".join(line for line in lines if line)
        return [text] if text else []
    return []


def load_pptx(data: bytes) -> Parsed:
    """Read a .pptx slide by slide (each a page): title, then body text, then the speaker notes."""
    import pptx

    try:
        deck = pptx.Presentation(io.BytesIO(data))
    except _OPEN_ERRORS as e:
        raise _unreadable("PowerPoint file", e) from None
    builder = TextBuilder(paged=True)
    first_title = ""
    for slide in deck.slides:
        builder.new_page()
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text.split()) if title_shape is not None else ""
        first_title = first_title or title
        builder.section(title)
        if title:
            builder.block(title)
        shapes = sorted(
            (s for s in slide.shapes if title_shape is None or s.shape_id != title_shape.shape_id),
            key=lambda s: (s.top or 0, s.left or 0),
        )
        for shape in shapes:
            for text in _shape_blocks(shape):
                builder.block(text)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                builder.block(
                    "Notes:\n" + "\n".join(" ".join(n.split()) for n in notes.splitlines() if n.strip())
                )
    title = (deck.core_properties.title or "").strip() or first_title
    return builder.build(title=title)
