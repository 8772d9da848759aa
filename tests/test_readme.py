"""The README's Python snippet runs as written, offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SEEDS


def _python_snippet(section: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    body = readme.split(f"## {section}", 1)[1]
    match = re.search(r"```python\n(.*?)```", body, re.S)
    assert match, f"no python snippet under {section}"
    return match.group(1)


def test_python_api_snippet_runs(tmp_path: Path) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    (tmp_path / "snippet.py").write_text(_python_snippet("Python API"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    result = subprocess.run(
        [sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Trump walked out of the summit in Hanoi" in result.stdout
    assert "Putin visited Pyongyang in June" in result.stdout
