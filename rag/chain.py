"""The question-answering chain: one LangChain `Runnable` for the CLI, the UI, evals and integrators.

Input: a `ChatInput`, a question string, or `{"question": str, "history": [...]}` where history is
`[user, assistant]` pairs or `{"role", "content"}` messages (converted once by `to_chat_input`).

Output of `invoke`/`ainvoke`/`batch`: an `Answer`.

`stream`/`astream` yield events of two kinds, in this order: any number of `str` text deltas (their
concatenation is the answer as first written), then exactly one `Answer`, always last. The final
`Answer.text` can differ from the deltas: markers that point at no passage are dropped, and a model's
"I don't know" becomes the fixed refusal.

The steps are small functions: plan (condense) -> retrieve -> gate -> answer. The caller's
`RunnableConfig` is threaded through LangChain's own helpers to every chat-model call, so callback
handlers, tracing and `astream_events` see the chain run and the model runs inside it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.embeddings import Embeddings
from langchain_core.runnables import Runnable, RunnableConfig

from rag import llm
from rag.answer import Evidence, extract, score_evidence
from rag.checking import check_citations
from rag.conversation import QueryPlan, plan_query
from rag.limits import LLMLimit
from rag.prompts import ChainPrompts
from rag.retrieve import Hit, Retriever, open_retriever
from rag.schema import REFUSAL, Answer, ChatInput, to_chat_input
from rag.settings import LLMMode, RetrievalMode, Settings
from rag.synonyms import in_corpus_words, load_wordnet
from rag.text import cosine_rows
from rag.vectors import TextVectors

if TYPE_CHECKING:  # only the openai answerer needs chat models; they load with it
    from langchain_core.language_models import BaseChatModel

Event = str | Answer
ChainInput = ChatInput | Mapping[str, Any] | str


@dataclass
class _Found:
    """What retrieval and the gate produced for one question."""

    chat: ChatInput
    plan: QueryPlan
    hits: list[Hit]
    evidence: Evidence
    began: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self.began) * 1000


class RagChain(Runnable[ChainInput, Event]):
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
        prompts: ChainPrompts | None = None,
        llm_limit: LLMLimit | None = None,
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
        # Loaded once (a broken prompt file fails here, not at the first question), shared by copies.
        self.prompts = prompts or ChainPrompts.load(settings.prompts_dir)
        # Chat calls in flight, shared by copies: LLM questions queue among themselves, never in
        # front of extractive ones.
        self.llm_limit = llm_limit or LLMLimit(settings.llm_concurrency)

    def with_options(
        self,
        *,
        mode: LLMMode | None = None,
        top_k: int | None = None,
        retrieval_mode: RetrievalMode | None = None,
    ) -> RagChain:
        """Return the same chain with another answerer, k or retrieval mode (sharing index and prompts)."""
        if (mode or self.mode, top_k or self.top_k, retrieval_mode or self.retrieval_mode) == (
            self.mode,
            self.top_k,
            self.retrieval_mode,
        ):
            return self
        return RagChain(
            self.settings,
            self.retriever,
            self.embeddings,
            self._chat_model,
            mode=mode or self.mode,
            top_k=top_k or self.top_k,
            retrieval_mode=retrieval_mode or self.retrieval_mode,
            vectors=self.vectors,
            prompts=self.prompts,
            llm_limit=self.llm_limit,
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

    def invoke(self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        """Answer one question."""
        return _last(self.stream(input, config, **kwargs))

    def stream(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Event]:
        """Yield text deltas, then the final `Answer`."""
        yield from self._transform_stream_with_config(iter([input]), self._transform, config)

    async def ainvoke(self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        """Answer one question without blocking the event loop."""
        answer: Event | None = None
        async for event in self.astream(input, config, **kwargs):
            answer = event
        assert isinstance(answer, Answer)  # the stream always ends with an Answer
        return answer

    async def astream(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Event]:
        """Yield text deltas, then the final `Answer`, without blocking the event loop."""

        async def once() -> AsyncIterator[ChainInput]:
            yield input

        async for event in self._atransform_stream_with_config(once(), self._atransform, config):
            yield event

    # --- the steps --------------------------------------------------------------------------

    def _transform(
        self, inputs: Iterator[ChainInput], run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> Iterator[Event]:
        chat = to_chat_input(_only(inputs), self.settings.max_question_chars)
        began = time.perf_counter()
        budget = llm.Budget.start(self.llm_limit, self.settings.llm_deadline)
        found = self._retrieve(chat, self._plan(chat, config, budget), began)
        if self._refuse(found):
            yield REFUSAL
            yield self._refusal(found)
            return
        if self.mode == "extractive":
            yield from self._extractive(found)
            return
        messages = llm.answer_messages(self.prompts, found.hits, found.plan.query)
        parts: list[str] = []
        for delta in llm.stream_answer(
            self.chat_model, messages, settings=self.settings, config=config, budget=budget
        ):
            if not parts:
                found.timings["first_token_ms"] = found.ms
            parts.append(delta)
            yield delta
        yield self._checked(found, "".join(parts))

    async def _atransform(
        self,
        inputs: AsyncIterator[ChainInput],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AsyncIterator[Event]:
        last: ChainInput | None = None
        async for item in inputs:
            last = item
        chat = to_chat_input(last, self.settings.max_question_chars)
        began = time.perf_counter()
        budget = llm.Budget.start(self.llm_limit, self.settings.llm_deadline)
        plan = plan_query(chat.question, chat.history, self.settings.max_question_chars)
        if self.mode == "openai" and plan.used_history:
            query = await llm.acondense(
                self.chat_model,
                self.prompts,
                chat.question,
                chat.history,
                settings=self.settings,
                config=config,
                budget=budget,
                fallback=plan.query,  # when the model's rewrite is no rewrite
            )
            plan = QueryPlan(query, True)
        found = await asyncio.to_thread(self._retrieve, chat, plan, began)
        if self._refuse(found):
            yield REFUSAL
            yield self._refusal(found)
            return
        if self.mode == "extractive":
            for event in self._extractive(found):
                yield event
            return
        messages = llm.answer_messages(self.prompts, found.hits, found.plan.query)
        parts: list[str] = []
        async for delta in llm.astream_answer(
            self.chat_model, messages, settings=self.settings, config=config, budget=budget
        ):
            if not parts:
                found.timings["first_token_ms"] = found.ms
            parts.append(delta)
            yield delta
        yield await asyncio.to_thread(self._checked, found, "".join(parts))

    def _plan(self, chat: ChatInput, config: RunnableConfig, budget: llm.Budget) -> QueryPlan:
        """Decide what to search: the question alone, or combined with the turns it depends on.

        In openai mode a question that depends on its history is rewritten by the model.
        """
        plan = plan_query(chat.question, chat.history, self.settings.max_question_chars)
        if self.mode == "openai" and plan.used_history:
            query = llm.condense(
                self.chat_model,
                self.prompts,
                chat.question,
                chat.history,
                settings=self.settings,
                config=config,
                budget=budget,
                fallback=plan.query,  # when the model's rewrite is no rewrite
            )
            return QueryPlan(query, True)
        return plan

    def _similar(self, word: str, others: list[str]) -> list[float]:
        """Cosine of `word`'s embedding with each of `others`' (single words, cached by the store)."""
        vectors = self.vectors([word, *others])
        return [float(x) for x in cosine_rows(vectors[1:], vectors[:1])[:, 0]]

    def _retrieve(self, chat: ChatInput, plan: QueryPlan, began: float) -> _Found:
        """Search the passages and score their sentences against the query."""
        condensed = time.perf_counter()
        idf = self.retriever.bm25().idf
        # Words the documents never use get a synonym they do use ("atomic": "nuclear"), for the
        # search and the sentence features alike; the person's question is shown as they wrote it.
        # The refusal rules read only what the person wrote (`written`, `asked`).
        query = in_corpus_words(plan.query, idf, self._similar)
        asked = chat.question if plan.used_history else None
        hits = self.retriever.search(query, k=self.top_k, mode=self.retrieval_mode)
        searched = time.perf_counter()
        said = chat.history[-1].answer if plan.used_history and chat.history else None
        written = plan.query if query != plan.query else None
        evidence = score_evidence(query, hits, self.vectors, idf=idf, asked=asked, said=said, written=written)
        found = _Found(chat, plan, hits, evidence, began)
        found.timings.update(
            condense_ms=(condensed - began) * 1000,
            retrieve_ms=(searched - condensed) * 1000,
            evidence_ms=(time.perf_counter() - searched) * 1000,
        )
        return found

    def _refuse(self, found: _Found) -> bool:
        """The gate: refuse when no passage sentence supports an answer well enough."""
        return found.evidence.best < self.settings.refuse_below

    def _extractive(self, found: _Found) -> Iterator[Event]:
        sentences, citations = extract(found.evidence, found.hits)
        for i, sentence in enumerate(sentences):
            yield sentence if i == 0 else " " + sentence
        yield self._answer(found, text=" ".join(sentences), citations=citations, sentences=sentences)

    def _checked(self, found: _Found, text: str) -> Answer:
        text = text.strip()
        if llm.is_refusal(text):
            return self._refusal(found)
        checked = check_citations(text, found.hits, self.vectors, threshold=self.settings.support_threshold)
        return self._answer(
            found,
            text=checked.text,
            citations=checked.citations,
            unsupported=checked.unsupported,
            sentences=checked.sentences,
        )

    def _refusal(self, found: _Found) -> Answer:
        return self._answer(found, text=REFUSAL, refused=True, sentences=[REFUSAL])

    def _answer(self, found: _Found, **fields: Any) -> Answer:
        """Build the final Answer: what was asked, searched and found, with the stage timings."""
        answered_from = (
            found.began + sum(found.timings[k] for k in ("condense_ms", "retrieve_ms", "evidence_ms")) / 1000
        )
        now = time.perf_counter()
        timings = {
            **{k: round(v, 1) for k, v in found.timings.items()},
            "answer_ms": round((now - answered_from) * 1000, 1),
            "total_ms": round((now - found.began) * 1000, 1),
        }
        return Answer(
            question=found.chat.question,
            mode=self.mode,
            retrieval_query=found.plan.query,
            history_used=found.plan.used_history,
            evidence=round(found.evidence.best, 4),
            passages=found.hits,
            timings=timings,
            **fields,
        )


def _only(inputs: Iterator[ChainInput]) -> ChainInput:
    last: ChainInput | None = None
    for item in inputs:
        last = item
    if last is None:
        return ""
    return last


def _last(events: Iterator[Event]) -> Answer:
    answer: Event | None = None
    for answer in events:  # noqa: B007 - the last event is the Answer
        pass
    assert isinstance(answer, Answer)  # the stream always ends with an Answer
    return answer


def build_chain(
    settings: Settings, *, embeddings: Embeddings | None = None, chat_model: BaseChatModel | None = None
) -> RagChain:
    """Open the index and return the answering chain the settings describe."""
    from rag.providers import make_embeddings

    # WordNet's files are read while the model and the index open, not on the first question.
    threading.Thread(target=load_wordnet, name="rag-wordnet", daemon=True).start()
    embeddings = embeddings or make_embeddings(settings)
    vectors = TextVectors(embeddings)
    retriever = open_retriever(settings, embeddings, embed_texts=vectors)
    return RagChain(settings, retriever, embeddings, chat_model, vectors=vectors)
