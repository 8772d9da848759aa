"""`rag serve` as a child process: time to its first HTTP 200, on an index and during a first index."""

from __future__ import annotations

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


@dataclass(frozen=True)
class Served:
    """A running `rag serve`: its URL, process, seconds from start to the first 200, VmHWM then."""

    url: str
    proc: subprocess.Popen[bytes]
    ready_s: float
    rss_at_ready_mb: float | None


@contextmanager
def serving(env: dict[str, str], extra: Sequence[str] = (), timeout: float = 120) -> Iterator[Served]:
    """Start `rag serve` on a free port, wait for HTTP 200 on its page, stop it on leaving."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with tempfile.TemporaryFile() as log:
        began = time.perf_counter()
        cmd = [*rag_command(), "serve", "--port", str(port), *extra]
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        try:
            ready: float | None = None
            while ready is None and time.perf_counter() - began < timeout and proc.poll() is None:
                try:
                    with opener.open(url, timeout=2) as response:
                        if response.status == 200:
                            ready = time.perf_counter() - began
                except OSError:
                    time.sleep(0.05)
            if ready is None:
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
                why = "exited" if proc.poll() is not None else f"was not ready within {timeout:.0f} s"
                raise BenchError(f"rag serve {why}: {' / '.join(tail) or 'no output'}")
            yield Served(url, proc, ready, vm_hwm_mb(proc.pid))
        finally:
            _stop(proc)


def serve_once(
    env: dict[str, str], extra: Sequence[str] = (), timeout: float = 120
) -> tuple[float, float | None]:
    """Start `rag serve`, wait for its page, stop it; return (ready s, peak RSS MB at that moment)."""
    with serving(env, extra, timeout) as served:
        return served.ready_s, served.rss_at_ready_mb


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
    ready = statistics.median(s for s, _ in samples)
    result: dict[str, Any] = {
        "available": True,
        "ready_s": round(ready, 2),
        "ready_runs_s": [round(s, 2) for s, _ in samples],
        "peak_rss_mb": _round(max((r for _, r in samples if r is not None), default=None)),
    }
    limit = "start-up (imports incl. gradio, model load, opening the index) and the page's first render"
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
                rss_at_ready_mb=_round(served.rss_at_ready_mb),
                indexing_at_ready=index_s is None or served.ready_s < index_s,
            )
    except BenchError as e:
        result.update(available=False, reason=str(e), timed_out="not ready within" in str(e))
        if result["timed_out"]:
            result["reason"] = (
                f"no page within {timeout:g} s of start on a fresh data dir of {files:,} files "
                f"(the first index takes ≈ {index_s or '?'} s here): this `rag serve` indexes before it "
                "serves; the serve-at-once feature (#15) is not in this tree"
            )
    result["limited_by"] = (
        f"start-up while the first index of {files:,} files runs on the same 2 cores"
        if result.get("available")
        else result["reason"]
    )
    return result
