"""Take documents out of the index on purpose: a root, a folder or file inside one, or a source by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IngestError
from rag.lexical import ids_digest, open_bm25
from rag.roots import Registry, Root, absolute, ingest_lock
from rag.settings import Settings
from rag.store import Store

CONFIRM_ABOVE = 3  # `rag remove` asks before removing more documents than this (unless --yes)

Docs = dict[tuple[str | None, str], list[str]]  # (root label, source) -> chunk ids


@dataclass(frozen=True)
class RemoveReport:
    """What one removal did."""

    removed: tuple[str, ...]  # the sources taken out
    chunks_removed: int
    chunks_total: int
    forgotten: tuple[str, ...]  # roots a plain ingest no longer re-syncs
    cancelled: bool = False


def source_of(settings: Settings, path: Path) -> str:
    """Return the source a file is indexed as, or will be once `ingest(settings, [path])` indexes it."""
    registry = Registry.load(settings)
    where = absolute(path)
    root = registry.owner(where) or registry.add(where, follow_symlinks=False)
    return root.source(root.rel(where))


def remove(
    settings: Settings, target: str | Path, *, confirm: Callable[[tuple[str, ...]], bool] | None = None
) -> RemoveReport:
    """Remove a root, a file or folder inside one (by path), or a document by its source name.

    A root is forgotten (a plain ingest no longer re-syncs it); a file that still exists inside a
    root is remembered as removed, so the next plain ingest does not bring it back (`rag ingest PATH`
    does). `confirm(sources)` is asked before more than CONFIRM_ABOVE documents go; False cancels.
    """
    with ingest_lock(settings):
        registry = Registry.load(settings)
        store = Store.open(settings)
        try:
            docs: Docs = {}
            for record in store.iter_records():
                root = record.metadata.get("root")
                key = (None if root is None else str(root), str(record.metadata.get("source", "")))
                docs.setdefault(key, []).append(record.id)
            matched, forget = _match(registry, str(target), docs)
            if not matched and not forget:
                raise IngestError(
                    f"nothing indexed matches {str(target)!r}: give a path inside an indexed folder, or a "
                    "source as `rag search` shows it"
                )
            sources = tuple(sorted({source for _, source in matched}))
            if confirm is not None and len(sources) > CONFIRM_ABOVE and not confirm(sources):
                return RemoveReport((), 0, store.count(), (), cancelled=True)
            ids = [i for key in matched for i in docs[key]]
            store.delete(ids)
            for root in forget:
                registry.forget(root)
            for label, source in matched:
                _exclude_if_present(registry, label, source, forget)
            registry.save()
            if ids:
                store.bump_generation()
            gone = set(ids)
            open_bm25(store, settings, ids_digest(i for key in docs for i in docs[key] if i not in gone))
            return RemoveReport(sources, len(ids), store.count(), tuple(str(r.path) for r in forget))
        finally:
            store.close()


def _match(registry: Registry, target: str, docs: Docs) -> tuple[list[tuple[str | None, str]], list[Root]]:
    """Return the documents `target` names and the roots it names whole."""
    where = absolute(Path(target))
    roots = [r for r in registry.roots if r.path == where]
    if not roots:
        roots = [r for r in registry.extra if r.label == target.rstrip("/")]
    if roots:
        return [key for key in docs if any(_of_root(r, registry, key) for r in roots)], roots
    owner = registry.owner(where)
    if owner is not None:
        rel = owner.rel(where)
        found = [key for key in docs if _of_root(owner, registry, key) and _under(owner, key[1], rel)]
        if found:
            return found, []
    name = target.strip("/")
    return [key for key in docs if key[1] == name or key[1].startswith(name + "/")], []


def _of_root(root: Root, registry: Registry, key: tuple[str | None, str]) -> bool:
    label, source = key
    if label != root.label and not (root.is_corpus and label is None):
        return False
    shared = sum(r.label == root.label for r in registry.roots) > 1  # file roots of one folder
    return not shared or root.path.is_dir() or root.rel_of_source(source) == root.path.name


def _under(root: Root, source: str, rel: str) -> bool:
    inner = root.rel_of_source(source)
    return inner is not None and (not rel or inner == rel or inner.startswith(rel + "/"))


def _exclude_if_present(registry: Registry, label: str | None, source: str, forgotten: list[Root]) -> None:
    """Remember a removed document whose file is still in its root, so re-syncing won't re-add it."""
    root = registry.by_label(label or "")
    if root is None or root in forgotten:
        return
    rel = root.rel_of_source(source)
    if rel is None:
        return
    path = root.path / rel if root.path.is_dir() else root.path
    if path.exists():
        registry.excluded.add((root.label, rel))
