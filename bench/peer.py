"""The peer: LangChain's tutorial pipeline (split, `Chroma.from_documents`, `similarity_search`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from bench.report import clocked

PEER_CHUNK_SIZE = 1000  # characters: the tutorial's defaults
PEER_CHUNK_OVERLAP = 200
PIPELINE = "RecursiveCharacterTextSplitter(1000, 200) + Chroma.from_documents + similarity_search(k=5)"


def build_peer(
    corpus_dir: Path, embeddings: Embeddings, folder: Path
) -> tuple[dict[str, Any], Callable[[str], object]]:
    """Ingest the corpus the plain LangChain way with the same embeddings; return figures and its search.

    Its queries are timed alongside ours (interleaved) by the latency measurement.
    """
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    def pipeline() -> tuple[list[Document], list[Document], Chroma]:
        files = sorted(corpus_dir.glob("*.txt"))
        docs = [
            Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name}) for p in files
        ]
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=PEER_CHUNK_SIZE, chunk_overlap=PEER_CHUNK_OVERLAP
        )
        splits = splitter.split_documents(docs)
        store = Chroma.from_documents(
            splits,
            embedding=embeddings,
            collection_name="bench-peer",
            persist_directory=str(folder),
            client_settings=ChromaSettings(anonymized_telemetry=False),
        )
        return docs, splits, store

    (docs, splits, store), wall, cpu = clocked(pipeline)
    count_tokens = getattr(embeddings, "count_tokens", None)
    tokens = [count_tokens(s.page_content) for s in splits] if count_tokens else []
    figures = {
        "pipeline": PIPELINE,
        "documents": len(docs),
        "chunks": len(splits),
        "mean_chunk_tokens": round(sum(tokens) / len(tokens), 1) if tokens else None,
        "chunks_over_model_limit": sum(t > 254 for t in tokens),
        "ingest_wall_s": round(wall, 2),
        "ingest_cpu_s": round(cpu, 2),
        "docs_per_s": round(len(docs) / wall, 2),
        "docs_per_cpu_s": round(len(docs) / cpu, 2),
        "chunks_per_s": round(len(splits) / wall, 2),
    }
    return figures, partial(store.similarity_search, k=5)
