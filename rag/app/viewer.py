"""Open a cited document: its text with the cited span highlighted, and its original file to download.

Files are found only through the roots the index was given (never a path from the browser), so the
viewer serves nothing outside them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rag.app.render import esc
from rag.documents import PAGE_BREAK, DocumentError, load_text
from rag.errors import RagError
from rag.roots import Registry, contains
from rag.schema import Citation
from rag.settings import Settings

WINDOW = 40_000  # characters shown either side of the cited span (a book stays light to render)


def find_file(settings: Settings, source: str) -> Path | None:
    """Return the file a source names, inside one of the index's roots, or None."""
    try:
        roots = Registry.load(settings).roots
    except (RagError, OSError):
        return None
    labelled = sorted(roots, key=lambda r: not r.label)  # a labelled root's prefix is the stronger match
    for root in labelled:
        rel = root.rel_of_source(source)
        if rel is None:
            continue
        base = root.path if root.path.is_dir() else root.path.parent
        candidate = (base / rel).resolve() if rel else root.path.resolve()
        if candidate.is_file() and contains(base.resolve(), candidate):
            return candidate
    return None


def document_html(text: str, citation: Citation) -> str:
    """Render a document's text around a citation, escaped, with the quote in `<mark id=rag-view-mark>`."""
    a, b = citation.start, citation.end
    lo, hi = max(0, a - WINDOW), min(len(text), b + WINDOW)
    page = f" · page {citation.page}" if citation.page is not None else ""
    before = "…" if lo > 0 else ""
    after = "…" if hi < len(text) else ""

    def show(part: str) -> str:
        return esc(part).replace(PAGE_BREAK, '<hr class="rag-page">')

    return (
        f'<p class="rag-meta"><b>{esc(citation.title)}</b> · <code>{esc(citation.source)}</code>{page} · '
        f"characters {a}–{b}</p>"
        f'<div class="rag-doc">{before}{show(text[lo:a])}<mark id="rag-view-mark">{show(text[a:b])}</mark>'
        f"{show(text[b:hi])}{after}</div>"
    )


def open_document(settings: Settings, citation: Citation) -> tuple[str, Path | None]:
    """Return the viewer's HTML and a copy of the original file to download (None when not found)."""
    path = find_file(settings, citation.source)
    if path is None:
        return f'<p class="rag-warn">{esc(citation.source)} is no longer in an indexed folder.</p>', None
    try:
        text = load_text(path)
    except DocumentError as e:
        return f'<p class="rag-warn">{esc(citation.source)}: {esc(str(e))}</p>', None
    # Gradio serves only files under its temp dir: the download is a copy there.
    copy = Path(tempfile.mkdtemp(prefix="rag-doc-")) / path.name
    shutil.copyfile(path, copy)
    return document_html(text, citation), copy
