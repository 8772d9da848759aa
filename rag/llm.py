"""Calls to the chat model: the answer stream and the question rewrite, with `config` passed on.

Every call hands the caller's `RunnableConfig` to the model, so LangChain callbacks, tracing and
`astream_events` see the chat-model run inside the chain's run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING

from langchain_core.runnables import RunnableConfig

from rag.errors import ProviderError
from rag.prompts import ChainPrompts
from rag.schema import Passage, Turn
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

Messages = list[tuple[str, str]]
_REFUSAL_SIGNS = (
    "couldn't find this in the documents",
    "could not find this in the documents",
    "i don't know",
    "i do not know",
)


def provider_error(settings: Settings, e: Exception) -> ProviderError:
    """Describe a failed chat call in one line (endpoint, tries, error), never the key."""
    if isinstance(e, ProviderError):
        return e
    where = settings.openai_base_url or "the OpenAI API"
    detail = " ".join(str(e).split())[:160]
    return ProviderError(
        f"the chat endpoint {where} failed after {settings.llm_max_retries + 1} tries: "
        f"{type(e).__name__}: {detail}"
    )


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


def stream_answer(
    model: BaseChatModel, messages: Messages, *, settings: Settings, config: RunnableConfig | None
) -> Iterator[str]:
    """Yield the model's answer as text deltas."""
    try:
        for chunk in model.stream(messages, config=config):
            if chunk.text:
                yield chunk.text
    except Exception as e:
        raise provider_error(settings, e) from e


async def astream_answer(
    model: BaseChatModel, messages: Messages, *, settings: Settings, config: RunnableConfig | None
) -> AsyncIterator[str]:
    """Yield the model's answer as text deltas, without blocking the event loop."""
    try:
        async for chunk in model.astream(messages, config=config):
            if chunk.text:
                yield chunk.text
    except Exception as e:
        raise provider_error(settings, e) from e


def condense_prompt(prompts: ChainPrompts, question: str, history: Sequence[Turn]) -> str:
    """Build the request that rewrites a follow-up into a self-contained question."""
    lines = "\n".join(f"User: {t.question}\nAssistant: {t.answer}" for t in history[-3:])
    return prompts.condense.format(history=lines, question=question)


def condense(
    model: BaseChatModel,
    prompts: ChainPrompts,
    question: str,
    history: Sequence[Turn],
    *,
    settings: Settings,
    config: RunnableConfig | None,
) -> str:
    """Rewrite a follow-up question into one that stands alone."""
    try:
        reply = model.invoke(condense_prompt(prompts, question, history), config=config).text
    except Exception as e:
        raise provider_error(settings, e) from e
    return " ".join(reply.split())[: settings.max_question_chars] or question


async def acondense(
    model: BaseChatModel,
    prompts: ChainPrompts,
    question: str,
    history: Sequence[Turn],
    *,
    settings: Settings,
    config: RunnableConfig | None,
) -> str:
    """Rewrite a follow-up question into one that stands alone, without blocking the event loop."""
    try:
        reply = (await model.ainvoke(condense_prompt(prompts, question, history), config=config)).text
    except Exception as e:
        raise provider_error(settings, e) from e
    return " ".join(reply.split())[: settings.max_question_chars] or question
