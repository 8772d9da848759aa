"""The `rag` command as a user runs it: typer's runner for most cases, the real console script once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from rag.cli import app
from tests.conftest import HANOI_2024, RUSSIA_2019

runner = CliRunner()
HANOI_Q = "Why did the Hanoi summit collapse?"


def _args(corpus: Path, data: Path) -> list[str]:
    return ["--corpus", str(corpus), "--data-dir", str(data)]


def test_ingest_then_search_json(corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = runner.invoke(app, ["ingest", *_args(corpus, data)])
    assert first.exit_code == 0, first.output
    assert "indexed (new or changed)" in first.output and "2 │" in first.output

    again = runner.invoke(app, ["ingest", *_args(corpus, data)])
    assert again.exit_code == 0
    assert "0 chunks embedded" in again.output

    found = runner.invoke(app, ["search", "--json", "-k", "3", HANOI_Q, *_args(corpus, data)])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert set(hits[0]) == {"rank", "source", "title", "page", "start", "end", "score", "text"}
    assert {h["source"] for h in hits} <= {HANOI_2024, RUSSIA_2019}

    plain = runner.invoke(app, ["search", "--mode", "bm25", "Yongbyon", *_args(corpus, data)])
    assert plain.exit_code == 0 and "Yongbyon" in plain.stdout


def test_search_names_the_sheet_and_prints_file_names_as_written(tmp_path: Path) -> None:
    from tests import formats_fixtures as fx

    corpus, data = tmp_path / "docs", tmp_path / "data"
    corpus.mkdir()
    fx.make_xlsx(corpus / "stations.xlsx")
    (corpus / "[red]notes[bold].txt").write_text("Ingrid keeps every rain gauge calibrated.\n")
    assert runner.invoke(app, ["ingest", *_args(corpus, data)]).exit_code == 0
    found = runner.invoke(app, ["search", "--mode", "bm25", "-k", "5", "Ingrid", *_args(corpus, data)])
    assert found.exit_code == 0, found.output
    assert "stations.xlsx, sheet Staff" in found.stdout and "page 2" not in found.stdout
    assert "[red]notes[bold].txt" in found.stdout  # document names are never rich markup


def test_errors_are_one_line_without_traceback(tmp_path: Path, corpus: Path) -> None:
    data = tmp_path / "data"
    before = runner.invoke(app, ["search", "anything", *_args(corpus, data)])
    assert before.exit_code == 1
    assert "nothing is indexed yet" in before.output and "Traceback" not in before.output

    missing = runner.invoke(app, ["ingest", "--corpus", str(tmp_path / "nope"), "--data-dir", str(data)])
    assert missing.exit_code == 1
    assert "does not exist" in missing.output and "Traceback" not in missing.output

    runner.invoke(app, ["ingest", *_args(corpus, data)])
    empty = runner.invoke(app, ["search", "  ", *_args(corpus, data)])
    assert empty.exit_code == 1 and "is empty" in empty.output

    bad = runner.invoke(app, ["search", "x", "-k", "0", *_args(corpus, data)])
    assert bad.exit_code == 1 and "invalid setting top_k" in bad.output


def test_interactive_search_prompt(corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner.invoke(app, ["ingest", *_args(corpus, data)])
    session = runner.invoke(app, ["search", *_args(corpus, data)], input="Yongbyon\n\n")
    assert session.exit_code == 0
    assert "search>" in session.output and "Yongbyon" in session.output


def test_console_script_offline(corpus: Path, tmp_path: Path) -> None:
    """The installed `rag` script, with the environment variables a user would set."""
    rag = Path(sys.executable).parent / "rag"
    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus), "RAG_DATA_DIR": str(tmp_path / "d")}
    subprocess.run([str(rag), "ingest", "-q"], env=env, check=True, cwd=tmp_path)
    result = subprocess.run(
        [str(rag), "search", "--json", HANOI_Q],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    hits = json.loads(result.stdout)
    assert len(hits) == 5


def test_ask_json_offline_cites_the_walk_out_sentence(corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner.invoke(app, ["ingest", "-q", *_args(corpus, data)])
    result = runner.invoke(app, ["ask", "--json", HANOI_Q, *_args(corpus, data)])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["mode"] == "extractive" and answer["refused"] is False
    cited = [c for c in answer["citations"] if "Trump walked out of the summit in Hanoi" in c["quote"]]
    assert cited and cited[0]["source"] == HANOI_2024
    for c in answer["citations"]:
        assert (corpus / c["source"]).read_text(encoding="utf-8")[c["start"] : c["end"]] == c["quote"]


def test_ask_plain_output_names_the_answerer_and_sources(corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner.invoke(app, ["ingest", "-q", *_args(corpus, data)])
    result = runner.invoke(app, ["ask", HANOI_Q, *_args(corpus, data)])
    assert result.exit_code == 0
    assert "Sources" in result.output and "[1]" in result.output
    assert "answered by: extractive" in result.output
    refused = runner.invoke(app, ["ask", "What is a good recipe for kimchi?", *_args(corpus, data)])
    assert refused.exit_code == 0 and "I couldn't find this in the documents." in refused.output


def _serve(corpus: Path, data: Path, port: int) -> subprocess.Popen[str]:
    rag = Path(sys.executable).parent / "rag"
    return subprocess.Popen(
        [str(rag), "serve", "--port", str(port), *_args(corpus, data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_indexes_then_answers_on_loopback(corpus: Path, tmp_path: Path) -> None:
    """`rag serve` as `make run` starts it: serve at once, index what changed in the background."""
    from gradio_client import Client

    from tests.conftest import free_port

    port = free_port()
    proc = _serve(corpus, tmp_path / "data", port)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the page is up
        assert line.startswith(f"Chat on http://127.0.0.1:{port}"), line
        assert proc.stderr is not None
        indexed = [next(ln for ln in proc.stderr if ln.startswith("index:"))]  # the background index
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        reply = client.predict(HANOI_Q, api_name="/chat")
        assert "Trump walked out of the summit in Hanoi" in json.dumps(reply, ensure_ascii=False)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert "index: 14 chunks; 2 files indexed now, 0 unchanged, 0 removed" in indexed[0] + stderr


def test_serve_reports_a_bad_corpus_in_one_line(tmp_path: Path) -> None:
    from tests.conftest import free_port

    proc = _serve(tmp_path / "missing", tmp_path / "data", free_port())
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1 and stdout == ""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: the corpus folder") and "Traceback" not in stderr, stderr
