"""The page's settings in plain words, and the `/chat` endpoint that API clients call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from rag.app.render import sources_html
from rag.app.scope import Chains
from rag.chain import RagChain
from rag.errors import RagError
from rag.schema import Answer, ChatInput, Turn, clean_question
from rag.settings import Settings

API_TURNS = 8  # turns an API session keeps for follow-ups (bounded memory per session)
API_TTL_S = 3600


def mode_choices(chain: RagChain, settings: Settings) -> list[tuple[str, str]]:
    """The answerers on offer, described for a person; the language model only when configured."""
    choices = [("Quotes from the documents (offline, exact)", "extractive")]
    if chain.mode == "openai" or settings.openai_api_key is not None or settings.openai_base_url:
        where = settings.openai_base_url or "OpenAI"
        choices.append(
            (f"A language model ({settings.chat_model} at {where}) writing from the passages", "openai")
        )
    return choices


def search_choices() -> list[tuple[str, str]]:
    """The search modes, described for a person."""
    return [("By meaning and words (best)", "hybrid"), ("By meaning", "vector"), ("By words", "bm25")]


def api_chat(
    demo: gr.Blocks,
    chains: Chains,
    inputs: list[Any],
    options: Callable[[str, float, str], tuple[str, int, str]],
    note: Callable[[], str],
    settings: Settings,
    concurrency_limit: int,
) -> None:
    """Add `/chat` for gradio_client: (question, answer with, k, search) -> (text, sources, answer JSON).

    The session keeps its last turns, so a client's follow-up is searched with the question before.
    """
    question = gr.Textbox(visible=False)
    text = gr.Textbox(visible=False)
    panel = gr.HTML(visible=False)
    data = gr.JSON(visible=False)
    history = gr.State([], time_to_live=API_TTL_S)
    trigger = gr.Button(visible=False)

    def run(
        q: str, mode: str, top_k: float, retrieval: str, turns: list[Turn], request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        try:
            opts = options(mode, top_k, retrieval)
            owner = (request.username if request is not None else None) or "local"
            chain = chains.get(owner, *opts)
            written = ""
            asked = ChatInput(question=clean_question(q, settings.max_question_chars), history=tuple(turns))
            for event in chain.stream(asked):
                if isinstance(event, Answer):
                    turns = [*turns, Turn(question=event.question, answer=event.text)][-API_TURNS:]
                    yield event.text, sources_html(event, note()), event.model_dump(mode="json"), turns
                    return
                written += event
                yield written, gr.skip(), gr.skip(), gr.skip()
        except RagError as e:
            raise gr.Error(str(e), title="Cannot answer", print_exception=False) from None

    trigger.click(
        run,
        [question, *inputs, history],
        [text, panel, data, history],
        api_name="chat",
        api_description="Answer a question from the documents; the session keeps the history.",
        concurrency_limit=concurrency_limit,
        concurrency_id="answer",
    )
    del demo  # the components above belong to it: built inside its `with` block
