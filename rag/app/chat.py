"""The conversation a browser tab holds: its messages, each answer's sources, and saving them.

`Session` is the tab's `gr.State`; it keeps what the page needs to show any earlier answer's sources
and the turns the chain condenses follow-ups with. Everything is also written to the
`ConversationStore`, so a reload or a restart loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rag.app.conversations import ConversationStore, Message
from rag.app.render import EMPTY_SOURCES, error_markdown, inert, message_markdown, sources_html
from rag.app.scope import Chains
from rag.errors import RagError
from rag.schema import Answer, ChatInput, Turn, clean_question

log = logging.getLogger(__name__)
MAX_TURNS = 8  # earlier turns handed to the chain (it condenses follow-ups from the last few)


@dataclass
class Session:
    """One tab's open conversation."""

    cid: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # the Chatbot's value
    answers: dict[int, Answer] = field(default_factory=dict)  # message index -> its Answer
    ids: dict[int, int] = field(default_factory=dict)  # message index -> stored message id
    questions: dict[int, str] = field(default_factory=dict)  # message index -> the question it answers
    selected: int | None = None

    def turns(self) -> tuple[Turn, ...]:
        """The answered turns, oldest first, for the chain's history."""
        done = [Turn(question=self.questions[i], answer=a.text) for i, a in sorted(self.answers.items())]
        return tuple(done[-MAX_TURNS:])

    def latest(self) -> int | None:
        """Index of the newest answer, if any."""
        return max(self.answers) if self.answers else None

    def sources(self, index: int | None = None, note: str = "") -> str:
        """The Sources panel for one answer (default: the selected, else the newest)."""
        index = index if index is not None else self.selected if self.selected is not None else self.latest()
        answer = self.answers.get(index) if index is not None else None
        if answer is None:
            return EMPTY_SOURCES
        return f'<div data-message="{index}">{sources_html(answer, note)}</div>'


def restore(messages: list[Message], cid: str) -> Session:
    """Rebuild a tab's session from a saved conversation."""
    session = Session(cid=cid)
    for m in messages:
        session.messages.append({"role": "user", "content": inert(m.question)})
        i = len(session.messages)
        content = message_markdown(m.answer) if m.answer else error_markdown(m.error or "failed")
        session.messages.append({"role": "assistant", "content": content})
        session.ids[i] = m.id
        session.questions[i] = m.question
        if m.answer is not None:
            session.answers[i] = m.answer
    return session


@dataclass(frozen=True)
class Step:
    """One update of the page while a question is answered."""

    session: Session
    sources: str
    answer: Answer | None
    keep_question: str  # what the input box holds afterwards: "" once answered, the question on error
    saved: bool = False


def ask(
    session: Session,
    question: str,
    *,
    owner: str,
    chains: Chains,
    store: ConversationStore,
    options: tuple[str, int, str],
    note: str,
    limit: int,
) -> Iterator[Step]:
    """Answer a question in the session: stream it in, then save it; errors stay inside the chat."""
    try:
        clean = clean_question(question, limit)
    except RagError as e:  # a blank or too long question: one line in the chat, nothing saved
        shown = inert(question.strip()[:200]) or "*(an empty question)*"
        session.messages.append({"role": "user", "content": shown})
        session.messages.append({"role": "assistant", "content": error_markdown(str(e))})
        yield Step(session, session.sources(), None, question)
        return
    session.messages.append({"role": "user", "content": inert(clean)})
    session.messages.append({"role": "assistant", "content": "…"})
    i = len(session.messages) - 1
    session.questions[i] = clean
    yield Step(session, '<p class="rag-note">Finding the passages…</p>', None, "")
    answer: Answer | None = None
    error: str | None = None
    try:
        chain = chains.get(owner, *options)
        text = ""
        for event in chain.stream(ChatInput(question=clean, history=session.turns())):
            if isinstance(event, Answer):
                answer = event
                break
            text += event
            session.messages[i] = {"role": "assistant", "content": inert(text)}
            yield Step(session, '<p class="rag-note">Finding the passages…</p>', None, "")
    except RagError as e:
        error = str(e)
    except Exception:
        log.exception("answering %r failed", clean)
        error = "answering failed; the server log has the details"
    if answer is None:
        session.messages[i] = {"role": "assistant", "content": error_markdown(error or "no answer")}
    else:
        shown = message_markdown(answer)
        if note:
            shown += f"\n\n*{inert(note)}*"
        session.messages[i] = {"role": "assistant", "content": shown}
        session.answers[i] = answer
        session.selected = None
    try:
        if session.cid is None or not store.owns(owner, session.cid):
            session.cid = store.create(owner, clean)
        session.ids[i] = store.add(owner, session.cid, clean, answer, error)
    except Exception:  # the answer is shown whatever happens to the database
        log.exception("saving the conversation failed")
    yield Step(session, session.sources(i, note), answer, "" if answer else question, saved=True)


def undo(session: Session, owner: str, store: ConversationStore) -> tuple[Session, str]:
    """Remove the newest question and its answer; return the question (for the input box)."""
    if len(session.messages) < 1:
        return session, ""
    i = len(session.messages) - 1
    question = session.questions.get(i, "")
    if i in session.ids and session.cid is not None:
        store.drop_last(owner, session.cid)
    session.answers.pop(i, None)
    session.ids.pop(i, None)
    session.questions.pop(i, None)
    has_user = i >= 1 and session.messages[i - 1]["role"] == "user"
    del session.messages[i - 1 if has_user else i :]
    session.selected = None
    return session, question
