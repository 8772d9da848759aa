"""Uploads' names and states: where an upload is stored, how its source is named, what the page shows."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.settings import Settings

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(name: str) -> str:
    """Sanitise an uploaded file's name: no folders, no leading dots, printable ASCII-ish, bounded."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = _UNSAFE.sub("_", stem).strip(" ._") or "document"
    return stem[:100] + suffix


def same_upload(source: str, rel: str) -> bool:
    """Tell whether an indexed source is the upload at `rel` (`<owner>/<name>` under the root).

    Ingest names an upload `<root label>/<owner>/<name>` (the label is the root folder's name), or
    `<owner>/<name>` where roots are not labelled; both are accepted.
    """
    return source == rel or source.split("/", 1)[-1] == rel


def uploads_root(settings: Settings) -> Path:
    """The managed root uploads are stored in."""
    return settings.data_dir / "uploads"


@dataclass(frozen=True)
class FileState:
    """What happened to one uploaded file."""

    source: str
    owner: str
    state: str  # queued | indexing | indexed | skipped | removed
    detail: str = ""
    at: float = field(default_factory=time.time)
    embedded: int = 0  # while indexing: its passages embedded so far, of `chunks`
    chunks: int = 0  # 0: not known yet (not read yet)
    stored: int = 0  # of those, written to the store

    def status(self) -> str:
        """Say what is happening to the file: "queued", "indexing 40%", "skipped: why"."""
        if self.state == "indexing":
            return f"indexing {100 * self.embedded // self.chunks if self.chunks else 0}%"
        return f"{self.state}: {self.detail}" if self.detail else self.state

    def passages(self) -> str:
        """Its passages embedded so far while indexing, "412 of 1,030" ("" before it is read)."""
        return f"{self.embedded:,} of {self.chunks:,}" if self.state == "indexing" and self.chunks else ""


@dataclass(frozen=True)
class Progress:
    """The background index as the page shows it."""

    running: bool
    done: int  # files of the job in the store (or unchanged, or skipped)
    total: int
    current: str  # the file being read
    error: str
    passages: int = 0  # embedded by this job so far
    waiting: bool = False  # files found, held until the page is up (`Indexer.hold`)


__all__ = ["FileState", "Progress", "safe_name", "same_upload", "uploads_root"]
