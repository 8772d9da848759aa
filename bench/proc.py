"""The machine, and whole-process figures: running children, peak RSS, `rag ask` cold start."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report import BenchError

if TYPE_CHECKING:
    from rag.embeddings import LocalEmbeddings

# Imported by nothing on the extractive path: `rag ask` and `import rag` must not load them.
UNUSED_HEAVY = ("gradio", "langchain_openai", "openai")
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass(frozen=True)
class Ran:
    """One finished child process: exit code, wall time, its own peak RSS (None: unknown), output."""

    code: int
    seconds: float
    peak_rss_mb: float | None
    stdout: str
    stderr: str


def _status_mb(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def vm_hwm_mb(pid: int) -> float | None:
    """Return a live process's peak resident set so far (VmHWM), or None where /proc can't tell."""
    # Not ru_maxrss: Linux carries the high-water mark from before exec (the benchmark's own, as
    # subprocess forks it) into the child's, so every child would report at least ours.
    return _status_mb(pid, "VmHWM:")


def vm_rss_mb(pid: int) -> float | None:
    """Return a live process's resident set now (VmRSS), or None where /proc can't tell."""
    return _status_mb(pid, "VmRSS:")


class _PeakWatch(threading.Thread):
    """Sample a child's VmHWM every 20 ms until told to stop; keep the highest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak: float | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            mb = vm_hwm_mb(self.pid)
            if mb is not None:
                self.peak = max(self.peak or 0.0, mb)
            if self.done.wait(0.02):
                return


def rag_command() -> list[str]:
    """Return how to run `rag`: the console script beside this interpreter, else `python -m rag.cli`."""
    script = Path(sys.executable).parent / "rag"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rag.cli"]


def child_env(corpus: Path, data_dir: Path, collection: str) -> dict[str, str]:
    """Environment of the children: the benchmark's index, extractive answers, embedded store."""
    env = dict(os.environ)
    env.update(
        RAG_CORPUS_DIR=str(corpus),
        RAG_DATA_DIR=str(data_dir),
        RAG_COLLECTION=collection,
        RAG_LLM="extractive",
        RAG_EMBEDDING="local",
        RAG_CHROMA_URL="",
    )
    return env


def run(cmd: Sequence[str], env: dict[str, str], timeout: float = 3600) -> Ran:
    """Run a child to completion, timing it and sampling its peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=env)
        watch = _PeakWatch(proc.pid)
        watch.start()
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        finally:
            watch.done.set()
        seconds = time.perf_counter() - began
        watch.join()
        out.seek(0)
        err.seek(0)
        return Ran(
            code,
            seconds,
            watch.peak,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def _round(mb: float | None) -> float | None:
    return None if mb is None else round(mb, 1)


def import_profile(stderr: str) -> dict[str, Any]:
    """Summarise `python -X importtime` output: total, heaviest top-level packages, unwanted ones."""
    self_us: dict[str, int] = {}
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            top = match.group(4).split(".")[0]
            self_us[top] = self_us.get(top, 0) + int(match.group(1))
    heaviest = sorted(self_us.items(), key=lambda kv: -kv[1])[:8]
    return {
        "imports_s": round(sum(self_us.values()) / 1e6, 3),
        "heaviest_ms": {name: round(us / 1000) for name, us in heaviest},
        "heavy_unused_imports": [name for name in UNUSED_HEAVY if name in self_us],
    }


def _failed(what: str, ran: Ran) -> BenchError:
    tail = (ran.stderr or ran.stdout).strip().splitlines()[-3:]
    return BenchError(f"{what} exited with {ran.code}: {' / '.join(tail)}")


def measure_ingest_process(env: dict[str, str], chunks: int) -> dict[str, Any]:
    """Run `rag ingest -q` on the corpus into a fresh data dir: wall time and peak RSS."""
    ran = run([*rag_command(), "ingest", "-q"], env)
    if ran.code != 0:
        raise _failed("rag ingest", ran)
    return {
        "wall_s": round(ran.seconds, 2),
        "chunks_per_s_incl_startup": round(chunks / ran.seconds, 1),
        "peak_rss_mb": _round(ran.peak_rss_mb),
    }


def measure_ask(env: dict[str, str], question: str, runs: int) -> dict[str, Any]:
    """Time `rag ask` one-shot runs on an indexed data dir, and profile its imports once."""
    profile_run = run([sys.executable, "-X", "importtime", "-m", "rag.cli", "ask", question], env)
    if profile_run.code != 0:
        raise _failed("rag ask (importtime)", profile_run)
    profile = import_profile(profile_run.stderr)
    walls: list[float] = []
    answer_ms: list[float] = []
    rss: list[float] = []
    for _ in range(runs):
        ran = run([*rag_command(), "ask", "--json", question], env)
        if ran.code != 0:
            raise _failed("rag ask", ran)
        walls.append(ran.seconds)
        if ran.peak_rss_mb is not None:
            rss.append(ran.peak_rss_mb)
        answer_ms.append(float(json.loads(ran.stdout).get("timings", {}).get("total_ms", 0.0)))
    median = statistics.median(walls)
    answer = statistics.median(answer_ms) / 1000
    heavy = ", ".join(f"{k} {v} ms" for k, v in list(profile["heaviest_ms"].items())[:5])
    rest = median - profile["imports_s"] - answer
    return {
        "runs_s": [round(w, 2) for w in walls],
        "median_s": round(median, 2),
        "answer_s": round(answer, 3),
        "peak_rss_mb": _round(max(rss, default=None)),
        **profile,
        "limited_by": (
            f"imports ≈ {profile['imports_s']:.2f} s (self time under -X importtime: {heavy}); "
            f"answering {answer:.2f} s (cold sentence cache); interpreter start, model load and "
            f"opening Chroma/BM25 ≈ {max(rest, 0.0):.2f} s"
        ),
    }


def measure_import_rag() -> dict[str, Any]:
    """Profile `import rag`: it must load neither gradio nor langchain_openai."""
    ran = run([sys.executable, "-X", "importtime", "-c", "import rag"], dict(os.environ))
    if ran.code != 0:
        raise _failed("import rag", ran)
    return {"wall_s": round(ran.seconds, 2), **import_profile(ran.stderr)}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 0.0


def load_average() -> str:
    """Return the 1, 5 and 15-minute load averages."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine(embeddings: LocalEmbeddings, load_start: str) -> dict[str, Any]:
    """Describe the machine, the library versions and the ONNX session the figures come from."""
    options = embeddings.session.get_session_options()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    load_end = load_average()
    versions: dict[str, str | None] = {}
    for name in ("onnxruntime", "chromadb", "langchain-core", "langchain-chroma", "bm25s", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    busy = any(float(x) > cpus * 0.5 for x in (load_start.split()[:1] + load_end.split()[:1]) if x != "n/a")
    return {
        "cpu": _cpu_name(),
        "cpus": cpus,
        "ram_gb": round(_ram_gb(), 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "onnx_session": (
            f"intra-op threads {options.intra_op_num_threads}, inter-op {options.inter_op_num_threads}, "
            f"graph optimisation {options.graph_optimization_level.name}, batch {embeddings.batch_size}, "
            "one session reused"
        ),
        "load_start": load_start,
        "load_end": load_end,
        "busy": busy,
    }
