"""`rag serve`'s start: the start-up page's status, the first index's progress, gradio without stubs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from rag.app.indexer import Indexer
from rag.app.starting import MARK, STATUS_PATH, StartupPage, index_status
from rag.app.uploads import Progress
from rag.embeddings import LocalEmbeddings
from rag.settings import Settings
from tests.conftest import free_port


def _notes(folder: Path, n: int) -> Path:
    """Write `n` one-passage notes into `folder`."""
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"note-{i:04d}.txt").write_text(
            f"Field note {i}. The station logged {i} birds on the northern ridge today.\n", encoding="utf-8"
        )
    return folder


def test_the_start_up_status_says_how_far_the_first_index_is() -> None:
    assert index_status(Progress(True, 0, 0, "", ""))["line"] == "Finding your documents…"
    running = index_status(Progress(True, 1234, 5000, "a/b.txt", "", 3456))
    assert running["line"].startswith("Indexing: 1,234 of 5,000 files (24%), 3,456 passages so far.")
    assert (running["done"], running["total"], running["current"]) == (1234, 5000, "a/b.txt")
    assert index_status(Progress(False, 300, 300, "", "", 300))["line"] == (
        "Indexed: 300 files checked, 300 new passages."
    )
    failed = index_status(Progress(False, 3, 300, "", "the store is locked"))
    assert failed["line"] == "Indexing stopped: the store is locked" and not failed["running"]


def test_the_start_up_page_serves_the_index_status_once_it_is_given() -> None:
    port = free_port()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = f"http://127.0.0.1:{port}{STATUS_PATH}"
    with StartupPage("127.0.0.1", port) as starting:
        with opener.open(url, timeout=5) as r:
            assert r.status == 200 and r.headers.get(MARK) == "1"
            assert json.loads(r.read()) == {"chat": "starting", "index": None}  # --no-ingest: nothing shown
        starting.show_index(lambda: Progress(True, 2, 8, "<b>x</b>.txt", "", 16))
        with opener.open(url + "?t=1", timeout=5) as r:
            index = json.loads(r.read())["index"]
        assert index["line"].startswith("Indexing: 2 of 8 files (25%), 16 passages so far.")
        assert index["current"] == "<b>x</b>.txt"  # data: the page puts it in as text


def test_a_files_progress_counts_it_only_once_its_passages_are_stored(
    embeddings: LocalEmbeddings, tmp_path: Path
) -> None:
    # One passage a file, all in one store write (256): ingest reads every file before the write.
    settings = Settings(corpus_dir=_notes(tmp_path / "notes", 120), data_dir=tmp_path / "data")
    indexer = Indexer(settings, embeddings)
    seen: list[Progress] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen.append(indexer.progress())
            done.wait(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    indexer.sync_corpus()
    try:
        assert indexer.wait(300)
    finally:
        done.set()
        sampler.join()
    during = [p for p in seen if p.running and p.total]
    assert during and all(p.total == 120 for p in during)
    assert any(p.current for p in during)  # the file being read is named
    # Never a file counted before its passage is stored (and so embedded): one passage each.
    assert all(p.done <= p.passages for p in seen), [
        (p.done, p.passages) for p in seen if p.done > p.passages
    ]
    final = indexer.progress()
    assert (final.running, final.done, final.total, final.passages, final.error) == (False, 120, 120, 120, "")
    assert index_status(final)["line"] == "Indexed: 120 files checked, 120 new passages."

    indexer.sync_corpus()  # nothing changed: every file is done at once, nothing embedded
    assert indexer.wait(120)
    again = indexer.progress()
    assert (again.done, again.total, again.passages) == (120, 120, 0)


def test_a_held_index_finds_its_files_then_waits_for_the_page(
    embeddings: LocalEmbeddings, tmp_path: Path
) -> None:
    settings = Settings(corpus_dir=_notes(tmp_path / "notes", 30), data_dir=tmp_path / "data")
    indexer = Indexer(settings, embeddings)
    indexer.hold()  # as `rag serve` does until its chat page is up
    indexer.sync_corpus()
    deadline = time.monotonic() + 60
    while not indexer.progress().waiting and time.monotonic() < deadline:
        time.sleep(0.05)
    held = indexer.progress()
    assert held.waiting and (held.total, held.done, held.passages) == (30, 0, 0)
    assert index_status(held)["line"] == "Found 30 files: indexing starts as soon as the chat page is up."
    assert not indexer.wait(1.0)  # it stays held: nothing read, nothing embedded
    assert indexer.progress().passages == 0
    indexer.resume()
    assert indexer.wait(120)
    done = indexer.progress()
    assert (done.waiting, done.running, done.done, done.passages) == (False, False, 30, 30)

    indexer.hold(find_files=False)  # a restart over an index: nothing is read before the page is up
    indexer.sync_corpus()
    deadline = time.monotonic() + 60
    while not indexer.progress().waiting and time.monotonic() < deadline:
        time.sleep(0.05)
    held = indexer.progress()
    assert held.waiting and held.running and held.total == 0
    assert (
        index_status(held)["line"] == "Your documents are checked for changes as soon as the chat page is up."
    )
    indexer.resume()
    assert indexer.wait(120)
    again = indexer.progress()
    assert (again.waiting, again.running, again.done, again.total, again.passages) == (
        False,
        False,
        30,
        30,
        0,
    )


def test_gradio_imports_without_writing_type_stubs_and_still_builds_a_page() -> None:
    script = (
        "from rag.app.starting import skip_gradio_stubs\n"
        "skip_gradio_stubs()\n"
        "import gradio as gr, gradio.component_meta as meta, gradio.blocks_events as be\n"
        "assert meta.create_or_modify_pyi.__name__ == '_no_stubs', meta.create_or_modify_pyi\n"
        "assert be.create_or_modify_pyi is meta.create_or_modify_pyi\n"
        "import inspect\n"
        "assert 'def create_or_modify_pyi' in inspect.getsource(meta)\n"
        "with gr.Blocks() as demo:\n"
        "    box = gr.Textbox(elem_id='q')\n"
        "    box.submit(lambda s: s, box, box)\n"
        "assert demo.config['components'] and demo.fns\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
