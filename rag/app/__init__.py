"""The chat page (Gradio): `build_app(chain, settings)` and `launch(demo)`; rendering helpers are pure."""

from rag.app.page import build_app, launch
from rag.app.render import highlight, message_markdown, sources_html

__all__ = ["build_app", "highlight", "launch", "message_markdown", "sources_html"]
