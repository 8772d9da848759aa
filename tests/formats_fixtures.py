"""Real documents of every supported format, built with the libraries people's files come from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bench.formats import SCAN_TEXT, paragraph_ops, pdf_bytes, scanned_pdf, table_ops, text_op

DOCX_FINDING = "The review found that the evening ferry to Lysøen was late on forty days last winter."
DOCX_ROW = "route: Lysøen; operator: Fjordline; yearly_passengers: 180000."
PPTX_BODY = "Revenue grew by twelve percent in the third quarter."
PPTX_ROW_CELLS = ["engineer", "2"]
PPTX_ROW = "role: engineer; hires: 2."
PPTX_NOTE = "Mention that the new Tromsø office opened in August with nine staff."
XLSX_ROW = "station: Bergen; annual rainfall (mm): 2250; wettest month: October."
XLSX_OSLO = "station: Oslo; annual rainfall (mm): 763; wettest month: August."
XLSX_STAFF = "name: Ingrid Dahl; role: hydrologist; started: 2021-03-01."
CSV_ROW = "city: Trondheim; population: 212000; country: Norway."
TSV_ROW = "train: Nightliner 41; departs: 23:05; platform: 4."
EPUB_SENTENCE = "The storm reached the lighthouse island on a Tuesday night in November."
LATIN1_SENTENCE = "The café on Hönö serves smörgåsbord every Sunday, and the crème brûlée costs nine euros."
CP1252_SENTENCE = "The museum’s “winter lights” exhibition costs 12 € — children enter for free."
PDF_SENTENCE = (
    "The crack started at the weld seam near the base of the northern tower, where inspectors had "
    "flagged corrosion two years before the failure."
)
PDF_HYPHENATED = "Engineers recommended a full replacement of the affected girders within the year."
PDF_ROW = "bridge: Storseisund; span_m: 260; opened: 1989."
SCAN_SENTENCE = "Repairs began in March and ended in June, at a cost of forty thousand euros."
MD_SENTENCE = "Install the command line tool with pip, then run the setup step once on each machine."
MD_CODE = '```bash\npip install weatherkit\n\nweatherkit setup --station "Bergen"\n```'


def make_docx(path: Path) -> Path:
    """A Word file: a title, a heading path, paragraphs, a table."""
    import docx

    document = docx.Document()
    document.add_heading("Harbour ferry review", 0)
    document.add_paragraph("This review covers the ferry routes of the western harbour in 2024.")
    document.add_heading("Findings", 1)
    document.add_paragraph(DOCX_FINDING)
    document.add_heading("Passenger numbers", 2)
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(
        table.rows,
        [
            ("route", "operator", "yearly_passengers"),
            ("Lysøen", "Fjordline", "180000"),
            ("Askøy", "Bybåt", "95000"),
        ],
        strict=True,
    ):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    document.add_heading("Next steps", 1)
    document.add_paragraph("The council will publish a new timetable in the spring.")
    document.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    """A deck of two slides, each with a title, a body and speaker notes."""
    import pptx
    import pptx.util

    deck = pptx.Presentation()
    layout = deck.slide_layouts[1]  # title and content
    for title, body, notes in (
        ("Quarterly results", PPTX_BODY, PPTX_NOTE),
        ("Hiring plan", "The Bergen team will hire two more engineers.", "Budget approval is due in May."),
    ):
        slide = deck.slides.add_slide(layout)
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = notes
    table = slide.shapes.add_table(
        2, 2, pptx.util.Inches(1), pptx.util.Inches(5), pptx.util.Inches(6), pptx.util.Inches(1)
    )
    for (r, c), value in zip(
        [(0, 0), (0, 1), (1, 0), (1, 1)], ["role", "hires"] + PPTX_ROW_CELLS, strict=True
    ):
        table.table.cell(r, c).text = value
    deck.save(str(path))
    return path


def make_xlsx(path: Path, extra_rows: int = 0) -> Path:
    """A workbook of two sheets: rainfall by station and the staff list."""
    import openpyxl

    book = openpyxl.Workbook()
    rain = book.active
    rain.title = "Rainfall"
    rain.append(["station", "annual rainfall (mm)", "wettest month"])
    rain.append(["Bergen", 2250, "October"])
    rain.append(["Oslo", 763.0, "August"])
    for i in range(extra_rows):
        rain.append([f"Station {i}", 500 + i, "May"])
    staff = book.create_sheet("Staff")
    staff.append(["name", "role", "started"])
    staff.append(["Ingrid Dahl", "hydrologist", dt.datetime(2021, 3, 1)])
    staff.append(["Ola Berg", None, dt.datetime(2019, 8, 15)])
    book.save(str(path))
    return path


def make_epub(path: Path) -> Path:
    """An e-book of two chapters with a table of contents."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("lighthouse-1")
    book.set_title("The Lighthouse Keeper")
    book.set_language("en")
    chapters = []
    for n, (title, text) in enumerate(
        (
            ("Chapter One: The Storm", EPUB_SENTENCE + " Nobody slept until dawn."),
            ("Chapter Two: The Supply Boat", "The supply boat came back on Friday with flour and oil."),
        ),
        start=1,
    ):
        chapter = epub.EpubHtml(title=title, file_name=f"c{n}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>{title}</h1><p>{text}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = tuple(epub.Link(c.file_name, c.title, f"c{n}") for n, c in enumerate(chapters, start=1))
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)
    return path


def make_pdf(path: Path) -> Path:
    """A two-page report: hard-wrapped paragraphs (one word hyphenated at a line end), a ruled table."""
    wrapped = [
        "The crack started at the weld seam near the base of the northern tower, where",
        "inspectors had flagged corrosion two years before the failure. Engineers recom-",
        "mended a full replacement of the affected girders within the year.",
    ]
    page1, y = paragraph_ops(wrapped, 72, 720)
    more, y = paragraph_ops(["Inspections"], 72, y - 14)
    page1 += more
    page1 += table_ops(
        [["bridge", "span_m", "opened"], ["Storseisund", "260", "1989"], ["Hardanger", "1310", "2013"]], 72, y
    )
    page2, _ = paragraph_ops(
        [
            "The second page reports the cost of the repairs, which the council approved in a",
            "single vote after a long debate about the budget for the coming year.",
        ],
        72,
        720,
    )
    page2.append(text_op(72, 600, "Signed by the chief engineer."))
    path.write_bytes(pdf_bytes([page1, page2], title="Bridge inspection report"))
    return path


def make_scan(path: Path) -> Path:
    """A scanned page: text rendered to an image, with no text layer."""
    path.write_bytes(scanned_pdf(SCAN_TEXT))
    return path


MARKDOWN = f"""# Weatherkit guide

Weatherkit reads station data and writes daily rainfall summaries for the whole
network of stations, so that the forecasters can compare the regions every morning
before the first briefing of the day.

## Install

{MD_SENTENCE}

{MD_CODE}

## Usage

### Reports

Run the report command to print the rainfall of the last seven days per station.
"""


def write_all(folder: Path) -> dict[str, Path]:
    """Write one file of each format into `folder`; return them by suffix (and name)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "docx": make_docx(folder / "ferry-review.docx"),
        "pptx": make_pptx(folder / "results.pptx"),
        "xlsx": make_xlsx(folder / "stations.xlsx"),
        "epub": make_epub(folder / "lighthouse.epub"),
        "pdf": make_pdf(folder / "bridge.pdf"),
        "scan": make_scan(folder / "scan.pdf"),
        "csv": folder / "cities.csv",
        "tsv": folder / "trains.tsv",
        "latin1": folder / "cafe.txt",
        "cp1252": folder / "museum.txt",
        "md": folder / "guide.md",
    }
    files["csv"].write_text(
        "city,population,country\nBergen,291000,Norway\nTrondheim,212000,Norway\n", encoding="utf-8"
    )
    files["tsv"].write_text(
        "train\tdeparts\tplatform\nNightliner 41\t23:05\t4\nMorning 7\t06:40\t2\n", encoding="utf-8"
    )
    files["latin1"].write_bytes(
        (LATIN1_SENTENCE + "\nThe café closes at six in the evening.\n").encode("latin-1")
    )
    files["cp1252"].write_bytes((CP1252_SENTENCE + "\nThe museum is shut on Mondays.\n").encode("cp1252"))
    files["md"].write_text(MARKDOWN, encoding="utf-8")
    return files
