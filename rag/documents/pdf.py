"""PDF to text that reads like text: wrapped lines joined, words split at line ends rejoined, tables as rows.

Text and layout come from PDFium (pypdfium2: Chrome's PDF engine in a wheel, ~400 pages/s here;
pdfplumber's pdfminer parse ran at ~5 pages/s). pdfplumber's table finder is used only on pages that
draw ruling lines, and Tesseract reads pages that have no text layer (scans).
"""

from __future__ import annotations

import io
import itertools
import re
import shutil
from dataclasses import dataclass
from typing import Any

from rag.documents.model import DocumentError, Parsed, TextBuilder
from rag.documents.table import row_lines

OCR_DPI = 300  # Tesseract's accuracy falls off below ~300 dpi
OCR_TIMEOUT_S = 120
OCR_HINT = "install Tesseract to read scanned pages (Debian/Ubuntu: apt-get install tesseract-ocr)"
_MIN_RULES = 4  # path objects on a page before its tables are looked for
_SOFT_HYPHEN = "\ufffe"  # PDFium's mark for a hyphen it found at a line end (the lines are already joined)
_BULLET = re.compile(r"\s*([-•▪◦‣*·]|\d{1,3}[.)]|[a-z][.)])\s")
_WORD_BREAK = re.compile(r"(\w)-\n(?=[a-z])")


@dataclass(frozen=True)
class _Line:
    text: str
    left: float
    bottom: float  # of the first character
    right: float
    top: float
    end_bottom: float  # of the last one: a line PDFium joined at a hyphen ends lower than it starts


def _lines(textpage: Any) -> list[_Line]:
    """Return a page's text lines with the boxes of their first and last characters."""
    raw = textpage.get_text_range()
    count = textpage.count_chars()
    out: list[_Line] = []
    index = 0  # PDFium counts characters in UTF-16 units: an emoji or a math letter is two
    for piece in raw.split("\r\n"):
        clean = piece.replace(_SOFT_HYPHEN, "")
        if clean.strip():
            first = index + _units(piece[: len(piece) - len(piece.lstrip())])
            last = min(index + _units(piece.rstrip()) - 1, count - 1)
            left, bottom, _, top = textpage.get_charbox(min(first, count - 1))
            _, end_bottom, right, _ = textpage.get_charbox(last)
            out.append(_Line(" ".join(clean.split()), left, bottom, right, top, end_bottom))
        index += _units(piece) + 2
    return out


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _paragraphs(lines: list[_Line]) -> list[str]:
    """Join lines into paragraphs: a line that reaches the right margin continues on the next one."""
    if not lines:
        return []
    rights = sorted(line.right for line in lines)
    margin = rights[int(0.9 * (len(rights) - 1))]
    lefts = sorted(line.left for line in lines)
    indent = lefts[len(lefts) // 10]
    gaps = [a.end_bottom - b.bottom for a, b in zip(lines, lines[1:], strict=False)]
    pitches = sorted(g for g in gaps if 0 < g < 100)
    pitch = pitches[(len(pitches) - 1) // 2] if pitches else 0.0
    full = margin - 0.15 * (margin - indent)
    paragraphs: list[str] = []
    current: list[str] = []
    for i, line in enumerate(lines):
        current.append(line.text)
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        joins = (
            nxt is not None
            and line.right >= full
            and not _BULLET.match(nxt.text)
            and (pitch == 0 or 0 < line.end_bottom - nxt.bottom <= 1.5 * pitch)
        )
        if not joins:
            paragraphs.append(_WORD_BREAK.sub(r"\1", "\n".join(current)).replace("\n", " "))
            current = []
    return paragraphs


def _tables(
    plumber: Any, index: int, height: float
) -> list[tuple[tuple[float, float, float, float], list[str]]]:
    """Return the ruled tables pdfplumber finds on a page: (left, bottom, right, top) and their row lines."""
    page = plumber.pages[index]
    try:
        found = []
        for table in page.find_tables():
            rows = [[" ".join((cell or "").split()) for cell in row] for row in table.extract()]
            if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
                x0, top, x1, bottom = table.bbox
                found.append(((x0, height - bottom, x1, height - top), row_lines(rows)))
        return found
    finally:
        page.close()


def _inside(line: _Line, box: tuple[float, float, float, float]) -> bool:
    x = (line.left + line.right) / 2
    y = (line.bottom + line.top) / 2
    return box[0] - 1 <= x <= box[2] + 1 and box[1] - 1 <= y <= box[3] + 1


def _ocr(page: Any) -> str | None:
    """Return the text Tesseract reads on a rendered page, or None when it fails or times out."""
    import pytesseract

    image = page.render(scale=OCR_DPI / 72).to_pil().convert("L")
    try:
        text = str(pytesseract.image_to_string(image, timeout=OCR_TIMEOUT_S))
    except (RuntimeError, OSError, pytesseract.TesseractError):
        return None
    blocks = re.split(r"\n\s*\n", text)
    return "\n\n".join(_WORD_BREAK.sub(r"\1", b.strip()).replace("\n", " ") for b in blocks if b.strip())


def load_pdf(data: bytes) -> Parsed:
    """Read a PDF's pages into text: paragraphs, tables as rows, scanned pages through OCR."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise DocumentError("encrypted PDF") from None
        raise DocumentError(f"unreadable PDF (PdfiumError: {str(e)[:80]})") from None
    builder = TextBuilder(paged=True)
    plumber: Any = None
    tesseract = shutil.which("tesseract")
    scanned: list[int] = []  # pages without a text layer, and no Tesseract
    failed: list[int] = []  # ... that Tesseract could not read in time
    try:
        title = str(pdf.get_metadata_dict().get("Title") or "").strip()
        for index in range(len(pdf)):
            page = pdf[index]
            builder.new_page(f"page {index + 1}")
            textpage = page.get_textpage()
            lines = _lines(textpage)
            textpage.close()
            if not lines:
                if any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)):
                    read = _ocr(page) if tesseract else None
                    if read is None:
                        (failed if tesseract else scanned).append(index + 1)
                    else:
                        builder.block(read)
                page.close()
                continue
            tables: list[tuple[tuple[float, float, float, float], list[str]]] = []
            rules = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=3)
            if sum(1 for _ in itertools.islice(rules, _MIN_RULES)) >= _MIN_RULES:
                if plumber is None:
                    import pdfplumber

                    plumber = pdfplumber.open(io.BytesIO(data))
                try:
                    tables = _tables(plumber, index, page.get_height())
                except Exception:  # noqa: BLE001 - pdfminer on untrusted input: the text is still good
                    tables = []
            page.close()
            _lay_out(builder, lines, tables)
    except pdfium.PdfiumError as e:
        raise DocumentError(f"unreadable PDF (PdfiumError: {str(e)[:80]})") from None
    finally:
        if plumber is not None:
            plumber.close()
        pdf.close()
    notes: list[str] = []
    if scanned:
        notes.append(f"scanned page(s) {_page_list(scanned)} left out: {OCR_HINT}")
    if failed:
        notes.append(
            f"scanned page(s) {_page_list(failed)} left out: Tesseract failed or took over {OCR_TIMEOUT_S} s"
        )
    return builder.build(title=title, notes=tuple(notes))


def _page_list(pages: list[int]) -> str:
    return ", ".join(map(str, pages[:10])) + (" …" if len(pages) > 10 else "")


def _lay_out(
    builder: TextBuilder,
    lines: list[_Line],
    tables: list[tuple[tuple[float, float, float, float], list[str]]],
) -> None:
    """Write a page's paragraphs, with each table's rows where the table stands."""
    run: list[_Line] = []
    placed: set[int] = set()
    for line in lines:
        hit = next((i for i, (box, _) in enumerate(tables) if _inside(line, box)), None)
        if hit is None:
            run.append(line)
            continue
        if hit not in placed:
            for paragraph in _paragraphs(run):
                builder.block(paragraph)
            run = []
            builder.block("\n".join(tables[hit][1]))
            placed.add(hit)
    for paragraph in _paragraphs(run):
        builder.block(paragraph)
    for i, (_, rows) in enumerate(tables):
        if i not in placed:
            builder.block("\n".join(rows))
