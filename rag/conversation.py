"""Conversation handling: decide what a question is searched with, given the turns before it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.schema import Turn


@dataclass(frozen=True)
class QueryPlan:
    """What to search for a question: the query, and whether earlier turns went into it."""

    query: str
    used_history: bool


def plan_query(question: str, history: Sequence[Turn], limit: int) -> QueryPlan:
    """Return the search query for `question` after `history` (at most `limit` characters).

    Extractive mode has no model to rewrite the question: the previous question carries the names
    "he", "it" and "there" stand for.
    """
    if not history:
        return QueryPlan(question, False)
    room = max(0, limit - len(question) - 1)
    previous = history[-1].question[:room].strip()
    if not previous:
        return QueryPlan(question, False)
    return QueryPlan(f"{previous} {question}", True)
