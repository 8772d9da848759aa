"""Benchmark plumbing: timing summaries, peer ratios, value formatting, the page's own sections."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from rag.errors import RagError


class BenchError(RagError):
    """The benchmark's dataset is missing or unreadable, or a process it times failed."""


Summary = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")

# (our figure, the peer's figure, what it is, which way is better)
PEER_COMPARISONS = (
    ("embedding.docs_per_s", "peer.docs_per_s", "ingest, documents/s", "higher"),
    ("embedding.docs_per_cpu_s", "peer.docs_per_cpu_s", "ingest, documents per CPU-second", "higher"),
    ("latency.retrieval.vector.p50", "peer.query.p50", "query p50, our vector vs its, both k=5", "lower"),
    ("latency.retrieval.hybrid.p50", "peer.query.p50", "query p50, our hybrid vs its, both k=5", "lower"),
    ("latency.retrieval.hybrid.p95", "peer.query.p95", "query p95, our hybrid vs its, both k=5", "lower"),
)


def clocked(call: Callable[[], R]) -> tuple[R, float, float]:
    """Run `call` once; return its result, wall seconds and CPU seconds (all threads of this process).

    CPU time is the cross-check on a busy machine: other processes stretch wall time, not it.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def interleaved(calls: dict[str, Callable[[T], object]], items: Sequence[T]) -> dict[str, list[float]]:
    """Time every call on every item, round-robin per item, in milliseconds.

    Each call runs once on the first item first (warm-up, not counted). Interleaving (and rotating
    which call goes first) spreads any drift in the machine's load evenly over the calls compared.
    """
    names = list(calls)
    for name in names:
        calls[name](items[0])
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i, item in enumerate(items):
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            began = time.perf_counter()
            calls[name](item)
            samples[name].append((time.perf_counter() - began) * 1000)
    return samples


def summarize(samples_ms: Sequence[float]) -> Summary:
    """Return n, p50, p95 and mean of millisecond samples (None when there are none)."""
    if not samples_ms:
        return {"n": 0, "p50": None, "p95": None, "mean": None}
    values = np.asarray(samples_ms, dtype=np.float64)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
        "mean": round(float(values.mean()), 2),
    }


def peer_ratios(r: dict[str, Any]) -> dict[str, float | None]:
    """Return ours ÷ peer for each compared figure (throughput: > 1 is better; latency: < 1)."""
    ratios: dict[str, float | None] = {}
    for ours_key, peer_key, label, _ in PEER_COMPARISONS:
        ours, theirs = get_path(r, ours_key), get_path(r, peer_key)
        ratios[label] = round(ours / theirs, 3) if ours is not None and theirs else None
    return ratios


def get_path(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def fmt_ms(value: Any) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def fmt_s(value: Any) -> str:
    return "–" if value is None else f"{value:,.2f} s"


OWN_SECTIONS = ("## Targets", "## All figures", "## How they were made")


def foreign_sections(text: str) -> str:
    """Return the `## ` sections of an existing BENCHMARKS.md that the benchmark did not write."""
    kept: list[str] = []
    keep = False
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            keep = line.rstrip() not in OWN_SECTIONS
        if keep:
            kept.append(line)
    return "\n" + "".join(kept) if kept else ""
