"""The extractive answerer: sentence choice, composition and refusal, through the real embedding model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import Answer, RagChain, Settings, build_chain, ingest
from rag.answer import answer_vectors, candidates, extract, load_answerer, reranked, score_evidence
from rag.documents import load_text
from rag.embeddings import LocalEmbeddings
from rag.features import GATE_FEATURES, SENTENCE_FEATURES, term_weights
from rag.questions import (
    across_documents,
    asked_attribute,
    asked_years,
    asks_advice,
    count_missing,
    held_years,
    negated,
    negation_dropped,
    number_mismatch,
    numbers,
    opposite,
    question_type,
    refusal_unmet,
    same_name,
    speaker,
    subject,
    unit_missing,
    verb_subjects,
    without_document_reference,
    yes_no,
)
from rag.retrieve import Hit
from rag.text import quotable, sentence_spans, term_forms
from tests.conftest import HANOI_2024, RUSSIA_2019, SEEDS

WALKED_OUT = "Trump walked out of the summit in Hanoi, rejecting Kim’s offer"
HEAD_OF_DELEGATION = "Prosecutor General Igor Krasnov, the head of the delegation"
NOTES = """# Project notes for the Lisbon office move

## Budget and dates

The budget for the Lisbon office move is 40,000 euros, approved by the board in May.

- The movers from **Atlas Removals** will pack the archive on the first of September.
- Maria Duarte leads the move and signs every contract with the landlord.

<p>The new office has room for twenty-four desks and two meeting rooms.</p>
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> RagChain:
    settings = Settings(corpus_dir=SEEDS, data_dir=tmp_path_factory.mktemp("answer") / "data")
    ingest(settings, embeddings=embeddings)
    return build_chain(settings, embeddings=embeddings)


def _chain_over(
    tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings, files: dict[str, str]
) -> RagChain:
    """Index a corpus of the given files (name: text) and return its chain."""
    root = tmp_path_factory.mktemp("corpus")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(corpus_dir=corpus, data_dir=root / "data")
    ingest(settings, embeddings=embeddings)
    return build_chain(settings, embeddings=embeddings)


@pytest.fixture(scope="module")
def notes_chain(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> RagChain:
    # The same file twice.
    return _chain_over(tmp_path_factory, embeddings, {"notes.md": NOTES, "notes-copy.md": NOTES})


HISTORY = """The Seven Years' War in North America

British operations in the frontier areas of Pennsylvania and New York all failed in 1755.
William Pitt came to power in 1757 and significantly increased British military resources in the colonies.
France was unwilling to risk large convoys to aid the limited forces it had in New France.
The British captured Louisbourg in 1758 after a siege of several weeks.
The Yuan had four great schools of medicine, inherited from the Jin dynasty.
"""


@pytest.fixture(scope="module")
def history_chain(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> RagChain:
    return _chain_over(tmp_path_factory, embeddings, {"war.txt": HISTORY})


def _assert_well_formed(answer: Answer, corpus: Path) -> None:
    """Every quote is its exact source span, one citation per passage, numbered in order."""
    if answer.refused:
        assert answer.citations == []
        return
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    passages = []
    for c in answer.citations:
        assert load_text(corpus / c.source)[c.start : c.end] == c.quote
        p = answer.passage_of(c)
        assert p is not None
        passages.append((p.source, p.start))
    assert len(passages) == len(set(passages)), "a passage is cited twice"
    quotes = [c.quote for c in answer.citations]
    assert len(quotes) == len(set(quotes)), "the same words are quoted twice"
    for sentence, c in zip(answer.sentences, answer.citations, strict=True):
        assert sentence == f"{c.quote} [{c.n}]"


def test_the_walk_out_sentence_answers_why_hanoi_collapsed_first(chain: RagChain) -> None:
    answer = chain.invoke({"question": "Why did the Hanoi summit collapse?"})
    assert not answer.refused
    assert WALKED_OUT in answer.citations[0].quote and answer.citations[0].source == HANOI_2024
    assert answer.text.startswith(answer.citations[0].quote)
    _assert_well_formed(answer, SEEDS)


@pytest.mark.parametrize(
    ("question", "words"),
    [
        # Questions no model was fitted on (evals/datasets/news_fresh): the ranker alone quoted
        # "headed home Wednesday" alone and "A meeting with the Russian leader would underscore
        # Kim's options" first; the answer encoder moves the sentence that answers up.
        ("Who led the Russian prosecutors' delegation that visited Pyongyang?", HEAD_OF_DELEGATION),
        ("Which Russian official had Kim already met by the time of the 2019 article?", "Sergei Lavrov"),
    ],
)
def test_the_answer_encoder_puts_the_answering_sentence_first(
    chain: RagChain, question: str, words: str
) -> None:
    answer = chain.invoke({"question": question})
    assert not answer.refused
    assert words in answer.citations[0].quote, answer.text
    _assert_well_formed(answer, SEEDS)


def test_reranking_keeps_the_rankers_scale() -> None:
    # Two sentences the ranker scores alike: the encoder's cosine decides, and the new best keeps
    # the ranker's best probability, so the composition's ratios mean what they meant.
    question = "Who led the Russian prosecutors' delegation?"
    texts = [
        "A delegation from the Russian prosecutor’s office headed home Wednesday.",
        "Prosecutor General Igor Krasnov, the head of the delegation, signed an agreement.",
    ]
    vectors = answer_vectors()([question, *texts])
    shown = reranked(np.array([0.6, 0.55]), vectors)
    assert shown[1] > shown[0]
    assert shown.max() == pytest.approx(0.6)
    assert reranked(np.zeros(0), vectors[:1]).shape == (0,)


def test_the_head_of_the_delegation_is_in_the_first_quote(chain: RagChain) -> None:
    # The sentence that answers follows "headed home" in the same passage: the two join one quote.
    answer = chain.invoke({"question": "Who headed the Russian prosecutors' delegation to Pyongyang?"})
    assert HEAD_OF_DELEGATION in answer.citations[0].quote
    _assert_well_formed(answer, SEEDS)


@pytest.mark.parametrize(
    "question",
    [
        "What is a good recipe for kimchi?",
        "How do I change a flat tyre on a bicycle?",
        "What is the boiling point of ethanol?",
        # Named in the documents, but what is asked of them is not.
        "What is the population of Pyongyang?",
        "Who is South Korea's president?",
        # A sum of money asked, none given.
        "How much did the joint drills at Suwon cost?",
    ],
)
def test_off_corpus_questions_are_refused(chain: RagChain, question: str) -> None:
    answer = chain.invoke({"question": question})
    assert answer.refused and answer.citations == []


@pytest.mark.parametrize(
    "question",
    [
        "What did Xi Jinping say about the Russian prosecutors' visit to Pyongyang?",  # Xi says nothing
        "What did Sergei Lavrov promise North Korea?",  # Lavrov is only met
        "What did Kim Chol Won tell Tass?",  # Krasnov speaks, beside Kim Chol Won's name
        "What did Robert Manning say about China?",  # Manning speaks, never of China
        # A reaction is a report too: nobody in Seoul, or Xi, is reported reacting to anything.
        "How did Seoul react to North Korea's demands?",
        "How did Xi Jinping react to Trump's speech at the Republican convention?",
    ],
)
def test_what_a_named_person_never_said_is_refused(chain: RagChain, question: str) -> None:
    answer = chain.invoke({"question": question})
    assert answer.refused, (question, answer.text)


@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        ("What did North Korea say Trump's personal diplomacy achieved?", "North Korea also said"),
        ("What did Kim say about a third summit with Trump?", "Kim said, he’d be willing"),
        ("What did the KCNA statement say about Trump?", "KCNA statement"),
        ("How did North Korea respond to Washington's calls for dialogue?", "“sinister attempt”"),
        # A capital speaks for its country (WordNet: Pyongyang is part of North Korea).
        (
            "How did Pyongyang react to the joint drills at Suwon?",
            "North Korea expressed its dissatisfaction",
        ),
    ],
)
def test_what_a_person_said_is_quoted_from_their_own_words(
    chain: RagChain, question: str, quoted: str
) -> None:
    # The sentence that reports the speaker leads, not another's sentence on the same subject.
    answer = chain.invoke({"question": question})
    assert not answer.refused, question
    assert quoted in answer.citations[0].quote, (question, answer.text)
    _assert_well_formed(answer, SEEDS)


def test_a_swapped_role_is_refused_and_the_right_one_answered(chain: RagChain) -> None:
    # Trump walked out, not Kim: every word of the question is in the walk-out sentence.
    assert chain.invoke({"question": "Why did Kim Jong Un walk out of the Hanoi summit?"}).refused
    answer = chain.invoke({"question": "Why did Trump walk out of the Hanoi summit?"})
    assert not answer.refused and WALKED_OUT in answer.citations[0].quote
    # The sentence the answer encoder puts first counts too: "Putin visited Pyongyang in June" tells
    # nothing of Kim Chol Won visiting Moscow.
    assert chain.invoke({"question": "When did Kim Chol Won visit Moscow?"}).refused
    answer = chain.invoke({"question": "When did Putin visit Pyongyang?"})
    assert not answer.refused and "in June" in answer.citations[0].quote, answer.text


def test_the_subject_of_a_verb_is_the_name_right_before_it() -> None:
    kim = subject("Why did Kim Jong Un walk out of the Hanoi summit?")
    assert kim is not None and kim.names == {"kim", "jong", "un"} and kim.verb == "walk"
    edward = "When finally Edward the Confessor returned from his father's refuge in 1041"
    assert verb_subjects(edward, "return") == [{"edward", "confessor"}]
    for question in (
        "When was Scotland invaded by William?",  # passive: the name is not the subject
        "Who was Bohemond's son?",
        "Why did the Hanoi summit collapse?",  # a noun phrase, not a name, is the subject
        "Did Kim meet Putin?",
    ):
        assert subject(question) is None, question
    walked = "Trump walked out of the summit in Hanoi, rejecting Kim’s offer to dismantle the facility."
    assert verb_subjects(walked, "walk") == [{"trump"}]
    assert verb_subjects(walked, "dismantl") == [frozenset()]  # "offer to dismantle": no subject
    assert verb_subjects("Kim and Trump met in Hanoi.", "met") == [{"kim", "trump"}]
    assert verb_subjects("He visited Korea, making it a state.", "make") == [frozenset()]  # the comma
    assert verb_subjects("When Yesün Temür died in Shangdu", "die") == [{"yesun", "temur"}]
    assert same_name(frozenset({"moncalm"}), frozenset({"montcalm"}))
    assert not same_name(frozenset({"kim"}), frozenset({"trump"}))


def test_another_year_or_the_opposite_word_is_refused(history_chain: RagChain) -> None:
    # Unanswerable questions that reuse a sentence's words with its year or one word changed.
    for question, quoted in (
        ("Who increased British military resources in the colonies?", "William Pitt"),
        ("When did William Pitt come to power?", "1757"),
        ("What did the British capture in 1758?", "Louisbourg"),
        ("Where did the Yuan's four great schools of medicine come from?", "Jin dynasty"),
        ("Didn't William Pitt increase British military resources?", "William Pitt"),  # yes/no: kept
    ):
        answer = history_chain.invoke({"question": question})
        assert not answer.refused and quoted in answer.citations[0].quote, (question, answer.text)
    for question in (
        "Who decreased British military resources in the colonies?",
        "What did the British capture in 1761?",
        "Who didn't increase British military resources in the colonies?",  # negated, and Pitt did
        "Where did the Yuan's 8 great schools of medicine come from?",  # another count
    ):
        answer = history_chain.invoke({"question": question})
        assert answer.refused, (question, answer.text)


def test_years_and_opposites_are_read_from_the_words() -> None:
    assert asked_years("What happened to the company in 1766?") == {1766}
    assert asked_years("How many fled by the 1700s, or in 1,766 places?") == set()  # a century, a count
    assert held_years("the Dutch Revolt (1568–1609) and 1700") == ({1568, 1609, 1700}, [(1568, 1609)])
    assert opposite("Who decreased the resources?", "Pitt increased the resources.")
    assert not opposite("Who increased the resources?", "Pitt increased the resources.")
    assert not opposite("Who led the North American expedition?", "It explored the South.")  # names
    assert not opposite("Which is less costly?", "Informal rule is more costly.")  # a comparison
    assert opposite("When was the company unestablished?", "The company was established in 1599.")
    assert opposite(
        "What agreement did Montcalm and the Indians have?", "Montcalm and the Indians disagreed."
    )
    assert not opposite("What form did the tax take?", "They informed the king of the tax.")  # not a prefix
    assert numbers("The 8 schools, the third empire and 1,200 men in 1757") == ({8, 1200}, {3})
    assert numbers("What 3 things? Two of his men, six years later, in Stage 4", asked=True) == (set(), set())
    assert number_mismatch("Who had the 8 schools?", "The Yuan had Four Great Schools.")
    assert not number_mismatch("Who had the four schools?", "The Yuan had Four Great Schools.")
    assert not number_mismatch("Who had the 8 schools?", "The Yuan had great schools.")  # no count told
    assert opposite("What is the slow spread of?", "It allowed the rapid spread of ideas.")
    assert negation_dropped("Who didn't the Mongols send?", "The Mongols sent Han Chinese.")
    assert not negation_dropped("Who was not allowed to settle?", "Its refusal to allow non-Catholics.")
    assert not negation_dropped("Who did the Mongols send?", "The Mongols sent Han Chinese.")
    assert not negation_dropped("Why was no deal signed?", "Trump walked out.")  # a cause is told plainly
    assert not negation_dropped("Didn't Trump meet Kim?", "Trump met Kim.")  # yes/no: the quote says yes
    assert (
        without_document_reference("Why did talks fail, according to the 2019 article?")
        == "Why did talks fail?"
    )
    assert (
        without_document_reference("Who is the research fellow quoted in the article?")
        == "Who is the research fellow?"
    )
    # A dated article named anywhere, or "by the time of" it: its year is no fact asked.
    assert (
        without_document_reference(
            "Which Russian official had Kim already met by the time of the 2019 article?"
        )
        == "Which Russian official had Kim already met?"
    )
    assert (
        without_document_reference(
            "The 2019 article expected a summit; how far had ties gone by the 2024 article?"
        )
        == "expected a summit; how far had ties gone?"
    )
    both = "What did KCNA report in the two articles?"  # an answer from each: kept
    assert without_document_reference(both) == both
    assert without_document_reference("What is in the article?") == "What is in the article?"  # all of it
    assert yes_no("Isn’t Russia an ally?") and yes_no("Did they meet?") and not yes_no("Who didn't go?")


def test_a_speaker_is_read_from_the_question() -> None:
    manning = speaker("What did Robert Manning say about China?")
    assert manning is not None and manning.names == {"robert", "manning"} and manning.named
    assert manning.topic.strip() == "about China?"
    described = speaker("What does the Brookings scholar say has reduced Kim's motivation?")
    assert described is not None and described.names == {"brookings"} and not described.named
    for question in (
        "What did the analyst say?",  # no name: any sentence may paraphrase who it is
        "Who said the statement reflected humiliation?",  # asks for the speaker
        "What did the Huguenots call themselves?",  # a name, not a report
        "What did the Soviet Union mean for North Korea?",
    ):
        assert speaker(question) is None, question


def test_words_the_corpus_never_uses_do_not_sink_an_answerable_question(chain: RagChain) -> None:
    # "hold" occurs nowhere in the seeds: it is neutral, the name decides.
    bm25 = chain.retriever.bm25()
    weights, _ = term_weights(sorted(term_forms("What position does Bruce Klingner hold?")), bm25)
    assert "klingner" in weights and "hold" not in weights
    answer = chain.invoke({"question": "What position does Bruce Klingner hold?"})
    assert not answer.refused
    assert "senior research fellow" in answer.citations[0].quote


def test_cross_document_question_cites_each_passage_once(chain: RagChain) -> None:
    for question in (
        "Which Trump-Kim summits do the articles mention, and which one failed?",
        "What does North Korea gain from its ties with Russia?",
        "Did the Kim-Putin meeting anticipated in 2019 eventually lead anywhere?",
    ):
        answer = chain.invoke({"question": question})
        assert not answer.refused, question
        assert 1 <= len(answer.citations) <= 3
        _assert_well_formed(answer, SEEDS)
    assert {HANOI_2024, RUSSIA_2019} >= {c.source for c in answer.citations}


def test_a_question_asked_of_both_documents_quotes_each(chain: RagChain) -> None:
    # The best sentences are the 2024 article's; the 2019 one's Lavrov sentence is what it said then.
    answer = chain.invoke({"question": "How do the two pieces describe Kim's relationship with Putin?"})
    assert not answer.refused
    assert {c.source for c in answer.citations} == {HANOI_2024, RUSSIA_2019}
    _assert_well_formed(answer, SEEDS)
    assert across_documents("Is China on North Korea's side? How do the two articles differ?")
    assert across_documents("What do the 2019 article and the 2024 one say about Putin?")
    assert across_documents("Which delegations came, according to both pieces?")
    assert across_documents("What did Kim say in each article?")
    assert not across_documents("Why isn't China a reliable patron, according to the 2019 article?")
    assert not across_documents("What happened at Hanoi in 2019, and did talks resume in 2024?")
    assert not across_documents("Why did the Hanoi summit collapse?")


def test_a_state_told_with_without_is_not_a_negation(chain: RagChain) -> None:
    # "left without", "end without" describe what happened; read as a negation they sank the gate.
    walk_out = chain.invoke({"question": "Why did the Hanoi summit end without a deal?"})
    assert not walk_out.refused
    assert "walked out" in walk_out.citations[0].quote
    untethered = chain.invoke({"question": "Why has Kim been left without a great-power backer?"})
    assert not untethered.refused
    assert "untethered" in untethered.citations[0].quote
    assert not negated("a summit that ended without a deal")
    assert negated("a summit that did not end in a deal")


def test_advice_about_a_place_in_the_documents_is_refused(chain: RagChain) -> None:
    # The place or language is in the articles; packing, street food or learning a language is not.
    for question in (
        "What should I bring on a sightseeing holiday to Pyongyang?",
        "Which restaurants would you recommend for my evening in Hanoi?",
        "What's the easiest way to pick up some Vietnamese before my trip?",
    ):
        answer = chain.invoke({"question": question})
        assert answer.refused, (question, answer.text)
    # Advice asked in the documents' own words is answered from them.
    answer = chain.invoke({"question": "What should I know about the agreement the prosecutors signed?"})
    assert not answer.refused
    assert "signed an agreement" in answer.citations[0].quote
    assert asks_advice("How do I reset my router password?")
    assert not asks_advice("Who did Alexander I marry?")
    assert not asks_advice("Who along with Russia supported post WW-I communist movements?")


def test_a_count_of_something_the_documents_never_count_is_refused(chain: RagChain) -> None:
    # The delegation's sentence counts days ("a three-day visit"), and the March one weeks ("the
    # third week"): neither says how many people went.
    for question in (
        "How many prosecutors made up the Russian delegation that visited Pyongyang?",
        "How many lawmakers were in the Russian Federal Assembly delegation?",
    ):
        answer = chain.invoke({"question": question})
        assert answer.refused, (question, answer.text)
    days = chain.invoke({"question": "How many days did the Russian prosecutors spend in Pyongyang?"})
    assert not days.refused and "three-day visit" in days.citations[0].quote, days.text
    assert count_missing("How many people were in the delegation?", "a three-day visit to Pyongyang")
    assert not count_missing("How many casualties were there?", "Approximately 1,000 soldiers were killed.")
    assert not count_missing("How many times did they meet?", "He would meet Trump for a third summit.")
    assert not count_missing("Who led the delegation?", "a three-day visit")
    # Tens and compounds are counts too: "forty days", "twenty-five people".
    assert not count_missing(
        "How many days was the ferry late?", "The ferry was late on forty days last winter."
    )
    assert not count_missing("How many people came?", "Twenty-five people came.")
    assert count_missing("How many people came?", "They paid a twenty-five-day visit.")


def test_a_request_for_recommendations_is_advice(chain: RagChain) -> None:
    # Hanoi is in the articles; sights to see in it are not.
    answer = chain.invoke({"question": "What are the top places to visit in Hanoi?"})
    assert answer.refused, answer.text
    assert asks_advice("Could you suggest a nice café in Vladivostok?")
    assert asks_advice("Can you recommend a good book on Korean history?")
    assert not asks_advice("Who recommended lifting the sanctions?")
    # "I" telling what the person is doing is no request for advice: the question is the documents'.
    question = "I'm preparing a class on this, so: who runs North Korea's Central Public Prosecutors Office?"
    answer = chain.invoke({"question": question})
    assert not answer.refused and "Kim Chol Won" in answer.citations[0].quote, answer.text
    assert asks_advice("Where can I stay in Suwon?")
    assert asks_advice("I'm planning a trip to Hanoi, what should I see?")
    assert not asks_advice("Can you tell me who led the delegation?")


def test_the_two_named_are_not_a_count(chain: RagChain) -> None:
    # "the two leaders" are Kim and Putin, named before it: not a number the sentence must give.
    question = (
        "Kim Jong Un had not yet met Putin as of the 2019 article; when did Putin later visit Pyongyang,"
        " and what did the two leaders sign?"
    )
    assert numbers(question, asked=True) == (set(), set())
    assert numbers("What did the two countries agree on?", asked=True) == ({2}, set())
    answer = chain.invoke({"question": question})
    assert not answer.refused
    assert "mutual defense treaty" in answer.text


def test_headings_bullets_and_markup_are_never_quoted(notes_chain: RagChain) -> None:
    corpus = notes_chain.settings.corpus_dir
    for question in (
        "What is the budget for the Lisbon office move?",
        "Who packs the archive, and when?",
        "Who leads the office move?",
        "How many desks does the new office have?",
    ):
        answer = notes_chain.invoke({"question": question})
        _assert_well_formed(answer, corpus)
        for c in answer.citations:
            assert "#" not in c.quote and "**" not in c.quote and "<" not in c.quote, c.quote
            assert not c.quote.startswith(("-", "Project notes", "Budget and dates")), c.quote
        # The copied file holds the same sentences: they are quoted once.
        assert len({c.quote for c in answer.citations}) == len(answer.citations)
    budget = notes_chain.invoke({"question": "What is the budget for the Lisbon office move?"})
    assert not budget.refused and "40,000 euros" in budget.citations[0].quote


def test_quotable_spans_skip_headings_and_cut_markup() -> None:
    spans = [quotable(NOTES, s, e, 4) for s, e in sentence_spans(NOTES)]
    quoted = [NOTES[s:e] for s, e in (x for x in spans if x is not None)]
    assert not any(q.startswith(("#", "-", "<")) or "**" in q or "</p>" in q for q in quoted)
    assert quoted[0].startswith("The budget for the Lisbon office move is 40,000 euros")
    assert "Maria Duarte leads the move and signs every contract with the landlord." in quoted
    assert "The new office has room for twenty-four desks and two meeting rooms." in quoted


def test_a_question_in_the_passage_is_never_quoted_as_the_answer() -> None:
    # A headline or an FAQ's question asks; the sentence after it answers.
    text = (
        "With Hanoi in the Rearview, Will Kim Jong Un Turn to Russia?\n\n"
        "How do I reset the router to its factory settings?” "
        "Hold the reset button for ten seconds until the lights blink."
    )
    hit = Hit(
        rank=1, id="x", source="faq.txt", title="", page=None, start=0, end=len(text), score=1.0, text=text
    )
    quoted = [c.text for c in candidates([hit])]
    assert quoted == ["Hold the reset button for ten seconds until the lights blink."]


def test_question_types() -> None:
    assert question_type("Who headed the delegation?") == "name"
    assert question_type("In which month did Putin visit Pyongyang?") == "date"
    assert question_type("How many provinces did the empire contain?") == "number"
    assert question_type("Where did Trump say he got along with Kim?") == "place"
    assert question_type("Why did the Hanoi summit collapse?") == "cause"
    assert question_type("What prompted North Korea's statement?") == "cause"
    assert question_type("Is denuclearization still on the table?") == "yesno"


def test_the_shipped_coefficients_match_the_features(embeddings: LocalEmbeddings) -> None:
    answerer = load_answerer()
    assert answerer.ranker.columns(SENTENCE_FEATURES) and answerer.gate.columns(GATE_FEATURES)
    assert len(answerer.ranker.coef) == len(answerer.ranker.features)
    text = load_text(SEEDS / HANOI_2024)
    hit = Hit(
        rank=1, id="x", source=HANOI_2024, title="", page=None, start=0, end=len(text), score=1.0, text=text
    )
    evidence = score_evidence("Why did the Hanoi summit collapse?", [hit], embeddings)
    assert len(evidence.scores) == len(candidates([hit])) and 0.0 <= evidence.best <= 1.0
    assert ((evidence.scores >= 0) & (evidence.scores <= 1)).all()
    walk_out = next(i for i, c in enumerate(evidence.candidates) if WALKED_OUT in c.text)
    assert evidence.scores[walk_out] > float(np.median(evidence.scores))
    sentences, citations = extract(evidence, [hit])
    assert 1 <= len(citations) <= 3 and sentences[0].startswith(citations[0].quote)


def test_the_shipped_gate_never_refuses_for_more_evidence() -> None:
    # SQuAD 2.0's unanswerables copy a sentence's words and change one; a free fit learns "the words
    # are all there, so refuse". The gate is fitted with signs (evals/fit_answerer.py GATE_SIGNS).
    gate = load_answerer().gate
    coef = dict(zip(gate.features, gate.coef, strict=True))
    more = ("p_best", "best_cos", "best_wcov", "best_exact", "best_ctx_wcov", "best_type_match", "max_cos")
    for name in more:
        assert coef[name] >= 0, name
    for name in ("best_neg_mismatch", "best_missing_max", "best_qual_missing", "min_missing_max"):
        assert coef[name] <= 0, name


def test_the_document_a_question_names_is_not_matched_as_its_words(chain: RagChain) -> None:
    # "according to the 2019 article" says where to look, not what to match: its "2019" favoured
    # the sentence listing the 2018 and 2019 summits, which answers nothing about China. (Since the
    # answer encoder, the 2024 article's "Russia and China are backing him" leads instead of the
    # 2019 article's "relative cooling": the question's document is not used as a filter; see
    # evals/README.md, ninth pass.)
    answer = chain.invoke(
        {"question": "Why isn't China a reliable patron for North Korea, according to the 2019 article?"}
    )
    assert not answer.refused
    assert "2019 summit in Hanoi" not in answer.citations[0].quote, answer.text
    # Which of the two near-tied sentences leads depends on the CPU's int8 kernels (Xeon: Yeo's
    # "Russia and China are backing him"; EPYC: Klingner's, then Yeo's); China is cited either way.
    assert any("China" in c.quote for c in answer.citations), answer.text


def test_a_why_question_answered_by_a_conclusion_quotes_the_reason_before_it(chain: RagChain) -> None:
    # "And so, in this context, the post-Hanoi surge ... stands out." restates the question; its
    # reason is the sentence before it, which the quote now starts with (one contiguous span).
    answer = chain.invoke(
        {"question": "Why does the post-Hanoi surge in Russia-North Korea activity stand out?"}
    )
    assert not answer.refused
    first = answer.citations[0].quote
    assert first.startswith("Economic integration between the Russian Far East") and first.endswith(
        "stands out."
    ), first
    _assert_well_formed(answer, SEEDS)


def test_the_attribute_a_question_asks_is_read_from_it(chain: RagChain) -> None:
    assert asked_attribute("What is the population of Pyongyang?") == "population"
    assert asked_attribute("Who is South Korea's president?") == "president"
    assert asked_attribute("What was the capital of the Mongol Empire?") == "capital"
    # No attribute of its own, a relative (told from either side), a count of the answer.
    assert asked_attribute("What is the name of the Russian prosecutor general?") is None
    assert asked_attribute("What was the date of the Singapore declaration?") is None  # a date, any words
    assert asked_attribute("What is the job of Robert Manning?") is None
    assert asked_attribute("Who was Margaret's brother?") is None
    assert asked_attribute("Who were two of Kublai's Chinese advisers?") is None
    assert asked_attribute("Why did the Hanoi summit collapse?") is None
    # A kind of answer named ("the job of"), given without the word: answered.
    assert not chain.invoke({"question": "What is the job of Robert Manning?"}).refused
    # The attribute held beside the name: answered.
    answer = chain.invoke({"question": "Who is the head of the Russian prosecutors' delegation?"})
    assert not answer.refused and "the head of the delegation" in answer.citations[0].quote, answer.text


def test_money_or_a_year_asked_must_be_given(chain: RagChain) -> None:
    assert unit_missing("How much did the joint drills cost?", "The drills began Tuesday.")
    assert not unit_missing("How much did the joint drills cost?", "The drills cost $3 million.")
    assert not unit_missing("How much did the war cost?", "The war cost 1.5 billion in all.")
    # A price that is no sum: "the price for it reengaging with Washington would be the cancellation of …"
    assert not unit_missing(
        "What was the price of reengaging with Washington?", "The price would be the drills."
    )
    assert unit_missing("In what year did John Calvin become a Protestant?", "Calvin also converted.")
    assert not unit_missing("In which year was it built?", "It was built in 1562.")
    assert not unit_missing("In which year did they meet?", "They met last year, in Hanoi.")
    assert not unit_missing("When did they meet?", "They met in Hanoi.")  # any date: the gate's to weigh
    answer = chain.invoke({"question": "In which year did Trump and Kim first meet in Singapore?"})
    assert not answer.refused and "2018" in answer.citations[0].quote, answer.text


def test_a_refusal_asked_must_be_told(chain: RagChain) -> None:
    assert refusal_unmet("Which religion did Kublai reject?", ["Kublai adopted Buddhism."])
    assert not refusal_unmet("Which plan did Kublai reject?", ["Kublai rejected the plan."])
    assert not refusal_unmet("Why did he fail to win?", ["He could not win the vote."])  # a negation
    assert not refusal_unmet("Which religion did Kublai adopt?", ["Kublai adopted Buddhism."])
    # The seeds tell that Putin signed the treaty, never that he refused to.
    refused = chain.invoke(
        {"question": "Why did Putin refuse to sign a mutual defense treaty with North Korea?"}
    )
    assert refused.refused, refused.text
    # Trump's rejection is told ("rejecting Kim's offer"): answered.
    answer = chain.invoke({"question": "What did Trump reject in Hanoi?"})
    assert not answer.refused and "rejecting" in answer.citations[0].quote, answer.text


def test_a_negated_question_is_answered_from_the_sentence_that_negates(chain: RagChain) -> None:
    # "Pyongyang has mostly kept to itself" scores best and negates nothing; the sentences that say
    # whom Kim has not met ("has yet to meet the Russian leader", "has yet to make a trip to meet ...
    # Xi Jinping") score near it, and answer.
    answer = chain.invoke(
        {"question": "Which leader has Kim not yet gone to see since the Hanoi summit collapsed?"}
    )
    assert not answer.refused, answer.text
    assert "has yet to" in answer.citations[0].quote, answer.text
    assert any("Xi Jinping" in c.quote for c in answer.citations), answer.text
    assert not any("mostly kept to itself" in c.quote for c in answer.citations), answer.text
    _assert_well_formed(answer, SEEDS)
