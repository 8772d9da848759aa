"""The seams' vocabulary: what goes into the chain (`ChatInput`, `Turn`) and what comes out (`Answer`)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag.errors import QuestionError

REFUSAL = "I couldn't find this in the documents."


class Turn(BaseModel):
    """One earlier exchange of a conversation: what the user asked and what was answered."""

    model_config = ConfigDict(frozen=True)

    question: str
    answer: str = ""


class ChatInput(BaseModel):
    """A question and the conversation before it (oldest turn first)."""

    model_config = ConfigDict(frozen=True)

    question: str
    history: tuple[Turn, ...] = ()


def clean_question(text: object, limit: int) -> str:
    """Return the question with whitespace and control characters collapsed; raise on empty or long."""
    if not isinstance(text, str):
        raise QuestionError("the question must be text")
    question = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not question:
        raise QuestionError("the question is empty: type a question about the documents")
    if len(question) > limit:
        raise QuestionError(f"the question is {len(question):,} characters; the limit is {limit:,}")
    return question


def _content_text(content: object) -> str:
    """Text of a message's content: a string, or Gradio 6's list of content blocks."""
    if isinstance(content, str):
        return html.unescape(content)  # the chat shows escaped answer text
    if isinstance(content, Sequence):
        parts = [
            str(p.get("text", "")) if isinstance(p, Mapping) else str(p)
            for p in content
            if isinstance(p, str) or (isinstance(p, Mapping) and p.get("type", "text") == "text")
        ]
        return html.unescape(" ".join(parts))
    return ""


def to_turns(history: object) -> tuple[Turn, ...]:
    """Convert history from any documented shape into `Turn`s, once, at the edge.

    Accepted: `Turn`s, `[user, assistant]` pairs, `{"question", "answer"}` dicts, or a list of
    `{"role": "user" | "assistant", "content": ...}` messages (OpenAI and Gradio 6 style).
    """
    if not history:
        return ()
    if not isinstance(history, Sequence) or isinstance(history, str):
        raise QuestionError("history must be a list of [user, assistant] pairs or of chat messages")
    items = list(history)
    if all(isinstance(m, Turn) for m in items):
        return tuple(items)
    if all(isinstance(m, Mapping) and "role" in m for m in items):
        turns: list[Turn] = []
        user: str | None = None
        for message in items:
            text = _content_text(message.get("content"))
            if message.get("role") == "user":
                user = text
            elif message.get("role") == "assistant" and user is not None:
                turns.append(Turn(question=user, answer=text))
                user = None
        return tuple(turns)
    if all(isinstance(m, Mapping) and "question" in m for m in items):
        return tuple(Turn(question=str(m["question"]), answer=str(m.get("answer") or "")) for m in items)
    try:
        return tuple(Turn(question=str(u or ""), answer=str(a or "")) for u, a in items)
    except (TypeError, ValueError):
        raise QuestionError("history must be a list of [user, assistant] pairs or of chat messages") from None


def to_chat_input(value: object, limit: int) -> ChatInput:
    """Accept a `ChatInput`, a question, or `{"question": str, "history": [...]}`; check the question."""
    if isinstance(value, ChatInput):
        return ChatInput(question=clean_question(value.question, limit), history=value.history)
    if isinstance(value, str):
        return ChatInput(question=clean_question(value, limit))
    if isinstance(value, Mapping):
        return ChatInput(
            question=clean_question(value.get("question"), limit), history=to_turns(value.get("history"))
        )
    raise QuestionError('input must be a question, or {"question": str, "history": [...]}')


class Passage(BaseModel):
    """A retrieved chunk with where it comes from; `text == source_text[start:end]`."""

    model_config = ConfigDict(frozen=True)

    rank: int = Field(description="1-based rank in the retrieval results.")
    id: str
    source: str = Field(description="File path relative to its root.")
    title: str
    page: int | None = Field(description="1-based page (PDF), slide or sheet; None for plain text.")
    start: int = Field(description="Start of the chunk in the source text (characters).")
    end: int = Field(description="End of the chunk in the source text (characters, exclusive).")
    score: float
    text: str
    page_label: str | None = Field(
        default=None,
        description='What citations call the page: "page 3", "slide 2", "sheet Staff"; None if unpaged.',
    )

    def to_json(self) -> dict[str, Any]:
        """Return the documented JSON shape of `rag search --json`."""
        return {
            "rank": self.rank,
            "source": self.source,
            "title": self.title,
            "page": self.page,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 6),
            "text": self.text,
        }


class Citation(BaseModel):
    """A cited passage: `quote == source_text[start:end]` of the file named by `source`."""

    model_config = ConfigDict(frozen=True)

    n: int = Field(description="The number of the [n] markers that cite it.")
    source: str = Field(description="File path relative to the corpus folder.")
    title: str
    page: int | None = Field(description="1-based page (PDF), slide or sheet; None for unpaged text.")
    start: int = Field(description="Start of the quote in the source text (characters).")
    end: int = Field(description="End of the quote in the source text (characters, exclusive).")
    quote: str = Field(description="The quoted words, exactly as in the source.")
    score: float = Field(description="How well the quote supports what cites it (0..1).")
    page_label: str | None = Field(
        default=None,
        description='The page as a reader names it: "page 3", "slide 2", "sheet Staff". Left out of the '
        "JSON when None (unpaged text, or an index made before labels).",
        exclude_if=lambda label: label is None,
    )


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
    retrieval_query: str = Field("", description="The query the passages were searched with.")
    history_used: bool = Field(False, description="Whether earlier turns went into that query.")
    # Left out of the JSON (whose fields are the documented ones above); used by the UI and evals.
    question: str = Field("", exclude=True)
    sentences: list[str] = Field(default_factory=list, exclude=True, description="Answer sentences.")
    evidence: float = Field(0.0, exclude=True, description="Best passage-sentence score (refusal input).")
    passages: list[Passage] = Field(
        default_factory=list, exclude=True, description="The retrieved passages the answer was built from."
    )

    @model_validator(mode="after")
    def _label_pages(self) -> Answer:
        """Name each citation's page as the passage it quotes does, when whoever cited left it out."""
        for i, c in enumerate(self.citations):
            if c.page_label is None and c.page is not None:
                passage = self.passage_of(c)
                if passage is not None and passage.page_label:
                    self.citations[i] = c.model_copy(update={"page_label": passage.page_label})
        return self

    def passage_of(self, citation: Citation) -> Passage | None:
        """Return the retrieved passage a citation quotes from, if it is among `passages`."""
        for p in self.passages:
            if p.source == citation.source and p.start <= citation.start and citation.end <= p.end:
                return p
        return None

    def to_storage(self) -> dict[str, Any]:
        """Return every field, the UI-only ones included, as JSON values; `Answer(**d)` restores it."""
        return {
            **self.model_dump(mode="json"),
            "question": self.question,
            "sentences": list(self.sentences),
            "evidence": self.evidence,
            "passages": [p.model_dump(mode="json") for p in self.passages],
        }
