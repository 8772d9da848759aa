"""Calls to the chat model: the answer stream and the question rewrite, bounded and with `config` passed on.

Every call hands the caller's `RunnableConfig` to the model, so LangChain callbacks, tracing and
`astream_events` see the chat-model run inside the chain's run. Every call also takes a `Budget`:
a slot of the chain's `LLMLimit` (at most `RAG_LLM_CONCURRENCY` calls in flight; the rest wait their
turn) and the question's deadline (`RAG_LLM_DEADLINE`, over waiting, rewriting and answering).
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import re
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from langchain_core.runnables import RunnableConfig

from rag.errors import ProviderError
from rag.limits import LLMLimit
from rag.prompts import ChainPrompts
from rag.schema import Passage, Turn
from rag.settings import Settings
from rag.text import content_terms

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

Messages = list[tuple[str, str]]
_REFUSAL_SIGNS = (
    "couldn't find this in the documents",
    "could not find this in the documents",
    "i don't know",
    "i do not know",
)
# What small models put around a rewritten question: a label, quotes, a trailing note.
_LABEL = re.compile(
    r"^\s*(?:(?:standalone|rewritten|new|self-contained|last)\s+)?(?:question|user|q)\s*:\s*", re.IGNORECASE
)
_QUOTES = "\"'“”‘’`"


class Budget:
    """What one question may spend on chat calls: slots of the chain's limit, and `seconds` in all.

    Only time inside chat calls counts (waiting for a slot, the rewrite, the answer stream), so a
    slow retrieval between them does not eat the model's time.
    """

    def __init__(self, limit: LLMLimit, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._spent = 0.0

    @classmethod
    def start(cls, limit: LLMLimit, seconds: float) -> Budget:
        """Start the budget of one question."""
        return cls(limit, seconds)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.seconds - self._spent)

    @contextmanager
    def clock(self) -> Iterator[Callable[[], float]]:
        """Time one call: yield a function telling the seconds it has left; charge what it took."""
        began = time.monotonic()
        expires = began + self.remaining()
        try:
            yield lambda: max(0.0, expires - time.monotonic())
        finally:
            self._spent += time.monotonic() - began


def provider_error(settings: Settings, e: BaseException) -> ProviderError:
    """Describe a failed chat call in one line (endpoint, tries, error), never the key."""
    if isinstance(e, ProviderError):
        return e
    detail = " ".join(str(e).split())[:160]
    return ProviderError(
        f"the chat endpoint {_where(settings)} failed after {settings.llm_max_retries + 1} tries: "
        f"{type(e).__name__}: {detail}"
    )


def deadline_error(settings: Settings, budget: Budget, stage: str) -> ProviderError:
    """Say in one line that the question ran out of time, and at which stage."""
    return ProviderError(
        f"the chat endpoint {_where(settings)} did not finish within the question's "
        f"{budget.seconds:g} s deadline (RAG_LLM_DEADLINE) while {stage}"
    )


def _where(settings: Settings) -> str:
    return settings.openai_base_url or "the OpenAI API"


def context_block(hits: Sequence[Passage]) -> str:
    """Fence the passages as data: the system prompt says nothing inside a <passage> is an instruction."""
    blocks = []
    for n, hit in enumerate(hits, start=1):
        page = f' page="{hit.page}"' if hit.page is not None else ""
        text = hit.text.replace("</passage>", "</ passage>")
        blocks.append(f'<passage n="{n}" source="{hit.source}"{page}>\n{text}\n</passage>')
    return "\n\n".join(blocks)


def answer_messages(prompts: ChainPrompts, hits: Sequence[Passage], question: str) -> Messages:
    """Build the answer request: the system prompt, then the passages and the question."""
    return [
        ("system", prompts.system.template),
        ("human", prompts.answer.format(context=context_block(hits), question=question)),
    ]


def is_refusal(text: str) -> bool:
    """Tell whether a model's reply says the passages don't answer."""
    folded = text.casefold().replace("’", "'")
    return not text.strip() or any(sign in folded for sign in _REFUSAL_SIGNS)


def _bounded(
    make: Callable[[], Generator[str, None, None]], *, settings: Settings, budget: Budget, stage: str
) -> Iterator[str]:
    """Yield what `make()` yields, within the budget's slot and deadline.

    The blocking HTTP stream runs in a worker thread so the deadline holds even while a read is
    stalled (the per-read timeout alone lets a trickling or stalled endpoint run far past it). The
    worker keeps its slot until its request really ends, so the limit counts open requests.
    """
    with budget.clock() as left:
        if not budget.limit.acquire(left()):
            raise deadline_error(settings, budget, "waiting for a free chat slot")
        out: queue.Queue[tuple[str, str | BaseException | None]] = queue.Queue()
        stop = threading.Event()

        def pump() -> None:
            pieces = make()
            try:
                for piece in pieces:
                    if stop.is_set():
                        break
                    out.put(("delta", piece))
                out.put(("end", None))
            except BaseException as e:  # handed to the caller's thread
                out.put(("error", e))
            finally:
                pieces.close()  # closes the HTTP response before the slot is free again
                budget.limit.release()

        context = contextvars.copy_context()  # tracing and callback context follow the call
        threading.Thread(target=context.run, args=(pump,), name="rag-llm", daemon=True).start()
        try:
            while True:
                try:
                    kind, value = out.get(timeout=left())
                except queue.Empty:
                    raise deadline_error(settings, budget, stage) from None
                if kind == "end":
                    return
                if isinstance(value, BaseException):
                    raise provider_error(settings, value) from value
                assert value is not None
                yield value
        finally:
            stop.set()


def stream_answer(
    model: BaseChatModel,
    messages: Messages,
    *,
    settings: Settings,
    config: RunnableConfig | None,
    budget: Budget,
) -> Iterator[str]:
    """Yield the model's answer as text deltas."""

    def pieces() -> Generator[str, None, None]:
        for chunk in model.stream(messages, config=config):
            if chunk.text:
                yield chunk.text

    yield from _bounded(pieces, settings=settings, budget=budget, stage="writing the answer")


async def _abounded(
    pieces: AsyncGenerator[str, None], *, settings: Settings, budget: Budget, stage: str
) -> AsyncIterator[str]:
    """Yield from `pieces` within the budget; a timeout cancels the request, which frees its slot."""
    with budget.clock() as left:
        if not await budget.limit.aacquire(left()):
            raise deadline_error(settings, budget, "waiting for a free chat slot")
        try:
            while True:
                try:
                    # Each step gets the time left: cancelling a step closes the HTTP stream.
                    piece = await asyncio.wait_for(anext(pieces), timeout=left())
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise deadline_error(settings, budget, stage) from None
                except Exception as e:
                    raise provider_error(settings, e) from e
                yield piece
        finally:
            try:
                await pieces.aclose()
            finally:
                budget.limit.release()


async def astream_answer(
    model: BaseChatModel,
    messages: Messages,
    *,
    settings: Settings,
    config: RunnableConfig | None,
    budget: Budget,
) -> AsyncIterator[str]:
    """Yield the model's answer as text deltas, without blocking the event loop."""

    async def pieces() -> AsyncGenerator[str, None]:
        async for chunk in model.astream(messages, config=config):
            if chunk.text:
                yield chunk.text

    async for piece in _abounded(pieces(), settings=settings, budget=budget, stage="writing the answer"):
        yield piece


def condense_prompt(prompts: ChainPrompts, question: str, history: Sequence[Turn]) -> str:
    """Build the request that rewrites a follow-up into a self-contained question."""
    lines = "\n".join(f"User: {t.question}\nAssistant: {t.answer}" for t in history[-3:])
    return prompts.condense.format(history=lines, question=question)


def standalone(reply: str, question: str, limit: int, fallback: str | None = None) -> str:
    """Return the model's rewrite of `question`, or `fallback` (default: the question) if it is no rewrite.

    A rewrite is the reply's first line, without a label or quotes. It must still be a question
    (when the original is one) and keep every content word of the original: small models answer
    the question instead, or swap in the previous topic, and searching that would leak history.
    """
    lines = [line for line in reply.strip().splitlines() if line.strip()]
    text = " ".join(_LABEL.sub("", lines[0] if lines else "").strip().strip(_QUOTES).split())
    asks = question.rstrip().endswith("?")
    if not text or len(text) > limit or (asks and not text.endswith("?")):
        return fallback or question
    if content_terms(question) - content_terms(text):
        return fallback or question
    return text


def condense(
    model: BaseChatModel,
    prompts: ChainPrompts,
    question: str,
    history: Sequence[Turn],
    *,
    settings: Settings,
    config: RunnableConfig | None,
    budget: Budget,
    fallback: str | None = None,
) -> str:
    """Rewrite a follow-up question into one that stands alone (`fallback` when the model can't)."""
    prompt = condense_prompt(prompts, question, history)

    def reply() -> Generator[str, None, None]:
        yield model.invoke(prompt, config=config).text

    text = "".join(_bounded(reply, settings=settings, budget=budget, stage="rewriting the question"))
    return standalone(text, question, settings.max_question_chars, fallback)


async def acondense(
    model: BaseChatModel,
    prompts: ChainPrompts,
    question: str,
    history: Sequence[Turn],
    *,
    settings: Settings,
    config: RunnableConfig | None,
    budget: Budget,
    fallback: str | None = None,
) -> str:
    """Rewrite a follow-up question into one that stands alone, without blocking the event loop."""
    prompt = condense_prompt(prompts, question, history)

    async def reply() -> AsyncGenerator[str, None]:
        yield (await model.ainvoke(prompt, config=config)).text

    parts = [p async for p in _abounded(reply(), settings=settings, budget=budget, stage="rewriting")]
    return standalone("".join(parts), question, settings.max_question_chars, fallback)
