"""The exceptions `rag` raises; each message is one line a user can act on."""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error `rag` reports to a user."""


class ConfigError(RagError):
    """A setting is missing, unknown or inconsistent."""


class ModelFileError(RagError):
    """A local model or tokenizer file is missing or not the expected one."""


class EmbeddingMismatchError(RagError):
    """The index was built with another embedding model than the configured one."""


class StoreError(RagError):
    """The vector store (embedded Chroma or a Chroma server) cannot be reached or used."""


class IndexEmptyError(RagError):
    """Nothing is indexed yet."""


class IngestError(RagError):
    """Ingestion cannot start (missing path, nothing to index, store locked)."""


class QuestionError(RagError):
    """The question cannot be answered as asked (empty, too long)."""


class ProviderError(RagError):
    """A model endpoint (chat or embeddings) failed or could not be reached."""
