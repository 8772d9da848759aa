"""`rag serve` as a child process: time to its first HTTP 200, on an index and during a first index.

During a first index it also reads the start-up page's status (`/startup-status`): when the page first
showed the index, when it first said how many files there are, and what it said last before the chat.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.proc import rag_command, run, vm_hwm_mb
from bench.report import BenchError

# Past this, a page that is not up is a page that waits for the index: no need to wait it out.
DURING_INDEX_TIMEOUT_S = 60.0


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a child we started; kill it when it is still there after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# On every response of `rag serve`'s start-up page (rag.app.starting.MARK), never on the chat's.
STARTING_HEADER = "X-Rag-Starting"


@dataclass(frozen=True)
class Served:
    """A running `rag serve`: its URL, process, seconds from start to the first 200, VmHWM at `chat_s`.

    `chat_s` is when the chat page itself answered (Gradio's); `ready_s` when anything did, the
    start-up page included (equal when the `rag serve` has none).
    """

    url: str
    proc: subprocess.Popen[bytes]
    ready_s: float
    rss_at_ready_mb: float | None
    chat_s: float = 0.0
    progress_s: float | None = None  # when the start-up page first showed the index ("Finding…" too)
    counted_s: float | None = None  # when it first said how many files there are ("n of N files")
    cpu_at_chat_s: float | None = None  # the server's CPU seconds then: what a busy machine stretches
    index_at_chat: dict[str, Any] | None = None  # the start-up page's last word on the index


def cpu_s(pid: int) -> float | None:
    """Return a live process's CPU seconds so far (user + system, every thread); None without /proc."""
    import os

    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _startup_status(opener: urllib.request.OpenerDirector, url: str) -> dict[str, Any] | None:
    """GET the start-up page's status (rag.app.starting.STATUS_PATH); None when it has none."""
    try:
        with opener.open(url + "startup-status", timeout=2) as response:
            if response.headers.get(STARTING_HEADER) is None:
                return None
            status = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def _first_200(opener: urllib.request.OpenerDirector, url: str) -> tuple[bool, bool]:
    """GET the page once: (answered 200, and by the chat rather than the start-up page)."""
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200, response.headers.get(STARTING_HEADER) is None
    except OSError:
        return False, False


@contextmanager
def serving(env: dict[str, str], extra: Sequence[str] = (), timeout: float = 120) -> Iterator[Served]:
    """Start `rag serve` on a free port, wait until the chat page answers 200, stop it on leaving."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with tempfile.TemporaryFile() as log:
        began = time.perf_counter()
        cmd = [*rag_command(), "serve", "--port", str(port), *extra]
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        try:
            ready: float | None = None
            chat: float | None = None
            progress: float | None = None
            counted: float | None = None
            index: dict[str, Any] | None = None
            cpu: float | None = None
            while chat is None and time.perf_counter() - began < timeout and proc.poll() is None:
                ok, is_chat = _first_200(opener, url)
                if ok and ready is None:
                    ready = time.perf_counter() - began
                if ok and is_chat:
                    chat = time.perf_counter() - began
                    cpu = cpu_s(proc.pid)
                    continue
                status = _startup_status(opener, url) if ok else None
                if status is not None and status.get("index"):
                    index = status["index"]
                    now = time.perf_counter() - began
                    progress = now if progress is None else progress
                    if counted is None and index.get("total"):  # files found: "n of N files" shown
                        counted = now
                time.sleep(0.05)
            if ready is None or chat is None:
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
                why = "exited" if proc.poll() is not None else f"was not ready within {timeout:.0f} s"
                raise BenchError(f"rag serve {why}: {' / '.join(tail) or 'no output'}")
            # peak RSS up to the chat page
            yield Served(url, proc, ready, vm_hwm_mb(proc.pid), chat, progress, counted, cpu, index)
        finally:
            _stop(proc)


def serve_once(
    env: dict[str, str], extra: Sequence[str] = (), timeout: float = 120
) -> tuple[float, float | None, float]:
    """Start `rag serve`, wait for its chat page, stop it; return (first 200 s, peak RSS MB then, chat s)."""
    with serving(env, extra, timeout) as served:
        return served.ready_s, served.rss_at_ready_mb, served.chat_s


def _round(mb: float | None) -> float | None:
    return None if mb is None else round(mb, 1)


def measure_serve(env: dict[str, str], timeout: float = 120, runs: int = 3) -> dict[str, Any]:
    """Time `rag serve` on an indexed data dir to its first HTTP 200, median of `runs` (and --no-ingest)."""
    helped = run([*rag_command(), "serve", "--help"], env)
    if helped.code != 0:
        return {"available": False, "reason": "not available: this `rag` has no serve command"}
    try:
        samples = [serve_once(env, (), timeout) for _ in range(runs)]
    except BenchError as e:
        return {"available": False, "reason": f"failed: {e}"}
    ready = statistics.median(s for s, _, _ in samples)
    result: dict[str, Any] = {
        "available": True,
        "ready_s": round(ready, 2),
        "ready_runs_s": [round(s, 2) for s, _, _ in samples],
        "chat_ready_s": round(statistics.median(c for _, _, c in samples), 2),
        "peak_rss_mb": _round(max((r for _, r, _ in samples if r is not None), default=None)),
    }
    limit = "start-up (imports incl. gradio, model load, opening the index) and the page's first render"
    if result["chat_ready_s"] > ready:
        limit = (
            "the start-up page (bound before gradio imports); the chat page itself follows at "
            f"{result['chat_ready_s']:.2f} s: imports incl. gradio, model load, opening the index"
        )
    if "--no-ingest" in helped.stdout:
        bare = statistics.median(serve_once(env, ["--no-ingest"], timeout)[0] for _ in range(runs))
        result["no_ingest_ready_s"] = round(bare, 2)
        limit += f"; the incremental ingest scan of the unchanged corpus adds ≈ {max(ready - bare, 0):.2f} s"
    result["limited_by"] = limit
    return result


def measure_serve_during_index(
    env: dict[str, str], files: int, docs_per_s: float | None, timeout: float = DURING_INDEX_TIMEOUT_S
) -> dict[str, Any]:
    """Time `rag serve` on a fresh data dir over `files` files to its first HTTP 200 (a first index).

    `docs_per_s` (this run's ingest rate) says how long that index takes, so whether the page came
    up while it was still running.
    """
    index_s = round(files / docs_per_s, 1) if docs_per_s else None
    result: dict[str, Any] = {"files": files, "full_index_estimate_s": index_s, "timeout_s": timeout}
    try:
        with serving(env, (), timeout) as served:
            result.update(
                available=True,
                ready_s=round(served.ready_s, 2),
                chat_ready_s=round(served.chat_s, 2),
                rss_at_ready_mb=_round(served.rss_at_ready_mb),
                indexing_at_ready=index_s is None or served.chat_s < index_s,
                progress_shown_s=None if served.progress_s is None else round(served.progress_s, 2),
                files_counted_s=None if served.counted_s is None else round(served.counted_s, 2),
                cpu_at_chat_s=None if served.cpu_at_chat_s is None else round(served.cpu_at_chat_s, 2),
                index_at_chat=_index_figures(served.index_at_chat),
            )
    except BenchError as e:
        result.update(available=False, reason=str(e), timed_out="not ready within" in str(e))
        if result["timed_out"]:
            result["reason"] = (
                f"no page within {timeout:g} s of start on a fresh data dir of {files:,} files "
                f"(the first index takes ≈ {index_s or '?'} s here): the chat page did not come up "
                "while it ran (a `rag serve` without serve-at-once, #15, indexes first)"
            )
    result["limited_by"] = (
        f"start-up while the first index of {files:,} files runs on the same 2 cores "
        f"(the chat page itself at {result['chat_ready_s']:.2f} s)"
        if result.get("available")
        else result["reason"]
    )
    return result


def _index_figures(index: dict[str, Any] | None) -> dict[str, Any] | None:
    """The index's figures as the start-up page last showed them (files done of total, passages)."""
    if not index:
        return None
    return {k: index.get(k) for k in ("running", "done", "total", "passages")}


def main(argv: Sequence[str] | None = None) -> int:
    """Time `rag serve` during a first index of SciFact files, `--runs` times on fresh data dirs."""
    import argparse
    import shutil
    from pathlib import Path

    from bench.proc import child_env, load_average
    from bench.suite import COLLECTION, load_beir, write_docs

    p = argparse.ArgumentParser(prog="python -m bench.serve", description=main.__doc__)
    p.add_argument("--beir", type=Path, default=Path("../shared/bench/scifact"), help="BEIR SciFact folder")
    p.add_argument("--files", type=int, default=5_000, help="files in the corpus [default: 5000]")
    p.add_argument("--runs", type=int, default=3, help="starts, each on a fresh data dir [default: 3]")
    args = p.parse_args(argv)
    documents, _ = load_beir(args.beir, args.files, 1)
    with tempfile.TemporaryDirectory(prefix="rag-bench-serve-") as tmp:
        corpus = write_docs(documents, Path(tmp) / "corpus")
        runs = []
        for n in range(args.runs):
            data = Path(tmp) / f"data-{n}"
            shutil.rmtree(data, ignore_errors=True)
            during = measure_serve_during_index(child_env(corpus, data, COLLECTION), len(documents), None)
            runs.append({"load_average": load_average(), **during})
    ok = [r for r in runs if r.get("available")]
    shown = [r["progress_shown_s"] for r in ok if r.get("progress_shown_s") is not None]
    counted = [r["files_counted_s"] for r in ok if r.get("files_counted_s") is not None]
    cpus = [r["cpu_at_chat_s"] for r in ok if r.get("cpu_at_chat_s") is not None]
    summary = {
        "files": len(documents),
        "ready_s_median": statistics.median(r["ready_s"] for r in ok) if ok else None,
        "progress_shown_s_median": statistics.median(shown) if shown else None,
        "files_counted_s_median": statistics.median(counted) if counted else None,
        "chat_ready_s_median": statistics.median(r["chat_ready_s"] for r in ok) if ok else None,
        "cpu_at_chat_s_median": statistics.median(cpus) if cpus else None,
        "runs": runs,
    }
    print(json.dumps(summary, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
