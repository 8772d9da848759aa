"""The openai answerer against a real small model: SmolLM2-135M served by llama.cpp on 127.0.0.1.

A 135M-parameter model writes poor answers; these tests hold the chain to what must be true of any
model's answer (invariants), not to its wording: every quote is the source's text at its offsets,
every marker points at a cited passage, the output stays within RAG_LLM_MAX_TOKENS, sentences the
passages don't back are marked, a self-contained question survives the rewrite, and a deadline
ends a question with one line while the chain keeps answering.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Answer, RagChain, Settings, build_chain, ingest
from rag.documents import load_text
from rag.embeddings import LocalEmbeddings
from rag.errors import ProviderError
from rag.llm import Budget, condense
from rag.providers import make_chat_model
from rag.schema import Turn
from tests.conftest import SEEDS
from tests.llama_server import LlamaServer

HANOI_Q = "Why did the Hanoi summit collapse?"
KCNA_Q = "What did the KCNA statement say about Trump?"
MAX_TOKENS = 48
INVENTED = "Xi Jinping said that the summit in Hanoi ended in 2031 [1]."


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One llama.cpp server for the module: the model loads once."""
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with LlamaServer(log=log) as server:
        yield server


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings, llama: LlamaServer
) -> Settings:
    work = tmp_path_factory.mktemp("real")
    with pytest.MonkeyPatch.context() as env:  # module scope: conftest's per-test clean env isn't on yet
        for key in [k for k in os.environ if k.startswith(("RAG_", "OPENAI_"))]:
            env.delenv(key)
        env.chdir(work)
        base = Settings(corpus_dir=SEEDS, data_dir=work / "data")
    ingest(base, embeddings=embeddings)
    return base.model_copy(
        update={
            "llm": "openai",
            "openai_base_url": llama.base_url,
            "chat_model": "smollm2-135m",
            "llm_max_tokens": MAX_TOKENS,
            "llm_max_retries": 0,
            "llm_timeout": 120.0,
            "llm_deadline": 300.0,
            "top_k": 2,  # a short prompt: prompt processing is most of a call's time on 2 cores
        }
    )


@pytest.fixture(scope="module")
def chain(settings: Settings, embeddings: LocalEmbeddings) -> RagChain:
    return build_chain(settings, embeddings=embeddings)


def _run(chain: RagChain, question: object) -> tuple[str, Answer]:
    events = list(chain.stream(question))
    answer = events[-1]
    assert isinstance(answer, Answer)
    return "".join(e for e in events[:-1] if isinstance(e, str)), answer


def _assert_invariants(answer: Answer) -> None:
    """What any model's checked answer must satisfy."""
    assert answer.mode == "openai"
    for c in answer.citations:
        assert load_text(SEEDS / c.source)[c.start : c.end] == c.quote
        assert answer.passage_of(c) is not None
    cited = {c.n for c in answer.citations}
    assert answer.text == " ".join(answer.sentences)
    for i, sentence in enumerate(answer.sentences):
        markers = {int(n) for group in re.findall(r"\[([\d, ]+)\]", sentence) for n in group.split(",")}
        assert markers <= cited, (sentence, cited)  # every marker points at a cited passage
        if not markers:
            assert i in answer.unsupported or answer.refused  # a sentence citing nothing is marked
    assert len(answer.sentences) == len(set(answer.sentences))  # repeats collapsed
    assert all(0 <= i < len(answer.sentences) for i in answer.unsupported)


def test_answer_keeps_the_invariants_and_the_token_bound(chain: RagChain, llama: LlamaServer) -> None:
    raw, answer = _run(chain, HANOI_Q)
    assert raw.strip(), "the model wrote nothing"
    assert llama.count_tokens(raw) <= MAX_TOKENS + 1  # +1: a detokenised piece can re-split
    _assert_invariants(answer)
    assert answer.timings["first_token_ms"] <= answer.timings["total_ms"]

    async def collect() -> list[object]:
        return [event async for event in chain.astream(HANOI_Q)]

    events = asyncio.run(collect())  # the async path; the server's prompt cache makes it quick
    again = events[-1]
    assert isinstance(again, Answer)
    _assert_invariants(again)
    assert llama.count_tokens("".join(e for e in events[:-1] if isinstance(e, str))) <= MAX_TOKENS + 1
    assert chain.llm_limit.busy == 0


def test_the_limit_is_sent_on_every_call(settings: Settings, llama: LlamaServer) -> None:
    model = make_chat_model(settings.model_copy(update={"llm_max_tokens": 8}))
    reply = model.invoke("Write a long story about a dragon who learns to sing.")
    assert reply.response_metadata.get("finish_reason") == "length"
    assert llama.count_tokens(reply.text) <= 9


def test_an_invented_sentence_is_marked_unsupported(
    settings: Settings, embeddings: LocalEmbeddings, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts"
    shutil.copytree(Path(__file__).parent.parent / "prompts", prompts)
    (prompts / "answer.md").write_text(
        f"{{context}}\n\nQuestion: {{question}}\n\nReply with this sentence and nothing else: {INVENTED}\n"
    )
    chain = build_chain(settings.model_copy(update={"prompts_dir": prompts}), embeddings=embeddings)
    raw, answer = _run(chain, HANOI_Q)
    _assert_invariants(answer)
    invented = [i for i, s in enumerate(answer.sentences) if "Xi Jinping" in s or "2031" in s]
    assert invented, f"the model did not write the sentence it was told to: {raw!r}"
    assert set(invented) <= set(answer.unsupported)  # no Xi, no 2031 in the passages


def test_a_self_contained_question_survives_the_rewrite(chain: RagChain, settings: Settings) -> None:
    history = [Turn(question=HANOI_Q, answer="Trump walked out of the summit [1].")]
    budget = Budget.start(chain.llm_limit, settings.llm_deadline)
    rewritten = condense(
        chain.chat_model, chain.prompts, KCNA_Q, history, settings=settings, config=None, budget=budget
    )
    folded = " ".join(re.findall(r"\w+", rewritten.casefold()))
    assert folded == " ".join(re.findall(r"\w+", KCNA_Q.casefold())) or {"kcna", "trump"} <= set(
        folded.split()
    )
    assert "hanoi" not in folded and "walked" not in folded  # the old topic does not leak in


def test_a_deadline_ends_the_question_and_the_chain_keeps_answering(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    # Three passages, not two: the third is not in the server's prompt cache, and reading it and
    # writing the answer take longer than the deadline.
    chain = build_chain(settings.model_copy(update={"llm_deadline": 0.2, "top_k": 3}), embeddings=embeddings)
    began = time.monotonic()
    with pytest.raises(ProviderError, match="deadline") as caught:
        chain.invoke(HANOI_Q)
    assert time.monotonic() - began < 5
    assert "\n" not in str(caught.value)
    quick = chain.with_options(mode="extractive")
    assert quick.llm_limit is chain.llm_limit  # copies share the slots
    assert quick.invoke(HANOI_Q).mode == "extractive"  # answering goes on
    deadline = time.monotonic() + 60
    while chain.llm_limit.busy and time.monotonic() < deadline:  # the abandoned request ends
        time.sleep(0.1)
    assert chain.llm_limit.busy == 0
