"""What a question asks for and what a sentence offers (`rag.questions`): the rules, on real sentences.

The sentences are the seed articles' own, so each rule is checked on the prose it is meant for.
"""

from __future__ import annotations

import pytest

from rag.questions import entities, offers, ordinals, profile, qualifiers, question_type

LAST_MEETING = (
    "During his term, Trump’s personal diplomacy with Kim resulted in their first 2018 summit in "
    "Singapore, a failed 2019 summit in Hanoi, and a last meeting at the inter-Korean border in 2019."
)
THIRD_SUMMIT = "Should that happen, Kim said, he’d be willing to meet Trump for a third summit."

QUESTION_TYPES = {
    # when: a date, a day, a month, a year, however the question puts it
    "Which day of the week was the KCNA statement published?": "date",
    "In which month did Putin visit Pyongyang?": "date",
    "Putin's trip took place in which month?": "date",
    "What year did the Hanoi summit collapse?": "date",
    "At what point did the talks stall?": "date",
    "What time did the drills begin?": "date",
    "What deadline did Kim give Washington?": "date",
    # who: a name, also when the noun asked for comes after a name or an adjective
    "Whom did Kim meet in Vladivostok?": "name",
    "Which Heritage Foundation analyst spoke about the price of reengaging?": "name",
    "Which Russian minister had Kim already met?": "name",
    "Which outlet reported that the delegation had left?": "name",
    "What is the name of the treaty?": "name",
    # how many / much: a number
    "At what age did he take power?": "number",
    "What share of the budget went to defence?": "number",
    # where: a place
    "Where did Trump's final meeting with Kim take place?": "place",
    "Which Asian capital hosted the second summit?": "place",
    # why: a cause
    "For what purpose were the Super Hornets sent there?": "cause",
    "What is the reason for the joint drills?": "cause",
    "On what grounds did Trump walk out?": "cause",
    # none of them: the question asks about a content, not a kind of answer
    "What did the Heritage Foundation analyst say?": "other",  # a verb follows "what": no name asked
    "What kind of crimes do Moscow and Pyongyang want to fight together?": "other",
    "Is denuclearization still on the table for Pyongyang?": "yesno",
}


@pytest.mark.parametrize(("question", "kind"), QUESTION_TYPES.items())
def test_the_kind_of_answer_a_question_asks_for(question: str, kind: str) -> None:
    assert question_type(question) == kind


def test_a_place_is_a_name_or_a_compound_of_one_after_a_preposition() -> None:
    places = profile(LAST_MEETING).places
    assert frozenset({"inter", "korean"}) in places  # "at the inter-Korean border"
    # Beyond the places the question names, the sentence still offers one: the border.
    asked = {"where", "did", "trump", "s", "meeting", "with", "kim", "in", "singapore", "hanoi"}
    assert offers(LAST_MEETING, asked)["place"]
    assert not offers(LAST_MEETING, asked | {"inter", "korean"})["place"]
    assert not offers(THIRD_SUMMIT, asked)["place"]
    # A common noun of place, and a name with a possessive (its words, not the token "pyongyang’s").
    assert offers("The delegation met officials in the capital.", {"where"})["place"]
    assert offers("He toured a factory near Pyongyang’s airport.", {"where"})["place"]
    assert not offers("He spoke to reporters on Monday.", {"where"})["place"]


def test_a_qualifier_in_other_words_is_the_same_qualifier() -> None:
    # "Trump's final meeting" asks for "a last meeting": a sentence without "last" lacks it.
    assert "last" in qualifiers("Where did Trump's final meeting with Kim take place?")
    assert "last" in qualifiers(LAST_MEETING) and "last" not in qualifiers(THIRD_SUMMIT)
    assert "first" in qualifiers("Where was their initial summit held?")
    assert "only" in qualifiers("Is Russia his sole partner?")
    assert qualifiers("Where was the summit held?") == set()


def test_the_words_that_pick_one_of_several() -> None:
    assert ordinals("Where did they see each other one last time?") == {"last"}
    assert ordinals("And the second one?") == {"second"}
    assert ordinals("Where did the leaders meet for the final time?") == {"last"}  # as the qualifier
    assert ordinals("Where was the summit held?") == set()


def test_a_date_said_relative_to_the_text_is_a_date() -> None:
    timeline = "He has set in place a timeline until the end of this year for Washington to come around."
    assert offers(timeline, {"what", "deadline", "did", "kim", "give", "washington"})["date"]
    assert not offers(timeline, {"what", "did", "kim", "do", "this", "year"})["date"]  # asked already
    assert offers("The delegation headed home days later.", {"when"})["date"]
    assert not offers("The delegation headed home quickly.", {"when"})["date"]


def test_a_question_that_opens_with_a_name_keeps_it() -> None:
    # The first word is capitalised anyway; as a possessive it is a name, not a question word.
    assert "putin's" in entities("Putin's trip took place in which month?")
    assert "who's" not in entities("Who's Kim Chol Won?") and "kim" in entities("Who's Kim Chol Won?")
    assert entities("Which day of the week was it published?") == set()
