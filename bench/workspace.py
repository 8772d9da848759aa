"""The document workspace's budgets (#15): an uploaded 1 MB PDF answerable, a saved 50-answer chat reopened.

Measured through the parts the page uses: the page's own `Indexer` (the upload is copied into the
managed root and indexed by the background worker, as the Documents panel does), the chain the page
answers with, and the page's `open_chat` handler; with Debian's Chromium, also in a real browser (click
the conversation in the sidebar until its 50 answers and the newest one's sources are shown).

    python -m bench.workspace [--pdf-mb 1] [--answers 50] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.formats import _WORDS, paragraph_ops, pdf_bytes
from rag.embeddings import LocalEmbeddings
from rag.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
CHROMIUM = Path("/usr/bin/chromium")
NEEDLE = "The auditor counted 4,812 copper lanterns in the Bergen harbour warehouse."
NEEDLE_Q = "How many copper lanterns did the auditor count in the Bergen harbour warehouse?"
# Questions the seeds answer (tests/load_chat.py's), asked in turn for the saved conversation.
SEED_QUESTIONS = [
    "Why did the Hanoi summit collapse?",
    "Who headed the Russian prosecutors' delegation to Pyongyang?",
    "Which countries signed a trilateral statement favoring limited sanctions relief?",
    "When did Putin visit Pyongyang?",
    "Who was a major benefactor for Kim's grandfather?",
]


def _settings(data_dir: Path) -> Settings:
    """The defaults users get, over the seeds, in a fresh data dir (no RAG_* of the caller's)."""
    values: dict[str, Any] = {
        "corpus_dir": SEEDS,
        "data_dir": data_dir,
        "chroma_url": "",
        "llm": "extractive",
    }
    return Settings(**values)


def upload_pdf(megabytes: float, seed: int = 0) -> tuple[bytes, int]:
    """A text PDF of about `megabytes` MB (full pages of wrapped words), the needle on its last page."""
    rnd = random.Random(seed)
    pages: list[list[str]] = []
    size = 0.0
    while size < megabytes * 1e6:
        ops: list[str] = []
        y = 740.0
        while y > 100:
            words = [rnd.choice(_WORDS) for _ in range(rnd.randrange(30, 80))]
            more, y = paragraph_ops(textwrap.wrap(" ".join(words).capitalize() + ".", 72), 72, y)
            ops += more
            y -= 10
        pages.append(ops)
        size += sum(len(op) for op in ops) + 120  # the page's stream and its two objects
    pages.append(paragraph_ops(textwrap.wrap(NEEDLE, 72), 72, 740.0)[0])
    return pdf_bytes(pages, title="Harbour audit"), len(pages)


def _raw_rate(embeddings: LocalEmbeddings, pdf: Path, settings: Settings) -> tuple[int, float, float]:
    """Chunk the PDF as ingest does and embed the chunks alone: (chunks, wall s, CPU s of this process)."""
    from rag.documents import load_document, split_document
    from rag.providers import token_counter

    doc = load_document(pdf, "upload/" + pdf.name, max_bytes=int(settings.max_file_mb * 1e6))
    chunks = split_document(doc, token_counter(embeddings), settings.chunk_size, settings.chunk_overlap)
    texts = [c.text for c in chunks]
    began, cpu = time.perf_counter(), time.process_time()
    embeddings.embed_array(texts)
    return len(texts), time.perf_counter() - began, time.process_time() - cpu


def measure_upload(work: Path, embeddings: LocalEmbeddings, megabytes: float = 1.0) -> dict[str, Any]:
    """Time an uploaded PDF from `Indexer.add` to its first answer citing it; compare the model's rate."""
    import rag
    from rag.app.indexer import Indexer
    from rag.app.scope import Chains

    settings = _settings(work / "upload-data")
    rag.ingest(settings, embeddings=embeddings)
    chains = Chains(rag.build_chain(settings, embeddings=embeddings), None)
    indexer = Indexer(settings, embeddings)
    pdf = work / "harbour audit.pdf"
    data, pages = upload_pdf(megabytes)
    pdf.write_bytes(data)
    began, cpu = time.perf_counter(), time.process_time()
    indexer.add("local", [pdf])
    indexed_s = answerable_s = answerable_cpu_s = None
    statuses: list[str] = []
    while time.perf_counter() - began < 1800 and (answerable_s is None or indexed_s is None):
        status = indexer.files("local")[0].status()
        if not statuses or statuses[-1] != status:
            statuses.append(status)
        if status == "indexed" and indexed_s is None:
            indexed_s = time.perf_counter() - began
        if answerable_s is None and (status.startswith("indexing 100") or status == "indexed"):
            answer = chains.get("local", "extractive", 5, "hybrid").invoke(NEEDLE_Q)
            if not answer.refused and any("harbour audit.pdf" in c.source for c in answer.citations):
                answerable_s, answerable_cpu_s = time.perf_counter() - began, time.process_time() - cpu
        if status.startswith("skipped"):
            raise RuntimeError(f"the upload was not indexed: {status}")
        time.sleep(0.1)
    indexer.wait(600)
    chunks, raw_s, raw_cpu_s = _raw_rate(embeddings, pdf, settings)
    return {
        "pdf_mb": round(pdf.stat().st_size / 1e6, 2),
        "pages": pages,
        "chunks": chunks,
        "answerable_s": None if answerable_s is None else round(answerable_s, 2),
        "indexed_s": None if indexed_s is None else round(indexed_s, 2),
        "answerable_cpu_s": None if answerable_cpu_s is None else round(answerable_cpu_s, 1),
        "raw_embedding_chunks_per_s": round(chunks / raw_s, 1),
        "raw_embedding_s": round(raw_s, 2),
        "raw_embedding_cpu_s": round(raw_cpu_s, 1),
        # Wall time moves with the machine's load (the raw run comes after); CPU time is the steadier.
        "answerable_per_raw_embedding": None if answerable_s is None else round(answerable_s / raw_s, 2),
        "answerable_per_raw_embedding_cpu": (
            None if answerable_cpu_s is None else round(answerable_cpu_s / raw_cpu_s, 2)
        ),
        "statuses": statuses,
    }


def saved_conversation(settings: Settings, embeddings: LocalEmbeddings, answers: int) -> tuple[Any, str]:
    """Answer `answers` seed questions with the page's chain and save them as one conversation."""
    import rag
    from rag.app.conversations import ConversationStore

    rag.ingest(settings, embeddings=embeddings)
    chain = rag.build_chain(settings, embeddings=embeddings)
    store = ConversationStore(settings.data_dir / "app.sqlite3")
    cid = store.create("local", SEED_QUESTIONS[0])
    for i in range(answers):
        question = SEED_QUESTIONS[i % len(SEED_QUESTIONS)]
        store.add("local", cid, question, chain.invoke(question), None)
    return chain, cid


def measure_open(work: Path, embeddings: LocalEmbeddings, answers: int = 50, runs: int = 5) -> dict[str, Any]:
    """Time reopening a saved conversation of `answers` answers: the handler, then in a real browser."""
    from rag.app.events import make_handlers
    from rag.app.indexer import Indexer

    settings = _settings(work / "open-data")
    chain, cid = saved_conversation(settings, embeddings, answers)
    handlers = make_handlers(chain, settings, Indexer(settings, embeddings), per_user=False)
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        messages, _, sources, *_ = handlers.open_chat(cid, None)
        samples.append(time.perf_counter() - began)
    assert len(messages) == 2 * answers and "<mark>" in sources
    result: dict[str, Any] = {
        "answers": answers,
        "handler_ms": round(1000 * statistics.median(samples), 1),
        "handler_runs_ms": [round(1000 * s, 1) for s in samples],
    }
    result.update(_open_in_browser(chain, settings, answers, runs))
    return result


def _open_in_browser(chain: Any, settings: Settings, answers: int, runs: int) -> dict[str, Any]:
    """Click the conversation in the sidebar of a fresh page until its answers and sources are shown."""
    if not CHROMIUM.exists():
        return {"browser": "not measured: needs Debian's Chromium at /usr/bin/chromium"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"browser": "not measured: playwright is not installed (pip install -e '.[dev]')"}
    from bench.serve import free_port
    from rag.app import build_app, launch

    demo = build_app(chain, settings)
    url = launch(demo, port=free_port())
    samples = []
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=["--headless", "--no-sandbox"]
            )
            page = context.new_page()
            for _ in range(runs):
                page.goto(url)
                item = page.locator("#rag-conversations").get_by_text(SEED_QUESTIONS[0])
                item.wait_for(timeout=60_000)
                began = time.perf_counter()
                item.click()
                page.wait_for_function(
                    """n => document.querySelectorAll('#rag-chat [data-testid="bot"]').length >= n &&
                    document.querySelector('#rag-sources mark')""",
                    arg=answers,
                    timeout=60_000,
                )
                samples.append(time.perf_counter() - began)
            context.close()
    finally:
        demo.close()
    runs_ms = [round(1000 * s, 1) for s in samples]
    return {"browser_ms": round(1000 * statistics.median(samples), 1), "browser_runs_ms": runs_ms}


def measure_workspace(
    work: Path, embeddings: LocalEmbeddings, pdf_mb: float = 1.0, answers: int = 50
) -> dict[str, Any]:
    """Both workspace budgets, in `work` (removed by the caller)."""
    return {
        "upload": measure_upload(work, embeddings, pdf_mb),
        "open": measure_open(work, embeddings, answers),
    }


def for_suite(
    work: Path, embeddings: LocalEmbeddings, skip: bool, on_stage: Callable[[str], None]
) -> dict[str, Any]:
    """What `python -m bench` records: both budgets, or why they were not measured."""
    if skip:
        return {"available": False, "reason": "skipped (--skip-serve)"}
    on_stage("workspace: an uploaded 1 MB PDF answerable; a saved 50-answer conversation reopened")
    try:
        return {"available": True, **measure_workspace(work / "workspace", embeddings)}
    except Exception as e:  # one budget failing must not lose the rest of a long run
        return {"available": False, "reason": f"failed: {type(e).__name__}: {e}"[:300]}


def targets(r: dict[str, Any], add: Callable[[str, str, str, bool | None, str], None]) -> None:
    """Add the two workspace budgets to bench.targets' rows."""
    ws = r.get("workspace") or {}
    up, op = ws.get("upload") or {}, ws.get("open") or {}
    why = ws.get("reason", "not measured")
    name = f"uploaded {up.get('pdf_mb', 1)} MB PDF to answerable"
    if up.get("answerable_s") is None:
        add(name, "not measured", "at the embedding rate (CPU ≤ 1.2× raw)", None, why)
    else:
        cpu = up["answerable_per_raw_embedding_cpu"]
        add(
            name,
            f"{up['answerable_s']:.1f} s; {cpu:.2f}× the raw model's CPU time",
            "at the embedding rate (CPU ≤ 1.2× raw)",
            cpu <= 1.2,
            f"embedding {up['chunks']:,} chunks of {up['pages']} pages: the raw model takes "
            f"{up['raw_embedding_s']:.1f} s here ({up['raw_embedding_chunks_per_s']} chunks/s, "
            f"{up['raw_embedding_cpu_s']} CPU-s); parsing, writes and BM25 are the rest",
        )
    name = f"reopen a saved conversation of {op.get('answers', 50)} answers"
    value = op.get("browser_ms", op.get("handler_ms"))
    if value is None:
        add(name, "not measured", "≤ 1 s", None, why)
        return
    where = "in Chromium, click to the answers and sources shown" if "browser_ms" in op else "the handler"
    add(
        name,
        f"{value / 1000:.2f} s",
        "≤ 1 s",
        value <= 1000,
        f"{where}; the server's part (SQLite read, rebuilding the session, the sources) "
        f"{op.get('handler_ms')} ms, the rest is Gradio sending and drawing "
        f"{2 * op.get('answers', 50)} messages",
    )


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print them as JSON (written to DIR/workspace.json with --out)."""
    from rag.offline import apply_offline_env

    apply_offline_env()
    p = argparse.ArgumentParser(prog="python -m bench.workspace", description=__doc__.split("\n")[0])
    p.add_argument("--pdf-mb", type=float, default=1.0, help="size of the uploaded PDF [default: 1]")
    p.add_argument("--answers", type=int, default=50, help="answers in the saved conversation [default: 50]")
    p.add_argument("--out", type=Path, default=None, help="folder for workspace.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rag-bench-ws-") as tmp:
        result = measure_workspace(Path(tmp), LocalEmbeddings(), args.pdf_mb, args.answers)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "workspace.json").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
