"""Roots: what `rag ingest PATH` remembers, what a plain ingest re-syncs, and what `rag remove` takes out."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from typer.testing import CliRunner

from rag import ingest
from rag.cli import app
from rag.errors import IngestError
from rag.ingest import remove, source_of
from rag.settings import Settings
from rag.store import Store

FAKE = DeterministicFakeEmbedding(size=384)  # these tests are about ids and files, not meaning


def _sources(settings: Settings) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for r in Store.open(settings).iter_records(with_text=True):
        found.setdefault(str(r.metadata["source"]), set()).add(r.text)
    return found


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("The corpus file a speaks of Yongbyon.\n")
    (folder / "b.txt").write_text("The corpus file b speaks of Hanoi.\n")
    return folder


def test_a_file_given_once_is_kept_by_later_plain_ingests(tmp_path: Path, corpus: Path) -> None:
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "d")
    notes = tmp_path / "home" / "notes"
    notes.mkdir(parents=True)
    (notes / "x.md").write_text("# Notes\n\nA note about Pyongyang.\n")
    ingest(settings, embeddings=FAKE)
    added = ingest(settings, [notes / "x.md"], embeddings=FAKE)
    assert added.indexed == ("notes/x.md",)
    for _ in range(2):  # `rag ingest` and `rag serve` both run a plain ingest
        again = ingest(settings, embeddings=FAKE)
        assert again.removed == ()
        assert sorted(again.unchanged) == ["a.txt", "b.txt", "notes/x.md"]
    assert source_of(settings, notes / "x.md") == "notes/x.md"

    # A plain ingest re-syncs the remembered root: an edit is picked up without naming it again.
    (notes / "x.md").write_text("# Notes\n\nA note about Pyongyang, edited.\n")
    assert ingest(settings, embeddings=FAKE).indexed == ("notes/x.md",)


def test_a_file_named_like_a_corpus_file_never_replaces_it(tmp_path: Path, corpus: Path) -> None:
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "d")
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("Another a.txt, about something else entirely.\n")
    ingest(settings, embeddings=FAKE)
    ingest(settings, [other], embeddings=FAKE)
    found = _sources(settings)
    assert found["a.txt"] == {"The corpus file a speaks of Yongbyon.\n".strip()}  # the corpus file's text
    assert found["other/a.txt"] == {"Another a.txt, about something else entirely."}
    assert ingest(settings, embeddings=FAKE).removed == ()


def test_an_empty_or_missing_root_removes_nothing_and_says_so(tmp_path: Path, corpus: Path) -> None:
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "d")
    share = tmp_path / "share"
    share.mkdir()
    (share / "s.txt").write_text("A shared file on a network drive.\n")
    ingest(settings, embeddings=FAKE)
    ingest(settings, [share], embeddings=FAKE)
    total = sum(1 for _ in Store.open(settings).iter_records())

    for f in corpus.iterdir():  # the corpus share is unmounted: an empty folder
        f.rename(tmp_path / f.name)
    (share / "s.txt").rename(tmp_path / "s.txt")
    share.rmdir()  # the other root is gone altogether
    report = ingest(settings, embeddings=FAKE)
    assert report.removed == () and report.chunks_removed == 0 and report.chunks_total == total
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons[str(corpus)].startswith("no supported documents")
    assert reasons[str(corpus)].endswith(
        f"its 2 indexed documents are kept (`rag remove {corpus}` drops them)"
    )
    assert (
        reasons[str(share)]
        == f"missing; nothing removed: its 1 indexed documents are kept (`rag remove {share}` drops them)"
    )
    assert all("\n" not in r for r in reasons.values())


def test_remove_a_document_a_folder_or_a_root(tmp_path: Path, corpus: Path) -> None:
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "d")
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    for name in ("n1.txt", "n2.txt", "sub/n3.txt", "sub/n4.txt", "sub/n5.txt"):
        (notes / name).write_text(f"Note {name} about the summit.\n")
    ingest(settings, embeddings=FAKE)
    ingest(settings, [notes], embeddings=FAKE)

    # By source, as citations show it: gone, and a plain ingest does not bring it back.
    report = remove(settings, "a.txt")
    assert report.removed == ("a.txt",) and report.chunks_removed == 1
    assert "a.txt" not in ingest(settings, embeddings=FAKE).indexed
    assert "a.txt" not in _sources(settings)
    # Naming it to ingest again does.
    assert ingest(settings, [corpus / "a.txt"], embeddings=FAKE).indexed == ("a.txt",)

    # A folder inside a root, by path: three documents are "a few", removed without asking.
    asked: list[tuple[str, ...]] = []
    sub = remove(settings, notes / "sub", confirm=lambda sources: asked.append(sources) is None)
    assert asked == [] and sub.removed == ("notes/sub/n3.txt", "notes/sub/n4.txt", "notes/sub/n5.txt")

    # A whole root: forgotten, so the next plain ingest leaves it alone.
    gone = remove(settings, notes)
    assert gone.removed == ("notes/n1.txt", "notes/n2.txt") and gone.forgotten == (str(notes),)
    assert sorted(_sources(settings)) == ["a.txt", "b.txt"]
    assert ingest(settings, embeddings=FAKE).indexed == ()

    with pytest.raises(IngestError, match="nothing indexed matches"):
        remove(settings, "no-such-document.txt")


def test_rag_remove_asks_before_removing_many(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(5):
        (corpus / f"d{i}.txt").write_text(f"Document {i} about the talks.\n")
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "d")
    ingest(settings, embeddings=FAKE)
    args = ["remove", str(corpus), "--corpus", str(corpus), "--data-dir", str(settings.data_dir)]
    runner = CliRunner()

    no = runner.invoke(app, args, input="n\n")
    assert no.exit_code == 1 and "Remove these 5 documents" in no.output and "nothing removed" in no.output
    assert len(_sources(settings)) == 5

    yes = runner.invoke(app, [*args, "--yes"])
    assert yes.exit_code == 0, yes.output
    assert "removed 5 documents (5 chunks)" in yes.output
    assert "Traceback" not in yes.output
    # The corpus folder itself was removed: a plain ingest leaves it out until it is named again.
    assert ingest(settings, embeddings=FAKE).chunks_total == 0
    assert len(ingest(settings, [corpus], embeddings=FAKE).indexed) == 5


def test_big_files_are_written_in_batches_under_the_clients_limit(tmp_path: Path) -> None:
    corpus = tmp_path / "big"
    corpus.mkdir()
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "d", chunk_size=16, chunk_overlap=0)
    limit = Store.open(settings, create=True).client.get_max_batch_size()  # 5,461 here
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
    lines = [" ".join(words[(i + j) % 12] for j in range(8)) + f" {i}." for i in range(limit + 200)]
    (corpus / "big.txt").write_text("\n\n".join(lines) + "\n")
    (corpus / "small.txt").write_text("A small file beside the big one.\n")

    class Recorder:
        sizes: list[int] = []

        def start(self, files: int) -> None:
            pass

        def file_done(self, source: str) -> None:
            pass

        def embedded(self, chunks: int) -> None:
            self.sizes.append(chunks)

    progress = Recorder()
    report = ingest(settings, embeddings=FAKE, progress=progress)
    assert report.chunks_total > limit  # more chunks than one write may carry ...
    assert sorted(report.indexed) == ["big.txt", "small.txt"]  # ... all stored, the other file too
    assert max(progress.sizes) <= 256  # embedded and stored as it goes, not after the whole file
    assert ingest(settings, embeddings=FAKE).chunks_embedded == 0
