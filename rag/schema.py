"""The answer types: what the chain returns, the CLI prints as JSON and the UI renders."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REFUSAL = "I couldn't find this in the documents."


class Citation(BaseModel):
    """A cited passage: `quote == source_text[start:end]` of the file named by `source`."""

    model_config = ConfigDict(frozen=True)

    n: int = Field(description="The number of the [n] markers that cite it.")
    source: str = Field(description="File path relative to the corpus folder.")
    title: str
    page: int | None = Field(description="1-based page for PDFs, else None.")
    start: int = Field(description="Start of the quote in the source text (characters).")
    end: int = Field(description="End of the quote in the source text (characters, exclusive).")
    quote: str = Field(description="The quoted words, exactly as in the source.")
    score: float = Field(description="How well the quote supports what cites it (0..1).")
    # Context for the UI; left out of the JSON, whose fields are the documented ones above.
    chunk: str = Field("", exclude=True, description="The retrieved passage the quote lies in.")
    chunk_start: int = Field(0, exclude=True, description="Start of that passage in the source text.")


class Answer(BaseModel):
    """A cited answer, or a refusal when the documents don't hold one."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="The answer with inline [n] markers.")
    citations: list[Citation] = Field(default_factory=list)
    refused: bool = False
    mode: Literal["extractive", "openai"]
    unsupported: list[int] = Field(
        default_factory=list, description="0-based indices of answer sentences no cited passage supports."
    )
    timings: dict[str, float] = Field(default_factory=dict, description="Milliseconds per stage.")
    # Left out of the JSON (whose fields are the documented ones above); useful to the UI and evals.
    question: str = Field("", exclude=True)
    sentences: list[str] = Field(default_factory=list, exclude=True, description="Answer sentences.")
    retrieval_query: str = Field("", exclude=True, description="The query retrieval ran with.")
    evidence: float = Field(0.0, exclude=True, description="Best passage-sentence score (refusal input).")
