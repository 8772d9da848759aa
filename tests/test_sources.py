"""Discovery: which files under the given paths are indexed, and what they are named."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, cast

from rag.ingest import IngestReport, ingest
from rag.settings import Settings
from rag.sources import discover


def test_discover_missing_path(tmp_path: Path) -> None:
    found = discover([tmp_path / "nope"], tmp_path)
    assert found.files == ()
    assert [(s.path, s.reason) for s in found.skipped] == [(str(tmp_path / "nope"), "no such file or folder")]
    assert found.folders == ()


def test_discover_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".hidden.txt").write_text("hidden")
    found = discover([empty], tmp_path)
    assert found.files == ()
    assert len(found.skipped) == 1
    assert found.skipped[0].path == str(empty)
    assert found.skipped[0].reason.startswith("no supported documents")
    assert ".txt" in found.skipped[0].reason


def test_discover_unsupported_types(tmp_path: Path) -> None:
    (tmp_path / "report.odt").write_bytes(b"PK\x03\x04")
    (tmp_path / "README").write_text("no suffix")
    (tmp_path / "ok.TXT").write_text("fine")
    found = discover([tmp_path], tmp_path)
    assert [name for _, name in found.files] == ["ok.TXT"]
    reasons = {s.path: s.reason for s in found.skipped}
    assert reasons == {"report.odt": "unsupported file type .odt", "README": "unsupported file type (none)"}
    direct = discover([tmp_path / "report.odt"], tmp_path)
    assert direct.files == ()
    assert [s.reason for s in direct.skipped] == ["unsupported file type .odt"]


def test_discover_names_nested_files_relative_to_the_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub" / "deeper").mkdir(parents=True)
    (corpus / ".git").mkdir()
    for rel in ("top.md", "sub/a.txt", "sub/deeper/b.html", "sub/.draft.txt", ".git/c.txt", "sub/d.pdf"):
        (corpus / rel).write_text("text")
    found = discover([corpus], corpus)
    assert [name for _, name in found.files] == ["sub/a.txt", "sub/d.pdf", "sub/deeper/b.html", "top.md"]
    assert all(path == corpus / name for path, name in found.files)
    assert found.skipped == ()
    assert found.folders == ("",)

    sub = discover([corpus / "sub"], corpus)
    assert [name for _, name in sub.files] == ["sub/a.txt", "sub/d.pdf", "sub/deeper/b.html"]
    assert sub.folders == ("sub/",)

    one = discover([corpus / "sub" / "a.txt"], corpus)
    assert [name for _, name in one.files] == ["sub/a.txt"]
    assert one.folders == ()


def test_discover_folder_outside_the_corpus_never_sweeps(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "elsewhere"
    (outside / "inner").mkdir(parents=True)
    (outside / "b.txt").write_text("b")
    (outside / "inner" / "c.md").write_text("c")
    found = discover([outside], corpus)
    assert [name for _, name in found.files] == ["b.txt", "inner/c.md"]
    assert found.folders == ()
    both = discover([corpus, outside], corpus)
    assert both.folders == ("",)


def test_discover_survives_a_symlink_loop(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "a.txt").write_text("a")
    (corpus / "sub" / "loop").symlink_to(corpus / "sub", target_is_directory=True)
    (corpus / "up").symlink_to(corpus, target_is_directory=True)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(discover([corpus], corpus)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "discover() hung on a symlink loop"
    assert [name for _, name in result[0].files] == ["sub/a.txt"]


def _corpus_linking_out(tmp_path: Path) -> Path:
    """Make corpus/a.txt and corpus/linked -> private/ (a folder outside the corpus, with secret.txt)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("a")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    (corpus / "linked").symlink_to(outside, target_is_directory=True)
    return corpus


def test_discover_does_not_follow_a_symlinked_folder_out_of_the_corpus(tmp_path: Path) -> None:
    corpus = _corpus_linking_out(tmp_path)
    found = discover([corpus], corpus)
    assert [name for _, name in found.files] == ["a.txt"]


def _ingest_in_time(settings: Settings, paths: list[Path] | None = None, **kw: Any) -> IngestReport:
    """Run ingest in a thread: a FIFO or /dev/zero must not hang it."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    result: list[Any] = []

    def run() -> None:
        try:
            result.append(ingest(settings, paths, embeddings=DeterministicFakeEmbedding(size=384), **kw))
        except BaseException as e:  # noqa: BLE001 - handed to the test below
            result.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "ingest hung on a special file"
    if isinstance(result[0], BaseException):
        raise result[0]
    return cast(IngestReport, result[0])


def test_special_files_are_skipped_with_one_line_each(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("The Yongbyon reactor is in North Korea.\n")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")  # a.txt -> a.txt
    os.mkfifo(corpus / "pipe.txt")
    (corpus / "zero.txt").symlink_to("/dev/zero")
    secret = tmp_path / "private" / "passwd.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (corpus / "passwd.txt").symlink_to(secret)
    (corpus / "inside.txt").symlink_to(corpus / "good.txt")  # stays inside the root: followed
    settings = Settings(corpus_dir=corpus, data_dir=tmp_path / "d")

    report = _ingest_in_time(settings)

    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons == {
        "loop.txt": "cannot read (symbolic link loop)",
        "pipe.txt": "not a regular file (a named pipe)",
        "zero.txt": "symbolic link to something outside the indexed folders (--follow-symlinks follows it)",
        "passwd.txt": "symbolic link to a file outside the indexed folders (--follow-symlinks follows it)",
    }
    assert sorted(report.indexed) == ["good.txt", "inside.txt"]

    # Following symlinks is a choice the root remembers; a device is still never read.
    followed = _ingest_in_time(settings, follow_symlinks=True)
    assert followed.indexed == ("passwd.txt",)
    assert {s.path: s.reason for s in followed.skipped}[
        "zero.txt"
    ] == "not a regular file (a character device)"
    assert "passwd.txt" in _ingest_in_time(settings).unchanged


def test_a_symlinked_folder_leaving_the_roots_is_named_once(tmp_path: Path) -> None:
    corpus = _corpus_linking_out(tmp_path)
    found = discover([corpus], corpus)
    assert [(s.path, s.reason) for s in found.skipped] == [
        ("linked", "symbolic link to a folder outside the indexed folders (--follow-symlinks follows it)")
    ]
    followed = discover([corpus], corpus, follow_symlinks=True)
    assert [name for _, name in followed.files] == ["a.txt", "linked/secret.txt"]
