"""The chat page (Gradio): `build_app(chain, settings)` and `launch(demo)`; rendering helpers are pure.

Gradio is imported only when the page is asked for, so `rag feedback export` (which reads the saved
conversations) stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.app.render import highlight, message_markdown, sources_html

if TYPE_CHECKING:
    from rag.app.page import build_app, launch

__all__ = ["build_app", "highlight", "launch", "message_markdown", "sources_html"]


def __getattr__(name: str) -> Any:
    if name in ("build_app", "launch"):
        from rag.app import page

        return getattr(page, name)
    raise AttributeError(f"module 'rag.app' has no attribute {name!r}")
