"""A start-up page: `rag serve` answers HTTP within a second or two while gradio imports and the model loads.

Importing gradio alone costs ~5 s of CPU (much more wall time on a busy machine), and the chat page
can't be served before it. So the port is bound first by this stdlib server: every path but the page
answers 503 and the page polls until a response comes without our header (the chat is up, whatever its
status: with --auth it is a login), then reloads. It is closed right before Gradio binds the same port,
so a browser opened at once never sees "connection refused" for longer than that hand-over.
Written by hand because no library serves a placeholder in front of a Gradio app that is not built yet.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rag.errors import ConfigError

MARK = "X-Rag-Starting"  # on every response of the start-up page, never on the chat's
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>rag: starting</title>
<style>body{font:16px system-ui,sans-serif;color:#1f2937;max-width:36rem;margin:4rem auto;padding:0 1rem}
p{color:#374151}</style></head>
<body><h1>Ask your documents</h1>
<p id="rag-starting" role="status">Starting the chat page: it opens here by itself in a few seconds.</p>
<script>
(function poll() {
  fetch("/config", {cache: "no-store"}).then(r => {
    if (!r.headers.get("X-Rag-Starting")) location.reload(); else setTimeout(poll, 500);
  }, () => setTimeout(poll, 300));
})();
</script></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header(MARK, "1")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if status == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.split("?", 1)[0] == "/":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        else:
            self._send(503, b"starting\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        self._send(503, b"starting\n", "text/plain; charset=utf-8")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # no request log in the terminal


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer's own asks the resolver for the host's full name: no lookup on the way to the page.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class _Server6(_Server):
    address_family = socket.AF_INET6


class StartupPage:
    """Serve the start-up page on host:port in a thread until `close()`."""

    def __init__(self, host: str, port: int) -> None:
        kind = _Server6 if ":" in host else _Server
        try:
            self._server = kind((host, port), _Handler)
        except OSError as e:
            raise ConfigError(f"cannot serve on {host}:{port}: {e}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="rag-starting", daemon=True)
        self._thread.start()
        self._open = True

    def close(self) -> None:
        """Stop answering and free the port (for Gradio to bind it); closing twice is fine."""
        if not self._open:
            return
        self._open = False
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StartupPage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["MARK", "StartupPage"]
