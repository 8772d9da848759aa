"""The issues' budgets checked against the figures: one row each, with what limits it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report import PEER_COMPARISONS, fmt_ms, fmt_s, get_path

Add = Callable[[str, str, str, "bool | None", str], None]


def _at_least(value: Any, goal: float) -> bool | None:
    return None if value is None else float(value) >= goal


def _at_most(value: Any, goal: float) -> bool | None:
    return None if value is None else float(value) <= goal


def _mb(value: Any) -> str:
    return "–" if value is None else f"{value:,.0f} MB"


def _index_and_answers(r: dict[str, Any], add: Add) -> None:
    emb, lat = r["embedding"], r["latency"]
    scale = {row["chunks"]: row for row in r["scale"]["sizes"]}
    ratio = emb["ingest_vs_raw"]
    shown = f"{ratio:.2f}× (CPU time {emb['ingest_vs_raw_cpu']:.2f}×)"
    add("ingest vs raw model throughput", shown, "≥ 0.90×", _at_least(ratio, 0.9), emb["limited_by"])
    for size, goal in ((10_000, 15.0), (100_000, 30.0)):
        row = scale.get(size)
        p50 = row["hybrid"]["p50"] if row else None
        limit = row["limited_by"] if row else "size not in this run (--scale)"
        add(
            f"hybrid retrieval p50 at {size:,} chunks",
            fmt_ms(p50),
            f"≤ {goal:g} ms",
            _at_most(p50, goal),
            limit,
        )
    warm = get_path(lat, "extractive_warm.p50")
    limit = lat["extractive_limited_by"]
    add("extractive answer p50, warm cache", fmt_ms(warm), "≤ 60 ms", _at_most(warm, 60.0), limit)
    cold = get_path(lat, "extractive_cold.p50")
    add("extractive answer p50, cold cache", fmt_ms(cold), "≤ 300 ms", _at_most(cold, 300.0), limit)


def _start_up(r: dict[str, Any], add: Add) -> None:
    cold = r["cold_start"]
    ask = cold["ask"]["median_s"]
    clean = not cold["ask"]["heavy_unused_imports"]
    add(
        "`rag ask` cold (median wall)",
        fmt_s(ask),
        "≤ 3 s, no gradio/langchain_openai",
        None if ask is None else (ask <= 3.0 and clean),
        cold["ask"]["limited_by"],
    )
    serve = cold["serve"]
    chat_page = f" (the chat page {fmt_s(serve['chat_ready_s'])})" if "chat_ready_s" in serve else ""
    add(
        "`rag serve` to first HTTP 200, indexed",
        fmt_s(serve.get("ready_s")) + chat_page if serve.get("available") else "not measured",
        "≤ 6 s",
        _at_most(serve.get("ready_s"), 6.0),
        serve.get("limited_by") or serve.get("reason", ""),
    )
    during = cold.get("serve_during_index") or {}
    files = f"{during['files']:,}" if "files" in during else "5,000"
    ready = during.get("ready_s")
    if during.get("available"):
        shown, met = fmt_s(ready), _at_most(ready, 6.0)
        if "chat_ready_s" in during:  # the first 200 is the start-up page; the chat page follows
            shown += f" (the chat page {fmt_s(during['chat_ready_s'])})"
    elif during.get("timed_out"):
        shown, met = f"> {during['timeout_s']:.0f} s", False
    else:
        shown, met = "not measured", None
    limit = during.get("limited_by") or during.get("reason", "")
    add(f"`rag serve` page during a first index of {files} files", shown, "≤ 6 s", met, limit)


def _chat(r: dict[str, Any], add: Add) -> None:
    chat = r.get("chat") or {}
    if not chat.get("available"):
        why = chat.get("reason", "not measured")
        add("50 chat sessions at once, all answered and cited", "not measured", "all", None, why)
        n = r["config"].get("sessions", 2_000)
        add(f"RSS over {n:,} questions in new sessions", "not measured", "flat", None, why)
        return
    load, memory = chat["load"], chat["memory"]
    ok = load["correct"] == load["answers"] and not load["errors"]
    add(
        f"{load['users']} chat sessions at once, all answered and cited",
        f"{load['correct']}/{load['answers']}; p50 {fmt_s(load['p50_s'])}, p95 {fmt_s(load['p95_s'])}; "
        f"peak RSS {_mb(load['peak_rss_mb'])}",
        "all",
        ok,
        f"queueing: {load['users']} sessions share the Gradio queue's workers on 2 cores "
        f"({load['answers_per_s']} answers/s)",
    )
    curve = memory["rss_mb"]
    half = curve[len(curve) // 2]
    per = memory["kb_per_session_second_half"]
    add(
        f"RSS over {memory['sessions']:,} questions in new sessions",
        f"{_mb(curve[0][1])} → {_mb(half[1])} at {half[0]:,} → {_mb(curve[-1][1])}"
        + ("" if per is None else f" ({per:+.1f} KB/session over the second half)"),
        "flat (< 10 KB/session)",
        memory["flat"] if memory["error_count"] == 0 else False,
        f"per-session state kept by the server; {memory['correct']:,} of {memory['sessions']:,} answered "
        f"and cited, {memory['error_count']} errors",
    )


def _formats(r: dict[str, Any], add: Add) -> None:
    formats = r.get("formats") or {}
    why = formats.get("reason", "") if not formats.get("available") else ""
    rows = (
        ("text formats' parsing, share of ingest CPU on SciFact", "parse_cpu_share", "≤ 5 %", 0.05),
        ("100-page text PDF, pages/s", "pdf_pages_per_s", "report", None),
        ("OCR of a scanned page, s/page", "ocr_s_per_page", "report", None),
    )
    for name, key, goal, most in rows:
        value = formats.get(key)
        if value is None:
            missing = (
                "Tesseract is not installed" if key == "ocr_s_per_page" else f"no {key} from bench.formats"
            )
            add(name, "not measured", goal, None, why or missing)
            continue
        shown = f"{value:.2%}" if key == "parse_cpu_share" else f"{value:,.2f}"
        limits = formats.get("limited_by")
        limit = str(limits.get(key, "")) if isinstance(limits, dict) else str(limits or "")
        add(name, shown, goal, _at_most(value, most) if most is not None else None, limit)


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


def _peer(r: dict[str, Any], add: Add) -> None:
    for ours_key, peer_key, label, better in PEER_COMPARISONS:
        ours, theirs = get_path(r, ours_key), get_path(r, peer_key)
        met = (
            None
            if ours is None or theirs is None
            else (ours > theirs if better == "higher" else ours < theirs)
        )
        shown = "–" if met is None else f"{ours:,.1f} vs {theirs:,.1f}"
        add(f"ahead of the LangChain pipeline: {label}", shown, f"ours {better}", met, _peer_limit(label, r))


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Check the budgets against the figures; `met` is None when a figure was not measured."""
    rows: list[dict[str, Any]] = []

    def add(name: str, shown: str, goal: str, met: bool | None, limit: str) -> None:
        rows.append({"target": name, "value": shown, "goal": goal, "met": met, "limited_by": limit})

    from bench.workspace import targets as workspace

    for section in (_index_and_answers, _start_up, _chat, workspace, _formats, _peer):
        section(r, add)
    return rows
