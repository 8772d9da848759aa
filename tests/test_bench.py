"""`rag bench` plumbing on a tiny BEIR folder: every section runs and lands in bench.json and BENCHMARKS.md.

No timing is asserted here: the benchmark checks its targets itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rag.cli import app

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


def test_bench_writes_every_section(tmp_path: Path) -> None:
    beir, out = _beir(tmp_path / "scifact"), tmp_path / "out"
    args = ["bench", "--beir", str(beir), "--out", str(out), "--skip-serve"]
    result = CliRunner().invoke(app, [*args, "--scale", "200,500", "--queries", "5", "--ask-runs", "1"])
    assert result.exit_code == 0, result.output

    data = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    for key in ("command", "machine", "config", "embedding", "peer", "latency", "scale", "processes"):
        assert key in data
    assert {"cold_start", "targets", "notes"} <= data.keys()
    assert data["config"]["documents"] == 20 and data["config"]["queries"] == 5
    emb = data["embedding"]
    assert emb["chunks"] == emb["chunks_ingested"] > 0
    assert emb["raw_sorted_per_s"] > 0 and emb["raw_unsorted_per_s"] > 0 and emb["ingest_vs_raw"] > 0
    assert data["peer"]["chunks"] > 0 and data["peer"]["query"]["n"] == 5
    assert set(data["latency"]["retrieval"]) == {"vector", "bm25", "hybrid"}
    assert data["latency"]["extractive_warm"]["n"] == 5
    assert data["latency"]["llm"]["first_token"]["n"] == 4  # the first call is reported apart
    assert [row["chunks"] for row in data["scale"]["sizes"]] == [200, 500]
    assert data["processes"]["ingest"]["peak_rss_mb"] > 0
    ask = data["cold_start"]["ask"]
    assert len(ask["runs_s"]) == 1 and ask["heavy_unused_imports"] == []
    assert data["cold_start"]["import_rag"]["heavy_unused_imports"] == []
    assert data["cold_start"]["serve"]["available"] is False
    assert {t["target"] for t in data["targets"]} >= {"ingest vs raw model throughput"}
    assert all(set(t) == {"target", "value", "goal", "met", "limited_by"} for t in data["targets"])

    md = (out / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "| target | value | goal | met | what limits it |" in md
    assert "| section | figure | value |" in md
    assert data["command"] in md and data["machine"]["cpu"] in md


def test_bench_without_the_dataset_says_where_to_get_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "--beir", str(tmp_path / "missing"), "--out", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "scifact.zip" in lines[0] and "--beir" in lines[0]
    assert not (tmp_path / "bench.json").exists()
