"""Run one ingest that kills itself (SIGKILL) at a write point: `python -m tests.fault_child POINT N`.

The settings come from RAG_* variables. Points: mid-embed (inside the N-th embedding call, before
its write), after-write (right after the N-th Chroma upsert), before-bump (before the generation
bump), bm25-write (inside the BM25 save, half the version written), bm25-pointer (the new version
written, before the CURRENT pointer moves). Exits 3 if it was never killed.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import rag.lexical
import rag.store
from rag.settings import Settings

ingest_module = importlib.import_module("rag.ingest")  # `rag.ingest` is also the function rag exports
writer_module = importlib.import_module("rag.writer")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_at(owner: Any, name: str, n: int, *, after: bool) -> None:
    original: Callable[..., Any] = getattr(owner, name)
    calls = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if not after and calls[0] == n:
            _die()
        result = original(*args, **kwargs)
        if after and calls[0] == n:
            _die()
        return result

    setattr(owner, name, wrapped)


def main(point: str, n: int) -> int:
    writer_module.FLUSH_CHUNKS = 4  # many small writes, so every write point has a middle to kill in
    if point == "mid-embed":
        _kill_at(writer_module, "_embed", n, after=True)  # the vectors exist, nothing of them stored
    elif point == "after-write":
        _kill_at(rag.store.Store, "_upsert", n, after=True)
    elif point == "before-bump":
        _kill_at(rag.store.Store, "bump_generation", 1, after=False)
    elif point == "bm25-write":
        _kill_at(np, "save", 1, after=False)  # the chunk index saved, the document map not yet
    elif point == "bm25-pointer":
        replace = os.replace

        def replace_or_die(src: Any, dst: Any) -> None:
            if Path(dst).name == rag.lexical.CURRENT:
                _die()
            replace(src, dst)

        os.replace = replace_or_die  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown point {point}")
    ingest_module.ingest(Settings())
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
