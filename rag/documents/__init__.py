"""Load files into text with their titles, pages and sections, and split them into chunks with exact offsets.

One module per format (plain/Markdown, HTML, PDF, Office, spreadsheets, e-books); every chunk satisfies
`load_text(path)[chunk.start:chunk.end] == chunk.text`, and `page` is the PDF page, the slide or the sheet.
"""

from rag.documents.chunking import _BOILERPLATE, BOILERPLATE_LINES, chunk_id, split_document
from rag.documents.loading import SUPPORTED, load_document, load_text, read_bytes
from rag.documents.model import PAGE_BREAK, Chunk, DocumentError, Skipped, SourceDocument

__all__ = [
    "BOILERPLATE_LINES",
    "PAGE_BREAK",
    "SUPPORTED",
    "Chunk",
    "DocumentError",
    "Skipped",
    "SourceDocument",
    "_BOILERPLATE",
    "chunk_id",
    "load_document",
    "load_text",
    "read_bytes",
    "split_document",
]
