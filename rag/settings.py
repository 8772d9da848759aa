"""Settings: every knob of `rag`, read from `RAG_*` environment variables and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EmbeddingProvider = Literal["local", "openai"]
RetrievalMode = Literal["vector", "bm25", "hybrid"]
LLMMode = Literal["extractive", "openai"]

LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2-onnx-int8"
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"


class Settings(BaseSettings):
    """Configuration of one `rag` instance; build it once at the entry point and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    corpus_dir: Path = Field(Path("seeds"), description="Folder of documents to index and cite.")
    data_dir: Path = Field(
        Path(".rag"), description="Where the embedded Chroma store and side indexes (BM25) live."
    )
    chroma_url: str = Field(
        "", description="Empty: embedded Chroma under data_dir. http://host:port: a Chroma server."
    )
    collection: str = Field("rag", description="Chroma collection name.")

    embedding: EmbeddingProvider = Field("local", description="Embedding provider: local ONNX or OpenAI.")
    embedding_model: str = Field(
        "",
        description=f"Embedding model id; empty picks {LOCAL_EMBEDDING_MODEL} (local) "
        f"or {DEFAULT_OPENAI_EMBEDDING_MODEL} (openai).",
    )
    embedding_batch_size: int = Field(16, ge=1, le=1024, description="Texts per embedding call.")

    max_file_mb: float = Field(20.0, gt=0, description="Skip larger files (20 MB of text is ~20k chunks).")
    chunk_size: int = Field(
        200, ge=16, le=254, description="Chunk size in model tokens (the model reads at most 256)."
    )
    chunk_overlap: int = Field(32, ge=0, le=128, description="Overlap between chunks, in model tokens.")

    top_k: int = Field(5, ge=1, le=100, description="Passages retrieved per question.")
    retrieval_mode: RetrievalMode = Field("hybrid", description="vector, bm25 or hybrid (fused).")
    fusion: Literal["weighted", "rrf"] = Field(
        "weighted",
        description="Hybrid fusion: weighted scores (each list ÷ its best), or reciprocal rank fusion.",
    )
    fusion_weight: float = Field(
        0.65, ge=0.0, le=1.0, description="Weight of vector scores in weighted fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion=rrf).")
    bm25_doc_weight: float = Field(
        1.5, ge=0.0, description="Weight of a chunk's document's BM25 score in its own (0: chunk alone)."
    )
    bm25_k1: float = Field(0.9, gt=0, description="BM25 term-frequency saturation (tuned on SciFact train).")
    bm25_b: float = Field(
        0.4, ge=0.0, le=1.0, description="BM25 length normalisation (tuned on SciFact train)."
    )

    llm: LLMMode | None = Field(
        None, description="Answerer: extractive (offline) or openai; unset picks openai when a key is set."
    )
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("RAG_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="API key for OpenAI-compatible endpoints (also read from OPENAI_API_KEY).",
    )
    openai_base_url: str = Field(
        "", description="Base URL of an OpenAI-compatible endpoint; empty means OpenAI itself."
    )
    chat_model: str = Field("gpt-4o-mini", description="Chat model name for the openai answerer.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature of the chat model.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the chat endpoint per try.")
    llm_max_retries: int = Field(2, ge=0, le=10, description="Retries (with backoff) on endpoint errors.")
    llm_max_tokens: int = Field(
        512,
        ge=1,
        le=32768,
        description="Most tokens the chat model may write per call (stops a looping model).",
    )
    llm_deadline: float = Field(
        90.0,
        gt=0,
        description="Seconds one question may spend on chat calls in all (waiting for a slot, rewriting "
        "the question, streaming the answer); past it the question fails with one line.",
    )
    llm_concurrency: int = Field(
        2,
        ge=1,
        le=256,
        description="Chat calls in flight at once per chain; more wait their turn (extractive answers "
        "never wait).",
    )

    # The fitting script's out-of-fold pick is 0.225 (rag/assets/answerer.json); with the hand refusal
    # rules of rag/answer.py taking the clear cases, 0.25 refuses more at the same news false-refusal
    # level (evals/README.md, "Fifth pass").
    refuse_below: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Refuse when the fitted probability that the passages answer the question is below "
        "this (rag/assets/answerer.json; evals/README.md tabulates refusals and false refusals per value).",
    )
    support_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="An LLM sentence scoring below this against its citations is unsupported.",
    )
    max_question_chars: int = Field(4000, ge=10, description="Longest question accepted.")
    prompts_dir: Path | None = Field(None, description="Folder of prompt templates; default: prompts/.")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.embedding == "local" and self.embedding_model not in ("", LOCAL_EMBEDDING_MODEL):
            raise ValueError(f"the local embedding provider has one model: {LOCAL_EMBEDDING_MODEL}")
        return self

    @property
    def embedding_model_id(self) -> str:
        """Name the embedding model, as recorded on the collection it builds."""
        if self.embedding == "local":
            return f"local:{self.embedding_model or LOCAL_EMBEDDING_MODEL}"
        return f"openai:{self.embedding_model or DEFAULT_OPENAI_EMBEDDING_MODEL}"

    @property
    def llm_mode(self) -> LLMMode:
        """Return the answerer that runs: the configured one, else openai when a key is set."""
        if self.llm is not None:
            return self.llm
        return "openai" if self.openai_api_key is not None else "extractive"
