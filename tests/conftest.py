"""Shared fixtures: a clean environment, the real local embedding model, a real Chroma server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.embeddings import LocalEmbeddings
from rag.offline import apply_offline_env
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
HANOI_2024 = "000_6854160968a17922.txt"
RUSSIA_2019 = "002_a7a77883c45afa15.txt"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Hermetic tests: no RAG_*/OPENAI_* from the caller, no .env, data under tmp_path."""
    for key in list(os.environ):
        if key.startswith(("RAG_", "OPENAI_")):
            monkeypatch.delenv(key)
    apply_offline_env()
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # so a developer's .env or .rag/ is never read


@pytest.fixture(scope="session")
def embeddings() -> LocalEmbeddings:
    """The real local model, loaded once for the session."""
    return LocalEmbeddings()


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chroma_bin() -> str:
    found = Path(sys.executable).parent / "chroma"
    return str(found) if found.exists() else (shutil.which("chroma") or "chroma")


class ChromaServer:
    """A real `chroma run` process on loopback; stop() and start() it to test outages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = path.parent / "chroma-server.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    _chroma_bin(),
                    "run",
                    "--path",
                    str(self.path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"chroma run did not answer on {self.url}: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """Start the Chroma server that ships with chromadb, once per session."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db")
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def make_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Settings]:
    """Build Settings for an embedded store in tmp_path, or a fresh collection on the real server."""
    kind = request.param
    extra: dict[str, Any] = {}
    if kind == "server":
        server: ChromaServer = request.getfixturevalue("chroma_server")
        extra = {"chroma_url": server.url, "collection": f"t-{uuid.uuid4().hex[:12]}"}

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"corpus_dir": SEEDS, "data_dir": tmp_path / "data", **extra}
        values.update(overrides)
        return Settings(**values)

    build.kind = kind  # type: ignore[attr-defined]
    return build


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the seed corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    return target
