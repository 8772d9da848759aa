"""Benchmark figures: timing summaries, the issue's targets, and the BENCHMARKS.md table."""

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
        ours, theirs = _get(r, ours_key), _get(r, peer_key)
        ratios[label] = round(ours / theirs, 3) if ours is not None and theirs else None
    return ratios


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ms(value: Any) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def _s(value: Any) -> str:
    return "–" if value is None else f"{value:,.2f} s"


def _at_least(value: Any, goal: float) -> bool | None:
    return None if value is None else float(value) >= goal


def _at_most(value: Any, goal: float) -> bool | None:
    return None if value is None else float(value) <= goal


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Check the issue's targets against the figures; `met` is None when a figure was not measured."""
    emb, lat, cold = r["embedding"], r["latency"], r["cold_start"]
    scale = {row["chunks"]: row for row in r["scale"]["sizes"]}
    rows: list[dict[str, Any]] = []

    def add(name: str, shown: str, target: str, met: bool | None, limit: str) -> None:
        rows.append({"target": name, "value": shown, "goal": target, "met": met, "limited_by": limit})

    ratio = emb["ingest_vs_raw"]
    add(
        "ingest vs raw model throughput",
        f"{ratio:.2f}× (CPU time {emb['ingest_vs_raw_cpu']:.2f}×)",
        "≥ 0.90×",
        _at_least(ratio, 0.9),
        emb["limited_by"],
    )
    for size, goal in ((10_000, 15.0), (100_000, 30.0)):
        row = scale.get(size)
        p50 = row["hybrid"]["p50"] if row else None
        add(
            f"hybrid retrieval p50 at {size:,} chunks",
            _ms(p50),
            f"≤ {goal:g} ms",
            _at_most(p50, goal),
            row["limited_by"] if row else "size not in this run (--scale)",
        )
    warm = _get(lat, "extractive_warm.p50")
    add(
        "extractive answer p50 (warm cache)",
        _ms(warm),
        "≤ 60 ms",
        _at_most(warm, 60.0),
        lat["extractive_limited_by"],
    )
    ask = cold["ask"]["median_s"]
    clean = not cold["ask"]["heavy_unused_imports"]
    add(
        "`rag ask` cold (median wall)",
        _s(ask),
        "≤ 3 s, no gradio/langchain_openai",
        None if ask is None else (ask <= 3.0 and clean),
        cold["ask"]["limited_by"],
    )
    serve = _get(cold, "serve.ready_s")
    add(
        "`rag serve` to first HTTP 200",
        _s(serve) if _get(cold, "serve.available") else "not available",
        "≤ 6 s",
        _at_most(serve, 6.0),
        _get(cold, "serve.limited_by") or "",
    )
    for ours_key, peer_key, label, better in PEER_COMPARISONS:
        ours, theirs = _get(r, ours_key), _get(r, peer_key)
        met = (
            None
            if ours is None or theirs is None
            else (ours > theirs if better == "higher" else ours < theirs)
        )
        shown = "–" if met is None else f"{ours:,.1f} vs {theirs:,.1f}"
        add(f"ahead of the LangChain pipeline: {label}", shown, f"ours {better}", met, _peer_limit(label, r))
    return rows


def _peer_limit(label: str, r: dict[str, Any]) -> str:
    emb, peer, lat = r["embedding"], r["peer"], r["latency"]
    if label.startswith("ingest"):
        return (
            f"same session; ours embeds {emb['chunks']:,} chunks of {emb['mean_chunk_tokens']} tokens, it "
            f"{peer['chunks']:,} of {peer['mean_chunk_tokens']} ({peer['chunks_over_model_limit']} cut at "
            f"256); ours also counts tokens to chunk, keeps offsets and builds BM25 "
            f"({emb['bm25_build_s']} s)"
        )
    if "vector" in label:
        return (
            f"both embed the query (p50 {lat['query_embedding']['p50']} ms) and search HNSW once; "
            "both return k=5 with texts and metadata"
        )
    return (
        "hybrid runs a top-40 vector search, BM25 (with its staleness check) and fusion: more work "
        "than one vector search by design (parts in the scale rows)"
    )


def _met(met: bool | None) -> str:
    return "–" if met is None else ("yes" if met else "**no**")


def _pp(summary: Summary) -> str:
    return f"{_ms(summary['p50'])} / {_ms(summary['p95'])}"


def figure_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """List (section, figure, value) for every measured figure."""
    emb, peer, lat, cold = r["embedding"], r["peer"], r["latency"], r["cold_start"]
    rows: list[tuple[str, str, str]] = []

    def add(section: str, figure: str, value: str) -> None:
        rows.append((section, figure, value))

    def rate(wall: float, cpu: float, unit: str) -> str:
        return f"{wall:,.1f} {unit}/s ({cpu:,.1f} per CPU-s)"

    one = "1 embedding"
    add(
        one,
        "SciFact documents / chunks (mean tokens)",
        f"{emb['documents']:,} / {emb['chunks']:,} ({emb['mean_chunk_tokens']})",
    )
    add(
        one,
        "raw ONNX session, length-sorted",
        rate(emb["raw_sorted_per_s"], emb["raw_sorted_per_cpu_s"], "passages"),
    )
    add(
        one,
        "raw ONNX session, unsorted",
        rate(emb["raw_unsorted_per_s"], emb["raw_unsorted_per_cpu_s"], "passages"),
    )
    add(one, "`rag.ingest` (product path)", rate(emb["ingest_per_s"], emb["ingest_per_cpu_s"], "chunks"))
    add(
        one,
        "ingest ÷ raw (sorted)",
        f"{emb['ingest_vs_raw']:.2f}× (CPU time {emb['ingest_vs_raw_cpu']:.2f}×)",
    )
    add(
        one,
        "sorted ÷ unsorted speed-up",
        f"{emb['sorted_vs_unsorted']:.2f}× (CPU time {emb['sorted_vs_unsorted_cpu']:.2f}×)",
    )
    add(
        "2 peer",
        "LangChain chunks (mean tokens), ingest time",
        f"{peer['chunks']:,} ({peer['mean_chunk_tokens']}), {peer['ingest_wall_s']:.1f} s",
    )
    add("2 peer", "LangChain ingest", rate(peer["docs_per_s"], peer["docs_per_cpu_s"], "docs"))
    add("2 peer", "ours ingest", rate(emb["docs_per_s"], emb["docs_per_cpu_s"], "docs"))
    add("2 peer", "LangChain `similarity_search` k=5 p50 / p95", _pp(peer["query"]))
    for name, value in peer["ratios"].items():
        add("2 peer", f"ours ÷ peer: {name}", f"{value:.2f}×" if value is not None else "–")
    for mode in ("vector", "bm25", "hybrid"):
        add("3 latency", f"retrieval {mode} k=5 p50 / p95", _pp(lat["retrieval"][mode]))
    add("3 latency", "query embedding alone p50 / p95", _pp(lat["query_embedding"]))
    add("3 latency", "extractive answer, cold cache (1st pass) p50 / p95", _pp(lat["extractive_cold"]))
    add("3 latency", "extractive answer, warm (2nd pass) p50 / p95", _pp(lat["extractive_warm"]))
    llm = lat["llm"]
    add("3 latency", "LLM path: first token p50 / p95 (endpoint time removed)", _pp(llm["first_token"]))
    add("3 latency", "LLM path: overhead over extractive p50 / p95", _pp(llm["overhead"]))
    add(
        "3 latency",
        "LLM path: first request; building the chain",
        f"{_ms(llm['first_call_ms'])}; {_ms(llm['build_chain_ms'])}",
    )
    for row in r["scale"]["sizes"]:
        n = f"{row['chunks']:,} chunks"
        add("4 scale", f"{n}: build (Chroma add + BM25)", f"{row['add_s']:.1f} s + {row['bm25_s']:.1f} s")
        for mode in ("vector", "hybrid"):
            add("4 scale", f"{n}: {mode} p50 / p95", _pp(row[mode]))
    for what in ("ingest", "serve"):
        mb = _get(r, f"processes.{what}.peak_rss_mb")
        add("4 scale", f"peak RSS `rag {what}`", f"{mb:,.0f} MB" if mb is not None else "not available")
    ask = cold["ask"]
    runs = ", ".join(f"{x:.2f}" for x in ask["runs_s"])
    add("5 cold start", "`rag ask` wall, median (runs)", f"{_s(ask['median_s'])} ({runs})")
    for key, label in (("ask", "`rag ask`"), ("import_rag", "`import rag`")):
        unwanted = cold[key]["heavy_unused_imports"]
        add(
            "5 cold start",
            f"{label} imports gradio / langchain_openai",
            "yes: " + ", ".join(unwanted) if unwanted else "no",
        )
    serve = cold["serve"]
    if serve.get("available"):
        runs = ", ".join(f"{x:.2f}" for x in serve.get("ready_runs_s", []))
        ready = f"{_s(serve['ready_s'])} ({runs})"
        add("5 cold start", "`rag serve` to first HTTP 200, median (runs)", ready)
        if serve.get("no_ingest_ready_s") is not None:
            add("5 cold start", "`rag serve --no-ingest` to first HTTP 200", _s(serve["no_ingest_ready_s"]))
    else:
        add("5 cold start", "`rag serve` to first HTTP 200", serve.get("reason", "not available"))
    return rows


def markdown(r: dict[str, Any]) -> str:
    """Render BENCHMARKS.md: the machine, the command, every figure, the targets, and how."""
    m = r["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{r['command']}` on {r['date']} in {r['seconds']:.0f} s. Sections other than "
        "the three below are not written by `rag bench`; it keeps them when it runs again.",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['ram_gb']:.0f} GB RAM, {m['platform']}, "
        f"Python {m['python']}; "
        f"onnxruntime {m['versions'].get('onnxruntime')}, chromadb {m['versions'].get('chromadb')}, "
        f"langchain-core {m['versions'].get('langchain-core')}. ONNX session: {m['onnx_session']}.",
        f"Load average at start / end: {m['load_start']} / {m['load_end']}"
        + (" — **the machine was busy: figures are pessimistic**." if m["busy"] else "."),
        "",
        "## Targets",
        "",
        "| target | value | goal | met | what limits it |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {t['target']} | {t['value']} | {t['goal']} | {_met(t['met'])} | {t['limited_by']} |"
        for t in r["targets"]
    ]
    lines += ["", "## All figures", "", "| section | figure | value |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in figure_rows(r)]
    lines += ["", "## How they were made", ""]
    lines += [f"- {note}" for note in r["notes"]]
    return "\n".join(lines) + "\n"


OWN_SECTIONS = ("## Targets", "## All figures", "## How they were made")


def foreign_sections(text: str) -> str:
    """Return the `## ` sections of an existing BENCHMARKS.md that `rag bench` did not write."""
    kept: list[str] = []
    keep = False
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            keep = line.rstrip() not in OWN_SECTIONS
        if keep:
            kept.append(line)
    return "\n" + "".join(kept) if kept else ""
