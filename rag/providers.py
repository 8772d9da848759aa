"""Factories for the pluggable parts: the only module that names OpenAI or ONNX."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from rag.errors import ConfigError, ProviderError
from rag.settings import DEFAULT_OPENAI_EMBEDDING_MODEL, Settings

if TYPE_CHECKING:  # loaded with langchain_openai, by make_chat_model's callers
    from langchain_core.language_models import BaseChatModel


def make_embeddings(settings: Settings) -> Embeddings:
    """Build the embedding model the settings name (local ONNX by default)."""
    match settings.embedding:
        case "local":
            from rag.embeddings import LocalEmbeddings

            return LocalEmbeddings(batch_size=settings.embedding_batch_size)
        case "openai":
            if settings.openai_api_key is None:
                raise ConfigError(
                    "RAG_EMBEDDING=openai needs an API key: set OPENAI_API_KEY or RAG_OPENAI_API_KEY"
                )
            try:
                from langchain_openai import OpenAIEmbeddings
            except ImportError as e:  # pragma: no cover - a dependency of the package
                raise ConfigError(
                    "RAG_EMBEDDING=openai needs langchain-openai: pip install langchain-openai"
                ) from e
            return _OneLineErrors(
                OpenAIEmbeddings(
                    model=settings.embedding_model or DEFAULT_OPENAI_EMBEDDING_MODEL,
                    api_key=settings.openai_api_key,
                    base_url=settings.openai_base_url or None,
                    chunk_size=settings.embedding_batch_size,
                    # Non-OpenAI servers take plain strings, not tiktoken ids.
                    check_embedding_ctx_length=not settings.openai_base_url,
                ),
                settings.openai_base_url or "OpenAI",
            )
        case other:  # pragma: no cover - Settings validates the Literal
            raise ConfigError(f"unknown embedding provider {other!r}: use local or openai")


class _OneLineErrors(Embeddings):
    """An embeddings endpoint whose failures are one `ProviderError` line, not the SDK's traceback."""

    def __init__(self, inner: Embeddings, where: str) -> None:
        self.inner, self.where = inner, where

    def _failed(self, e: Exception) -> ProviderError:
        detail = " ".join(str(e).split())[:200] or type(e).__name__
        return ProviderError(
            f"the embeddings endpoint {self.where} failed ({detail}); check RAG_OPENAI_BASE_URL and the "
            "API key, or use RAG_EMBEDDING=local"
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts, or raise one line naming the endpoint."""
        try:
            return self.inner.embed_documents(texts)
        except Exception as e:
            raise self._failed(e) from e

    def embed_query(self, text: str) -> list[float]:
        """Embed a query, or raise one line naming the endpoint."""
        try:
            return self.inner.embed_query(text)
        except Exception as e:
            raise self._failed(e) from e


def token_counter(embeddings: Embeddings):  # type: ignore[no-untyped-def]
    """Return a function counting the model tokens of a text, for sizing chunks."""
    count = getattr(embeddings, "count_tokens", None)
    if count is not None:
        return count
    # OpenAI models read 8k tokens; size chunks by the same local WordPiece count so chunking
    # does not depend on the provider (and needs no tiktoken download).
    from tokenizers import Tokenizer

    from rag.embeddings import default_tokenizer_path

    tok = Tokenizer.from_file(str(default_tokenizer_path()))
    tok.no_truncation()
    tok.no_padding()  # the tokenizer file pads to 128: every short text would count as 128 tokens
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def make_chat_model(settings: Settings) -> BaseChatModel:
    """Build the chat model of the openai answerer: any OpenAI-compatible endpoint."""
    if settings.openai_api_key is None and not settings.openai_base_url:
        raise ConfigError("RAG_LLM=openai needs OPENAI_API_KEY (or RAG_OPENAI_BASE_URL for a local server)")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise ConfigError("RAG_LLM=openai needs langchain-openai: pip install langchain-openai") from e
    return ChatOpenAI(
        model=settings.chat_model,
        # Local servers (Ollama, llama.cpp, vLLM) take any key; the SDK insists on one.
        api_key=settings.openai_api_key or SecretStr("not-needed"),
        base_url=settings.openai_base_url or None,
        temperature=settings.llm_temperature,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        # OpenAI, llama.cpp and vLLM all read max_completion_tokens: a small model can
        # loop for thousands of tokens otherwise.
        max_completion_tokens=settings.llm_max_tokens,
        streaming=True,
        stream_usage=False,
    )
