"""Talking to Chroma: the client (embedded or server), its errors in one line, and the reopen lock."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from rag.errors import ConfigError, StoreError
from rag.settings import Settings


class CollectionGoneError(StoreError):
    """The collection this handle points at was deleted (another process ran `rag ingest --reset`)."""


def store_location(settings: Settings) -> str:
    """Describe where the index lives, for messages and the UI."""
    if settings.chroma_url:
        return f"Chroma server {settings.chroma_url}, collection {settings.collection!r}"
    return f"{(settings.data_dir / 'chroma').resolve()}, collection {settings.collection!r}"


def index_key(settings: Settings) -> str:
    """Name the configured collection for file names under the data dir (server and collection)."""
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return f"{url.hostname}_{url.port or 8000}_{settings.collection}"
    return settings.collection


def make_client(settings: Settings) -> Any:
    """Connect to Chroma: a server when RAG_CHROMA_URL is set, else the embedded store."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not settings.chroma_url:
        path = settings.data_dir / "chroma"
        try:
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as e:
            raise StoreError(f"cannot open the embedded Chroma store at {path}: {e}") from e
    url = urlparse(settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"RAG_CHROMA_URL must look like http://host:port, got {settings.chroma_url!r}")
    try:
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    except Exception as e:
        raise StoreError(_unreachable(settings, e)) from e


def _unreachable(settings: Settings, e: BaseException) -> str:
    return (
        f"cannot reach the Chroma server at {settings.chroma_url} ({type(e).__name__}); "
        "start it (chroma run --path DIR --host 127.0.0.1 --port PORT) or unset RAG_CHROMA_URL"
    )


def translate(settings: Settings, e: Exception) -> StoreError:
    """Name what went wrong in one line: a deleted collection, an unreachable server, or Chroma's error."""
    from chromadb.errors import ChromaError, NotFoundError

    if isinstance(e, NotFoundError) or "does not exist" in str(e):
        return CollectionGoneError(
            f"the collection {settings.collection!r} was deleted (another `rag ingest --reset`?); "
            "run `rag ingest` to rebuild it"
        )
    if settings.chroma_url and not isinstance(e, ChromaError | ValueError):
        return StoreError(_unreachable(settings, e))
    detail = " ".join(str(e).split()) or type(e).__name__
    return StoreError(f"Chroma store error at {store_location(settings)}: {detail}")


class SwapLock:
    """Many calls at once, or one reopen: a reopen never closes a client a call is still using.

    The standard library has no reader-writer lock; this is the textbook condition-variable one.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._readers:
                self._cond.wait()
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # a client that fails to close has nothing left to release
            close()
