"""The workspace's parts without a browser: uploads indexed in the background, scoped search, removal."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import rag
from rag.app.indexer import Indexer, safe_name
from rag.app.scope import Chains
from rag.embeddings import LocalEmbeddings
from rag.settings import Settings
from tests.conftest import SEEDS

SECRET = "The lighthouse keeper hides the spare key under the third step of the tower."


def test_safe_names_keep_uploads_inside_their_folder() -> None:
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name("C:\\\\Users\\\\x\\\\Report (final).PDF") == "Report _final.pdf"
    assert safe_name(".hidden.md") == "hidden.md" and safe_name("....txt") == "document.txt"


def test_uploads_are_indexed_scoped_to_their_owner_and_removed(
    make_settings: Callable[..., Settings], embeddings: LocalEmbeddings, tmp_path: Path
) -> None:
    settings = make_settings()
    rag.ingest(settings, embeddings=embeddings)
    indexer = Indexer(settings, embeddings)
    upload = tmp_path / "keeper notes.txt"
    upload.write_text(SECRET + "\n\nThe tower is painted white every spring.\n", encoding="utf-8")
    (tmp_path / "tool.exe").write_bytes(b"MZ")
    sources = indexer.add("ada", [upload, tmp_path / "tool.exe"])
    assert sources == ["ada/keeper notes.txt"]  # the unsupported type is not taken
    assert indexer.add("ada", [upload]) == ["ada/keeper notes (2).txt"]  # never replaces a file
    assert indexer.wait(120)
    assert {f.state for f in indexer.files("ada")} == {"indexed"}
    assert indexer.files("bob") == []

    chain = rag.build_chain(settings, embeddings=embeddings)
    chains = Chains(chain, indexer.hidden_from)
    question = "Where does the keeper hide the spare key?"
    ada = chains.get("ada", "extractive", 5, "hybrid").invoke(question)
    assert not ada.refused and "keeper notes" in ada.citations[0].source, ada.citations[0].source
    bob = chains.get("bob", "extractive", 5, "hybrid")
    assert all("keeper notes" not in h.source for h in bob.retriever.search(question, k=20))
    assert "third step" not in bob.invoke(question).text

    try:
        indexer.remove("bob", "ada/keeper notes.txt")
        raise AssertionError("bob removed ada's upload")
    except rag.RagError as e:
        assert "only the person who uploaded" in str(e)
    indexer.remove("ada", "ada/keeper notes.txt")
    indexer.remove("ada", "ada/keeper notes (2).txt")
    assert indexer.wait(120)
    assert not (settings.data_dir / "uploads" / "ada" / "keeper notes.txt").exists()
    fresh = rag.build_chain(settings, embeddings=embeddings)
    assert all("keeper notes" not in h.source for h in fresh.retriever.search(question, k=20))


def test_an_upload_shows_indexing_n_percent_while_its_passages_are_stored(
    embeddings: LocalEmbeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rag.writer.FLUSH_CHUNKS", 8)  # several store writes for one small file
    settings = Settings(corpus_dir=SEEDS, data_dir=tmp_path / "data", chunk_size=32, chunk_overlap=0)
    indexer = Indexer(settings, embeddings)
    upload = tmp_path / "ledger.txt"
    entries = (
        f"Entry {i}: the keeper logged {i} ships passing the northern cape at dawn." for i in range(120)
    )
    upload.write_text("\n\n".join(entries) + "\n", encoding="utf-8")
    (source,) = indexer.add("ada", [upload])
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        f = indexer.files("ada")[0]
        if not seen or seen[-1] != (f.status(), f.passages()):
            seen.append((f.status(), f.passages()))
        if f.state == "indexed":
            break
        time.sleep(0.002)
    assert seen[-1] == ("indexed", ""), seen
    assert seen[0] == ("queued", "") and seen[1][0] == "indexing 0%", seen
    shares = [int(m.group(1)) for s, _ in seen if (m := re.fullmatch(r"indexing (\d+)%", s))]
    assert any(0 < s < 100 for s in shares) and shares == sorted(shares), seen
    counts = [tuple(map(int, m.groups())) for _, n in seen if (m := re.fullmatch(r"(\d+) of (\d+)", n))]
    assert counts and len({total for _, total in counts}) == 1 and all(0 <= n <= t for n, t in counts), seen
    assert [n * 100 // t for n, t in counts] == shares[-len(counts) :], seen  # the share is of those counts
    assert {f.source for f in indexer.files("ada")} == {source}
    store = rag.build_chain(settings, embeddings=embeddings).retriever.store
    assert store.count() == counts[0][1], seen  # only the upload was indexed: all its passages are stored


def test_bench_workspace_pdf_and_its_budget_rows(tmp_path: Path) -> None:
    from bench.workspace import NEEDLE, targets, upload_pdf
    from rag.documents import load_document

    data, pages = upload_pdf(0.05)
    assert 0.05e6 <= len(data) <= 0.08e6 and pages > 2
    (tmp_path / "audit.pdf").write_bytes(data)
    doc = load_document(tmp_path / "audit.pdf", "audit.pdf", max_bytes=10**7)
    assert NEEDLE in doc.text and doc.text.rstrip().endswith(NEEDLE)  # on the last page: read last

    rows: list[tuple[str, str, str, bool | None, str]] = []
    measured = {
        "upload": {
            "pdf_mb": 1.04,
            "pages": 230,
            "chunks": 699,
            "answerable_s": 40.2,
            "raw_embedding_s": 36.0,
            "raw_embedding_chunks_per_s": 19.4,
            "raw_embedding_cpu_s": 70.1,
            "answerable_per_raw_embedding_cpu": 1.08,
        },
        "open": {"answers": 50, "handler_ms": 11.6, "browser_ms": 654.0},
    }
    targets({"workspace": {"available": True, **measured}}, lambda *row: rows.append(row))
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("uploaded 1.04 MB PDF to answerable", "40.2 s; 1.08× the raw model's CPU time", True),
        ("reopen a saved conversation of 50 answers", "0.65 s", True),
    ]
    rows.clear()
    targets(
        {"workspace": {"available": False, "reason": "skipped (--skip-serve)"}}, lambda *r: rows.append(r)
    )
    assert [(r[1], r[3], r[4]) for r in rows] == [("not measured", None, "skipped (--skip-serve)")] * 2


def test_counting_embeddings_are_the_models_vectors_counted_a_slice_at_a_time(
    embeddings: LocalEmbeddings,
) -> None:
    import numpy as np

    from rag.app.watch import CountingEmbeddings

    texts = [f"Passage {i}: " + "the keeper counts ships " * (i % 7 + 1) for i in range(150)]
    counted: list[int] = []
    watched = CountingEmbeddings(embeddings, counted.append)
    assert np.array_equal(watched.embed_array(texts), embeddings.embed_array(texts))  # same batches
    assert counted == [16] * 9 + [6] and watched.count_tokens("a ship") == embeddings.count_tokens("a ship")
    assert watched.embed_query("ships?") == embeddings.embed_query("ships?") and len(counted) == 10


def test_a_question_gets_the_model_between_the_indexers_batches(embeddings: LocalEmbeddings) -> None:
    import threading

    from rag.app.watch import CountingEmbeddings

    texts = [f"Entry {i}: the keeper logged {i} ships passing the northern cape at dawn." for i in range(320)]
    counted: list[int] = []
    started = threading.Event()

    def note(n: int) -> None:
        counted.append(n)
        started.set()

    indexing = threading.Thread(target=CountingEmbeddings(embeddings, note).embed_array, args=(texts,))
    indexing.start()
    assert started.wait(60)
    embeddings.embed_query("Where do the ships pass?")  # the page's question, on the same model
    done_when_answered = sum(counted)
    indexing.join(120)
    assert sum(counted) == 320 and done_when_answered < 320, counted  # it did not wait for all 20 batches
