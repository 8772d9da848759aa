"""Follow-up detection (`rag.followups.dependence`): the rules for places, predicate "it" and demonstratives.

The earlier turn of each follow-up below is "What is the "new way" Kim talked about?" (conversations_more).
"""

from __future__ import annotations

import pytest

from rag.followups import dependence

DEPENDENT = {
    # A name placed after "of", "in" ... is a place or an organisation: it does not resolve "he".
    "Which actions of Pyongyang was he talking about?": "unresolved 'he'",
    "Which talks in North Korea did he attend?": "unresolved 'he'",
    # A predicate "it" at the end, after a form of "be": what something is was said before.
    "Could Russia be it?": "unresolved 'it'",
    "Was Hanoi it?": "unresolved 'it'",
    "Might the summit have been it?": "unresolved 'it'",
    "Is that it?": "no content words",
    "What is it?": "no content words",  # "it" the subject: dependent, but not for this rule
    # A verb's demonstrative "that" with its noun at the end or before a preposition.
    "How did Washington answer that warning?": "unresolved 'that'",
    "Why would Seoul reject that offer from Pyongyang?": "unresolved 'that'",
    "What did Trump say about that summit?": "unresolved 'that'",
    "What happened after that meeting in Hanoi?": "unresolved 'that'",
}

SELF_CONTAINED = [
    # A person's name resolves he/she/his/her, wherever a place comes after it.
    "What did Trump say he wanted?",
    "Why did Kim say he would meet Putin in Moscow?",
    "What did Kim tell the leaders of China about his plans?",
    "Which treaty did Putin sign with Kim when he visited?",
    "What did the delegation from Moscow say he wanted?",  # a noun after "the" resolves it
    # "it" not at the end, or standing for nothing.
    "Is it true that Kim met Putin?",
    "Why is it hard to verify North Korea's claims?",
    # Complementizer and relative "that", and "that" after a noun.
    "What did Trump say that Kim wanted?",
    "Which agreement did the countries sign that covers crime?",
    "Who rejected the claim that sanctions failed?",
    "Did Kim warn that talks with Trump would fail?",
    "Did the countries sign agreements that matter to China?",
    "Which river did the Normans cross that ran into the sea?",
    "Is there evidence that war in Korea is likely?",
]


@pytest.mark.parametrize(("question", "reason"), DEPENDENT.items())
def test_a_follow_up_is_recognised(question: str, reason: str) -> None:
    assert dependence(question) == reason


@pytest.mark.parametrize("question", SELF_CONTAINED)
def test_a_self_contained_question_stays_alone(question: str) -> None:
    assert dependence(question) is None
