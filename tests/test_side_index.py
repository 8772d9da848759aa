"""The BM25 side index under crashes and concurrency: versioned saves, a content check, one rebuild."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from langchain_core.embeddings import DeterministicFakeEmbedding

from rag import ingest
from rag.lexical import BM25Index, open_bm25, side_index_dir
from rag.retrieve import open_retriever
from rag.settings import Settings
from rag.store import Store

FAKE = DeterministicFakeEmbedding(size=384)


def _corpus(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        (corpus / f"d{i}.txt").write_text(f"Document {i} is about the reactor at Yongbyon, number {i}.\n")
    return Settings(corpus_dir=corpus, data_dir=tmp_path / "d")


def _bm25_matches_store(settings: Settings) -> None:
    store = Store.open(settings)
    try:
        index = BM25Index.load(side_index_dir(settings))
        assert index is not None and index.is_current(store)
        assert sorted(index.ids) == sorted(r.id for r in store.iter_records())
    finally:
        store.close()


def test_leftovers_of_a_killed_save_are_cleaned_not_fatal(tmp_path: Path) -> None:
    settings = _corpus(tmp_path)
    ingest(settings, embeddings=FAKE)
    folder = side_index_dir(settings)
    # What a kill between the swap and the cleanup (or inside a save) of earlier versions left.
    old = folder.with_name(folder.name + ".old")
    (old / "index").mkdir(parents=True)
    (old / "state.json").write_text("{}")
    (folder.parent / ".bm25-x1y2").mkdir()
    (folder.parent / ".bm25-x1y2" / "params.index.json").write_text("{}")
    (folder / ".tmp-v-dead").mkdir()
    (folder / "v-orphan").mkdir()

    (settings.corpus_dir / "d0.txt").write_text("Document 0 now speaks of Hanoi instead.\n")
    report = ingest(settings, embeddings=FAKE)
    assert report.indexed == ("d0.txt",)
    _bm25_matches_store(settings)
    assert not old.exists() and not (folder.parent / ".bm25-x1y2").exists()
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "CURRENT" and all(n.startswith("v-") for n in names[1:]) and len(names) <= 3


def test_a_crash_before_the_generation_bump_is_caught_by_the_content_check(tmp_path: Path) -> None:
    settings = _corpus(tmp_path)
    ingest(settings, embeddings=FAKE)
    folder = side_index_dir(settings)
    saved = tmp_path / "bm25-before"
    shutil.copytree(folder, saved)
    store = Store.open(settings)
    before = store.collection.metadata
    store.close()

    # Edit a file without changing its chunk count, then put the collection's generation and the
    # side index back as they were: what a run killed after its last write, before the bump, leaves.
    (settings.corpus_dir / "d3.txt").write_text("Document 3 now mentions a zebra in Pyongyang.\n")
    ingest(settings, embeddings=FAKE)
    store = Store.open(settings)
    store.collection.modify(metadata=before)
    count = store.count()
    store.close()
    shutil.rmtree(folder)
    shutil.copytree(saved, folder)
    stale = BM25Index.load(folder)
    assert stale is not None and stale.count == count  # equal count: a count check is fooled

    report = ingest(settings, embeddings=FAKE)
    assert report.indexed == () and report.chunks_embedded == 0  # nothing to embed ...
    _bm25_matches_store(settings)  # ... but the side index was rebuilt
    hits = open_retriever(settings, FAKE).search("zebra", mode="bm25")
    assert hits and hits[0].source == "d3.txt"


def test_concurrent_rebuilds_in_one_process_never_fail_or_leak(tmp_path: Path) -> None:
    settings = _corpus(tmp_path)
    ingest(settings, embeddings=FAKE)
    store = Store.open(settings)
    errors: list[BaseException] = []
    found: list[int] = []

    def rebuild_and_search() -> None:
        try:
            for _ in range(8):
                store.bump_generation()  # stale again: every call rebuilds
                found.append(len(open_bm25(store, settings).search("Yongbyon reactor", 3)))
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=rebuild_and_search) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    store.close()
    assert errors == []
    assert found == [3] * 32
    folder = side_index_dir(settings)
    assert not list(folder.parent.glob(".bm25-*"))
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "CURRENT" and len(names) <= 3 and not any(n.startswith(".") for n in names)
    _bm25_matches_store(settings)
