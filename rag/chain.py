"""The question-answering chain: one LangChain `Runnable` for the CLI, the UI, evals and integrators.

Input: `{"question": str, "history": [[user, assistant], ...]}` (history optional; a list of
`{"role": ..., "content": ...}` messages is accepted too).

Output of `invoke`/`ainvoke`/`batch`: an `Answer`.

`stream`/`astream` yield events of two kinds, in this order: any number of `str` text deltas (their
concatenation is the answer as first written), then exactly one `Answer`, always last. The final
`Answer.text` can differ from the deltas: markers that point at no passage are dropped, and a model's
"I don't know" becomes the fixed refusal.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langchain_core.runnables import Runnable, RunnableConfig

from rag.answer import TextVectors, extract, score_evidence
from rag.checking import check_citations
from rag.errors import ProviderError, QuestionError
from rag.prompts import load_prompt
from rag.retrieve import Hit, Retriever, open_retriever
from rag.schema import REFUSAL, Answer
from rag.settings import LLMMode, RetrievalMode, Settings

if TYPE_CHECKING:  # only the openai answerer needs chat models; they load with it
    from langchain_core.language_models import BaseChatModel

Event = str | Answer
_REFUSAL_SIGNS = (
    "couldn't find this in the documents",
    "could not find this in the documents",
    "i don't know",
    "i do not know",
)


def _turns(history: Any) -> list[tuple[str, str]]:
    """Normalise history to (user, assistant) pairs."""
    if not history:
        return []
    if all(isinstance(m, dict) for m in history):
        pairs: list[tuple[str, str]] = []
        user: str | None = None
        for message in history:
            content = message.get("content")
            text = content if isinstance(content, str) else ""
            if message.get("role") == "user":
                user = text
            elif message.get("role") == "assistant" and user is not None:
                pairs.append((user, text))
                user = None
        return pairs
    try:
        return [(str(u or ""), str(a or "")) for u, a in history]
    except (TypeError, ValueError):
        raise QuestionError("history must be a list of [user, assistant] pairs") from None


def _context(hits: Sequence[Hit]) -> str:
    # Passages are fenced as data: the system prompt says nothing inside a <passage> is an instruction.
    blocks = []
    for n, hit in enumerate(hits, start=1):
        page = f' page="{hit.page}"' if hit.page is not None else ""
        text = hit.text.replace("</passage>", "</ passage>")
        blocks.append(f'<passage n="{n}" source="{hit.source}"{page}>\n{text}\n</passage>')
    return "\n\n".join(blocks)


def _provider_error(settings: Settings, e: Exception) -> ProviderError:
    where = settings.openai_base_url or "the OpenAI API"
    detail = " ".join(str(e).split())[:160]
    return ProviderError(
        f"the chat endpoint {where} failed after {settings.llm_max_retries + 1} tries: "
        f"{type(e).__name__}: {detail}"
    )


class RagChain(Runnable[dict[str, Any], Answer]):
    """Retrieve passages for a question and answer from them with checked citations."""

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        embeddings: Embeddings,
        chat_model: BaseChatModel | None = None,
        *,
        mode: LLMMode | None = None,
        top_k: int | None = None,
        retrieval_mode: RetrievalMode | None = None,
        vectors: TextVectors | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.embeddings = embeddings
        self.vectors = vectors or TextVectors(embeddings)
        self.mode: LLMMode = mode or settings.llm_mode
        self.top_k = top_k or settings.top_k
        self.retrieval_mode = retrieval_mode or settings.retrieval_mode
        self._chat_model = chat_model
        self._lock = threading.Lock()
        if self.mode == "openai" and chat_model is None:
            from rag.providers import make_chat_model

            self._chat_model = make_chat_model(settings)  # a missing key is a start-up error
        # Fail at build time, not at the first question, when a prompt file is broken.
        self.prompts = {n: load_prompt(n, settings.prompts_dir) for n in ("system", "answer", "condense")}

    def with_options(
        self,
        *,
        mode: LLMMode | None = None,
        top_k: int | None = None,
        retrieval_mode: RetrievalMode | None = None,
    ) -> RagChain:
        """Return the same chain with another answerer, k or retrieval mode (sharing the index)."""
        return RagChain(
            self.settings,
            self.retriever,
            self.embeddings,
            self._chat_model,
            mode=mode or self.mode,
            top_k=top_k or self.top_k,
            retrieval_mode=retrieval_mode or self.retrieval_mode,
            vectors=self.vectors,
        )

    @property
    def chat_model(self) -> BaseChatModel:
        """The chat model, built on first use (so extractive use never imports langchain_openai)."""
        with self._lock:
            if self._chat_model is None:
                from rag.providers import make_chat_model

                self._chat_model = make_chat_model(self.settings)
            return self._chat_model

    # --- Runnable ---------------------------------------------------------------------------

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        """Answer one question."""
        answer: Answer | None = None
        for event in self.stream(input, config):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None  # stream always ends with an Answer
        return answer

    def stream(  # type: ignore[override]
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Event]:
        """Yield text deltas, then the final `Answer`."""
        return self._run(input)

    async def ainvoke(  # type: ignore[override]
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        """Answer one question without blocking the event loop."""
        return await asyncio.to_thread(self.invoke, input, config)

    async def astream(  # type: ignore[override]
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Event]:
        """Yield text deltas, then the final `Answer`, without blocking the event loop."""
        events = self._run(input)
        done = object()
        while True:
            event = await asyncio.to_thread(next, events, done)
            if event is done:
                return
            yield event  # type: ignore[misc]

    # --- the work ---------------------------------------------------------------------------

    def _question(self, input: Any) -> tuple[str, list[tuple[str, str]]]:
        if isinstance(input, str):
            input = {"question": input}
        if not isinstance(input, dict):
            raise QuestionError('input must be {"question": str, "history": [...]}')
        question = input.get("question")
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("the question is empty: type a question about the documents")
        question = " ".join("".join(ch if ch.isprintable() else " " for ch in question).split())
        if not question:
            raise QuestionError("the question is empty: type a question about the documents")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(f"the question is {len(question):,} characters; the limit is {limit:,}")
        return question, _turns(input.get("history"))

    def _retrieval_query(self, question: str, turns: list[tuple[str, str]]) -> str:
        if not turns:
            return question
        if self.mode == "openai":
            history = "\n".join(f"User: {u}\nAssistant: {a}" for u, a in turns[-3:])
            prompt = self.prompts["condense"].format(history=history, question=question)
            try:
                rewritten = self.chat_model.invoke(prompt).text.strip()
            except Exception as e:
                raise _provider_error(self.settings, e) from e
            return " ".join(rewritten.split()) or question
        # Extractive: the previous question carries the names "he", "it" and "there" stand for.
        return f"{turns[-1][0]} {question}"

    def _run(self, input: Any) -> Iterator[Event]:
        began = time.perf_counter()
        question, turns = self._question(input)
        query = self._retrieval_query(question, turns)
        condensed = time.perf_counter()
        hits = self.retriever.search(query, k=self.top_k, mode=self.retrieval_mode)
        searched = time.perf_counter()
        evidence = score_evidence(query, hits, self.vectors, idf=self.retriever.bm25().idf)
        retrieved = time.perf_counter()
        timings = {
            "condense_ms": (condensed - began) * 1000,
            "retrieve_ms": (searched - condensed) * 1000,
            "evidence_ms": (retrieved - searched) * 1000,
        }
        base: dict[str, Any] = {
            "question": question,
            "mode": self.mode,
            "retrieval_query": query,
            "evidence": round(evidence.best, 4),
        }

        def finish(**fields: Any) -> Answer:
            return Answer(timings=_done(timings, began, retrieved), **base, **fields)

        if evidence.best < self.settings.refuse_below:
            yield REFUSAL
            yield finish(text=REFUSAL, refused=True, sentences=[REFUSAL])
            return
        if self.mode == "extractive":
            sentences, citations = extract(evidence, hits)
            for i, sentence in enumerate(sentences):
                yield sentence if i == 0 else " " + sentence
            yield finish(text=" ".join(sentences), citations=citations, sentences=sentences)
            return
        yield from self._llm_answer(query, hits, timings, began, finish)

    def _llm_answer(
        self,
        query: str,
        hits: list[Hit],
        timings: dict[str, float],
        began: float,
        finish: Callable[..., Answer],
    ) -> Iterator[Event]:
        messages = [
            ("system", self.prompts["system"].template),
            ("human", self.prompts["answer"].format(context=_context(hits), question=query)),
        ]
        parts: list[str] = []
        try:
            for chunk in self.chat_model.stream(messages):
                delta = chunk.text
                if delta:
                    if not parts:
                        timings["first_token_ms"] = (time.perf_counter() - began) * 1000
                    parts.append(delta)
                    yield delta
        except Exception as e:
            raise _provider_error(self.settings, e) from e
        text = "".join(parts).strip()
        if not text or any(sign in text.casefold().replace("’", "'") for sign in _REFUSAL_SIGNS):
            yield finish(text=REFUSAL, refused=True, sentences=[REFUSAL])
            return
        checked = check_citations(text, hits, self.vectors, threshold=self.settings.support_threshold)
        yield finish(
            text=checked.text,
            citations=checked.citations,
            unsupported=checked.unsupported,
            sentences=checked.sentences,
        )


def _done(timings: dict[str, float], began: float, retrieved: float) -> dict[str, float]:
    now = time.perf_counter()
    return {
        **{k: round(v, 1) for k, v in timings.items()},
        "answer_ms": round((now - retrieved) * 1000, 1),
        "total_ms": round((now - began) * 1000, 1),
    }


def build_chain(
    settings: Settings, *, embeddings: Embeddings | None = None, chat_model: BaseChatModel | None = None
) -> RagChain:
    """Open the index and return the answering chain the settings describe."""
    from rag.providers import make_embeddings

    embeddings = embeddings or make_embeddings(settings)
    vectors = TextVectors(embeddings)
    retriever = open_retriever(settings, embeddings, embed_texts=vectors)
    return RagChain(settings, retriever, embeddings, chat_model, vectors=vectors)
