"""rag: ask questions of your documents and get answers that cite the exact passages.

The public API; it never imports gradio.
"""

from rag.chain import RagChain, build_chain
from rag.errors import RagError
from rag.ingest import IngestReport, ingest
from rag.retrieve import Hit, Retriever, open_retriever
from rag.schema import Answer, Citation
from rag.settings import Settings

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
