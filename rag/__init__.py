"""rag: ask questions of your documents and get answers that cite the exact passages.

The public API; it never imports gradio.
"""

from rag.errors import RagError
from rag.ingest import IngestReport, ingest
from rag.retrieve import Hit, Retriever, open_retriever
from rag.settings import Settings

__all__ = ["Hit", "IngestReport", "RagError", "Retriever", "Settings", "ingest", "open_retriever"]
