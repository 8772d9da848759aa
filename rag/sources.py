"""Where documents come from: the files under the paths given to ingest, named as users see them.

Only regular files are read. A symlink is followed when its target stays inside an indexed root (or
with `--follow-symlinks`); a FIFO, a device, a socket, a loop or a broken link is skipped with one
line, never opened: a FIFO would block ingest forever and `/dev/zero` would never end.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rag.documents import SUPPORTED, Skipped
from rag.roots import Registry, Root, absolute, contains

_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)
OUTSIDE = "symbolic link to {what} outside the indexed folders (--follow-symlinks follows it)"


def source_name(path: Path, root: Path, corpus_dir: Path) -> str:
    """Name a file as users see it: relative to the corpus dir, else to the folder it came from."""
    resolved = path.resolve()
    for base in (corpus_dir.resolve(), root.resolve()):
        if resolved.is_relative_to(base) and resolved != base:
            return resolved.relative_to(base).as_posix()
    return path.name


def unreadable(path: Path, inside: Sequence[Path], follow: bool) -> str | None:
    """Return why `path` must not be read (not a regular file, a link leaving the roots), or None."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            info = os.stat(path)
            target = Path(os.path.realpath(path))
            if not follow and not any(contains(root, target) for root in inside):
                return OUTSIDE.format(what="a file" if stat.S_ISREG(info.st_mode) else "something")
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "cannot read (symbolic link loop)"
        if e.errno == errno.ENOENT:
            return "cannot read (broken symbolic link)"
        return f"cannot read ({e.strerror or e})"
    for test, kind in _KINDS:
        if test(info.st_mode):
            return f"not a regular file ({kind})"
    return None


def _walk(top: Path, follow: bool, prune: Sequence[Path]) -> Iterator[tuple[Path, bool]]:
    """Yield (path, is a symlinked folder) under `top`: sorted, hidden names and `prune` left out."""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(top, followlinks=follow):
        here = Path(dirpath)
        if follow:  # a symlinked folder can loop back: walk each real folder once
            real = os.path.realpath(here)
            if real in seen:
                dirnames[:] = []
                continue
            seen.add(real)
        kept = []
        for d in sorted(dirnames):
            path = here / d
            if d.startswith(".") or path in prune:
                continue
            if not follow and path.is_symlink():
                yield path, True
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            if not name.startswith(".") and path not in prune:
                yield path, False


@dataclass(frozen=True)
class Found:
    """One indexable file: where it is, its root, and its path inside that root."""

    path: Path
    root: Root
    rel: str

    @property
    def source(self) -> str:
        """Name it as citations show it."""
        return self.root.source(self.rel)


@dataclass(frozen=True)
class Scan:
    """What a walk of one root (or of a folder or file inside it) found and skipped."""

    root: Root
    start: str  # the walked path inside the root ("" for all of it)
    files: tuple[Found, ...]
    skipped: tuple[Skipped, ...]
    whole_folder: bool  # a folder was walked: documents indexed under `start` but not found are gone


def scan(
    root: Root, start: Path, *, inside: Sequence[Path], prune: Sequence[Path], excluded: set[str]
) -> Scan:
    """Find the indexable files of `root` at or under `start`, each named relative to the root."""
    rel_start = root.rel(start)
    files: list[Found] = []
    skipped: list[Skipped] = []

    def take(path: Path) -> None:
        rel = root.rel(path)
        if any(rel == x or rel.startswith(x + "/") for x in excluded if x):
            return
        name = root.source(rel)
        if path.suffix.lower() not in SUPPORTED:
            skipped.append(Skipped(name, f"unsupported file type {path.suffix or '(none)'}"))
            return
        reason = unreadable(path, inside, root.follow_symlinks)
        if reason is not None:
            skipped.append(Skipped(name, reason))
        else:
            files.append(Found(path, root, rel))

    if not start.is_dir():
        take(start)
        return Scan(root, rel_start, tuple(files), tuple(skipped), whole_folder=False)
    for path, linked_folder in _walk(start, root.follow_symlinks, prune):
        if linked_folder:
            if not any(contains(r, Path(os.path.realpath(path))) for r in inside):
                skipped.append(Skipped(root.source(root.rel(path)), OUTSIDE.format(what="a folder")))
        else:
            take(path)
    return Scan(root, rel_start, tuple(files), tuple(skipped), whole_folder=True)


@dataclass(frozen=True)
class Discovery:
    """The files found under the given paths, what was skipped, and the folders scanned whole."""

    files: tuple[tuple[Path, str], ...]
    skipped: tuple[Skipped, ...]
    folders: tuple[str, ...]  # source prefixes of corpus folders scanned whole


def _folder_prefix(root: Path, corpus_dir: Path) -> str | None:
    """Return the source prefix of a folder inside the corpus, None for a folder outside it."""
    resolved, base = root.resolve(), corpus_dir.resolve()
    if resolved == base:
        return ""
    if resolved.is_relative_to(base):
        return resolved.relative_to(base).as_posix() + "/"
    return None


def discover(paths: Sequence[Path], corpus_dir: Path, *, follow_symlinks: bool = False) -> Discovery:
    """Find indexable files under `paths` (files or folders), named relative to the corpus or their folder.

    Evals and benchmarks use this to list a corpus; ingest walks its roots with `scan`.
    """
    files: dict[str, Path] = {}
    skipped: list[Skipped] = []
    folders: list[str] = []
    for given in paths:
        if not given.exists():
            skipped.append(Skipped(str(given), "no such file or folder"))
            continue
        start = absolute(given)
        top = start if start.is_dir() else start.parent
        inside = corpus_dir.resolve()
        root = Root(inside if contains(inside, top) else top, "", follow_symlinks)
        found = scan(root, start, inside=[inside, top], prune=[], excluded=set())
        if found.whole_folder:
            prefix = _folder_prefix(given, corpus_dir)
            if prefix is not None:
                folders.append(prefix)
            if not found.files:
                skipped.append(Skipped(str(given), f"no supported documents ({' '.join(SUPPORTED)})"))
        for f in found.files:
            files.setdefault(f.rel, f.path)
        skipped.extend(found.skipped)
    return Discovery(
        files=tuple((files[name], name) for name in sorted(files)),
        skipped=tuple(skipped),
        folders=tuple(folders),
    )


def plan(
    registry: Registry, paths: Sequence[Path] | None, follow: bool
) -> tuple[list[Scan], list[Skipped], list[Root]]:
    """Decide what ingest walks: every root, or the paths given (registering those outside every root)."""
    scans: list[Scan] = []
    notes: list[Skipped] = []
    missing: list[Root] = []
    targets = []
    if not paths:
        for root in registry.roots:
            if (root.label, "") in registry.excluded:
                continue
            if follow and root.is_corpus and not root.follow_symlinks:
                root = registry.corpus = replace(root, follow_symlinks=True)
            if root.path.exists() or root.path.is_symlink():
                targets.append((root, root.path))
            else:
                missing.append(root)
    for given in paths or ():
        path = absolute(given)
        if not (path.exists() or path.is_symlink()):
            notes.append(Skipped(str(given), "no such file or folder"))
            continue
        root = registry.owner(path) or registry.add(path, follow)
        if follow and not root.follow_symlinks:
            root = _follow(registry, root)
        registry.include(root, root.rel(path))
        targets.append((root, path))
    inside = [r.path for r in registry.roots]
    for root, path in targets:
        excluded = registry.excluded_in(root)
        scans.append(scan(root, path, inside=inside, prune=registry.nested(root), excluded=excluded))
        notes.extend(scans[-1].skipped)
    return scans, notes, missing


def _follow(registry: Registry, root: Root) -> Root:
    followed = replace(root, follow_symlinks=True)
    if root.is_corpus:
        registry.corpus = followed
    else:
        registry.extra = [followed if r.path == root.path else r for r in registry.extra]
    return followed
