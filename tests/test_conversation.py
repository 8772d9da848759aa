"""Conversation handling: when a question depends on its history, and what the chain then searches.

The decision is unit-tested on questions; the chain-level tests run the real embedding model over a
real index of the seeds, like tests/test_chain.py, with the history a chat session would build.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage

from rag import Answer, RagChain, Settings, build_chain, ingest
from rag.conversation import QueryPlan, dependence, plan_query
from rag.embeddings import LocalEmbeddings
from rag.questions import ordinals, qualifiers, question_type
from rag.schema import REFUSAL, Turn
from tests.conftest import HANOI_2024, SEEDS

HANOI_Q = "Why did the Hanoi summit collapse?"
KIMCHI_Q = "What is a good recipe for kimchi?"
KCNA_Q = "What did the KCNA statement say about Trump?"
DELEGATION_Q = "Who headed the Russian prosecutors' delegation to Pyongyang?"
WALKED_OUT = "Trump walked out of the summit in Hanoi, rejecting Kim’s offer to dismantle the Yongbyon"
SIGNED = "signed an agreement on Monday to cooperate on law enforcement countering foreign influence"
# The sentences of the 2024 article that report what the KCNA statement said.
KCNA_SAID = (
    "North Korea said, “We do not care”",
    "It is true that Trump, when he was president, tried to reflect the special personal relations",
    "In the same KCNA statement that rebuffed Trump’s outreach",
)
LIMIT = 4000

SELF_CONTAINED = [
    HANOI_Q,
    KIMCHI_Q,
    KCNA_Q,
    DELEGATION_Q,
    "What treaty did Putin sign when he visited Pyongyang?",  # "he" and "there" resolved inside
    "Why did North Korea say it does not care?",
    "Is it true that Kim felt humiliated?",  # an "it" that stands for nothing
    "Who said that Kim felt humiliated?",  # "that" as a conjunction
    "Is there a deadline for talks?",  # existential "there"
    "What does the treaty promise?",  # a definite noun, no pronoun: searchable alone
    "What did Kim Jong Un and Xi Jinping agree on at their 2019 meeting?",
    "How did the leader say he felt?",
    "What did North Korea say about the drills this year?",
    "Who announced she would step down as party leader?",  # "she" is who
    "How long does it take to ferment kimchi?",
    "When do members vote on whether they agree to the bill?",
    "Europe first colonized the Americas, then Asia, but what continent was third?",
    "How many of those fleeing France became doctors?",
    "What year did the Korean War end?",  # "year" asks the kind of answer; the topic is its own
    "When did the Hanoi summit take place?",
    "How did Trump and Kim feel about it?",  # two names before: "it" can be what they discussed
    "Who announced it would embargo oil shipments to the US?",  # "it" is its own clause's subject
    "Why did Putin sign the treaty and when did Kim ratify it?",  # the object "it" is the treaty
    "Did Kim make it clear that he wanted talks?",  # an "it" that stands for nothing
    "What did Kim get in return for the dismantlement?",  # the complement is there
    "What did Putin say the two countries would do?",  # a group, in a question with a name of its own
    "What were the two forms of the treaty?",  # a group the question itself says
    "Did both Kim and Trump attend?",
    "What did Trump say about Kim in his words?",  # two names: one of them holds the view
]
DEPENDENT = {
    "What did he sign there?": "unresolved 'he'",
    "How old is he?": "unresolved 'he'",  # "old" is no antecedent
    "And the second one?": "ellipsis",
    "What about Russia?": "ellipsis",
    "And Robert Manning?": "ellipsis",
    "Why?": "no content words",
    "On what date?": "no content words",  # the kind of answer asked, no topic of its own
    "For what reason?": "no content words",
    "What happened after that?": "no content words",
    "Why is that telling?": "no content words",  # "telling" names no topic
    "What would such a summit signal?": "unresolved 'such'",
    "What did Trump say about him?": "unresolved 'him'",  # "him" is not Trump
    "How long did their visit last?": "unresolved 'their'",
    "When does it expire?": "unresolved 'it'",
    "How many warheads are stored there?": "unresolved 'there'",
    "What had Kim offered to give up there?": "unresolved 'there'",  # Kim is no place
    "What did it say about the drills?": "unresolved 'it'",
    "Who did he meet?": "unresolved 'he'",  # "who" is the object: he is someone earlier
    "Who succeeded him?": "unresolved 'him'",
    "How many warheads do they have?": "unresolved 'they'",
    "How much does it cost?": "unresolved 'it'",
    # The object of a preposition is not the clause's subject: one name before does not resolve it.
    "How did North Korea react to it?": "unresolved 'it'",
    "What did Kim say about it?": "unresolved 'it'",
    "Where would that meeting be held?": "unresolved 'that'",  # a demonstrative after a modal
    # A verb's object is not its subject either: Washington makes something else, and "who" is
    # the subject, not what was signed.
    "If Washington makes it, what is he prepared to do?": "unresolved 'it'",
    "Who signed it?": "unresolved 'it'",
    # A reply or a consequence without its complement: in response to what came before.
    "What did Trump do in response?": "unresolved 'in response'",
    "What did Kim get in return?": "unresolved 'in return'",
    "What happened as a result?": "unresolved 'as a result'",
    "What is his title there?": "no content words",  # "title" names the kind of answer, not a topic
    "Where does he work?": "no content words",  # where one works is the answer, whatever it is called
    "Where did the two leaders see each other for the last time?": "unresolved 'the two'",
    "What did both sides agree on?": "unresolved 'both'",
    "What does Kim want now, in his view?": "unresolved 'his'",  # whose view: someone named before
}


# --- the decision -------------------------------------------------------------------------------


@pytest.mark.parametrize("question", SELF_CONTAINED)
def test_a_self_contained_question_is_searched_alone(question: str) -> None:
    assert dependence(question) is None
    history = [Turn(question=DELEGATION_Q, answer="Prosecutor General Igor Krasnov [1]")]
    assert plan_query(question, history, LIMIT) == QueryPlan(question, False)


@pytest.mark.parametrize(("question", "reason"), DEPENDENT.items())
def test_a_question_that_cannot_stand_alone_is_recognised(question: str, reason: str) -> None:
    assert dependence(question) == reason


def test_a_follow_up_is_searched_with_the_words_of_the_turn_it_refers_to() -> None:
    history = [Turn(question=DELEGATION_Q, answer="Prosecutor General Igor Krasnov, the head [1]")]
    plan = plan_query("What did he sign there?", history, LIMIT)
    assert plan.used_history
    # The question leads; the earlier question adds its content words, not its phrasing.
    assert plan.query.startswith("What did he sign there? ")
    assert {"Russian", "delegation", "Pyongyang"} <= set(plan.query.split())
    assert "Who" not in plan.query
    assert plan_query("What did he sign there?", [], LIMIT) == QueryPlan("What did he sign there?", False)


def test_a_follow_up_of_a_follow_up_keeps_the_first_topic() -> None:
    history = [
        Turn(question=DELEGATION_Q, answer="..."),
        Turn(question="What did he sign there?", answer="..."),
    ]
    plan = plan_query("On which day was that?", history, LIMIT)
    assert plan.used_history and plan.query.startswith("On which day was that? ")
    assert {"delegation", "Pyongyang", "sign"} <= set(plan.query.split())


def test_an_ellipsis_with_a_new_name_replaces_the_last_one_named() -> None:
    klingner = [Turn(question="Which think tank is Bruce Klingner with?", answer="...")]
    manning = QueryPlan("And Robert Manning? who tank", True)  # a think tank's name, as before
    assert plan_query("And Robert Manning?", klingner, LIMIT) == manning
    china = [Turn(question="What did North Korea sign with China?", answer="...")]
    assert plan_query("What about Russia?", china, LIMIT).query == "What about Russia? North Korea sign"
    # "them" refers back to the last one named: China stays, beside the new name.
    relations = [Turn(question="How have relations between North Korea and China been going?", answer="...")]
    trust = plan_query("So does Pyongyang actually trust them?", relations, LIMIT)
    assert "China" in trust.query.split(), trust


def test_where_the_earlier_turn_said_the_answer_is_is_not_searched() -> None:
    # "according to the 2019 article" names a document: its words would pull the search to any
    # sentence of 2019, not to what the follow-up is about.
    history = [
        Turn(
            question="Why would Russia want closer ties with North Korea, according to the 2019 article?",
            answer="...",
        )
    ]
    plan = plan_query("Since when has it been on the outs with the West?", history, LIMIT)
    assert plan.used_history and {"Russia", "ties"} <= set(plan.query.split())
    assert not {"2019", "article", "according"} & set(plan.query.split()), plan


def test_an_ellipsis_asks_for_what_the_turn_it_refers_to_asked() -> None:
    first = [Turn(question="Where was the first Trump-Kim summit held?", answer="In Singapore [1]")]
    plan = plan_query("And the second one?", first, LIMIT)
    assert plan == QueryPlan("And the second one? where Trump Kim summit held", True)
    assert question_type(plan.query) == "place"
    # An ellipsis that asks for something of its own keeps it.
    where = plan_query("And where did they meet last?", first, LIMIT)
    assert where == QueryPlan("And where did they meet last? Trump Kim summit held", True)


def test_he_skips_a_refused_turn_that_names_no_one() -> None:
    history = [Turn(question=HANOI_Q, answer="Trump walked out [1]"), Turn(question=KIMCHI_Q, answer=REFUSAL)]
    plan = plan_query("What had Kim offered him?", history, LIMIT)
    assert plan.used_history and "Hanoi" in plan.query and "kimchi" not in plan.query
    # Even when the off-corpus question got a (wrong) answer full of names.
    answered = [
        history[0],
        Turn(question=KIMCHI_Q, answer="Kim underscored that ties with Trump remain good."),
    ]
    assert plan_query("What had Kim offered him?", answered, LIMIT) == plan
    # "it" refers to the last turn, refused or not: a follow-up of an off-corpus question stays off-corpus.
    warheads = [Turn(question="How many nuclear warheads does North Korea have?", answer=REFUSAL)]
    assert "warheads" in plan_query("Where does it keep them?", warheads, LIMIT).query


def test_the_query_stays_within_the_limit_and_keeps_the_question_whole() -> None:
    history = [Turn(question=DELEGATION_Q, answer="...")]
    question = "What did he sign there?"
    for limit in (len(question), len(question) + 12, 60, 200):
        plan = plan_query(question, history, limit)
        assert len(plan.query) <= limit and plan.query.startswith(question)
    # Cut to the limit, the most recent context words are the ones kept.
    assert plan_query(question, history, len(question) + 10).query == f"{question} Pyongyang"
    assert plan_query(question, history, len(question)) == QueryPlan(question, False)


# --- through the chain --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Settings:
    settings = Settings(corpus_dir=SEEDS, data_dir=tmp_path_factory.mktemp("conversation") / "data")
    ingest(settings, embeddings=embeddings)
    return settings


@pytest.fixture(scope="module")
def chain(indexed: Settings, embeddings: LocalEmbeddings) -> RagChain:
    return build_chain(indexed, embeddings=embeddings)


def _ask(chain: RagChain, question: str, turns: list[Turn]) -> Answer:
    """Ask as a chat session does: the question with the turns so far, then remember the answer."""
    answer = chain.invoke({"question": question, "history": list(turns)})
    turns.append(Turn(question=question, answer=answer.text))
    return answer


def _after(chain: RagChain, opening: str, question: str) -> Answer:
    """Ask `question` in a new session right after `opening`."""
    turns: list[Turn] = []
    _ask(chain, opening, turns)
    return _ask(chain, question, turns)


def test_the_must_show_session(chain: RagChain) -> None:
    turns: list[Turn] = []
    hanoi = _ask(chain, HANOI_Q, turns)
    assert not hanoi.refused and not hanoi.history_used

    kimchi = _ask(chain, KIMCHI_Q, turns)
    assert kimchi.retrieval_query == KIMCHI_Q and not kimchi.history_used
    assert kimchi.refused and kimchi.citations == []

    kcna = _ask(chain, KCNA_Q, turns)
    assert kcna.retrieval_query == KCNA_Q and not kcna.history_used
    assert not kcna.refused and kcna.text != hanoi.text
    assert kcna.citations[0].source == HANOI_2024
    assert any(s in kcna.citations[0].quote for s in KCNA_SAID), kcna.text  # from the statement
    assert not any(WALKED_OUT in c.quote for c in kcna.citations)  # not the Hanoi answer again
    # Checked last, so that the turns after it are checked whatever the first answer was.
    assert WALKED_OUT in hanoi.citations[0].quote, hanoi.text  # the answering sentence, cited first


def test_a_topic_switch_is_answered_as_if_asked_first(chain: RagChain) -> None:
    turns: list[Turn] = []
    _ask(chain, DELEGATION_Q, turns)
    for question in (KCNA_Q, "What is the population of Pyongyang?"):
        after = chain.invoke({"question": question, "history": turns})
        alone = chain.invoke({"question": question})
        assert not after.history_used and after.retrieval_query == question
        assert (after.text, after.refused, after.evidence) == (alone.text, alone.refused, alone.evidence)


def test_a_follow_up_is_answered_from_the_turn_it_refers_to(chain: RagChain) -> None:
    turns: list[Turn] = []
    _ask(chain, DELEGATION_Q, turns)
    follow = _ask(chain, "What did he sign there?", turns)
    assert follow.history_used and follow.retrieval_query.startswith("What did he sign there? ")
    assert not follow.refused and any(SIGNED in c.quote for c in follow.citations), follow.text
    # The same decision on the async path.
    again = asyncio.run(chain.ainvoke({"question": "What did he sign there?", "history": turns[:1]}))
    assert (again.retrieval_query, again.history_used, again.text) == (
        follow.retrieval_query,
        True,
        follow.text,
    )


def test_a_follow_up_the_documents_cannot_answer_is_refused(chain: RagChain) -> None:
    # The combined query's older words are all in the delegation passage; what the follow-up itself
    # asks for (an age, a salary) is not, so it is refused, while "What did he sign there?" is not.
    turns: list[Turn] = []
    _ask(chain, DELEGATION_Q, turns)
    age = _ask(chain, "How old is he?", turns)
    assert age.history_used and age.refused, age.text
    salary = _ask(chain, "What is his salary?", turns)
    assert salary.history_used and salary.refused, salary.text
    signed = _ask(chain, "What did he sign there?", turns)
    assert signed.history_used and not signed.refused, signed.text
    assert any(SIGNED in c.quote for c in signed.citations), signed.text


def test_where_someone_works_is_answered_by_their_employer(chain: RagChain) -> None:
    # The sentence says "at the Heritage Foundation" and never "work": the place is the answer.
    turns: list[Turn] = []
    _ask(chain, "What does Bruce Klingner think about Kim's interest in talks with the U.S.?", turns)
    work = _ask(chain, "Where does he work?", turns)
    assert work.history_used and not work.refused, work.text
    assert any("Heritage Foundation" in c.quote for c in work.citations), work.text


def test_a_follow_up_asking_how_it_went_is_answered_from_its_topic(chain: RagChain) -> None:
    # "gone" and "anywhere" carry no topic of their own (and neither is in the articles): the
    # follow-up asks how the earlier turn's matter went, which its sentence tells.
    went = _after(
        chain, "What has the Biden administration asked North Korea to do?", "Has that gone anywhere?"
    )
    assert went.history_used and not went.refused, went.text
    assert "remained stalled since 2019" in went.citations[0].quote, went.text


def test_a_follow_up_s_own_words_may_be_held_in_meaning(chain: RagChain) -> None:
    # "fall" is in neither article; "collapse" holds it in meaning, beside the date asked for.
    opening = "How did Pyongyang behave right after the Hanoi summit fell through?"
    when = _after(chain, opening, "When did it fall apart?")
    assert when.history_used and not when.refused, when.text
    assert "at the end of February" in when.citations[0].quote, when.text


def test_a_follow_up_answered_only_by_another_passage_is_refused(chain: RagChain) -> None:
    # "the other three members of the United Nations Security Council" holds "members" and a count,
    # but the delegation's own sentence, which does not, is the one that would be shown.
    left = "When did the Russian prosecutors' delegation leave Pyongyang?"
    members = _after(chain, left, "How many members did it have?")
    assert members.history_used and members.refused, members.text
    # How long it stayed stands in that sentence ("a three-day visit"): answered.
    days = _after(chain, left, "How many days did it stay?")
    assert days.history_used and not days.refused and "three-day visit" in days.citations[0].quote, days.text


def test_the_kind_a_follow_up_asks_for_must_stand_with_its_own_words(chain: RagChain) -> None:
    # The facility's sentence dates nothing; the date in the sentence beside it is another
    # event's, so "when was it built" is not answered from it.
    turns: list[Turn] = []
    _ask(chain, "What did Kim offer at the Hanoi summit?", turns)
    built = _ask(chain, "When was that facility constructed?", turns)
    assert built.history_used and built.refused, built.text
    # Where the date stands in the sentence with the follow-up's word ("signed ... on Monday").
    turns = []
    _ask(chain, DELEGATION_Q, turns)
    signed = _ask(chain, "When did he sign it?", turns)
    assert signed.history_used and not signed.refused, signed.text
    assert any(SIGNED in c.quote for c in signed.citations), signed.text


def test_a_follow_up_with_a_paraphrased_verb_is_answered_through_the_word_that_picks(chain: RagChain) -> None:
    # "get together" is nowhere in the articles; "last" picks the meeting the answer names ("a last
    # meeting at the inter-Korean border"): the follow-up's own word, so it is not refused.
    turns: list[Turn] = []
    _ask(chain, "When did Trump and Kim hold their first summit?", turns)
    last = _ask(chain, "Where did they get together one last time?", turns)
    assert last.history_used and not last.refused, last.text
    assert any("a last meeting at the inter-Korean border" in c.quote for c in last.citations), last.text
    # The verb "last" picks nothing: "How many hours did it last?" asks for hours, which no sentence holds.
    hours = _ask(chain, "How many hours did it last?", turns)
    assert hours.history_used and hours.refused, hours.text


def test_the_verb_last_is_no_ordinal_nor_qualifier() -> None:
    assert (
        ordinals("How many hours did it last?") == set() and qualifiers("How long did the war last?") == set()
    )
    assert ordinals("Where did they see each other one last time?") == {"last"}
    assert qualifiers("Who was the last emperor?") == {"last"}


class _Prompts(BaseCallbackHandler):
    """Record the messages of every chat-model call the chain makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *, run_id: UUID, **kw: Any
    ) -> None:
        self.calls.append("\n".join(str(m.content) for m in messages[0]))


def test_openai_mode_rewrites_only_a_question_that_depends_on_its_history(
    indexed: Settings, embeddings: LocalEmbeddings
) -> None:
    history = [Turn(question=DELEGATION_Q, answer="Prosecutor General Igor Krasnov, the head [1]")]
    settings = indexed.model_copy(update={"llm": "openai"})

    standalone = "What did Prosecutor General Krasnov sign in Pyongyang?"
    model = GenericFakeChatModel(messages=iter([AIMessage(content=standalone), AIMessage(content="x [1].")]))
    chain = build_chain(settings, embeddings=embeddings, chat_model=model)
    seen = _Prompts()
    follow = chain.invoke({"question": "What did he sign there?", "history": history}, {"callbacks": [seen]})
    assert follow.history_used and follow.retrieval_query == standalone
    assert len(seen.calls) == 2 and DELEGATION_Q in seen.calls[0]  # the rewrite, then the answer

    model = GenericFakeChatModel(messages=iter([AIMessage(content="Trump walked out [1].")]))
    chain = build_chain(settings, embeddings=embeddings, chat_model=model)
    seen = _Prompts()
    alone = chain.invoke({"question": HANOI_Q, "history": history}, {"callbacks": [seen]})
    assert not alone.history_used and alone.retrieval_query == HANOI_Q
    assert len(seen.calls) == 1 and DELEGATION_Q not in seen.calls[0]  # no rewrite, no old question


def test_a_follow_up_with_words_of_its_own_is_shown_what_it_asks(chain: RagChain) -> None:
    # The combined query holds the March question's words, which its own sentence holds best; the
    # follow-up asks for the shared goal, which another sentence of the passage states.
    opening = "Which Russian visits did North Korean state media report in March?"
    goal = _after(chain, opening, "And what common goal did the KCNA article say the two countries have?")
    assert goal.history_used and not goal.refused, goal.text
    assert "shared aim of opposing foreign interference" in goal.citations[0].quote, goal.text


def test_asking_why_that_matters_is_answered_by_the_cause_beside_it(chain: RagChain) -> None:
    # "important" and "considered" name no topic: the follow-up asks why the earlier answer counts,
    # which the next sentence tells ("particularly telling given ...").
    opening = "Has Kim gone to see Xi Jinping since the Hanoi summit collapsed?"
    why = _after(chain, opening, "Why is that considered important?")
    assert why.history_used and not why.refused, why.text
    assert any("particularly telling" in c.quote for c in why.citations), why.text
    assert dependence("Why does that matter?") is not None
