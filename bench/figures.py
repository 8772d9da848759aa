"""BENCHMARKS.md: every figure as a row, and the page around the targets."""

from __future__ import annotations

from typing import Any

from bench.report import Summary, fmt_ms, fmt_s, get_path


def _met(met: bool | None) -> str:
    return "–" if met is None else ("yes" if met else "**no**")


def _pp(summary: Summary) -> str:
    return f"{fmt_ms(summary['p50'])} / {fmt_ms(summary['p95'])}"


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
        f"{fmt_ms(llm['first_call_ms'])}; {fmt_ms(llm['build_chain_ms'])}",
    )
    for row in r["scale"]["sizes"]:
        n = f"{row['chunks']:,} chunks"
        add("4 scale", f"{n}: build (Chroma add + BM25)", f"{row['add_s']:.1f} s + {row['bm25_s']:.1f} s")
        for mode in ("vector", "hybrid"):
            add("4 scale", f"{n}: {mode} p50 / p95", _pp(row[mode]))
    for what in ("ingest", "serve"):
        mb = get_path(r, f"processes.{what}.peak_rss_mb")
        add("4 scale", f"peak RSS `rag {what}`", f"{mb:,.0f} MB" if mb is not None else "not available")
    ask = cold["ask"]
    runs = ", ".join(f"{x:.2f}" for x in ask["runs_s"])
    add("5 cold start", "`rag ask` wall, median (runs)", f"{fmt_s(ask['median_s'])} ({runs})")
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
        ready = f"{fmt_s(serve['ready_s'])} ({runs})"
        add("5 cold start", "`rag serve` to first HTTP 200, median (runs)", ready)
        if serve.get("no_ingest_ready_s") is not None:
            add(
                "5 cold start", "`rag serve --no-ingest` to first HTTP 200", fmt_s(serve["no_ingest_ready_s"])
            )
    else:
        add("5 cold start", "`rag serve` to first HTTP 200", serve.get("reason", "not available"))
    return rows + _service_rows(r)


# (bench.formats key, what it is, unit)
FORMAT_FIGURES = (
    ("pdf_pages_per_s", "100-page text PDF: pages/s", ""),
    ("pdf_pages_per_cpu_s", "100-page text PDF: pages per CPU-s", ""),
    ("ocr_s_per_page", "OCR of a scanned page (Tesseract), s/page", " s"),
    ("html_file_mb", "deeply nested HTML: file size", " MB"),
    ("html_peak_mb", "deeply nested HTML: peak RSS added by parsing", " MB"),
    ("html_peak_per_file_mb", "deeply nested HTML: peak ÷ file size", "×"),
    ("pdf_file_mb", "300-page text PDF: file size", " MB"),
    ("pdf_peak_mb", "300-page text PDF: peak RSS added by parsing", " MB"),
    ("pdf_peak_per_file_mb", "300-page text PDF: peak ÷ file size", "×"),
    ("docx_file_mb", ".docx: file size", " MB"),
    ("docx_peak_mb", ".docx: peak RSS added by parsing", " MB"),
    ("xlsx_file_mb", ".xlsx: file size", " MB"),
    ("xlsx_peak_mb", ".xlsx: peak RSS added by parsing", " MB"),
    ("parse_files", "SciFact files parsed (the benchmark's corpus)", ""),
    ("parse_cpu_s", "SciFact: parsing CPU", " s"),
    ("parse_cpu_share", "SciFact: parsing's share of ingest CPU", "%"),
)


def _format_value(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    return f"{value:.2%}" if unit == "%" else f"{value:,}{unit}"


def _service_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows for `rag serve` during a first index, the chat under load, and the formats."""
    rows: list[tuple[str, str, str]] = []
    during = r["cold_start"].get("serve_during_index") or {}
    if during.get("available"):
        value = f"{fmt_s(during['ready_s'])} (RSS then {during['rss_at_ready_mb']} MB)"
    else:
        value = during.get("reason", "not measured")
    files = f"{during['files']:,}" if "files" in during else "5,000"
    rows.append(("5 cold start", f"`rag serve` to first HTTP 200, fresh data dir of {files} files", value))
    chat = r.get("chat") or {}
    if chat.get("available"):
        load, memory = chat["load"], chat["memory"]
        n = f"{load['users']} sessions × {load['questions_per_user']}"
        rows += [
            (
                "6 chat load",
                f"{n}: answered and cited / errors",
                f"{load['correct']}/{load['answers']} / {len(load['errors'])}",
            ),
            (
                "6 chat load",
                f"{n}: p50 / p95, answers/s",
                f"{fmt_s(load['p50_s'])} / {fmt_s(load['p95_s'])}, {load['answers_per_s']}",
            ),
            (
                "6 chat load",
                "server RSS before / peak",
                f"{load['rss_before_mb']} / {load['peak_rss_mb']} MB",
            ),
            (
                "6 chat load",
                f"{memory['sessions']:,} new sessions: answered and cited, answers/s",
                f"{memory['correct']:,}, {memory['answers_per_s']}",
            ),
            (
                "6 chat load",
                "server RSS after each round (sessions: MB)",
                ", ".join(f"{n:,}: {mb}" for n, mb in memory["rss_mb"]),
            ),
            ("6 chat load", "server peak RSS over the sessions", f"{memory['peak_rss_mb']} MB"),
        ]
    else:
        rows.append(("6 chat load", "50 sessions and the memory plateau", chat.get("reason", "not measured")))
    formats = r.get("formats") or {}
    if formats.get("available"):
        rows += [
            ("7 formats", label, _format_value(formats.get(key), unit))
            for key, label, unit in FORMAT_FIGURES
            if key in formats
        ]
    else:
        rows.append(("7 formats", "PDF pages/s, OCR s/page, parsing's CPU share", formats.get("reason", "–")))
    return rows


def markdown(r: dict[str, Any]) -> str:
    """Render BENCHMARKS.md: the machine, the command, every figure, the targets, and how."""
    m = r["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{r['command']}` on {r['date']} in {r['seconds']:.0f} s. Sections other than "
        "the three below are not written by `python -m bench`; it keeps them when it runs again.",
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
