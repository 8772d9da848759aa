"""The roots an index was given: the corpus folder and every extra file or folder, remembered on disk.

A plain `rag ingest` re-syncs all of them. A document is identified by its root and its path inside
it, so two files never share an id; its `source` (what citations show) is that path for the corpus
folder and `<label>/<path>` for another root, the label being the root's folder name.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from rag.chroma import index_key
from rag.errors import IngestError
from rag.settings import Settings

CORPUS = ""  # the corpus folder's label: its sources are plain paths, as the eval datasets cite them


@dataclass(frozen=True)
class Root:
    """A file or folder given to ingest; `label` prefixes the sources of its documents."""

    path: Path
    label: str
    follow_symlinks: bool = False

    @property
    def is_corpus(self) -> bool:
        """Tell whether this is the corpus folder (RAG_CORPUS_DIR)."""
        return self.label == CORPUS

    def rel(self, path: Path) -> str:
        """Return a path's place inside this root ("" for the root itself)."""
        if path == self.path:
            return "" if self.path.is_dir() or self.is_corpus else self.path.name
        return path.relative_to(self.path).as_posix()

    def source(self, rel: str) -> str:
        """Name a document of this root as citations show it."""
        return f"{self.label}/{rel}" if self.label else rel

    def rel_of_source(self, source: str) -> str | None:
        """Return the path inside this root a source names, None when it names another root's."""
        if not self.label:
            return source
        return source[len(self.label) + 1 :] if source.startswith(self.label + "/") else None

    def key(self, rel: str) -> str:
        """Return the name a document's chunk ids are made from: unique across roots."""
        # A corpus path is relative, another root's starts with its absolute path: they never collide.
        return rel if self.is_corpus else f"{self.path}//{rel}"


def contains(outer: Path, inner: Path) -> bool:
    """Tell whether `inner` is `outer` or lies under it."""
    return inner == outer or inner.is_relative_to(outer)


@dataclass
class Registry:
    """What is remembered between ingests: the extra roots, and what `rag remove` took out of a root."""

    file: Path
    corpus: Root
    extra: list[Root] = field(default_factory=list)
    excluded: set[tuple[str, str]] = field(default_factory=set)  # (root label, path inside it)

    @classmethod
    def load(cls, settings: Settings) -> Registry:
        """Read the registry of the configured index (empty when there is none yet)."""
        file = settings.data_dir / "roots" / f"{index_key(settings)}.json"
        corpus = Root(settings.corpus_dir.expanduser().resolve(), CORPUS)
        try:
            data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(file, corpus)
        except (OSError, ValueError) as e:
            raise IngestError(f"cannot read the list of indexed folders {file}: {e}; fix or delete it") from e
        extra = [
            Root(Path(r["path"]), str(r["label"]), bool(r.get("follow_symlinks"))) for r in data["roots"]
        ]
        excluded = {(str(x["root"]), str(x["path"])) for x in data.get("excluded", [])}
        corpus = replace(corpus, follow_symlinks=bool(data.get("corpus_follow_symlinks")))
        return cls(file, corpus, extra, excluded)

    def save(self) -> None:
        """Write the registry atomically (a crash leaves the old one)."""
        data = {
            "roots": [
                {"path": str(r.path), "label": r.label, "follow_symlinks": r.follow_symlinks}
                for r in self.extra
            ],
            "excluded": [{"root": a, "path": b} for a, b in sorted(self.excluded)],
            "corpus_follow_symlinks": self.corpus.follow_symlinks,
        }
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f".{self.file.name}-{uuid.uuid4().hex}")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.file)

    @property
    def roots(self) -> list[Root]:
        """Every root: the corpus folder first."""
        return [self.corpus, *self.extra]

    def by_label(self, label: str) -> Root | None:
        """Return the root a label names (the first, for file roots sharing a folder's label)."""
        return next((r for r in self.roots if r.label == label), None)

    def owner(self, path: Path) -> Root | None:
        """Return the innermost root holding `path` (resolved), if any."""
        holders = [r for r in self.roots if contains(r.path, path)]
        return max(holders, key=lambda r: len(r.path.parts), default=None)

    def nested(self, root: Root) -> list[Path]:
        """Return the other roots inside `root`: its walk leaves them to themselves."""
        return [r.path for r in self.roots if r.path != root.path and contains(root.path, r.path)]

    def excluded_in(self, root: Root) -> set[str]:
        """Return the paths `rag remove` took out of a root."""
        return {p for label, p in self.excluded if label == root.label}

    def include(self, root: Root, rel: str) -> None:
        """Forget the exclusions at or under `rel` (the path is being ingested explicitly again)."""
        self.excluded = {
            (label, p)
            for label, p in self.excluded
            if label != root.label or not (rel == "" or p == rel or p.startswith(rel + "/"))
        }

    def add(self, path: Path, follow_symlinks: bool) -> Root:
        """Register a new root; its label is its folder's name, made unique among the roots."""
        base = _base(path)
        same_base = next((r.label for r in self.extra if _base(r.path) == base), None)
        label = same_base or _free_label(base.name or "root", self._taken(), self.corpus.path)
        root = Root(path, label, follow_symlinks)
        self.extra.append(root)
        return root

    def forget(self, root: Root) -> None:
        """Unregister a root (the corpus folder is excluded instead: it comes from the settings)."""
        if root.is_corpus:
            self.excluded.add((CORPUS, ""))
        else:
            self.extra = [r for r in self.extra if r.path != root.path]
            self.include(root, "")

    def _taken(self) -> set[str]:
        return {r.label for r in self.extra}


def _base(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _free_label(name: str, taken: Iterable[str], corpus: Path) -> str:
    """Pick `name`, or `name-2`, `name-3`, ... : unused by other roots and by the corpus's top level."""
    used = set(taken)
    label, n = name, 1
    while label in used or (corpus / label).exists():
        n += 1
        label = f"{name}-{n}"
    return label


def absolute(path: Path) -> Path:
    """Make a path a user gave absolute, its folders resolved; a file's own symlink is kept to be judged."""
    path = Path(os.path.abspath(path.expanduser()))
    return path.resolve() if path.is_dir() else path.parent.resolve() / path.name


@contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """Hold the lock that lets one process at a time write this index; refuse when another holds it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.data_dir / "ingest.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise IngestError(
            f"another `rag ingest` is writing to this index (lock {lock.lock_file}); "
            "wait for it to finish and run again"
        ) from None
    try:
        yield
    finally:
        lock.release()
