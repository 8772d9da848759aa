"""Index in the background while the page serves: the corpus at start, then each upload, one job at a time.

Uploads live in a managed root, `<data dir>/uploads/<owner>/<name>`, so two users' files (or an upload
and a corpus file of the same name) never share a source id. The page reads `status()` to show live
progress and per-file states (queued / indexing n% / indexed / skipped: reason); an upload's share
comes from ingest's progress (its total once read, each store write) and the model's count of texts
embedded between writes.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from langchain_core.embeddings import Embeddings

from rag.app.uploads import FileState, Progress, safe_name, same_upload, uploads_root
from rag.app.watch import CountingEmbeddings, Listener
from rag.documents import SUPPORTED
from rag.errors import RagError
from rag.ingest import ingest, remove
from rag.settings import Settings

log = logging.getLogger(__name__)


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
        self._go = threading.Event()  # cleared by `hold`: `rag serve` holds the reading until its page is up
        self._go.set()
        self._find_first = True
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

    def hold(self, *, find_files: bool = True) -> None:
        """Make jobs wait until `resume()`: after finding their files, or (`find_files=False`) before."""
        self._find_first = find_files
        self._go.clear()

    def resume(self) -> None:
        """Let held jobs read and embed their files."""
        self._go.set()

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

    def _stored(self, rel: str, chunks: int, total: int) -> None:
        """Count an upload's passages just stored (ingest's `file_embedded`; 0 when it is first read)."""
        with self._lock:
            f = self._files.get(rel)
            if f is not None and f.state == "indexing":
                stored = min(f.stored + chunks, total)
                self._files[rel] = replace(f, stored=stored, embedded=max(f.embedded, stored), chunks=total)

    def _counted(self, order: Sequence[str], n: int) -> None:
        """Count `n` passages just embedded: the uploads' in the order ingest read them."""
        with self._lock:
            for rel in order:
                f = self._files.get(rel)
                if n <= 0 or f is None or f.state != "indexing" or f.embedded >= f.chunks:
                    continue
                take = min(n, f.chunks - f.embedded)
                self._files[rel], n = replace(f, embedded=f.embedded + take), n - take

    def _ingest(self, paths: Sequence[Path] | None, uploads: Sequence[str] = ()) -> object:
        progress = Listener(self, uploads)
        embeddings = CountingEmbeddings(self.embeddings, progress.texts_embedded)
        for attempt in range(30):  # a `rag ingest` in another process holds the lock: wait our turn
            try:
                report = ingest(self.settings, paths, embeddings=embeddings, progress=progress)
                with self._lock:  # all written, the last batch's files too
                    self._progress = replace(self._progress, done=self._progress.total)
                return report
            except RagError as e:
                if "another `rag ingest`" not in str(e) or attempt == 29:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    def _run_corpus(self) -> None:
        with self._lock:
            self._corpus_pending = False
            held = not self._go.is_set() and not self._find_first
            self._progress = Progress(True, 0, 0, "", "", 0, waiting=held)  # the last job's figures go
        if held:  # an index to check: reading its records would hold the GIL the page's start needs
            self._go.wait()
            with self._lock:
                self._progress = replace(self._progress, waiting=False)
        try:
            self.last_report = self._ingest(None)
            if self.root.is_dir() and any(self.root.iterdir()):
                self._ingest([self.root])
            error = ""
        except RagError as e:
            error = str(e)
            log.warning("indexing the corpus failed: %s", e)
        with self._lock:
            p = self._progress
            self._progress = Progress(False, p.done, p.total, "", error, p.passages)

    def _run_uploads(self, sources: list[str]) -> None:
        owners = {s: self._files[s].owner for s in sources}
        for s in sources:
            self._set(s, owners[s], "indexing")
        with self._lock:
            self._progress = replace(self._progress, passages=0)
        try:
            report = self._ingest([self.root], sources)
        except RagError as e:
            for s in sources:
                self._set(s, owners[s], "skipped", str(e))
            return
        finally:
            with self._lock:
                self._progress = replace(self._progress, running=False, current="")
        for s in sources:  # ingest has returned: every passage is written, the rest is done
            if self._files[s].state == "indexing":
                self._set(s, owners[s], "indexed")
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
