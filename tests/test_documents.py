"""Loading files into text and splitting them into chunks whose offsets point exactly into that text."""

from __future__ import annotations

import hashlib
import io
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.documents import (
    _BOILERPLATE,
    PAGE_BREAK,
    SUPPORTED,
    Chunk,
    DocumentError,
    SourceDocument,
    load_document,
    load_text,
    split_document,
)
from tests.conftest import HANOI_2024, RUSSIA_2019, SEEDS

RUSSIA_HEADLINE = "With Hanoi in the Rearview, Will Kim Jong Un Turn to Russia?"
WALKOUT = (
    "Trump walked out of the summit in Hanoi, "
    "rejecting Kim’s offer to dismantle the Yongbyon nuclear facility"
)


def _check_offsets(doc: SourceDocument, chunks: list[Chunk]) -> None:
    for c in chunks:
        assert c.text, c
        assert c.text == c.text.strip(), c
        assert doc.text[c.start : c.end] == c.text, c
        assert c.source == doc.source
        assert c.title == doc.title


def _split(doc: SourceDocument, count_tokens: Callable[[str], int], size: int = 200, overlap: int = 32):
    return split_document(doc, count_tokens, size, overlap)


# --- seeds ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_chunks(embeddings) -> dict[str, tuple[SourceDocument, list[Chunk]]]:
    out = {}
    for name in (HANOI_2024, RUSSIA_2019):
        doc = load_document(SEEDS / name, name)
        out[name] = (doc, _split(doc, embeddings.count_tokens))
    return out


@pytest.mark.parametrize("name", [HANOI_2024, RUSSIA_2019])
def test_seed_chunk_offsets_point_into_the_file_and_fit_the_model(name, seed_chunks, embeddings) -> None:
    doc, chunks = seed_chunks[name]
    assert len(chunks) >= 3
    _check_offsets(doc, chunks)
    file_text = load_text(SEEDS / name)
    assert file_text == (SEEDS / name).read_text(encoding="utf-8")
    for c in chunks:
        assert file_text[c.start : c.end] == c.text
        assert embeddings.count_tokens(c.text) <= 200, c
        assert c.page is None
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert _kept_characters(doc) <= covered  # only boilerplate and repeated lines are left out


def test_seed_repeated_headline_and_boilerplate_are_dropped(seed_chunks) -> None:
    doc, chunks = seed_chunks[RUSSIA_2019]
    assert doc.text.count(RUSSIA_HEADLINE) == 3  # the clipping repeats it
    holding = [c for c in chunks if RUSSIA_HEADLINE in c.text]
    assert len(holding) == 1
    assert holding[0].start == doc.text.index(RUSSIA_HEADLINE)  # the first occurrence is the one kept
    for c in chunks:
        assert "Recent Features" not in c.text
        assert "Credit: Russian Presidential" not in c.text
    # the article body is all still there
    assert any("Kim-Putin summit" in c.text for c in chunks)


def test_seed_passage_offsets_point_at_it_in_the_file(seed_chunks) -> None:
    doc, chunks = seed_chunks[HANOI_2024]
    holding = [c for c in chunks if WALKOUT in c.text]
    assert holding
    file_text = (SEEDS / HANOI_2024).read_text(encoding="utf-8")
    for c in holding:
        at = c.start + c.text.index(WALKOUT)
        assert file_text[at : at + len(WALKOUT)] == WALKOUT


def test_seed_titles(seed_chunks) -> None:
    assert seed_chunks[RUSSIA_2019][0].title == RUSSIA_HEADLINE
    title = seed_chunks[HANOI_2024][0].title
    first_line = (SEEDS / HANOI_2024).read_text(encoding="utf-8").splitlines()[0]
    assert len(first_line) > len(title)
    assert title.endswith("…")
    assert first_line.startswith(title[:-1])
    assert len(title) <= 121
    assert not title[:-1].endswith(" ")  # cut at a word boundary


# --- chunk ids --------------------------------------------------------------------------------


def test_chunk_ids_are_deterministic_and_unique(corpus, embeddings) -> None:
    path = corpus / RUSSIA_2019
    first = _split(load_document(path, RUSSIA_2019), embeddings.count_tokens)
    second = _split(load_document(path, RUSSIA_2019), embeddings.count_tokens)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    # the id names the file: the same text under another name gets other ids
    other = _split(load_document(path, "other.txt"), embeddings.count_tokens)
    assert not {c.id for c in first} & {c.id for c in other}


def test_repeated_text_gets_distinct_ids() -> None:
    para = "The same paragraph, word for word, appears again.\n\n"
    doc = SourceDocument("r.txt", (para + "Filler text.\n\n") * 3, "t", "x")
    chunks = _split(doc, lambda t: len(t.split()), size=12, overlap=0)
    _check_offsets(doc, chunks)
    assert len({c.id for c in chunks}) == len(chunks)


def test_a_repeated_sentence_is_placed_where_it_really_is() -> None:
    # The second chunk's text also occurs inside the first one; its offsets must point at the end.
    text = "I waited. He said no. She asked why. He said no."
    doc = SourceDocument("r.txt", text, "t", "x")
    chunks = _split(doc, lambda t: len(t.split()), size=8, overlap=0)
    assert [(c.start, c.end, c.text) for c in chunks] == [
        (0, 36, "I waited. He said no. She asked why."),
        (37, 48, "He said no."),
    ]


@pytest.mark.parametrize("name", [HANOI_2024, RUSSIA_2019])
@pytest.mark.parametrize("edit", ["append_line", "append_paragraph", "change_last_word"])
def test_an_edit_at_the_end_keeps_earlier_ids(name, edit, corpus, embeddings) -> None:
    path = corpus / name
    old_doc = load_document(path, name)
    old = _split(old_doc, embeddings.count_tokens)
    text = old_doc.text.rstrip("\n")
    if edit == "append_line":
        text += "\nOne more line, added at the end.\n"
    elif edit == "append_paragraph":
        text += "\n\nA new paragraph, added at the end.\n"
    else:
        text = text[: text.rfind(" ")] + " changed.\n"
    edit_at = len(os.path.commonprefix([old_doc.text, text]))
    path.write_text(text, encoding="utf-8")
    new_doc = load_document(path, name)
    new = _split(new_doc, embeddings.count_tokens)
    _check_offsets(new_doc, new)
    new_ids = {c.id for c in new}
    before = [c for c in old[:-1] if c.end < edit_at]
    assert len(before) >= len(old) - 2
    for c in before:
        assert c.id in new_ids, c
    assert old[-1].id not in new_ids or edit == "append_paragraph"
    assert new[-1].end == len(text.rstrip())  # the edit itself is indexed


# --- HTML ------------------------------------------------------------------------------------

PAGE_HTML = """<!doctype html>
<html><head><title>  Field Notes:
  Kim and Putin </title>
<style>.nav { color: red }</style>
<script>var tracking = "SCRIPTSECRET";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">NAVSECRET About</a></nav>
<header>HEADERSECRET banner</header>
<main>
  <h1>Summit in Vladivostok</h1>
  <p>The two leaders met on <a href="#d">Russky Island</a> near
     Vladivostok, and <em>talked</em> for hours.</p>
  <!-- COMMENTSECRET -->
  <p>Sanctions relief&nbsp;was not on the table.<br>A second line.</p>
  <ul><li>First point</li><li>Second point</li></ul>
  <script>document.write("SCRIPTSECRET2")</script>
  <style>p { margin: 0 } /* STYLESECRET */</style>
</main>
<aside>ASIDESECRET</aside>
<footer>FOOTERSECRET Copyright 2019</footer>
</body></html>
"""


def test_html_keeps_the_main_text_only(tmp_path: Path, embeddings) -> None:
    path = tmp_path / "page.html"
    path.write_text(PAGE_HTML, encoding="utf-8")
    doc = load_document(path, "page.html")
    assert doc.title == "Field Notes: Kim and Putin"
    assert "Summit in Vladivostok" in doc.text
    # inline elements and source line breaks stay inside the sentence
    assert "The two leaders met on Russky Island near Vladivostok, and talked for hours." in doc.text
    assert "Sanctions relief was not on the table." in doc.text
    assert "A second line." in doc.text
    assert "First point" in doc.text and "Second point" in doc.text
    for secret in (
        "SCRIPTSECRET",
        "STYLESECRET",
        "NAVSECRET",
        "HEADERSECRET",
        "FOOTERSECRET",
        "ASIDESECRET",
        "COMMENTSECRET",
        "tracking",
        "margin",
        "Copyright",
        "Home",
    ):
        assert secret not in doc.text, secret
    assert load_text(path) == doc.text
    chunks = _split(doc, embeddings.count_tokens, size=16, overlap=4)
    assert len(chunks) > 1
    _check_offsets(doc, chunks)


def test_html_without_title_or_main_uses_body_and_first_line(tmp_path: Path) -> None:
    path = tmp_path / "bare.htm"
    path.write_text("<p>Opening words here.</p><div>More <b>body</b> text.</div>", encoding="utf-8")
    doc = load_document(path, "bare.htm")
    assert doc.text == "Opening words here.\n\nMore body text."
    assert doc.title == "Opening words here."


def test_html_with_nothing_but_chrome_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "chrome.html"
    path.write_text(
        "<html><head><title>T</title></head><body><nav>Home</nav><script>x()</script>"
        "<footer>(c)</footer></body></html>",
        encoding="utf-8",
    )
    with pytest.raises(DocumentError, match="^no text in file$"):
        load_document(path, "chrome.html")


# --- PDF -------------------------------------------------------------------------------------


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """Write a minimal PDF: one content stream per page, lines of standard Helvetica text."""
    n = len(pages)
    font = 3 + 2 * n
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{3 + 2 * i} 0 R' for i in range(n))}] /Count {n} >>".encode(),
    ]
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops += [f"({escaped}) Tj", "T*"]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    info = ""
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
        info = f" /Info {len(objects)} 0 R"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n".encode())
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


PDF_PAGES = [
    ["Page one opens the report.", "The delegation arrived on Monday.", "Talks lasted three days."],
    ["Page two covers the outcome.", "An agreement was signed.", "Both sides praised the visit."],
]


def test_pdf_pages_offsets_and_title(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(PDF_PAGES, title="Delegation Report"))
    doc = load_document(path, "report.pdf")
    assert doc.title == "Delegation Report"
    assert doc.text.count(PAGE_BREAK) == 1
    page1, page2 = doc.text.split(PAGE_BREAK)
    assert "Page one opens the report." in page1 and "Talks lasted three days." in page1
    assert "Page two covers the outcome." in page2 and "Both sides praised the visit." in page2
    assert len(doc.pages) == 2
    assert doc.text[slice(*doc.pages[0])] == page1
    assert doc.text[slice(*doc.pages[1])] == page2
    assert load_text(path) == doc.text

    chunks = _split(doc, lambda t: len(t.split()), size=6, overlap=0)
    _check_offsets(doc, chunks)
    assert {c.page for c in chunks} == {1, 2}
    for c in chunks:
        start, end = doc.pages[c.page - 1]
        assert start <= c.start and c.end <= end, c  # no chunk crosses a page break
        assert PAGE_BREAK not in c.text
    assert next(c for c in chunks if "delegation arrived" in c.text).page == 1
    assert next(c for c in chunks if "agreement was signed" in c.text).page == 2
    text = load_text(path)
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_pdf_without_title_metadata_takes_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "untitled.pdf"
    path.write_bytes(make_pdf(PDF_PAGES))
    # the three lines end near one margin, so they read as one paragraph: its first line is the title
    title = load_document(path, "untitled.pdf").title
    assert title == "Page one opens the report. The delegation arrived on Monday. Talks lasted three days."


def test_pdf_is_read_from_the_bytes_given(tmp_path: Path) -> None:
    data = make_pdf(PDF_PAGES)
    doc = load_document(tmp_path / "not-on-disk.pdf", "x.pdf", data=data)
    assert "agreement was signed" in doc.text


def test_pdf_without_text_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([[], []]))
    with pytest.raises(DocumentError, match=r"^no extractable text \(scanned PDF\?\)$"):
        load_document(path, "scan.pdf")


@pytest.mark.parametrize("seed", range(5))
def test_corrupt_pdf_is_an_error(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    path = tmp_path / "broken.pdf"
    path.write_bytes(bytes(rnd.randrange(256) for _ in range(rnd.randrange(16, 4096))))
    with pytest.raises(DocumentError, match=r"^unreadable PDF \(\w+: ") as e:
        load_document(path, "broken.pdf")
    assert len(str(e.value)) < 120 and "\n" not in str(e.value)


def test_truncated_pdf_is_an_error(tmp_path: Path) -> None:
    data = make_pdf(PDF_PAGES)
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DocumentError, match=r"^unreadable PDF \("):
        load_document(path, "cut.pdf")


# --- bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\t\r\n  \n", "empty file"),
        ("binary.txt", b"looks like text\x00\x01\x02 but is not", "binary file"),
        (
            "noise.txt",
            bytes(range(128, 256)) * 4,
            "not UTF-8 text (invalid byte at offset 0) and no other encoding fits",
        ),
        ("nbsp.txt", "\u00a0\u2003\n".encode(), "no text in file"),
    ],
)
def test_bad_files_say_why(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError) as e:
        load_document(path, name)
    assert str(e.value) == reason


def test_unreadable_paths_say_why(tmp_path: Path) -> None:
    dangling = tmp_path / "gone.txt"
    dangling.symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(DocumentError, match=r"^cannot read \(No such file or directory\)$"):
        load_document(dangling, "gone.txt")
    folder = tmp_path / "x.txt"
    folder.mkdir()
    with pytest.raises(DocumentError, match=r"^cannot read \(Is a directory\)$"):
        load_document(folder, "x.txt")


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx", ".epub"])
def test_zipped_formats_are_parsed_from_disk_with_the_same_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    from tests import formats_fixtures as fx

    make = {".docx": fx.make_docx, ".pptx": fx.make_pptx, ".xlsx": fx.make_xlsx, ".epub": fx.make_epub}
    path = make[suffix](tmp_path / f"file{suffix}")
    data = path.read_bytes()
    from_bytes = load_document(path, path.name, data=data)
    # Read by zipfile from disk, hashed in blocks: never read whole into memory.
    monkeypatch.setattr("rag.documents.loading.read_bytes", lambda *a, **k: pytest.fail("read whole"))
    doc = load_document(path, path.name, max_bytes=len(data))
    assert doc == from_bytes  # same text, pages, labels, and sha256 of the bytes
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(DocumentError, match=r"^0\.0 MB is over the 0\.0001 MB limit \(RAG_MAX_FILE_MB\)$"):
        load_document(path, path.name, max_bytes=100)
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match=r"^empty file$"):
        load_document(empty, empty.name)
    gone = tmp_path / f"gone{suffix}"
    gone.symlink_to(tmp_path / "nowhere")
    with pytest.raises(DocumentError, match=r"^cannot read \(No such file or directory\)$"):
        load_document(gone, gone.name)
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    with pytest.raises(DocumentError, match=r"^not a regular file \(a named pipe\)$"):
        load_document(fifo, fifo.name)
    maps = tmp_path / f"maps{suffix}"
    maps.symlink_to("/proc/self/maps")  # size 0 by stat: only the reading stops it
    with pytest.raises(DocumentError, match=r"^longer than the 0\.0001 MB limit"):
        load_document(maps, maps.name, max_bytes=100)
    # Written to between hashing and parsing: not indexed under the other version's hash.
    from rag.documents import loading

    real = loading._ZIPPED[suffix]

    def appending(source: Path | bytes) -> object:
        with path.open("ab") as f:
            f.write(b"\0" * 10)
        return real(source)

    monkeypatch.setitem(loading._ZIPPED, suffix, appending)
    with pytest.raises(DocumentError, match=r"^changed while it was being read$"):
        load_document(path, path.name)


def test_markdown_title_drops_heading_marks(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("\n\n## Meeting notes\n\nBody text.\n", encoding="utf-8")
    doc = load_document(path, "notes.md")
    assert doc.title == "Meeting notes"
    assert doc.text == path.read_text(encoding="utf-8")


def test_supported_suffixes() -> None:
    assert set(SUPPORTED) == {
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
    }


# --- properties ------------------------------------------------------------------------------

_WORDS = st.text(st.characters(categories=("L", "N"), max_codepoint=0x2FFFF), min_size=1, max_size=12)
_BITS = st.sampled_from(
    [
        " ",
        " ",
        " ",
        " ",
        ".",
        ",",
        ";",
        ":",
        "!",
        "?",
        "…",
        "—",
        "-",
        "'",
        "“",
        "”",
        "(",
        ")",
        "\n",
        "\n",
        "\n\n",
        "\n \n",
        "\r\n",
        "\t",
        "  ",
        "\u00a0",
        "\u2028",
        "é",
        "日本語",
        "🙂",
        "\nRecent Features\n",
        "\nA line said twice.\n",
        "\nRead more\n",
    ]
)
_TEXTS = st.lists(st.one_of(_WORDS, _BITS, _BITS), max_size=160).map("".join)


@st.composite
def _documents(draw) -> SourceDocument:
    pages = draw(st.lists(_TEXTS, min_size=1, max_size=3))
    if len(pages) == 1 and draw(st.booleans()):
        return SourceDocument("p.txt", pages[0], "t", "x")
    spans, offset = [], 0
    for page in pages:
        page = page.replace(PAGE_BREAK, " ")
        spans.append((offset, offset + len(page)))
        offset += len(page) + len(PAGE_BREAK)
    text = PAGE_BREAK.join(p.replace(PAGE_BREAK, " ") for p in pages)
    return SourceDocument("p.pdf", text, "t", "x", pages=tuple(spans))


def _kept_characters(doc: SourceDocument) -> set[int]:
    """Offsets of the non-space characters on lines that are neither boilerplate nor repeats."""
    seen: set[str] = set()
    kept: set[int] = set()
    for start, end in doc.pages or ((0, len(doc.text)),):
        pos = start
        for line in doc.text[start:end].splitlines(keepends=True):
            key = " ".join(line.split()).casefold()
            if key and key not in seen and not _BOILERPLATE.fullmatch(key):
                kept.update(pos + i for i, ch in enumerate(line) if not ch.isspace())
            if key:
                seen.add(key)
            pos += len(line)
    return kept


def _check_property(doc: SourceDocument, chunks: list[Chunk]) -> None:
    _check_offsets(doc, chunks)
    starts = [c.start for c in chunks]
    assert all(a < b for a, b in zip(starts, starts[1:], strict=False)), starts
    for c in chunks:
        if doc.pages:
            start, end = doc.pages[c.page - 1]
            assert start <= c.start and c.end <= end
        else:
            assert c.page is None
    assert len({c.id for c in chunks}) == len(chunks)
    assert bool(chunks) == bool(_kept_characters(doc))


def _word_count(text: str) -> int:
    return len(text.split())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=_documents(), size=st.integers(2, 40), data=st.data())
def test_property_offsets_are_exact_cheap_tokens(doc: SourceDocument, size: int, data) -> None:
    overlap = data.draw(st.integers(0, size - 1))
    chunks = split_document(doc, _word_count, size, overlap)
    _check_property(doc, chunks)
    for c in chunks:
        assert _word_count(c.text) <= size, c


@st.composite
def _unique_word_texts(draw) -> str:
    """Text whose words all differ, so every chunk's text occurs once and its place is certain."""
    n = draw(st.integers(0, 120))
    gaps = draw(
        st.lists(
            st.sampled_from([" ", " ", " ", ". ", ", ", "; ", "\n", "\n\n", " \n \n"]), min_size=n, max_size=n
        )
    )
    return "".join(f"w{i}{gap}" for i, gap in enumerate(gaps))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_unique_word_texts(), size=st.integers(2, 30), data=st.data())
def test_property_no_text_is_lost(text: str, size: int, data) -> None:
    doc = SourceDocument("u.txt", text, "t", "x")
    chunks = split_document(doc, _word_count, size, data.draw(st.integers(0, size - 1)))
    _check_property(doc, chunks)
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert _kept_characters(doc) <= covered


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=_documents(), size=st.integers(16, 64), data=st.data())
def test_property_offsets_are_exact_model_tokens(doc: SourceDocument, size: int, data, embeddings) -> None:
    overlap = data.draw(st.integers(0, min(size - 1, 16)))
    chunks = split_document(doc, embeddings.count_tokens, size, overlap)
    _check_property(doc, chunks)
    for c in chunks:
        assert embeddings.count_tokens(c.text) <= size, c
