"""Embed chunks and write them to the store in batches, keeping count of what the store holds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings

from rag.documents import Chunk
from rag.store import Store

if TYPE_CHECKING:
    from rag.ingest import IngestProgress

FLUSH_CHUNKS = 256  # chunks embedded per store write: big enough to batch well, small enough to resume


@runtime_checkable
class FileProgress(Protocol):
    """An ingest progress that also wants each file's share stored (the page's "indexing n%").

    Called with `chunks=0` when a file's first new chunk is queued (its total is known then), then
    with the chunks of it each store write took.
    """

    def file_embedded(self, source: str, chunks: int, total: int) -> None: ...


@dataclass
class _Batch:
    """Writes waiting to be flushed to the store."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)


class Writer:
    """Embed and write in batches; keep the set of ids the store holds (for the BM25 content check)."""

    def __init__(self, store: Store, embeddings: Embeddings, ids: set[str], progress: IngestProgress) -> None:
        self.store, self.embeddings, self.ids, self.progress = store, embeddings, ids, progress
        self.batch = _Batch()
        self.embedded = self.removed = 0
        self.changed = False
        self._source: object = None  # the file whose chunks are being added

    def add(self, chunk: Chunk, meta: dict[str, Any]) -> None:
        if meta["source"] != self._source and isinstance(self.progress, FileProgress):
            self.progress.file_embedded(str(meta["source"]), 0, int(meta["n_chunks"]))
        self._source = meta["source"]
        self.batch.ids.append(chunk.id)
        self.batch.texts.append(chunk.text)
        self.batch.metas.append(meta)
        if len(self.batch.ids) >= FLUSH_CHUNKS:  # a big file is embedded and stored as it goes
            self.flush()

    def flush(self) -> None:
        b = self.batch
        if b.ids:
            self.store.add(b.ids, b.texts, b.metas, _embed(self.embeddings, b.texts))
            self.ids.update(b.ids)
            self.embedded += len(b.ids)
            self.progress.embedded(len(b.ids))
            if isinstance(self.progress, FileProgress):  # chunks of each file in this batch, of its total
                per_file = Counter((str(m["source"]), int(m["n_chunks"])) for m in b.metas)
                for (source, total), n in per_file.items():
                    self.progress.file_embedded(source, n, total)
        if b.updates:
            self.store.update_metadata(list(b.updates), list(b.updates.values()))
        if b.deletes:
            self.store.delete(b.deletes)
            self.ids.difference_update(b.deletes)
            self.removed += len(b.deletes)
        self.changed = self.changed or bool(b.ids or b.updates or b.deletes)
        self.batch = _Batch()


def _embed(embeddings: Embeddings, texts: list[str]) -> Any:
    embed_array = getattr(embeddings, "embed_array", None)
    if embed_array is not None:
        return embed_array(texts)
    import numpy as np

    return np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
