"""The wheel a user installs: built from the tree, installed with plain pip into a fresh venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from tests.conftest import ROOT, SEEDS

WALKED_OUT = "Trump walked out of the summit in Hanoi"


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_wheel_installs_and_answers_offline(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT, cwd=tmp_path)
    (wheel,) = dist.glob("rag-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"rag/_prompts/system.md", "rag/_prompts/answer.md", "rag/_prompts/condense.md"} <= set(names)
    assert "rag/py.typed" in names and "rag/evals/cli.py" in names
    assert "rag/assets/answer-encoder-int8.onnx" in names and "rag/assets/answerer.json" in names
    assert not [n for n in names if n.startswith(("bench/", "tests/", "rag/bench"))], names
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "rag").rglob("*.py")}
    assert sources <= set(names), (
        f"not in the wheel (list the package in pyproject.toml): {sources - set(names)}"
    )

    # A fresh venv that sees this venv's dependencies (no downloads) but not its editable `rag`:
    # the wheel is installed with plain pip, and only the wheel provides `rag`.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    bin_dir = env_dir / "bin"
    _run(bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)

    corpus = tmp_path / "my docs"
    shutil.copytree(SEEDS, corpus)
    work = tmp_path / "elsewhere"  # not the source tree: prompts must come from the wheel
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_", "PYTHON"))}
    env.update(RAG_CORPUS_DIR=str(corpus), RAG_DATA_DIR=str(tmp_path / "data"), HF_HUB_OFFLINE="1")
    where = _run(bin_dir / "python", "-c", "import rag; print(rag.__file__)", cwd=work, env=env)
    assert where.strip().startswith(str(env_dir)), where
    _run(bin_dir / "rag", "ingest", "--quiet", cwd=work, env=env)
    answer = json.loads(
        _run(bin_dir / "rag", "ask", "--json", "Why did the Hanoi summit collapse?", cwd=work, env=env)
    )
    assert not answer["refused"]
    assert any(WALKED_OUT in c["quote"] and "Yongbyon" in c["quote"] for c in answer["citations"]), answer
    version = _run(bin_dir / "rag", "--version", cwd=work, env=env)
    assert version.startswith("rag ")
