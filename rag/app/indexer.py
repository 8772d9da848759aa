"""Index in the background while the page serves: the corpus at start, then each upload, one job at a time.

Uploads live in a managed root, `<data dir>/uploads/<owner>/<name>`, so two users' files (or an upload
and a corpus file of the same name) never share a source id. The page reads `status()` to show live
progress and per-file states (queued / indexing / indexed / skipped: reason).
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from langchain_core.embeddings import Embeddings

from rag.documents import SUPPORTED
from rag.errors import RagError
from rag.ingest import ingest, remove
from rag.settings import Settings

log = logging.getLogger(__name__)
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


@dataclass(frozen=True)
class Progress:
    """The background index as the page shows it."""

    running: bool
    done: int
    total: int
    current: str
    error: str


class Indexer:
    """One worker thread running ingest jobs in order; state the page can poll."""

    def __init__(self, settings: Settings, embeddings: Embeddings) -> None:
        self.settings, self.embeddings = settings, embeddings
        self.root = uploads_root(settings)
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        self._lock = threading.Lock()
        self._files: dict[str, FileState] = {}
        self._progress = Progress(False, 0, 0, "", "")
        self._corpus_pending = False
        self.last_report: object = None  # the corpus index's IngestReport, once it has run
        self._scan()
        self._thread = threading.Thread(target=self._work, name="rag-indexer", daemon=True)
        self._thread.start()

    # --- what the page reads ----------------------------------------------------------------

    def progress(self) -> Progress:
        """Return the current job's progress."""
        with self._lock:
            return self._progress

    def files(self, owner: str) -> list[FileState]:
        """Return the owner's uploads and their states, newest first."""
        key = safe_name(owner)
        with self._lock:
            mine = [f for f in self._files.values() if f.owner == key]
        return sorted(mine, key=lambda f: -f.at)

    def upload_of(self, source: str) -> FileState | None:
        """Return the upload an indexed source is, None for a corpus document."""
        with self._lock:
            known = self._files.get(source) or self._files.get(source.split("/", 1)[-1])
        return known if known is not None and known.state != "removed" else None

    def owner_of(self, source: str) -> str | None:
        """Return who uploaded a source, None for a corpus document."""
        known = self.upload_of(source)
        return known.owner if known is not None else None

    def hidden_from(self, owner: str) -> set[str]:
        """Return the uploads of anyone else, as both names ingest may give them (see `same_upload`)."""
        key = safe_name(owner)
        with self._lock:
            rels = {s for s, f in self._files.items() if f.owner != key and f.state != "removed"}
        return rels | {f"{self.root.name}/{r}" for r in rels}

    def _scan(self) -> None:
        """Register the uploads already stored (after a restart) as indexed."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("*/*")):
            if path.is_file():
                source = path.relative_to(self.root).as_posix()
                at = path.stat().st_mtime
                self._files[source] = FileState(source, path.parent.name, "indexed", "", at)

    # --- jobs ------------------------------------------------------------------------------

    def sync_corpus(self) -> None:
        """Queue an incremental index of the corpus folder and the uploads root."""
        with self._lock:
            self._corpus_pending = True
            self._progress = replace(self._progress, running=True, error="")
        self._jobs.put(self._run_corpus)

    def add(self, owner: str, files: Sequence[Path]) -> list[str]:
        """Copy uploaded files into the owner's folder and queue them; return their sources."""
        key = safe_name(owner)
        folder = self.root / key
        folder.mkdir(parents=True, exist_ok=True)
        sources = []
        for path in files:
            name = safe_name(path.name)
            if Path(name).suffix not in SUPPORTED:
                continue
            target = folder / name
            n = 1
            while target.exists():  # a file a user gave us is never silently replaced
                n += 1
                target = folder / f"{Path(name).stem} ({n}){Path(name).suffix}"
            shutil.copyfile(path, target)
            source = target.relative_to(self.root).as_posix()
            sources.append(source)
            with self._lock:
                self._files[source] = FileState(source, key, "queued")
        if sources:
            self._jobs.put(lambda: self._run_uploads(sources))
        return sources

    def remove(self, owner: str, source: str) -> None:
        """Queue the removal of an upload: its chunks, then its stored file."""
        key = safe_name(owner)
        known = self.upload_of(source)
        source = known.source if known is not None else source
        if self.owner_of(source) != key:
            raise RagError("only the person who uploaded a document can remove it")
        self._set(source, key, "queued", "to be removed")
        self._jobs.put(lambda: self._run_remove(key, source))

    def remove_document(self, source: str) -> None:
        """Queue the removal of a corpus document by its source (a plain ingest won't bring it back)."""
        self._jobs.put(lambda: self._run_remove_document(source))

    def busy(self) -> bool:
        """Tell whether a job is queued or running."""
        return self._jobs.unfinished_tasks > 0

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait until every queued job is done (tests, shutdown); return whether it finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._jobs.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    # --- the worker ------------------------------------------------------------------------

    def _set(self, source: str, owner: str, state: str, detail: str = "") -> None:
        with self._lock:
            self._files[source] = FileState(source, owner, state, detail)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # the worker must outlive any one job; the job has set its state
                log.exception("background indexing failed")
            finally:
                self._jobs.task_done()

    def _ingest(self, paths: Sequence[Path] | None, on_file: Callable[[str], None]) -> object:
        indexer = self

        class _Progress:
            def start(self, files: int) -> None:
                with indexer._lock:
                    indexer._progress = Progress(True, 0, files, "", "")

            def file_done(self, source: str) -> None:
                with indexer._lock:
                    p = indexer._progress
                    indexer._progress = replace(p, done=p.done + 1, current=source)
                on_file(source)

            def embedded(self, chunks: int) -> None:
                pass

        for attempt in range(30):  # a `rag ingest` in another process holds the lock: wait our turn
            try:
                return ingest(self.settings, paths, embeddings=self.embeddings, progress=_Progress())
            except RagError as e:
                if "another `rag ingest`" not in str(e) or attempt == 29:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    def _run_corpus(self) -> None:
        with self._lock:
            self._corpus_pending = False
        try:
            self.last_report = self._ingest(None, lambda source: None)
            if self.root.is_dir() and any(self.root.iterdir()):
                self._ingest([self.root], lambda source: None)
            error = ""
        except RagError as e:
            error = str(e)
            log.warning("indexing the corpus failed: %s", e)
        with self._lock:
            self._progress = Progress(False, self._progress.done, self._progress.total, "", error)

    def _run_uploads(self, sources: list[str]) -> None:
        owners = {s: self._files[s].owner for s in sources}
        for s in sources:
            self._set(s, owners[s], "indexing")

        def done(source: str) -> None:
            for rel in owners:
                if same_upload(source, rel):
                    self._set(rel, owners[rel], "indexed")

        try:
            report = self._ingest([self.root], done)
        except RagError as e:
            for s in sources:
                self._set(s, owners[s], "skipped", str(e))
            return
        finally:
            with self._lock:
                self._progress = replace(self._progress, running=False, current="")
        for item in getattr(report, "skipped", ()):
            for rel in owners:
                if same_upload(item.path, rel) or item.path.endswith("/" + rel):
                    self._set(rel, owners[rel], "skipped", item.reason)

    def _run_remove_document(self, source: str) -> None:
        try:
            remove(self.settings, source)
        except RagError as e:
            with self._lock:
                self._progress = replace(self._progress, error=f"{source} was not removed: {e}")

    def _run_remove(self, owner: str, rel: str) -> None:
        try:
            report = remove(self.settings, self.root / rel)
        except RagError as e:
            self._set(rel, owner, "indexed", f"not removed: {e}")
            return
        (self.root / rel).unlink(missing_ok=True)
        self._set(rel, owner, "removed", f"{report.chunks_removed} passages removed")


__all__ = ["FileState", "Indexer", "Progress", "same_upload", "safe_name", "uploads_root"]
