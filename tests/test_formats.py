"""Every format people have: real files built with the libraries they come from, loaded, chunked, cited.

For each: the text reads well (sentences whole, rows that name their columns), `page` and `section`
are right, and `load_text(path)[chunk.start:chunk.end] == chunk.text` for every chunk.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from typer.testing import CliRunner

from bench.formats import pdf_bytes, text_op
from rag import Settings, build_chain, ingest
from rag.app.render import sources_html
from rag.cli import app
from rag.documents import PAGE_BREAK, DocumentError, SourceDocument, load_document, load_text, split_document
from rag.documents.pdf import OCR_HINT
from rag.embeddings import LocalEmbeddings
from rag.schema import Answer, Citation, Passage
from tests import formats_fixtures as fx

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None and not os.environ.get("CI"),
    reason="Tesseract is not installed (.ci/run installs it; CI never skips this)",
)


def _words(text: str) -> int:
    return len(text.split())


def _chunks(doc: SourceDocument, size: int = 200):
    return split_document(doc, _words, size, min(32, size // 4))


def _check(path: Path, doc: SourceDocument, size: int = 200) -> list:
    chunks = _chunks(doc, size)
    assert chunks
    text = load_text(path)
    assert text == doc.text
    for c in chunks:
        assert text[c.start : c.end] == c.text, c
        if doc.pages:
            start, end = doc.pages[c.page - 1]
            assert start <= c.start and c.end <= end
        else:
            assert c.page is None
    return chunks


def _line_of(text: str, needle: str) -> str:
    """Return the whole line of `text` that holds `needle`."""
    at = text.index(needle)
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return text[start : end if end >= 0 else len(text)].strip(PAGE_BREAK)


# --- one format at a time ----------------------------------------------------------------------


def test_docx_paragraphs_headings_and_table_rows(tmp_path: Path) -> None:
    path = fx.make_docx(tmp_path / "review.docx")
    doc = load_document(path, "review.docx")
    assert doc.title == "Harbour ferry review"
    assert _line_of(doc.text, "evening ferry") == fx.DOCX_FINDING
    assert _line_of(doc.text, "Fjordline") == fx.DOCX_ROW
    assert "<w:" not in doc.text and "xml" not in doc.text
    chunks = _check(path, doc, size=20)
    section = {c.section for c in chunks if fx.DOCX_FINDING in c.text}
    assert section == {"Findings"}
    assert {c.section for c in chunks if fx.DOCX_ROW in c.text} == {"Findings > Passenger numbers"}
    assert {c.section for c in chunks if "timetable" in c.text} == {"Next steps"}
    assert not any("Next steps" in c.text and "Fjordline" in c.text for c in chunks)  # never across headings


def test_pptx_slides_are_pages_title_body_then_notes(tmp_path: Path) -> None:
    path = fx.make_pptx(tmp_path / "results.pptx")
    doc = load_document(path, "results.pptx")
    assert len(doc.pages) == 2
    slide1 = doc.text[slice(*doc.pages[0])]
    assert slide1.index("Quarterly results") < slide1.index(fx.PPTX_BODY) < slide1.index(fx.PPTX_NOTE)
    assert "Hiring plan" in doc.text[slice(*doc.pages[1])]
    chunks = _check(path, doc)
    assert {(c.page, c.section) for c in chunks if fx.PPTX_NOTE in c.text} == {(1, "Quarterly results")}
    assert {c.page for c in chunks if "Budget approval" in c.text} == {2}
    assert {c.page_label for c in chunks if "Budget approval" in c.text} == {"slide 2"}
    assert _line_of(doc.text[slice(*doc.pages[1])], "hires") == fx.PPTX_ROW  # a table on a slide


def test_xlsx_sheets_are_pages_and_rows_name_their_columns(tmp_path: Path) -> None:
    path = fx.make_xlsx(tmp_path / "stations.xlsx")
    doc = load_document(path, "stations.xlsx")
    assert doc.title == "stations"
    assert len(doc.pages) == 2
    rain, staff = (doc.text[slice(*p)] for p in doc.pages)
    assert rain.splitlines() == [
        fx.XLSX_ROW,
        fx.XLSX_OSLO,
    ]
    assert staff.splitlines() == [
        fx.XLSX_STAFF,
        "name: Ola Berg; started: 2019-08-15.",
    ]  # empty cell left out
    chunks = _check(path, doc)
    assert {(c.page, c.section) for c in chunks if "Bergen" in c.text} == {(1, "Rainfall")}
    assert {(c.page, c.section) for c in chunks if "Ingrid" in c.text} == {(2, "Staff")}
    assert doc.page_labels == ("sheet Rainfall", "sheet Staff")
    assert {c.page_label for c in chunks if "Ingrid" in c.text} == {"sheet Staff"}  # what citations say


def test_a_big_sheet_chunks_by_whole_rows(tmp_path: Path) -> None:
    path = fx.make_xlsx(tmp_path / "big.xlsx", extra_rows=400)
    doc = load_document(path, "big.xlsx")
    rows = set(doc.text.replace(PAGE_BREAK, "\n").splitlines())
    chunks = _check(path, doc, size=40)
    assert len(chunks) > 20
    for c in chunks:
        assert set(c.text.splitlines()) <= rows, c.text  # every line of every chunk is a whole row


@pytest.mark.parametrize(
    ("name", "data", "lines"),
    [
        ("cities.csv", b"city,population\nBergen,291000\n", ["city: Bergen; population: 291000."]),
        ("semi.csv", b"city;population\nOslo;709000\n", ["city: Oslo; population: 709000."]),
        (
            "quoted.csv",
            b'name,note\n"Dahl, Ingrid","said ""yes"""\n',
            ['name: Dahl, Ingrid; note: said "yes".'],
        ),
        ("trains.tsv", b"train\tplatform\nNightliner 41\t4\n", ["train: Nightliner 41; platform: 4."]),
        (
            "latin1.csv",
            "by,elv\nTromsø,Tromsøysundet\n".encode("latin-1"),
            ["by: Tromsø; elv: Tromsøysundet."],
        ),
    ],
)
def test_csv_and_tsv_rows(tmp_path: Path, name: str, data: bytes, lines: list[str]) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    doc = load_document(path, name)
    assert doc.text.splitlines() == lines
    assert doc.pages == () and doc.title == path.stem
    _check(path, doc)


def test_epub_chapters_in_spine_order_with_titles(tmp_path: Path) -> None:
    path = fx.make_epub(tmp_path / "book.epub")
    doc = load_document(path, "book.epub")
    assert doc.title == "The Lighthouse Keeper"
    assert doc.text.index(fx.EPUB_SENTENCE) < doc.text.index("supply boat came back")
    assert doc.text.count("Chapter One: The Storm") == 1  # the navigation page is not a chapter
    chunks = _check(path, doc)
    assert {c.section for c in chunks if fx.EPUB_SENTENCE in c.text} == {"Chapter One: The Storm"}
    assert {c.section for c in chunks if "flour" in c.text} == {"Chapter Two: The Supply Boat"}


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("latin-1", fx.LATIN1_SENTENCE + "\nThe café closes at six.\n"),
        ("cp1252", fx.CP1252_SENTENCE + "\nThe museum is shut on Mondays.\n"),
        ("utf-16", "Ünïcödé text with a byte-order mark, as Windows Notepad wrote it.\n"),
        ("cp1251", "Москва - столица России, крупнейший город страны и её политический центр.\n"),
    ],
)
def test_text_encodings_are_detected_and_recorded(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(text.encode(encoding))
    doc = load_document(path, "notes.txt")
    assert doc.text == text  # offsets refer to the decoded text
    assert doc.encoding.replace("_", "-") in {encoding, "cp1252"} or (encoding, doc.encoding) == (
        "latin-1",
        "cp1252",
    )
    _check(path, doc)


def test_text_no_encoding_fits_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(DocumentError, match=r"^not UTF-8 text \(invalid byte at offset 0\) and no other"):
        load_document(path, "noise.txt")


def test_pdf_wrapped_lines_join_into_sentences_and_tables_become_rows(tmp_path: Path) -> None:
    path = fx.make_pdf(tmp_path / "bridge.pdf")
    doc = load_document(path, "bridge.pdf")
    assert doc.title == "Bridge inspection report"
    assert len(doc.pages) == 2
    page1 = doc.text[slice(*doc.pages[0])]
    assert fx.PDF_SENTENCE in page1  # one span, though the PDF breaks it over two lines
    assert fx.PDF_HYPHENATED in page1  # "recom-" + "mended" rejoined
    assert _line_of(page1, "Storseisund") == fx.PDF_ROW
    assert "\nInspections\n" in page1  # a heading is not glued to the paragraph above it
    chunks = _check(path, doc, size=30)
    assert {c.page for c in chunks if fx.PDF_ROW in c.text} == {1}
    assert {c.page for c in chunks if "single vote" in c.text} == {2}
    assert doc.page_labels == ("page 1", "page 2")
    assert {c.page_label for c in chunks if "single vote" in c.text} == {"page 2"}


@needs_tesseract
def test_scanned_pdf_is_read_by_ocr(tmp_path: Path) -> None:
    path = fx.make_scan(tmp_path / "scan.pdf")
    doc = load_document(path, "scan.pdf")
    assert fx.SCAN_SENTENCE in doc.text  # OCR'd, and its wrapped lines joined
    assert doc.pages == ((0, len(doc.text)),)
    _check(path, doc)


def test_scanned_pdf_without_tesseract_says_how_to_enable_ocr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    scan = fx.make_scan(tmp_path / "scan.pdf")
    with pytest.raises(DocumentError) as e:
        load_document(scan, "scan.pdf")
    assert str(e.value) == f"no text layer (scanned PDF?): {OCR_HINT}"
    # A report with one scanned page among text pages: the text is indexed, the gap is said once.
    writer = PdfWriter()
    for data in (pdf_bytes([[text_op(72, 700, "A page with a text layer.")]]), scan.read_bytes()):
        writer.append(PdfReader(io.BytesIO(data)))
    mixed = tmp_path / "mixed.pdf"
    with mixed.open("wb") as f:
        writer.write(f)
    with caplog.at_level("WARNING", logger="rag.documents"):
        doc = load_document(mixed, "mixed.pdf")
    assert doc.text.startswith("A page with a text layer.") and len(doc.pages) == 2
    assert doc.notes == (f"scanned page(s) 2 left out: {OCR_HINT}",)
    assert [r.getMessage() for r in caplog.records] == [f"mixed.pdf: scanned page(s) 2 left out: {OCR_HINT}"]


def test_markdown_chunks_at_headings_and_keeps_fenced_code_whole(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(fx.MARKDOWN, encoding="utf-8")
    doc = load_document(path, "guide.md")
    # hard-wrapped prose reads as one line; every offset still points into the file as it is
    assert len(doc.text) == len(fx.MARKDOWN)
    assert "for the whole network of stations, so that" in doc.text
    assert {i for i, (a, b) in enumerate(zip(doc.text, fx.MARKDOWN, strict=True)) if a != b} == {
        m.start() for m in re.finditer(r"(?<=whole)\n|(?<=morning)\n", fx.MARKDOWN)
    }
    for size in (6, 12, 200):
        chunks = _check(path, doc, size=size)
        holding = [c for c in chunks if "pip install weatherkit" in c.text]
        assert len(holding) == 1 and fx.MD_CODE in holding[0].text, size  # never cut, blank line and all
        assert holding[0].section == "Weatherkit guide > Install"
        for c in chunks:
            assert c.text.count("```") in (0, 2), c
    chunks = _check(path, doc, size=200)
    assert {c.section for c in chunks if "seven days" in c.text} == {"Weatherkit guide > Usage > Reports"}
    assert not any("## Install" in c.text and "## Usage" in c.text for c in chunks)


def test_hard_wrapped_text_reads_as_sentences_with_the_file_offsets(tmp_path: Path) -> None:
    raw = (
        "The council met on Tuesday to discuss the harbour ferry timetable and the\r\n"
        "cost of the new terminal, which has risen by a third since the first plans\r\n"
        "were drawn up.\r\n"
        "\r\n"
        "- a list item stays on its own line\r\n"
        "- and so does this one\r\n"
    )
    path = tmp_path / "minutes.txt"
    path.write_bytes(raw.encode())
    doc = load_document(path, "minutes.txt")
    assert len(doc.text) == len(raw)
    assert "and the  cost of the new terminal" in doc.text and "plans  were drawn up." in doc.text
    assert "\r\n- and so does this one" in doc.text
    _check(path, doc)


# --- reading files safely ----------------------------------------------------------------------


def test_non_regular_files_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(DocumentError, match=r"^not a regular file \(a named pipe\)$"):
        load_document(fifo, "pipe.txt")  # opening it would block forever
    zero = tmp_path / "zero.txt"
    zero.symlink_to("/dev/zero")
    with pytest.raises(DocumentError, match=r"^not a regular file \(a character device\)$"):
        load_document(zero, "zero.txt", max_bytes=1000)


def test_the_size_limit_holds_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000, encoding="utf-8")
    with pytest.raises(DocumentError, match=r"^0\.0 MB is over the 0\.001 MB limit \(RAG_MAX_FILE_MB\)$"):
        load_document(path, "big.txt", max_bytes=1000)
    with pytest.raises(DocumentError, match=r"over the 0\.001 MB limit"):
        load_document(path, "big.txt", data=path.read_bytes(), max_bytes=1000)
    assert load_document(path, "big.txt", max_bytes=5000).text.startswith("word word")


def test_the_limit_holds_for_a_file_whose_size_says_nothing(tmp_path: Path) -> None:
    # /proc files are regular files of size 0 that read on: only the read itself can stop them.
    link = tmp_path / "maps.txt"
    link.symlink_to("/proc/self/maps")
    with pytest.raises(DocumentError, match=r"^longer than the 0\.0001 MB limit \(RAG_MAX_FILE_MB\)$"):
        load_document(link, "maps.txt", max_bytes=100)


def test_deeply_nested_html_is_read(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 50_000 + "<p>The deepest sentence is here.</p>" + "</div>" * 50_000)
    assert load_text(path) == "The deepest sentence is here."


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx", ".epub"])
def test_corrupt_office_files_and_ebooks_say_why(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"PK\x03\x04 not really a zip file at all")
    with pytest.raises(DocumentError, match=r"^unreadable .+ \(\w+: ") as e:
        load_document(path, path.name)
    assert "\n" not in str(e.value) and len(str(e.value)) < 140


# --- end to end: ingest a folder of everything, ask about each -----------------------------------

QUESTIONS = [
    ("docx", "How many days was the evening ferry to Lysøen late last winter?", fx.DOCX_FINDING),
    ("docx", "How many yearly passengers does the Lysøen route operated by Fjordline carry?", fx.DOCX_ROW),
    ("pptx", "How much did revenue grow in the third quarter?", fx.PPTX_BODY),
    ("xlsx", "What is the annual rainfall in Bergen?", fx.XLSX_ROW),
    ("csv", "What is the population of Trondheim?", fx.CSV_ROW),
    ("tsv", "When does the Nightliner 41 train depart?", fx.TSV_ROW),
    ("epub", "When did the storm reach the lighthouse island?", fx.EPUB_SENTENCE),
    ("latin1", "What does the café on Hönö serve on Sundays?", fx.LATIN1_SENTENCE),
    ("cp1252", "How much does the winter lights exhibition at the museum cost?", fx.CP1252_SENTENCE),
    ("pdf", "Where did the crack in the northern tower start?", fx.PDF_SENTENCE),
    ("pdf", "When was the Storseisund bridge opened?", fx.PDF_ROW),
    ("scan", "When did the repairs begin and end?", fx.SCAN_SENTENCE),
    ("md", "How do I install the command line tool?", fx.MD_SENTENCE),
]


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings):
    folder = tmp_path_factory.mktemp("formats") / "corpus"
    files = fx.write_all(folder)
    if shutil.which("tesseract") is None and not os.environ.get("CI"):
        files.pop("scan").unlink()
    settings = Settings(corpus_dir=folder, data_dir=folder.parent / "data")
    report = ingest(settings, embeddings=embeddings)
    return settings, files, report


def test_a_folder_of_every_format_is_indexed(everything) -> None:
    settings, files, report = everything
    assert report.skipped == ()
    assert sorted(report.indexed) == sorted(p.name for p in files.values())


@pytest.mark.parametrize(
    ("kind", "question", "quote"),
    QUESTIONS,
    ids=[f"{(q.values if hasattr(q, 'values') else q)[0]}-{i}" for i, q in enumerate(QUESTIONS)],
)
def test_a_question_about_each_format_cites_a_whole_sentence_or_row(
    everything, embeddings: LocalEmbeddings, kind: str, question: str, quote: str
) -> None:
    settings, files, _ = everything
    if kind not in files:
        pytest.skip("Tesseract is not installed (.ci/run installs it; CI never skips this)")
    answer = build_chain(settings, embeddings=embeddings).invoke({"question": question})
    assert not answer.refused, question
    cited = [c for c in answer.citations if c.source == files[kind].name]
    assert cited, [(c.source, c.quote) for c in answer.citations]
    assert quote in [c.quote for c in cited], [c.quote for c in cited]
    text = load_text(files[kind])
    for c in answer.citations:
        assert load_text(files[kind].parent / c.source)[c.start : c.end] == c.quote
    c = next(c for c in cited if c.quote == quote)
    assert text[c.start : c.end] == quote


@pytest.mark.parametrize(
    ("question", "quote", "sheet"),
    [
        ("When did Ingrid Dahl start?", fx.XLSX_STAFF, "sheet Staff"),
        ("What is the annual rainfall in Oslo?", fx.XLSX_OSLO, "sheet Rainfall"),
    ],
)
def test_a_citation_of_a_workbook_names_its_sheet(
    everything, embeddings: LocalEmbeddings, question: str, quote: str, sheet: str
) -> None:
    settings, files, _ = everything
    answer = build_chain(settings, embeddings=embeddings).invoke({"question": question})
    cited = [c for c in answer.citations if c.quote == quote]
    assert cited, [(c.source, c.quote) for c in answer.citations]
    assert [(c.source, c.page_label) for c in cited] == [("stations.xlsx", sheet)]
    assert answer.model_dump(mode="json")["citations"][0]["page_label"] == sheet  # `rag ask --json`
    card = sources_html(answer)
    assert f"<code>stations.xlsx</code> · {sheet} · characters" in card
    assert " · page " not in card
    result = CliRunner().invoke(
        app, ["ask", question, "--corpus", str(settings.corpus_dir), "--data-dir", str(settings.data_dir)]
    )
    assert result.exit_code == 0, result.output
    assert re.search(rf"\(stations\.xlsx, {sheet}, chars \d+–\d+\)", result.output), result.output


def test_a_passage_stored_without_a_label_still_cites_its_page() -> None:
    # An index made before page labels: the citation keeps its page number and the JSON its old shape.
    hit = Passage(
        rank=1, id="a", source="r.pdf", title="R", page=2, start=0, end=9, score=1.0, text="A report."
    )
    old = Citation(n=1, source="r.pdf", title="R", page=2, start=0, end=9, quote="A report.", score=0.9)
    answer = Answer(text="A report. [1]", citations=[old], mode="extractive", passages=[hit])
    assert answer.citations[0].page_label is None
    assert "page_label" not in answer.model_dump(mode="json")["citations"][0]
    assert "<code>r.pdf</code> · page 2 · characters" in sources_html(answer)
    labelled = Answer(
        **{**answer.to_storage(), "passages": [hit.model_copy(update={"page_label": "page 2"})]}
    )
    assert labelled.citations[0].page_label == "page 2"


def test_rag_ingest_of_every_format_prints_one_summary(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    fx.write_all(folder)
    if shutil.which("tesseract") is None and not os.environ.get("CI"):
        (folder / "scan.pdf").unlink()
    result = CliRunner().invoke(app, ["ingest", "--corpus", str(folder), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "unsupported" not in result.output and re.search(r"skipped\s+│\s+0 ", result.output), result.output
    assert result.output.count("indexed (new or changed)") == 1
