"""Question words the documents never use are given a synonym they do use (rag/synonyms.py)."""

from __future__ import annotations

import pytest

from rag import RagChain, Settings, build_chain, ingest
from rag.embeddings import LocalEmbeddings
from rag.synonyms import in_corpus_words, places_of, synonyms
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> RagChain:
    settings = Settings(corpus_dir=SEEDS, data_dir=tmp_path_factory.mktemp("synonyms") / "data")
    ingest(settings, embeddings=embeddings)
    return build_chain(settings, embeddings=embeddings)


def test_wordnet_gives_the_forms_and_senses_of_a_word() -> None:
    # A word is looked up by its base forms (WordNet's exception lists and suffix rules), which are
    # not synonyms of it: the stems already match the regular ones.
    assert "lead" not in synonyms("led") and "direct" in synonyms("led")
    assert "meet" not in synonyms("met") and "encounter" in synonyms("met")
    assert "offense" in synonyms("offences") and "offence" not in synonyms("offences")
    assert synonyms("atomic") == ["nuclear"]
    # Qualifiers and stopwords are never added: "first" would change what "the start" asks.
    assert "first" not in synonyms("start")
    assert synonyms("xqzzy") == []


def test_a_capital_stands_for_the_one_country_it_is_part_of() -> None:
    assert places_of("Pyongyang") == [("north", "korea")]
    assert places_of("Moscow") == [("russia",)]
    # Washington is part of two places in WordNet (the District and the state's country): neither.
    assert places_of("Washington") == []
    assert places_of("Trump") == []


def test_only_words_the_documents_lack_get_a_synonym_they_hold(chain: RagChain) -> None:
    idf = chain.retriever.bm25().idf
    question = "For how long have atomic negotiations with Pyongyang been frozen?"
    assert in_corpus_words(question, idf, chain._similar) == (
        "For how long have atomic nuclear negotiations with Pyongyang been frozen?"
    )
    # "summit" is held, and a sense of "top", but not the one meant: the embedding keeps it out.
    question = "Who is Beijing's top leader?"
    assert in_corpus_words(question, idf, chain._similar) == question
    # Names, modal verbs and words the documents hold are left as they are.
    for question in ("Might Kim visit Moscow?", "Who signed the treaty?"):
        assert in_corpus_words(question, idf, chain._similar) == question


def test_a_paraphrased_question_finds_the_sentence_in_other_words(chain: RagChain) -> None:
    # "atomic" for "nuclear": without it the question shares only "Washington" and "Pyongyang" with
    # its answer, and was refused.
    question = "For how long has atomic diplomacy between Washington and Pyongyang been frozen?"
    answer = chain.invoke({"question": question})
    assert not answer.refused, answer.text
    assert "remained stalled since 2019" in answer.citations[0].quote, answer.text
    # "offences" for "crimes": without it the partnership sentence came first.
    answer = chain.invoke({"question": "Which tech offences do the two governments want to fight together?"})
    assert not answer.refused and "crimes in the area of" in answer.citations[0].quote, answer.text
    # A synonym brings no answer the documents do not hold.
    for question in ("What is a good recipe for kimchi?", "How many atomic warheads does Vietnam own?"):
        assert chain.invoke({"question": question}).refused, question
