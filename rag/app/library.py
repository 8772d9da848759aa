"""The documents the index holds, as the Documents panel lists them: read once per change of the store."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from rag.app.indexer import Indexer
from rag.errors import RagError
from rag.store import Store

MAX_ROWS = 200  # rows shown; the search box reaches the rest
MIN_REREAD_S = 5.0  # while indexing runs the store changes every flush: re-read at most this often
COLUMNS = ["document", "pages", "passages", "status"]
COLUMN_WIDTHS: list[str | int] = ["44%", "14%", "18%", "24%"]


@dataclass(frozen=True)
class Doc:
    """One indexed document."""

    source: str
    title: str
    pages: int
    chunks: int


class Library:
    """The index's documents, cached until the store's generation or count moves."""

    def __init__(self, store: Store, indexer: Indexer) -> None:
        self.store, self.indexer = store, indexer
        self._key: tuple[str, int] | None = None
        self._read_at = 0.0
        self._docs: list[Doc] = []
        self._error = ""
        self._lock = threading.Lock()

    def docs(self) -> tuple[list[Doc], str]:
        """Return every indexed document (sorted by source), or the error reading them."""
        with self._lock:
            try:
                key = (self.store.generation(), self.store.count())
            except RagError as e:
                return [], str(e)
            fresh = time.monotonic() - self._read_at < MIN_REREAD_S and self.indexer.progress().running
            if key != self._key and not (fresh and self._docs):
                self._docs, self._error = self._read()
                self._key, self._read_at = key, time.monotonic()
            return self._docs, self._error

    def _read(self) -> tuple[list[Doc], str]:
        counts: dict[str, list[int]] = {}
        titles: dict[str, str] = {}
        try:
            for record in self.store.iter_records():
                source = str(record.metadata.get("source", "?"))
                entry = counts.setdefault(source, [0, 0])
                entry[0] += 1
                page = record.metadata.get("page")
                if isinstance(page, int):
                    entry[1] = max(entry[1], page)
                titles.setdefault(source, str(record.metadata.get("title", "")))
        except RagError as e:
            return [], str(e)
        return [Doc(s, titles[s] or s, p, n) for s, (n, p) in sorted(counts.items())], ""

    def rows(
        self, owner: str, query: str = "", *, corpus_removable: bool = False
    ) -> tuple[list[list[str]], str, list[tuple[str, str]]]:
        """Return the rows one user sees (their uploads' states first), a summary, and what they may remove.

        What may be removed is `(label, "upload:<name>" | "corpus:<source>")`: their own uploads, and
        corpus documents when `corpus_removable` (no --auth: the one user owns the corpus too).
        """
        removable: list[tuple[str, str]] = []
        docs, error = self.docs()
        hidden = self.indexer.hidden_from(owner)
        states = {f.source: f for f in self.indexer.files(owner)}
        q = (query or "").strip().lower()
        rows: list[list[str]] = []
        for f in states.values():
            if f.state != "indexed" and (not q or q in f.source.lower()):
                rows.append([PurePosixPath(f.source).name, "", f.passages(), f.status()])
        visible = [d for d in docs if d.source not in hidden]
        shown = 0
        for d in visible:
            if q and q not in d.source.lower() and q not in d.title.lower():
                continue
            upload = self.indexer.upload_of(d.source)
            mine = states.get(upload.source) if upload is not None else None
            if mine is not None and mine.state != "indexed":
                continue  # its status row above says how far it is: not listed twice
            if shown >= MAX_ROWS:
                break
            shown += 1
            status = "corpus"
            name = d.source
            if mine is not None:
                today = time.strftime("%Y-%m-%d") == time.strftime("%Y-%m-%d", time.localtime(mine.at))
                status = "your upload, " + time.strftime(
                    "%H:%M" if today else "%Y-%m-%d", time.localtime(mine.at)
                )
                name = PurePosixPath(d.source).name
                removable.append((name, f"upload:{mine.source}"))
            elif corpus_removable:
                removable.append((name, f"corpus:{d.source}"))
            rows.append([name, str(d.pages or ""), str(d.chunks), status])
        summary = f"{len(visible):,} documents · {sum(d.chunks for d in visible):,} passages"
        if error:
            summary = error
        elif shown < len(visible) and not q:
            summary += f" (the first {shown} listed: search to find the rest)"
        return rows, summary, removable

    def titles(self, owner: str, limit: int = 12) -> list[str]:
        """Return titles of indexed documents this user may see (for example questions)."""
        docs, _ = self.docs()
        hidden = self.indexer.hidden_from(owner)
        return [d.title for d in docs if d.source not in hidden][:limit]
