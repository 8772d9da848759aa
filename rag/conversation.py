"""Conversation handling: decide whether a question depends on the turns before it, and what to search.

A question is searched (and gated) alone unless it cannot stand alone (`rag.followups.dependence`:
an ellipsis, no content words of its own, or a reference it does not resolve itself). Only then is it
combined with the turn it refers to: the question, followed by that turn's content words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.followups import PERSON, THING, content_words, dependence, has_name, stopwords, tokens
from rag.questions import question_type, without_document_reference
from rag.schema import REFUSAL, Turn

__all__ = ["QueryPlan", "content_words", "dependence", "plan_query"]

_DEPTH = 6  # turns looked back through when a follow-up's referent is itself a follow-up
# The question word that asks for each kind of answer (`rag.questions.question_type`).
_ASKS = {"name": "who", "date": "when", "number": "how many", "place": "where", "cause": "why"}


@dataclass(frozen=True)
class QueryPlan:
    """What to search for a question: the query, and whether earlier turns went into it."""

    query: str
    used_history: bool


def _referent(question: str, history: Sequence[Turn]) -> int:
    """Return the index of the turn `question` refers to: the last, or for "he"/"she" the last naming someone.

    "What is a good recipe for kimchi?" names no one, so "What did he offer?" after it goes back to the
    turn before, whatever was answered to it. A name in an earlier question counts before one in an
    answer: the question is what the search is combined with, and a wrong answer should not steer it.
    """
    if not {w for w, _ in tokens(question)} & PERSON:
        return len(history) - 1
    recent = range(len(history) - 1, max(-1, len(history) - 1 - _DEPTH), -1)
    for i in recent:
        if has_name(history[i].question):
            return i
    for i in recent:
        if history[i].answer.strip() != REFUSAL and has_name(history[i].answer):
            return i
    return len(history) - 1


def _resolved(history: Sequence[Turn], index: int, depth: int) -> str:
    """Return what turn `index` was about: its question, after its own referent if it was a follow-up."""
    question = history[index].question
    if depth <= 0 or index == 0 or dependence(question) is None:
        return question
    earlier = history[:index]
    return f"{_resolved(earlier, _referent(question, earlier), depth - 1)} {question}"


def _fit(question: str, context: list[str], limit: int) -> str:
    """Append the context words to the question within `limit` characters, the oldest dropped first."""
    if len(question) >= limit:
        return question[:limit]
    words = list(context)
    while words and len(question) + 1 + len(" ".join(words)) > limit:
        words.pop(0)
    return " ".join([question, *words])


def _last_name(text: str) -> set[str]:
    """Return the words of the last name in `text` ("bruce", "klingner"), casefolded."""
    run: list[str] = []
    last: list[str] = []
    for word, cap in tokens(text):
        if cap and word not in stopwords():
            run.append(word)
        elif run:
            last, run = run, []
    return set(run or last)


def plan_query(question: str, history: Sequence[Turn], limit: int) -> QueryPlan:
    """Return the search query for `question` after `history` (at most `limit` characters).

    A self-contained question is searched alone. One that depends on its history is followed by the
    content words of the turn it refers to (resolved the same way when that turn was itself a
    follow-up) that it lacks: the question leads, so its own words and what it asks for weigh most,
    and the earlier question's phrasing ("Who headed ...") does not pull the search back to its answer.
    """
    reason = dependence(question) if history else None
    if reason is None:
        return QueryPlan(question[:limit], False)
    own = {w.casefold().replace("’", "'") for w in content_words(question)}
    # Where the earlier turn said the answer is ("according to the 2019 piece") is not its topic.
    context = without_document_reference(_resolved(history, _referent(question, history), _DEPTH))
    refers = any(w in THING for w, _ in tokens(question))
    if reason == "ellipsis" and has_name(question) and not refers:
        # "And Robert Manning?" after "Which think tank is Bruce Klingner with?": the new name takes
        # the place of the last one named, which would otherwise pull the search back to Klingner.
        # Not when "it" or "them" refers back to it: "them" in "So does Pyongyang trust them?" is
        # the last one named (China).
        own |= _last_name(context)
    seen: dict[str, str] = {}
    for word in content_words(context):
        if word.casefold().replace("’", "'") not in own:
            seen.pop(word.casefold(), None)  # keep the latest mention, in order
            seen[word.casefold()] = word
    asks = _ASKS.get(question_type(context), "") if reason == "ellipsis" else ""
    if asks and question_type(question) not in _ASKS:
        # "And the second one?" after "Where was the first summit held?" asks for a place too.
        seen = {asks: asks, **seen}
    query = _fit(question, list(seen.values()), limit)
    return QueryPlan(query, query != question)
