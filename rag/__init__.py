"""rag: ask questions of your documents and get answers that cite the exact passages.

The public API; it never imports gradio. Names load on first use (PEP 562), so `rag --help`, `rag
serve`'s start-up page and `import rag.settings` don't pay for LangChain and Chroma (~1.8 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.chain import RagChain, build_chain
    from rag.errors import RagError
    from rag.ingest import IngestReport, ingest
    from rag.retrieve import Hit, Retriever, open_retriever
    from rag.schema import Answer, Citation
    from rag.settings import Settings

_HOMES = {
    "Answer": "rag.schema",
    "Citation": "rag.schema",
    "Hit": "rag.retrieve",
    "IngestReport": "rag.ingest",
    "RagChain": "rag.chain",
    "RagError": "rag.errors",
    "Retriever": "rag.retrieve",
    "Settings": "rag.settings",
    "build_chain": "rag.chain",
    "ingest": "rag.ingest",
    "open_retriever": "rag.retrieve",
}
__all__ = [
    "Answer",
    "Citation",
    "Hit",
    "IngestReport",
    "RagChain",
    "RagError",
    "Retriever",
    "Settings",
    "build_chain",
    "ingest",
    "open_retriever",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
