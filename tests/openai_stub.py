"""A scriptable OpenAI-compatible HTTP server for tests: queue answers, then inspect what clients sent."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

DIM = 384


def fake_embedding(item: str | list[int]) -> list[float]:
    """Return a deterministic 384-dim unit vector derived from a hash of the input."""
    key = item if isinstance(item, str) else json.dumps(item)
    raw = hashlib.shake_256(key.encode()).digest(DIM * 2)
    vec = [v / 32768.0 - 1.0 for v in struct.unpack(f"<{DIM}H", raw)]
    norm = sum(v * v for v in vec) ** 0.5 or 1.0
    return [v / norm for v in vec]


def split_words(text: str, size: int = 3) -> list[str]:
    """Split text into pieces of about `size` words that join back to exactly `text`."""
    words = [w for w in re.split(r"(?<=\s)(?=\S)", text) if w]
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


class _Server(ThreadingHTTPServer):
    """The HTTP server, carrying a reference to its stub; handler threads are daemons."""

    daemon_threads = True
    stub: OpenAIStub

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client goes away; tests assert on behaviour, not logs."""


class _Handler(BaseHTTPRequestHandler):
    """Routes /v1 requests to the stub."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default stderr access log."""

    def _record(self) -> dict[str, Any]:
        """Read the body and append the request to the stub's log."""
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.stub._lock:
            self.server.stub.requests.append({"path": self.path, "headers": headers, "json": body})
        return body if isinstance(body, dict) else {}

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Send a JSON (or raw bytes) response."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """Serve /v1/models; everything else is 404."""
        self._record()
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": "stub-model", "object": "model", "created": 0, "owned_by": "stub"}
            self._send(200, {"object": "list", "data": [model]})
        else:
            self._not_found()

    def do_POST(self) -> None:
        """Serve chat completions and embeddings; tolerate clients that disconnect."""
        body = self._record()
        try:
            path = self.path.rstrip("/")
            if path == "/v1/chat/completions":
                self._chat(body)
            elif path == "/v1/embeddings":
                self._embeddings(body)
            else:
                self._not_found()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _not_found(self) -> None:
        """Answer 404 with an OpenAI-style error."""
        err = {"message": f"Unknown path {self.path}", "type": "invalid_request_error", "code": None}
        self._send(404, {"error": {**err, "param": None}})

    def _chat(self, body: dict[str, Any]) -> None:
        """Answer with the next queued item (or the default text)."""
        stub = self.server.stub
        item = stub._pop()
        if item[0] == "stall":
            if stub._stopping.wait(item[1]):
                return
            item = stub._pop()
        if item[0] == "fail":
            self._send(item[1], item[2], {"retry-after-ms": "1"})
            return
        if item[0] == "garbage":
            self._send(200, b"<html>this is not JSON")
            return
        text, chunks = item[1], item[2]
        model = body.get("model") or "stub-model"
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": model}
        n_in = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        usage = {"prompt_tokens": n_in, "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            self._send(200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage})
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        self.close_connection = True
        chunk = {**base, "object": "chat.completion.chunk"}

        def event(choices: list[dict[str, Any]], **extra: Any) -> None:
            """Write one SSE data event."""
            self.wfile.write(f"data: {json.dumps({**chunk, 'choices': choices, **extra})}\n\n".encode())
            self.wfile.flush()

        stall_after = item[3] if len(item) > 3 else None
        for n, piece in enumerate(split_words(text) if chunks is None else chunks):
            if stall_after is not None and n >= stall_after:
                stub._stopping.wait()  # hang mid-stream, as a dying endpoint does
                return
            delta = {"role": "assistant", "content": piece}
            event([{"index": 0, "delta": delta, "finish_reason": None}])
        event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if (body.get("stream_options") or {}).get("include_usage"):
            event([], usage=usage)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _embeddings(self, body: dict[str, Any]) -> None:
        """Return deterministic fake vectors, as floats or base64 float32 as requested."""
        raw = body.get("input", [])
        if isinstance(raw, str) or (raw and all(isinstance(t, int) for t in raw)):
            raw = [raw]
        data = []
        for i, item in enumerate(raw):
            vec: Any = fake_embedding(item)
            if body.get("encoding_format") == "base64":
                vec = base64.b64encode(struct.pack(f"<{DIM}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vec})
        n = sum(len(x.split()) if isinstance(x, str) else len(x) for x in raw)
        usage = {"prompt_tokens": n, "total_tokens": n}
        self._send(200, {"object": "list", "data": data, "model": body.get("model", "stub"), "usage": usage})


class OpenAIStub:
    """A local OpenAI-compatible server, scripted per test via reply/fail/stall/garbage."""

    default_text: str = "I couldn't find this in the documents."

    def __init__(self) -> None:
        """Prepare an empty queue and request log; does not start the server."""
        self.requests: list[dict[str, Any]] = []
        self.base_url = ""
        self._queue: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> OpenAIStub:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down promptly, waking any stalled handler."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIStub:
        """Start and return the stub."""
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        """Stop the stub."""
        self.stop()

    def _pop(self) -> tuple[Any, ...]:
        """Take the next queued item, or a reply with the default text."""
        with self._lock:
            return self._queue.pop(0) if self._queue else ("reply", self.default_text, None)

    def _push(self, *items: tuple[Any, ...]) -> None:
        """Append items to the queue."""
        with self._lock:
            self._queue.extend(items)

    def reply(self, text: str, *, chunks: list[str] | None = None, stall_after: int | None = None) -> None:
        """Queue one chat completion answer (streamed as `chunks`, default ~3-word pieces).

        With `stall_after=N`, a streamed answer stops after N pieces and hangs until `stop()`.
        """
        self._push(("reply", text, chunks, stall_after))

    def fail(self, status: int, *, times: int = 1, body: dict[str, Any] | None = None) -> None:
        """Queue `times` error responses with this status and an OpenAI-style error body."""
        kind = "server_error" if status >= 500 else "invalid_request_error"
        err = {"error": {"message": f"stub error {status}", "type": kind, "param": None, "code": None}}
        self._push(*[("fail", status, body or err)] * times)

    def stall(self, seconds: float) -> None:
        """Queue one response that sleeps `seconds`, then answers with the next item or the default."""
        self._push(("stall", seconds))

    def garbage(self) -> None:
        """Queue one 200 response whose body is not JSON."""
        self._push(("garbage",))
