"""Checking an LLM's answer against the passages its markers cite, with the real embedding model."""

from __future__ import annotations

import pytest

from rag.checking import check_citations, split_cited
from rag.embeddings import LocalEmbeddings
from rag.schema import Passage
from rag.vectors import TextVectors

KRASNOV = (
    "Prosecutor General Igor Krasnov, the head of the delegation, and Kim Chol Won, director of North "
    "Korea’s Central Public Prosecutors Office, signed an agreement on Monday to cooperate on law "
    "enforcement countering foreign influence. Krasnov said the two countries are “actively developing "
    "their comprehensive partnership,” according to the Russian news agency Tass."
)
HANOI = (
    "Trump walked out of the summit in Hanoi, rejecting Kim’s offer to dismantle the Yongbyon nuclear "
    "facility in return for sanctions relief. The two leaders met three times."
)
SIGNED = "Krasnov and Kim Chol Won signed an agreement on Monday to cooperate on law enforcement."


def _passage(n: int, text: str) -> Passage:
    return Passage(
        rank=n,
        id=f"p{n}",
        source=f"doc{n}.txt",
        title="",
        page=None,
        start=0,
        end=len(text),
        score=1.0,
        text=text,
    )


HITS = [_passage(1, KRASNOV), _passage(2, HANOI)]


@pytest.fixture(scope="module")
def vectors(embeddings: LocalEmbeddings) -> TextVectors:
    return TextVectors(embeddings)


@pytest.mark.parametrize(
    "answer",
    [
        f"[1] {SIGNED} [2] Trump walked out of the summit.",  # markers first
        f"{SIGNED} [1] Trump walked out of the summit. [2]",  # markers after the period
        f"{SIGNED[:-1]} [1]. Trump walked out of the summit [2].",  # markers before the period
        f"{SIGNED}[1] Trump walked out of the summit.[2]",  # glued
        f"{SIGNED}\n[1]\n[2]\nTrump walked out of the summit.",  # on lines of their own
    ],
)
def test_markers_attach_to_their_sentence(answer: str) -> None:
    sentences = split_cited(answer, 2)
    got = [(s.text, s.cited) for s in sentences]
    if answer.startswith(SIGNED + "\n"):  # a marker line before a sentence belongs to it
        assert got == [(SIGNED, []), ("Trump walked out of the summit.", [1, 2])]
    else:
        assert got == [(SIGNED, [1]), ("Trump walked out of the summit.", [2])]


def test_markers_that_point_nowhere_go_and_groups_and_ranges_parse() -> None:
    (sentence,) = split_cited("Both met [1, 3] [2-4] [0].", 3)
    assert sentence.text == "Both met." and sentence.cited == [1, 3, 2]


def test_repeated_sentences_collapse() -> None:
    sentences = split_cited(f"{SIGNED} [1] {SIGNED} [1] {SIGNED.upper()} [2] Trump left.", 2)
    assert [(s.text, s.cited) for s in sentences] == [(SIGNED, [1, 2]), ("Trump left.", [])]


def test_a_supported_answer_passes(vectors: TextVectors) -> None:
    checked = check_citations(f"[1] {SIGNED} {HANOI.split('. ')[0]} [2].", HITS, vectors, threshold=0.5)
    assert checked.unsupported == [] and [c.n for c in checked.citations] == [1, 2]
    for c in checked.citations:
        assert HITS[c.n - 1].text[c.start : c.end] == c.quote


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Xi Jinping said that Krasnov and Kim Chol Won signed an agreement on law enforcement [1].", "Xi"),
        ("According to Xinhua, Krasnov and Kim Chol Won signed an agreement on Monday [1].", "Xinhua"),
        ("Krasnov and Kim Chol Won signed an agreement on law enforcement in 2017 [1].", "2017"),
        ("Krasnov and Kim Chol Won did not sign an agreement to cooperate on law enforcement [1].", "negat"),
        ("Krasnov said the two countries are “actively building a military alliance together” [1].", "quot"),
        ("The two leaders met five times [2].", "number 5"),
        ("Kim later apologised to Trump in a handwritten letter about the weather [2].", "says this"),
        ("Trump walked out of the summit in Hanoi.", "cites no passage"),
    ],
)
def test_claims_the_passage_does_not_make_are_unsupported(
    vectors: TextVectors, sentence: str, reason: str
) -> None:
    checked = check_citations(f"{SIGNED} [1] {sentence}", HITS, vectors, threshold=0.5)
    assert checked.unsupported == [1], checked.reasons
    assert reason in checked.reasons[1]


def test_a_name_and_number_the_passage_holds_are_fine(vectors: TextVectors) -> None:
    checked = check_citations(
        "Krasnov said the two countries are “actively developing their comprehensive partnership” [1]. "
        "The two leaders met three times [2].",
        HITS,
        vectors,
        threshold=0.5,
    )
    assert checked.unsupported == [], checked.reasons


def test_an_echoed_answer_cue_is_dropped() -> None:
    (sentence,) = split_cited(f"Answer: {SIGNED} [1]", 1)
    assert sentence.text == SIGNED and sentence.cited == [1]


@pytest.mark.parametrize(
    "sentence",
    [
        "Trump did not accept Kim’s offer to dismantle the Yongbyon nuclear facility [2].",  # ~ "rejecting"
        "Trump walked out of the summit in Hanoi and rejected Kim’s offer on Yongbyon [2].",
    ],
)
def test_a_paraphrased_negation_is_no_flip(vectors: TextVectors, sentence: str) -> None:
    checked = check_citations(sentence, HITS, vectors, threshold=0.5)
    assert checked.unsupported == [], checked.reasons


def test_echoed_passage_fences_are_no_part_of_the_answer() -> None:
    echoed = f'<passage n="1" source="doc1.txt">\n{SIGNED} [1]\n</passage>'
    assert [(s.text, s.cited) for s in split_cited(echoed, 1)] == [(SIGNED, [1])]
