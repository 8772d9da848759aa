"""Where documents come from: the files under the paths given to ingest, named as users see them."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.documents import SUPPORTED, Skipped


def source_name(path: Path, root: Path, corpus_dir: Path) -> str:
    """Name a file as users see it: relative to the corpus dir, else to the folder it came from."""
    resolved = path.resolve()
    for base in (corpus_dir.resolve(), root.resolve()):
        if resolved.is_relative_to(base) and resolved != base:
            return resolved.relative_to(base).as_posix()
    return path.name


def _walk(root: Path) -> Iterator[Path]:
    # followlinks=False: a symlinked folder could loop or leave the corpus.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


@dataclass(frozen=True)
class Discovery:
    """The files found under the given paths, what was skipped, and the folders scanned whole."""

    files: tuple[tuple[Path, str], ...]
    skipped: tuple[Skipped, ...]
    # Corpus folders scanned whole: indexed files under them that are gone get removed. Folders
    # outside the corpus never remove anything (an empty or unmounted one would wipe the index).
    folders: tuple[str, ...]


def _folder_prefix(root: Path, corpus_dir: Path) -> str | None:
    """Return the source prefix of a folder inside the corpus, None for a folder outside it."""
    resolved, base = root.resolve(), corpus_dir.resolve()
    if resolved == base:
        return ""
    if resolved.is_relative_to(base):
        return resolved.relative_to(base).as_posix() + "/"
    return None


def discover(paths: Sequence[Path], corpus_dir: Path) -> Discovery:
    """Find indexable files under `paths` (files or folders), naming each as users will see it."""
    files: dict[str, Path] = {}
    skipped: list[Skipped] = []
    folders: list[str] = []
    for root in paths:
        if not root.exists():
            skipped.append(Skipped(str(root), "no such file or folder"))
        elif root.is_dir():
            prefix = _folder_prefix(root, corpus_dir)
            if prefix is not None:
                folders.append(prefix)
            found = 0
            for path in _walk(root):
                name = source_name(path, root, corpus_dir)
                if path.suffix.lower() in SUPPORTED:
                    files.setdefault(name, path)
                    found += 1
                else:
                    skipped.append(Skipped(name, f"unsupported file type {path.suffix or '(none)'}"))
            if not found:
                skipped.append(Skipped(str(root), f"no supported documents ({' '.join(SUPPORTED)})"))
        elif root.suffix.lower() in SUPPORTED:
            files.setdefault(source_name(root, root.parent, corpus_dir), root)
        else:
            skipped.append(Skipped(str(root), f"unsupported file type {root.suffix or '(none)'}"))
    return Discovery(
        files=tuple((files[name], name) for name in sorted(files)),
        skipped=tuple(skipped),
        folders=tuple(folders),
    )
