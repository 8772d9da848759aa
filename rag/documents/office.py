"""Word and PowerPoint files: paragraphs in reading order, headings as sections, tables as rows."""

from __future__ import annotations

import contextlib
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.documents.model import DocumentError, Parsed, TextBuilder, archive
from rag.documents.table import row_lines

_HEADING_STYLE = re.compile(r"(?:heading|überschrift|titre)\s*(\d)", re.IGNORECASE)
_OPEN_ERRORS: tuple[type[BaseException], ...] = (zipfile.BadZipFile, KeyError, ValueError, OSError)


def _unreadable(kind: str, e: BaseException) -> DocumentError:
    return DocumentError(f"unreadable {kind} ({type(e).__name__}: {str(e)[:80]})")


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_REL_DOC = "officeDocument"
_NO_PART: Any = None  # text needs no package part: python-docx only reaches it for images and links


def _styles(book: zipfile.ZipFile, base: str) -> dict[str, tuple[str, int | None]]:
    """Map each paragraph style id to its name and outline level, one style element at a time.

    The styles.xml of python-docx's template, which generated files carry, is 350 KB: as one lxml
    tree it took 4.3 MB, more than the whole body of a 0.3 MB document.
    """
    from lxml import etree

    try:
        stream = book.open(f"{base}styles.xml")
    except KeyError:
        return {}
    out: dict[str, tuple[str, int | None]] = {}
    with stream:
        for _, style in etree.iterparse(stream, tag=f"{_W}style", resolve_entities=False):
            name = style.find(f"{_W}name")
            outline = style.find(f"{_W}pPr/{_W}outlineLvl")
            value = str(outline.get(f"{_W}val", "")) if outline is not None else ""
            level = int(value) + 1 if value.isdigit() and int(value) < 9 else None
            out[str(style.get(f"{_W}styleId"))] = (
                str(name.get(f"{_W}val", "")) if name is not None else "",
                level,
            )
            style.clear()
            parent = style.getparent()
            while parent is not None and style.getprevious() is not None:
                del parent[0]
    return out


def _heading_level(paragraph: Any, styles: dict[str, tuple[str, int | None]]) -> int | None:
    """Return 1-9 for a heading paragraph (by style, else by outline level), 0 for a title, else None."""
    name, level = styles.get(paragraph._p.style or "", ("", None))
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name)
    if match:
        return int(match.group(1))
    own = paragraph._p.xpath("./w:pPr/w:outlineLvl/@w:val")
    if own and str(own[0]).isdigit() and int(own[0]) < 9:
        return int(own[0]) + 1
    return level


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


def _main_part(book: zipfile.ZipFile) -> str:
    from lxml import etree

    try:
        rels = etree.fromstring(book.read("_rels/.rels"))
    except KeyError:
        return "word/document.xml"
    for rel in rels:
        if str(rel.get("Type", "")).endswith(_REL_DOC):
            return str(rel.get("Target", "")).lstrip("/")
    return "word/document.xml"


def _body_blocks(stream: Any) -> Iterator[Any]:
    """Yield the body's top-level paragraphs and tables as python-docx's elements, one at a time.

    The pull parser uses python-docx's element classes but keeps no tree: each block is dropped
    once read, so a long document costs the memory of one paragraph, not of the whole XML
    (python-docx's Document held ~37× a text-heavy file's size and looked styles up per paragraph
    in time that grew with the document: 213 s for 20,000 paragraphs).
    """
    from docx.oxml.parser import element_class_lookup
    from lxml import etree

    parser = etree.XMLPullParser(events=("end",), tag=(f"{_W}p", f"{_W}tbl"), huge_tree=True)
    parser.set_element_class_lookup(element_class_lookup)
    while chunk := stream.read(1 << 16):
        parser.feed(chunk)
        for _, element in parser.read_events():
            parent = element.getparent()
            if parent is None or parent.tag != f"{_W}body":
                continue  # a paragraph inside a table (or a text box) is read with its table
            yield element
            element.clear()
            while element.getprevious() is not None:
                del parent[0]
    parser.close()


def load_docx(data: bytes | Path) -> Parsed:
    """Read a .docx: its body's paragraphs and tables in order; headings open sections."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from lxml import etree

    builder = TextBuilder()
    path: list[tuple[int, str]] = []
    title = ""
    try:
        with zipfile.ZipFile(archive(data)) as book:
            main = _main_part(book)
            styles = _styles(book, main.rsplit("/", 1)[0] + "/" if "/" in main else "")
            with contextlib.suppress(KeyError, etree.XMLSyntaxError):
                core = etree.fromstring(book.read("docProps/core.xml"))
                found = core.xpath("//*[local-name()='title']/text()")
                title = " ".join(str(found[0]).split()) if found else ""
            with book.open(main) as stream:
                for element in _body_blocks(stream):
                    if element.tag == f"{_W}tbl":
                        builder.block("\n".join(row_lines(_docx_rows(Table(element, _NO_PART)))))
                        continue
                    block = Paragraph(element, _NO_PART)
                    text = "\n".join(" ".join(line.split()) for line in block.text.splitlines()).strip()
                    if not text:
                        continue
                    level = _heading_level(block, styles)
                    if level == 0:  # the document's title: the chunks' title already, not a section
                        title = title or " ".join(text.split())
                        path = []
                        builder.section("")
                    elif level is not None:
                        title = title or (text if level == 1 else "")
                        path = [(lv, t) for lv, t in path if lv < level] + [(level, " ".join(text.split()))]
                        builder.section(" > ".join(t for _, t in path))
                    builder.block(text)
    except (*_OPEN_ERRORS, etree.XMLSyntaxError) as e:
        raise _unreadable("Word file", e) from None
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


def load_pptx(data: bytes | Path) -> Parsed:
    """Read a .pptx slide by slide (each a page): title, then body text, then the speaker notes."""
    import pptx

    try:
        deck = pptx.Presentation(archive(data))
    except _OPEN_ERRORS as e:
        raise _unreadable("PowerPoint file", e) from None
    builder = TextBuilder(paged=True)
    first_title = ""
    for number, slide in enumerate(deck.slides, start=1):
        builder.new_page(f"slide {number}")
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
