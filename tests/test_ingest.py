"""Incremental ingestion into a real Chroma: embedded on disk and a `chroma run` server alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from rag import ingest
from rag.documents import load_text
from rag.embeddings import LocalEmbeddings
from rag.errors import EmbeddingMismatchError, IngestError
from rag.lexical import BM25Index, side_index_dir
from rag.settings import Settings
from rag.store import Store
from tests.conftest import HANOI_2024, RUSSIA_2019


def _stored(settings: Settings) -> dict[str, dict]:
    store = Store.open(settings)
    return {r.id: {**r.metadata, "text": r.text} for r in store.iter_records(with_text=True)}


def test_ingest_is_incremental(
    make_settings: Callable[..., Settings], corpus: Path, embeddings: LocalEmbeddings
) -> None:
    settings = make_settings(corpus_dir=corpus)

    first = ingest(settings, embeddings=embeddings)
    assert sorted(first.indexed) == [HANOI_2024, RUSSIA_2019]
    assert first.chunks_embedded == first.chunks_total > 0
    stored = _stored(settings)
    for meta in stored.values():  # offsets point at the chunk's text in its source
        assert load_text(corpus / meta["source"])[meta["start"] : meta["end"]] == meta["text"]

    again = ingest(settings, embeddings=embeddings)
    assert again.chunks_embedded == 0
    assert sorted(again.unchanged) == [HANOI_2024, RUSSIA_2019]
    assert again.chunks_total == first.chunks_total
    assert _stored(settings) == stored

    # Edit one seed at its start: only that file is re-chunked; moved chunks keep their ids.
    edited = corpus / RUSSIA_2019
    edited.write_text("Editor's note: updated.\n\n" + edited.read_text(encoding="utf-8"), encoding="utf-8")
    after_edit = ingest(settings, embeddings=embeddings)
    assert after_edit.indexed == (RUSSIA_2019,)
    assert after_edit.unchanged == (HANOI_2024,)
    assert 0 < after_edit.chunks_embedded <= 2
    stored = _stored(settings)
    for meta in stored.values():
        assert load_text(corpus / meta["source"])[meta["start"] : meta["end"]] == meta["text"]
    assert any("Editor's note" in m["text"] for m in stored.values())

    # Delete it: its chunks go, the other file's stay.
    edited.unlink()
    after_delete = ingest(settings, embeddings=embeddings)
    assert after_delete.removed == (RUSSIA_2019,)
    assert after_delete.chunks_embedded == 0
    stored = _stored(settings)
    assert {m["source"] for m in stored.values()} == {HANOI_2024}
    assert after_delete.chunks_total == len(stored) == after_delete.chunks_total


def test_bm25_side_index_follows_the_collection(
    make_settings: Callable[..., Settings], corpus: Path, embeddings: LocalEmbeddings
) -> None:
    settings = make_settings(corpus_dir=corpus)
    ingest(settings, embeddings=embeddings)
    store = Store.open(settings)
    index = BM25Index.load(side_index_dir(settings))
    assert index is not None and index.is_current(store)
    assert sorted(index.ids) == sorted(r.id for r in store.iter_records())

    (corpus / RUSSIA_2019).unlink()
    ingest(settings, embeddings=embeddings)
    assert not index.is_current(store)  # the old one is stale ...
    fresh = BM25Index.load(side_index_dir(settings))
    assert fresh is not None and fresh.is_current(store)  # ... and ingest saved a new one
    assert sorted(fresh.ids) == sorted(r.id for r in store.iter_records())


def test_bad_files_are_skipped_with_reasons_and_the_rest_indexed(
    make_settings: Callable[..., Settings], corpus: Path, embeddings: LocalEmbeddings
) -> None:
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (corpus / "noise.txt").write_bytes(bytes(range(128, 256)) * 4)  # no encoding reads it
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "extra.md").write_text("# Extra\n\nThe Yongbyon reactor is in North Korea.\n")
    settings = make_settings(corpus_dir=corpus)

    report = ingest(settings, [corpus, corpus / "missing-folder"], embeddings=embeddings)

    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["binary.txt"] == "binary file"
    assert reasons["noise.txt"].startswith("not UTF-8 text")
    assert reasons["notes.docx"].startswith("unreadable Word file (")
    assert reasons["broken.pdf"].startswith("unreadable PDF")
    assert reasons[str(corpus / "missing-folder")] == "no such file or folder"
    assert sorted(report.indexed) == [HANOI_2024, RUSSIA_2019, "sub/extra.md"]
    assert {m["source"] for m in _stored(settings).values()} == {HANOI_2024, RUSSIA_2019, "sub/extra.md"}


def test_empty_folder_indexes_nothing_and_says_so(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    report = ingest(Settings(corpus_dir=empty, data_dir=tmp_path / "d"), embeddings=embeddings)
    assert report.chunks_total == 0
    assert [s.reason for s in report.skipped] == [
        "no supported documents (.txt .md .markdown .html .htm .pdf .docx .pptx .xlsx .csv .tsv .epub)"
    ]


def test_missing_corpus_folder_is_one_clear_error(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    with pytest.raises(IngestError, match="corpus folder .* does not exist"):
        ingest(Settings(corpus_dir=tmp_path / "nope", data_dir=tmp_path / "d"), embeddings=embeddings)


def test_folder_outside_the_corpus_adds_but_never_removes(
    tmp_path: Path, corpus: Path, embeddings: LocalEmbeddings
) -> None:
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "d")
    ingest(settings, embeddings=embeddings)
    other = tmp_path / "other"
    other.mkdir()
    (other / "extra.txt").write_text("Pyongyang hosted a delegation.\n")
    report = ingest(settings, [other], embeddings=embeddings)
    assert report.indexed == ("other/extra.txt",)  # named by its root's folder: it can't shadow a corpus file
    assert report.removed == ()
    assert {m["source"] for m in _stored(settings).values()} == {HANOI_2024, RUSSIA_2019, "other/extra.txt"}
    again = ingest(settings, embeddings=embeddings)  # a plain ingest re-syncs every root it was given
    assert again.removed == () and "other/extra.txt" in again.unchanged


def test_index_built_with_another_model_is_refused(
    make_settings: Callable[..., Settings], corpus: Path, embeddings: LocalEmbeddings
) -> None:
    settings = make_settings(corpus_dir=corpus)
    ingest(settings, embeddings=embeddings)
    other = make_settings(corpus_dir=corpus, embedding="openai", openai_api_key="sk-test-not-used")
    with pytest.raises(EmbeddingMismatchError, match="rag ingest --reset"):
        Store.open(other)
    # --reset rebuilds it with the configured model.
    rebuilt = ingest(settings, embeddings=embeddings, reset=True)
    assert rebuilt.chunks_embedded == rebuilt.chunks_total > 0


def test_a_second_ingest_while_one_runs_is_refused(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    settings = Settings(data_dir=tmp_path / "d", corpus_dir=tmp_path)
    (tmp_path / "d").mkdir()
    with (
        FileLock(str(tmp_path / "d" / "ingest.lock")),
        pytest.raises(IngestError, match="another `rag ingest`"),
    ):
        ingest(settings, embeddings=embeddings)
