"""A start-up page: `rag serve` answers HTTP within a second or two while gradio imports and the model loads.

Importing gradio costs 2.2 s of CPU (4.6 s without `skip_gradio_stubs`; more wall time on a busy
machine), and the chat page can't be served before it. So the port is bound first by this stdlib
server: the page and its status (`/startup-status`: JSON, what the background index is doing) answer
200, every other path 503.
The page polls the status, shows the progress, and reloads once a response comes without our header
(the chat is up, whatever its status: with --auth it is a login). It is closed right before Gradio
binds the same port, so a browser opened at once never sees "connection refused" for longer than that
hand-over. Written by hand because no library serves a placeholder in front of a Gradio app that is
not built yet.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

from rag.app.uploads import Progress
from rag.errors import ConfigError

MARK = "X-Rag-Starting"  # on every response of the start-up page, never on the chat's
STATUS_PATH = "/startup-status"
# Document names reach the page only through textContent: they are never parsed as HTML.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>rag: starting</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;color:#1f2937;background:#f9fafb;margin:0;padding:0 .75rem}
main{max-width:36rem;margin:4rem auto;padding:1.5rem 1.75rem;background:#fff;border:1px solid #e5e7eb;
 border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.06)}
h1{font-size:1.5rem;margin:0 0 .75rem}
p{margin:.4rem 0;color:#374151}
#rag-starting::before{content:"";display:inline-block;width:.7em;height:.7em;margin-right:.5em;
 border:2px solid #9ca3af;border-top-color:#2563eb;border-radius:50%;animation:spin 1s linear infinite}
@keyframes spin{to{transform:rotate(360deg)}}
#rag-startup-index{margin-top:1.25rem;padding-top:1rem;border-top:1px solid #e5e7eb}
#rag-startup-index h2{font-size:1rem;margin:0 0 .4rem}
progress{appearance:none;-webkit-appearance:none;display:block;width:100%;height:.5rem;margin:.6rem 0;
 border:0;border-radius:999px;background:#e5e7eb;overflow:hidden}
progress::-webkit-progress-bar{background:#e5e7eb;border-radius:999px}
progress::-webkit-progress-value{background:#2563eb;border-radius:999px}
progress::-moz-progress-bar{background:#2563eb}
progress:not([value])::-webkit-progress-bar{
 background:linear-gradient(90deg,#e5e7eb 30%,#93c5fd 50%,#e5e7eb 70%);
 background-size:200% 100%;animation:slide 1.4s linear infinite}
@keyframes slide{to{background-position:-200% 0}}
progress[hidden]{display:none}
#rag-index-now{font-size:.875rem;color:#4b5563;overflow-wrap:anywhere}
</style></head>
<body><main><h1>Ask your documents</h1>
<p id="rag-starting" role="status">Starting the chat page: it opens here by itself in a few seconds.</p>
<section id="rag-startup-index" hidden><h2>Your documents</h2>
<p id="rag-index-line" role="status" aria-live="polite"></p>
<progress id="rag-index-bar"></progress>
<p id="rag-index-now"></p></section></main>
<script>
(function poll() {
  fetch("/startup-status", {cache: "no-store"}).then(r => {
    if (!r.headers.get("X-Rag-Starting")) return location.reload();
    return r.json().then(show).then(() => setTimeout(poll, 500));
  }).catch(() => setTimeout(poll, 300));
})();
function show(s) {
  const box = document.getElementById("rag-startup-index"), bar = document.getElementById("rag-index-bar");
  const ix = s.index;
  box.hidden = !ix;
  if (!ix) return;
  document.getElementById("rag-index-line").textContent = ix.line;
  document.getElementById("rag-index-now").textContent = ix.current ? "Now: " + ix.current : "";
  if (ix.total && ix.running && !ix.waiting) { bar.max = ix.total; bar.value = ix.done; bar.hidden = false; }
  else if (ix.running) { bar.removeAttribute("value"); bar.hidden = false; }
  else bar.hidden = true;
}
</script></body></html>
"""


def index_status(p: Progress) -> dict[str, Any]:
    """Describe the background index for the start-up page: its figures and one line in plain words."""
    if p.error:
        line = f"Indexing stopped: {p.error}"
    elif not p.running:
        line = f"Indexed: {p.done:,} files checked, {p.passages:,} new passages."
    elif p.waiting and not p.total:
        line = "Your documents are checked for changes as soon as the chat page is up."
    elif not p.total:
        line = "Finding your documents…"
    elif p.waiting:
        line = f"Found {p.total:,} files: indexing starts as soon as the chat page is up."
    else:
        line = (
            f"Indexing: {p.done:,} of {p.total:,} files ({100 * p.done // p.total}%), "
            f"{p.passages:,} passages so far. The chat answers from what is indexed so far."
        )
    return {
        "running": p.running,
        "done": p.done,
        "total": p.total,
        "passages": p.passages,
        "current": p.current,
        "error": p.error,
        "waiting": p.waiting,
        "line": line,
    }


class _NoStubsLoader(importlib.abc.Loader):
    """Run `gradio.component_meta` as it is, then make its stub writer do nothing."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)  # get_source, get_code, …: the file loader's own

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        if callable(getattr(module, "create_or_modify_pyi", None)):
            module.__dict__["create_or_modify_pyi"] = _no_stubs


def _no_stubs(*args: object, **kwargs: object) -> None:
    """Write no `.pyi` file (what `gradio.component_meta.create_or_modify_pyi` is replaced with)."""


class _NoStubsFinder(importlib.abc.MetaPathFinder):
    """Find `gradio.component_meta` as Python would, and load it through `_NoStubsLoader`."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "gradio.component_meta":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _NoStubsLoader(spec.loader)
        return spec


def skip_gradio_stubs() -> None:
    """Make gradio's import skip writing type stubs: about half its CPU (2.3 of 4.6 s measured).

    Each component class gradio defines reads its own source, parses it twice and renders a Jinja
    template to rewrite a `.pyi` beside it in site-packages (for editors; nothing reads it at run
    time, and a read-only install fails on it: gradio-app/gradio#10121). There is no switch for it,
    so the function is replaced as its module is loaded, before any component exists. Call it before
    gradio is imported; when gradio's code has changed, nothing is replaced and nothing breaks.
    """
    if "gradio" not in sys.modules and not any(isinstance(f, _NoStubsFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoStubsFinder())


class _Handler(BaseHTTPRequestHandler):
    server: _Server

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
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif path == STATUS_PATH:
            progress = self.server.progress
            status = {"chat": "starting", "index": None if progress is None else index_status(progress())}
            self._send(200, json.dumps(status).encode(), "application/json")
        else:
            self._send(503, b"starting\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        self._send(503, b"starting\n", "text/plain; charset=utf-8")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # no request log in the terminal


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    progress: Callable[[], Progress] | None = None

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

    def show_index(self, progress: Callable[[], Progress]) -> None:
        """Show the background index's progress (the indexer's `progress`) on the page from now on."""
        self._server.progress = progress

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


__all__ = ["MARK", "STATUS_PATH", "StartupPage", "index_status", "skip_gradio_stubs"]
