"""The answering chain: the extractive answerer, refusal, follow-ups, citation checks, Runnable API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable

from rag import Answer, RagChain, Settings, build_chain, ingest
from rag.documents import load_text
from rag.embeddings import LocalEmbeddings
from rag.errors import ConfigError, QuestionError
from rag.schema import REFUSAL
from tests.conftest import HANOI_2024, SEEDS

HANOI_Q = "Why did the Hanoi summit collapse?"
WALKED_OUT = "Trump walked out of the summit in Hanoi, rejecting Kim’s offer to dismantle the Yongbyon"
DELEGATION_Q = "Who headed the Russian prosecutors' delegation to Pyongyang?"
SIGNED = "signed an agreement on Monday to cooperate on law enforcement countering foreign influence"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Settings:
    settings = Settings(corpus_dir=SEEDS, data_dir=tmp_path_factory.mktemp("chain") / "data")
    ingest(settings, embeddings=embeddings)
    return settings


@pytest.fixture
def chain(indexed: Settings, embeddings: LocalEmbeddings) -> RagChain:
    return build_chain(indexed, embeddings=embeddings)


def _assert_quotes_exact(answer: Answer) -> None:
    for c in answer.citations:
        assert load_text(SEEDS / c.source)[c.start : c.end] == c.quote
        p = answer.passage_of(c)
        assert p is not None and p.text[c.start - p.start : c.end - p.start] == c.quote


def test_extractive_answer_cites_the_walk_out_sentence(chain: RagChain) -> None:
    answer = chain.invoke({"question": HANOI_Q})
    assert answer.mode == "extractive" and not answer.refused
    cited = [c for c in answer.citations if WALKED_OUT in c.quote]
    assert cited and cited[0].source == HANOI_2024
    assert f"[{cited[0].n}]" in answer.text
    assert 1 <= len(answer.citations) <= 4
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    _assert_quotes_exact(answer)
    # It never writes anything but quoted sentences and their markers.
    for sentence, c in zip(answer.sentences, answer.citations, strict=True):
        assert sentence == f"{c.quote} [{c.n}]"
    assert answer.unsupported == []


def test_off_corpus_question_is_refused(chain: RagChain) -> None:
    answer = chain.invoke({"question": "What is a good recipe for kimchi?"})
    assert answer.refused and answer.text == REFUSAL and answer.citations == []


def test_extractive_follow_up_resolves_he_and_there(chain: RagChain) -> None:
    first = chain.invoke({"question": DELEGATION_Q})
    assert any("Krasnov" in c.quote for c in first.citations)
    follow = chain.invoke({"question": "What did he sign there?", "history": [[DELEGATION_Q, first.text]]})
    assert any(SIGNED in c.quote for c in follow.citations), follow.text
    assert follow.history_used and "delegation" in follow.retrieval_query  # see tests/test_conversation.py
    # Gradio-style message history works the same way.
    messages = [{"role": "user", "content": DELEGATION_Q}, {"role": "assistant", "content": first.text}]
    again = chain.invoke({"question": "What did he sign there?", "history": messages})
    assert again.text == follow.text


def test_stream_yields_deltas_then_the_answer(chain: RagChain) -> None:
    events = list(chain.stream({"question": HANOI_Q}))
    assert isinstance(events[-1], Answer)
    assert all(isinstance(e, str) for e in events[:-1]) and len(events) >= 2
    assert "".join(events[:-1]) == events[-1].text


def test_runnable_interface(chain: RagChain) -> None:
    assert isinstance(chain, Runnable)
    batch = chain.batch([{"question": HANOI_Q}, {"question": "What is a good recipe for kimchi?"}])
    assert [a.refused for a in batch] == [False, True]
    assert asyncio.run(chain.ainvoke({"question": HANOI_Q})).text == batch[0].text

    async def collect() -> list:
        return [e async for e in chain.astream({"question": HANOI_Q})]

    events = asyncio.run(collect())
    assert isinstance(events[-1], Answer) and events[-1].text == batch[0].text


def test_answer_json_has_exactly_the_documented_fields(chain: RagChain) -> None:
    data = json.loads(chain.invoke({"question": HANOI_Q}).model_dump_json())
    assert set(data) == {
        "text",
        "citations",
        "refused",
        "mode",
        "unsupported",
        "timings",
        "retrieval_query",
        "history_used",
    }
    assert set(data["citations"][0]) == {"n", "source", "title", "page", "start", "end", "quote", "score"}


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01\x02", "x" * 5000])
def test_bad_questions_are_clear_errors(chain: RagChain, question: str) -> None:
    with pytest.raises(QuestionError):
        chain.invoke({"question": question})


def test_openai_mode_without_key_or_endpoint_fails_at_start(
    indexed: Settings, embeddings: LocalEmbeddings
) -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_chain(indexed.model_copy(update={"llm": "openai"}), embeddings=embeddings)


def _fake(text: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=text)]))


def _llm_chain(indexed: Settings, embeddings: LocalEmbeddings, reply: str) -> RagChain:
    settings = indexed.model_copy(update={"llm": "openai"})
    return build_chain(settings, embeddings=embeddings, chat_model=_fake(reply))


def test_llm_answer_is_checked_against_its_citations(indexed: Settings, embeddings: LocalEmbeddings) -> None:
    chain = _llm_chain(indexed, embeddings, "placeholder")
    hits = chain.retriever.search(HANOI_Q)
    n = next(i for i, h in enumerate(hits, start=1) if WALKED_OUT in h.text)
    reply = (
        f"The summit collapsed when Trump walked out, rejecting Kim's offer to dismantle the Yongbyon "
        f"nuclear facility in return for sanctions relief [{n}]. "
        f"Kim later apologised to Trump in a handwritten letter about the weather [{n}]. "
        f"Talks have stalled since 2019 [9]."
    )
    chain = _llm_chain(indexed, embeddings, reply)
    answer = chain.invoke({"question": HANOI_Q})
    assert answer.mode == "openai" and not answer.refused
    assert answer.unsupported == [1, 2]  # the invented letter, and the sentence left with no valid marker
    assert "[9]" not in answer.text and f"[{n}]" in answer.text
    assert [c.n for c in answer.citations] == [n]
    assert WALKED_OUT in answer.citations[0].quote
    _assert_quotes_exact(answer)


def test_llm_saying_it_does_not_know_is_a_refusal(indexed: Settings, embeddings: LocalEmbeddings) -> None:
    chain = _llm_chain(indexed, embeddings, "I couldn’t find this in the documents.")
    answer = chain.invoke({"question": HANOI_Q})
    assert answer.refused and answer.text == REFUSAL and answer.citations == []


def test_prompts_are_files_with_checked_variables(indexed: Settings, tmp_path: Path) -> None:
    for name in ("system", "answer", "condense"):
        (tmp_path / f"{name}.md").write_text(
            (Path(__file__).parent.parent / "prompts" / f"{name}.md").read_text()
        )
    (tmp_path / "answer.md").write_text("Context: {context}\nQ: {questoin}")
    with pytest.raises(ConfigError, match="expected"):
        build_chain(indexed.model_copy(update={"prompts_dir": tmp_path}))
