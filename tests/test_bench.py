"""`python -m bench` plumbing on a tiny BEIR folder: every section runs and lands in bench.json and
BENCHMARKS.md; the serve, chat-load and memory measurements run against a real `rag serve`.

No timing is asserted here: the benchmark checks its targets itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.figures import figure_rows
from bench.load import measure_chat_load, plateau
from bench.proc import child_env
from bench.report import foreign_sections
from bench.serve import measure_serve_during_index
from bench.suite import load_beir, write_docs
from bench.targets import targets

ROOT = Path(__file__).resolve().parents[1]

TOPICS = [
    ("Vitamin D", "bone density in older adults", "calcium absorption"),
    ("Aspirin", "the risk of a second heart attack", "platelet aggregation"),
    ("Statins", "cholesterol levels in the blood", "liver enzyme activity"),
    ("Exercise", "insulin sensitivity in muscle", "glucose uptake"),
    ("Sleep loss", "memory consolidation", "hippocampal activity"),
]


def _beir(folder: Path, docs: int = 20, queries: int = 5) -> Path:
    folder.mkdir()
    (folder / "qrels").mkdir()
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for i in range(docs):
            name, effect, mechanism = TOPICS[i % len(TOPICS)]
            text = (
                f"{name} changes {effect} in trial {i}. The effect is explained by {mechanism}. "
                f"Patients in cohort {i} were followed for {i + 2} years."
            )
            f.write(json.dumps({"_id": str(1000 + i), "title": f"{name} study {i}", "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as f:
        for i in range(queries):
            name, effect, _ = TOPICS[i % len(TOPICS)]
            f.write(json.dumps({"_id": str(i), "text": f"Does {name.lower()} change {effect}?"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n0\t1000\t1\n", encoding="utf-8")
    return folder


def test_bench_writes_every_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    beir, out = _beir(tmp_path / "scifact"), tmp_path / "out"
    args = ["--beir", str(beir), "--out", str(out), "--skip-serve", "--skip-formats"]
    assert main([*args, "--scale", "200,500", "--queries", "5", "--ask-runs", "1"]) == 0
    printed = capsys.readouterr().out

    data = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    for key in ("command", "machine", "config", "embedding", "peer", "latency", "scale", "processes"):
        assert key in data
    assert {"cold_start", "targets", "notes", "chat", "formats"} <= data.keys()
    assert data["command"].startswith("python -m bench --beir")
    assert data["config"]["documents"] == 20 and data["config"]["queries"] == 5
    emb = data["embedding"]
    assert emb["chunks"] == emb["chunks_ingested"] > 0
    assert emb["raw_sorted_per_s"] > 0 and emb["raw_unsorted_per_s"] > 0 and emb["ingest_vs_raw"] > 0
    assert data["peer"]["chunks"] > 0 and data["peer"]["query"]["n"] == 5
    assert set(data["latency"]["retrieval"]) == {"vector", "bm25", "hybrid"}
    assert data["latency"]["extractive_warm"]["n"] == data["latency"]["extractive_cold"]["n"] == 5
    llm = data["latency"]["llm"]  # against tests/openai_stub.py; the first call is reported apart
    assert llm["first_token"]["n"] == 4 and llm["endpoint_first_event"]["n"] == 5
    assert [row["chunks"] for row in data["scale"]["sizes"]] == [200, 500]
    assert data["processes"]["ingest"]["peak_rss_mb"] > 0
    ask = data["cold_start"]["ask"]
    assert len(ask["runs_s"]) == 1 and ask["heavy_unused_imports"] == []
    assert data["cold_start"]["import_rag"]["heavy_unused_imports"] == []
    for skipped in (data["cold_start"]["serve"], data["cold_start"]["serve_during_index"], data["chat"]):
        assert skipped == {"available": False, "reason": "skipped (--skip-serve)"}
    assert data["formats"] == {"available": False, "reason": "skipped (--skip-formats)"}
    names = {t["target"] for t in data["targets"]}
    assert {"extractive answer p50, warm cache", "extractive answer p50, cold cache"} <= names
    assert "`rag serve` page during a first index of 5,000 files" in names
    assert all(set(t) == {"target", "value", "goal", "met", "limited_by"} for t in data["targets"])
    unmeasured = [t for t in data["targets"] if t["value"] == "not measured"]
    assert unmeasured and all(t["met"] is None and t["limited_by"] for t in unmeasured)
    assert "extractive answer p50, cold cache" in printed

    # bench/formats.py's figures land in the targets and the table (it is too slow to run here).
    data["formats"] = {"available": True, "pdf_pages_per_s": 101.2, "ocr_s_per_page": None}
    data["formats"] |= {"parse_cpu_s": 0.4, "parse_cpu_share": 0.021}
    rows = {t["target"]: t for t in targets(data)}
    assert rows["text formats' parsing, share of ingest CPU on SciFact"]["value"] == "2.10%"
    assert rows["text formats' parsing, share of ingest CPU on SciFact"]["met"] is True
    assert rows["100-page text PDF, pages/s"]["value"] == "101.20"
    assert rows["OCR of a scanned page, s/page"]["limited_by"] == "Tesseract is not installed"
    assert ("7 formats", "SciFact: parsing's share of ingest CPU", "2.10%") in figure_rows(data)

    md = (out / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "| target | value | goal | met | what limits it |" in md
    assert "| section | figure | value |" in md
    assert data["command"] in md and data["machine"]["cpu"] in md


def test_python_m_bench_without_the_dataset_says_where_to_get_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    ran = subprocess.run(
        [sys.executable, "-m", "bench", "--beir", str(missing), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1 and ran.stdout == ""
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and "scifact.zip" in lines[0] and "--beir" in lines[0] and str(missing) in lines[0]
    assert not (tmp_path / "bench.json").exists()


def test_chat_load_and_memory_against_a_real_server(tmp_path: Path) -> None:
    stages: list[str] = []
    chat = measure_chat_load(tmp_path, sessions=8, on_stage=stages.append, users=3, questions=2)
    load, memory = chat["load"], chat["memory"]
    # Which source each answer cites is tests/test_load.py's to check; here: every question answered.
    assert load["answers"] == 6 and load["errors"] == [] and 0 < load["correct"] <= 6
    assert load["peak_rss_mb"] >= load["rss_before_mb"] > 50
    assert memory["sessions"] == 8 and memory["error_count"] == 0 and 0 <= memory["correct"] <= 8
    assert [n for n, _ in memory["rss_mb"]] == list(range(9)) and all(mb for _, mb in memory["rss_mb"])
    assert memory["flat"] in (True, False) and stages


def test_serve_not_up_in_time_during_a_first_index_is_a_missed_budget(tmp_path: Path) -> None:
    # The page coming up is covered by the chat-load test (same `serving`); here, the give-up path.
    documents, _ = load_beir(_beir(tmp_path / "scifact", docs=12), None, 1)
    env = child_env(write_docs(documents, tmp_path / "corpus"), tmp_path / "data", "bench-serve")
    during = measure_serve_during_index(env, len(documents), docs_per_s=2.0, timeout=0.5)
    assert during["available"] is False and during["timed_out"] is True
    assert during["files"] == 12 and during["full_index_estimate_s"] == 6.0
    assert "no page within 0.5 s" in during["reason"] and "12 files" in during["reason"]
    assert during["limited_by"] == during["reason"]


def test_plateau_tells_a_leak_from_a_flat_curve() -> None:
    leak = [(n, 388 + n * 0.145) for n in range(0, 2001, 250)]  # ~150 KB a session
    flat = [(n, 420 + (3 if n else 0) + (n % 500) / 250) for n in range(0, 2001, 250)]
    assert plateau(leak)["flat"] is False and plateau(leak)["kb_per_session_second_half"] > 100
    assert plateau(flat)["flat"] is True
    assert plateau([(0, 400.0), (10, None)]) == {"kb_per_session_second_half": None, "flat": None}


def test_sections_written_by_hand_survive_a_rerun() -> None:
    page = (
        "# Benchmarks\n\nGenerated by `python -m bench`.\n\n## Targets\n\n| a |\n\n## Load: 50 sessions\n\n"
        "by hand\n\n## All figures\n\n| b |\n\n## How they were made\n\n- c\n\n## Notes\n\nmore\n"
    )
    assert foreign_sections(page) == "\n## Load: 50 sessions\n\nby hand\n\n## Notes\n\nmore\n"
    assert foreign_sections("# Benchmarks\n\n## Targets\n\n| a |\n") == ""
