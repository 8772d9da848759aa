"""Fault injection: kill -9 an ingest at each write point, re-ingest, and get exactly a clean ingest's index.

Also: a serving process (a `Retriever` held open, as `rag serve` holds it) answers through another
process's `rag ingest --reset` and sees the files another process adds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag import RagError, ingest, open_retriever
from rag.embeddings import LocalEmbeddings
from rag.lexical import BM25Index, side_index_dir
from rag.retrieve import STALE_CHECK_SECONDS
from rag.settings import Settings
from rag.store import Store
from tests.conftest import ROOT

WORDS = "reactor summit treaty envoy sanctions missile talks delegation border harbour".split()


def _write_corpus(folder: Path, version: int) -> None:
    """Version 1, then version 2: one file edited (same chunk count), twelve added, one deleted."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(10):
        words = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(6))
        (folder / f"f{i:02d}.txt").write_text(f"File {i} tells of the {words} number {i}.\n")
    (folder / "long.md").write_text(
        "\n\n".join(f"Paragraph {p} of the long file: {' '.join(WORDS)} {p}." * 3 for p in range(12)) + "\n"
    )
    if version == 2:
        (folder / "f03.txt").write_text("File 3 now tells of a zebra crossing in Pyongyang.\n")
        (folder / "f09.txt").unlink()
        for i in range(10, 22):
            (folder / f"f{i:02d}.txt").write_text(f"New file {i} about the ceasefire line, number {i}.\n")


def _index_state(settings: Settings) -> tuple[list[str], list[str]]:
    """Return the store's ids and the BM25 ids, checking every vector finds its own chunk first."""
    store = Store.open(settings)
    try:
        page = store.collection.get(include=["embeddings"])
        ids = sorted(page["ids"])
        assert len(ids) == len(set(ids)) == store.count()
        for id_, vector in zip(page["ids"], page["embeddings"], strict=True):
            assert store.query(list(vector), 1, with_text=False)[0].id == id_  # in the vector index
        index = BM25Index.load(side_index_dir(settings))
        assert index is not None and index.is_current(store)
        return ids, sorted(index.ids)
    finally:
        store.close()


@pytest.fixture(scope="module")
def clean_v2(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> list[str]:
    """The ids of a clean ingest of version 2."""
    base = tmp_path_factory.mktemp("clean")
    _write_corpus(base / "corpus", 2)
    settings = Settings(corpus_dir=base / "corpus", data_dir=base / "data")
    ingest(settings, embeddings=embeddings)
    ids, bm25_ids = _index_state(settings)
    assert ids == bm25_ids
    return ids


@pytest.mark.parametrize(
    ("point", "n"),
    [("mid-embed", 2), ("after-write", 2), ("before-bump", 1), ("bm25-write", 1), ("bm25-pointer", 1)],
)
def test_kill_9_at_a_write_point_then_reingest_equals_a_clean_ingest(
    tmp_path: Path, embeddings: LocalEmbeddings, clean_v2: list[str], point: str, n: int
) -> None:
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 1)
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "data")
    ingest(settings, embeddings=embeddings)
    _write_corpus(corpus, 2)

    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus), "RAG_DATA_DIR": str(settings.data_dir)}
    child = subprocess.run(
        [sys.executable, "-m", "tests.fault_child", point, str(n)], env=env, cwd=ROOT, timeout=300
    )
    assert child.returncode == -signal.SIGKILL, f"the ingest was not killed at {point}"

    report = ingest(settings, embeddings=embeddings)
    ids, bm25_ids = _index_state(settings)
    assert ids == clean_v2  # none missing, none extra (ids are unique keys)
    assert bm25_ids == clean_v2  # BM25 = Chroma = vector
    assert report.chunks_total == len(clean_v2)
    assert ingest(settings, embeddings=embeddings).chunks_embedded == 0
    leftovers = [p.name for p in side_index_dir(settings).iterdir() if p.name.startswith(".")]
    assert leftovers == []


def _rag(env: dict[str, str], *args: str) -> None:
    rag = Path(sys.executable).parent / "rag"
    subprocess.run([str(rag), *args, "-q"], env=env, check=True, timeout=300)


def test_a_serving_retriever_answers_through_another_process_reset_and_sees_its_files(
    make_settings: Callable[..., Settings], tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 1)
    settings = make_settings(corpus_dir=corpus)
    ingest(settings, embeddings=embeddings)
    retriever = open_retriever(settings, embeddings)  # what `rag serve` holds for its whole life
    assert retriever.search("treaty envoy", mode="vector")
    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus), "RAG_DATA_DIR": str(settings.data_dir)}
    if settings.chroma_url:
        env |= {"RAG_CHROMA_URL": settings.chroma_url, "RAG_COLLECTION": settings.collection}

    # Another process adds a file: vector search (not only BM25) finds it once the poll comes round.
    (corpus / "new.txt").write_text("An okapi was seen near the Yalu river bridge at dawn.\n")
    _rag(env, "ingest")
    time.sleep(STALE_CHECK_SECONDS + 0.1)
    assert retriever.search("okapi near the Yalu river", k=1, mode="vector")[0].source == "new.txt"
    assert retriever.search("okapi Yalu", k=1, mode="bm25")[0].source == "new.txt"

    # Another process resets and rebuilds the index while questions keep coming.
    failures: list[BaseException] = []
    answered: list[int] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                answered.append(len(retriever.search("treaty envoy sanctions", k=3)))
            except RagError as e:  # during the switch: one line, never a traceback
                assert "\n" not in str(e)
            except BaseException as e:  # noqa: BLE001 - collected for the assertion
                failures.append(e)
            time.sleep(0.05)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        _rag(env, "ingest", "--reset")
        time.sleep(STALE_CHECK_SECONDS + 0.1)
    finally:
        stop.set()
        asker.join(timeout=60)
    assert failures == []
    assert answered
    hits = retriever.search("okapi near the Yalu river", k=1, mode="vector")  # the rebuilt collection
    assert hits[0].source == "new.txt"
    assert retriever.search("treaty envoy sanctions", k=3, mode="hybrid")
    retriever.store.close()
    shutil.rmtree(tmp_path / "corpus")
