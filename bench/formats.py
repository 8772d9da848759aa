"""Document formats: PDF pages/s, OCR seconds per scanned page, parsing's share of ingest CPU, memory.

`measure_formats()` is what `make bench` calls; the PDF and scan writers are shared with the tests,
which build their fixtures with them (no binary blobs in the repository).
"""

from __future__ import annotations

import io
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PAGE_W, PAGE_H = 612, 792  # US Letter, points
_WORDS = (
    "the of and to in a report station bridge engineer measured rainfall october survey northern tower "
    "corrosion girders inspection weld crack repair budget council traffic load sensor steel concrete"
).split()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_op(x: float, y: float, text: str, size: int = 11) -> str:
    """Draw one line of Helvetica text with its baseline at (x, y)."""
    return f"BT /F1 {size} Tf {x:.1f} {y:.1f} Td ({_escape(text)}) Tj ET"


def paragraph_ops(lines: Sequence[str], x: float, y: float, leading: float = 14) -> tuple[list[str], float]:
    """Draw lines one under the other; return the ops and the y below them."""
    ops = []
    for line in lines:
        ops.append(text_op(x, y, line))
        y -= leading
    return ops, y


def table_ops(
    rows: Sequence[Sequence[str]], x: float, y: float, col: float = 150, row: float = 20
) -> list[str]:
    """Draw a ruled table: cell texts and the grid lines around them, top-left at (x, y)."""
    ops = []
    for i, cells in enumerate(rows):
        for j, cell in enumerate(cells):
            ops.append(text_op(x + 8 + col * j, y - row * i - 14, cell))
    width, height = col * max(len(r) for r in rows), row * len(rows)
    ops += [f"{x} {y - row * i} m {x + width} {y - row * i} l S" for i in range(len(rows) + 1)]
    ops += [
        f"{x + col * j} {y} m {x + col * j} {y - height} l S" for j in range(max(len(r) for r in rows) + 1)
    ]
    return ops


def pdf_bytes(pages: Sequence[Sequence[str]], title: str | None = None) -> bytes:
    """Write a PDF whose pages are the given content-stream operators (Helvetica as /F1)."""
    n = len(pages)
    font = 3 + 2 * n
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()]
    for i, ops in enumerate(pages):
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    info = ""
    if title is not None:
        objects.append(f"<< /Title ({_escape(title)}) >>".encode("latin-1"))
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


def report_pdf(pages: int = 100, seed: int = 0) -> bytes:
    """A text PDF of `pages` full pages of wrapped paragraphs (72 characters a line)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(pages):
        ops: list[str] = []
        y = 740.0
        while y > 100:
            words = [rnd.choice(_WORDS) for _ in range(rnd.randrange(30, 80))]
            lines = textwrap.wrap(" ".join(words).capitalize() + ".", 72)
            more, y = paragraph_ops(lines, 72, y)
            ops += more
            y -= 10
        out.append(ops)
    return pdf_bytes(out, title="Generated report")


def scanned_pdf(paragraphs: Sequence[Sequence[str]], pages: int = 1) -> bytes:
    """A PDF of page images (no text layer) showing the given lines, as a 300 dpi scanner makes them."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=42)
    images = []
    for _ in range(pages):
        image = Image.new("L", (2550, 3300), 255)
        draw = ImageDraw.Draw(image)
        y = 300
        for lines in paragraphs:
            for line in lines:
                draw.text((250, y), line, font=font, fill=0)
                y += 60
            y += 60
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, format="PDF", resolution=300, save_all=True, append_images=images[1:])
    return out.getvalue()


SCAN_TEXT = [
    ["The inspection found a crack in the northern", "girder of the old harbour bridge."],
    ["Repairs began in March and ended in June, at", "a cost of forty thousand euros."],
]


_PEAK_CHILD = """
import sys
from pathlib import Path
import rag.documents as d

def status(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key))

d.load_document(Path(sys.argv[2]), "warm-up")  # the format's lazy imports and first allocations
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to what is resident now
base = status("VmRSS:")
doc = d.load_document(Path(sys.argv[1]), "x")
peak_kib = status("VmHWM:") - base
print(peak_kib * 1024 / 1e6, len(doc.text.encode("utf-8", "surrogatepass")) / 1e6)  # MB, as file sizes
"""
# Peak RSS of one parse varies by ~±0.5 MB from run to run (where malloc happens to place the
# growing text buffer), a lot for a 0.3 MB file: the figure is the median of this many children.
PEAK_RUNS = 3


def parse_peak(path: Path, tiny: Path, runs: int = PEAK_RUNS) -> tuple[float, list[float], float]:
    """Return the peak RSS (MB) parsing `path` adds (median, runs) and its text (MB), warmed up on `tiny`."""
    peaks, text_mb = [], 0.0
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _PEAK_CHILD, str(path), str(tiny)],
            capture_output=True,
            text=True,
            check=True,
        )
        peak, text_mb = map(float, out.stdout.strip().splitlines()[-1].split())
        peaks.append(round(max(0.0, peak), 2))
    return statistics.median(peaks), peaks, text_mb


def nested_html(megabytes: float) -> str:
    """A page of deeply nested sections (the shape that made bs4 peak at 90× the file's size)."""
    para = "<p>Some words in a paragraph, <a href='#'>with a link</a>, and <em>more</em> words.</p>"
    block = "<div><section>" + para * 20 + "</section></div>"
    depth = 2000
    body = "<div>" * depth + block * int(megabytes * 1e6 / len(block)) + "</div>" * depth
    return f"<html><head><title>Nested</title></head><body>{body}</body></html>"


def big_docx(path: Path, paragraphs: int = 5_000) -> Path:
    """A text-heavy Word file (no images): headings every 20 paragraphs, a table every 200."""
    import docx

    rnd = random.Random(1)
    document = docx.Document()
    for i in range(paragraphs):
        if i % 20 == 0:
            document.add_heading(f"Section {i // 20}", 1 + (i // 20) % 2)
        document.add_paragraph(" ".join(rnd.choice(_WORDS) for _ in range(40)).capitalize() + ".")
        if i % 200 == 199:
            table = document.add_table(rows=5, cols=3)
            for row in table.rows:
                for cell in row.cells:
                    cell.text = rnd.choice(_WORDS)
    document.save(str(path))
    return path


def prose_docx(path: Path, corpus_dir: Path, paragraphs: int = 5_000) -> Path:
    """A Word file of real prose: each text file of `corpus_dir` a heading and its paragraphs.

    `big_docx` draws from 30 words, so deflate packs its body 6.5:1 and its text is ~5× the file;
    prose packs 3:1 (text ~2.7× the file), closer to what "× the file size" means for real documents.
    """
    import docx

    document = docx.Document()
    written = 0
    for text_file in sorted(corpus_dir.glob("*.txt")):
        title, _, body = text_file.read_text(encoding="utf-8").partition("\n")
        document.add_heading(" ".join(title.split())[:200] or text_file.stem, 1)
        for para in (p for p in body.split("\n") if p.strip()):
            document.add_paragraph(para.strip())
            written += 1
        if written >= paragraphs:
            break
    document.save(str(path))
    return path


def big_xlsx(path: Path, rows: int = 100_000) -> Path:
    """A workbook of one big sheet (openpyxl's write-only mode, as exports are made)."""
    import openpyxl

    rnd = random.Random(2)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Readings")
    sheet.append(["station", "day", "rainfall_mm", "note"])
    for i in range(rows):
        sheet.append([f"station {i % 300}", i % 365, rnd.randrange(0, 80), rnd.choice(_WORDS)])
    book.save(str(path))
    return path


def measure_formats(corpus_dir: Path | None = None, ingest_cpu_s: float | None = None) -> dict[str, Any]:
    """Measure PDF text pages/s, OCR s/page, memory per MB of HTML/PDF and (with a corpus) parse CPU."""
    from rag.documents import load_document
    from rag.documents.pdf import load_pdf

    result: dict[str, Any] = {}
    data = report_pdf(100)
    load_pdf(data[:])  # warm-up: imports and PDFium's first document
    wall, cpu = time.perf_counter(), time.process_time()
    parsed = load_pdf(data)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    result["pdf_pages"] = len(parsed.pages)
    result["pdf_pages_per_s"] = round(len(parsed.pages) / wall, 1)
    result["pdf_pages_per_cpu_s"] = round(len(parsed.pages) / cpu, 1)
    if shutil.which("tesseract"):
        scan = scanned_pdf(SCAN_TEXT, pages=2)
        wall = time.perf_counter()
        load_pdf(scan)
        result["ocr_s_per_page"] = round((time.perf_counter() - wall) / 2, 2)
    else:
        result["ocr_s_per_page"] = None  # Tesseract not installed
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "nested.html"
        html.write_text(nested_html(19.5), encoding="utf-8")
        pdf = Path(tmp) / "report.pdf"
        pdf.write_bytes(report_pdf(300))
        docx, xlsx = big_docx(Path(tmp) / "big.docx"), big_xlsx(Path(tmp) / "big.xlsx")
        small = Path(tmp) / "small"
        small.mkdir()
        (small / "nested.html").write_text("<p>One short page.</p>", encoding="utf-8")
        (small / "report.pdf").write_bytes(report_pdf(1))
        tiny = {
            "html": small / "nested.html",
            "pdf": small / "report.pdf",
            "docx": big_docx(small / "big.docx", paragraphs=1),
            "xlsx": big_xlsx(small / "big.xlsx", rows=1),
        }
        big = {"html": html, "pdf": pdf, "docx": docx, "xlsx": xlsx}
        if corpus_dir is not None and any(corpus_dir.glob("*.txt")):
            big["docx_prose"] = prose_docx(Path(tmp) / "prose.docx", corpus_dir)
            tiny["docx_prose"] = tiny["docx"]
        for name, path in big.items():
            size_mb = path.stat().st_size / 1e6
            peak, runs, text_mb = parse_peak(path, tiny[name])
            result[f"{name}_file_mb"] = round(size_mb, 2)
            result[f"{name}_peak_mb"] = round(peak, 1)
            result[f"{name}_peak_per_file_mb"] = round(peak / size_mb, 1)
            result[f"{name}_peak_mb_runs"] = runs
            result[f"{name}_text_mb"] = round(text_mb, 2)
            result[f"{name}_peak_per_text_mb"] = round(peak / text_mb, 1) if text_mb else None
    if corpus_dir is not None:
        from rag.sources import discover

        files = discover([corpus_dir], corpus_dir).files
        cpu = time.process_time()
        for path, source in files:
            load_document(path, source)
        parse = time.process_time() - cpu
        result["parse_files"] = len(files)
        result["parse_cpu_s"] = round(parse, 2)
        if ingest_cpu_s:
            result["parse_cpu_share"] = round(parse / ingest_cpu_s, 4)
    return result


if __name__ == "__main__":
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    ingest_cpu = float(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps(measure_formats(corpus, ingest_cpu), indent=2))
