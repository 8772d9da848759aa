"""Saved conversations: SQLite (WAL) under the data dir, one owner per user, every message with its Answer.

Every read and write names its owner, so one user's conversations never reach another. A connection
is opened per call: sqlite3 connections are not shared across Gradio's worker threads, and opening
one costs ~0.1 ms next to a question's ~200 ms.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.schema import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
  created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (owner, updated);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  question TEXT NOT NULL, answer TEXT, error TEXT, feedback INTEGER, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation, id);
"""
TITLE_CHARS = 60
_MARKERS = re.compile(r"\s*\[\d{1,3}\]")


@dataclass(frozen=True)
class Conversation:
    """One saved conversation, as listed in the sidebar."""

    id: str
    title: str
    updated: float


@dataclass(frozen=True)
class Message:
    """One question with its answer (or the one-line error it got) and the user's rating."""

    id: int
    question: str
    answer: Answer | None
    error: str | None
    feedback: int | None  # 1 liked, -1 disliked, None not rated


def title_of(question: str) -> str:
    """Title a conversation from its first question: one line, at most TITLE_CHARS characters."""
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


class ConversationStore:
    """The conversations of every user, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    def create(self, owner: str, title: str) -> str:
        """Start a conversation; return its id."""
        cid, now = uuid.uuid4().hex, time.time()
        with self._db() as db:
            db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?, ?, ?)", (cid, owner, title_of(title), now, now)
            )
        return cid

    def conversations(self, owner: str, limit: int = 200) -> list[Conversation]:
        """Return the owner's conversations, the most recent first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id, title, updated FROM conversations WHERE owner = ? ORDER BY updated DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
        return [Conversation(*row) for row in rows]

    def owns(self, owner: str, cid: str) -> bool:
        """Tell whether the conversation exists and is the owner's."""
        with self._db() as db:
            row = db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (cid, owner)
            ).fetchone()
        return row is not None

    def messages(self, owner: str, cid: str) -> list[Message]:
        """Return a conversation's messages, oldest first (none when it is not the owner's)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT m.id, m.question, m.answer, m.error, m.feedback FROM messages m "
                "JOIN conversations c ON c.id = m.conversation WHERE c.id = ? AND c.owner = ? ORDER BY m.id",
                (cid, owner),
            ).fetchall()
        return [Message(i, q, Answer(**json.loads(a)) if a else None, e, f) for i, q, a, e, f in rows]

    def add(self, owner: str, cid: str, question: str, answer: Answer | None, error: str | None) -> int:
        """Append a message to the owner's conversation; return its id."""
        now = time.time()
        stored = json.dumps(answer.to_storage(), ensure_ascii=False) if answer is not None else None
        with self._db() as db:
            if (
                db.execute(
                    "UPDATE conversations SET updated = ? WHERE id = ? AND owner = ?", (now, cid, owner)
                ).rowcount
                != 1
            ):
                raise KeyError(cid)
            cursor = db.execute(
                "INSERT INTO messages (conversation, question, answer, error, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (cid, question, stored, error, now),
            )
        return int(cursor.lastrowid or 0)

    def drop_last(self, owner: str, cid: str) -> None:
        """Remove the conversation's newest message (Undo and Retry)."""
        with self._db() as db:
            db.execute(
                "DELETE FROM messages WHERE id = (SELECT m.id FROM messages m JOIN conversations c "
                "ON c.id = m.conversation WHERE c.id = ? AND c.owner = ? ORDER BY m.id DESC LIMIT 1)",
                (cid, owner),
            )

    def rename(self, owner: str, cid: str, title: str) -> None:
        """Retitle the owner's conversation."""
        with self._db() as db:
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?", (title_of(title), cid, owner)
            )

    def delete(self, owner: str, cid: str) -> None:
        """Delete the owner's conversation and its messages."""
        with self._db() as db:
            db.execute("DELETE FROM conversations WHERE id = ? AND owner = ?", (cid, owner))

    def rate(self, owner: str, message_id: int, value: int | None) -> None:
        """Store a 👍 (1) / 👎 (-1) / cleared (None) rating on the owner's message."""
        with self._db() as db:
            db.execute(
                "UPDATE messages SET feedback = ? WHERE id = ? AND conversation IN "
                "(SELECT id FROM conversations WHERE owner = ?)",
                (value, message_id, owner),
            )

    def rated(self) -> Iterator[tuple[Message, list[Message]]]:
        """Yield every rated message with the messages before it in its conversation (all owners)."""
        with self._db() as db:
            cids = [
                r[0]
                for r in db.execute("SELECT DISTINCT conversation FROM messages WHERE feedback IS NOT NULL")
            ]
            owners = dict(db.execute("SELECT id, owner FROM conversations").fetchall())
        for cid in cids:
            earlier: list[Message] = []
            for message in self.messages(owners[cid], cid):
                if message.feedback is not None:
                    yield message, list(earlier)
                earlier.append(message)

    def markdown(self, owner: str, cid: str) -> str:
        """Export a conversation as Markdown, each answer followed by its numbered sources."""
        titles = {c.id: c.title for c in self.conversations(owner, limit=10_000)}
        lines = [f"# {titles.get(cid, 'Conversation')}", ""]
        for m in self.messages(owner, cid):
            lines += [f"**Question:** {m.question}", ""]
            if m.answer is None:
                lines += [f"*Error: {m.error}*", ""]
                continue
            lines += [m.answer.text, ""]
            for c in m.answer.citations:
                page = f", page {c.page}" if c.page is not None else ""
                lines.append(
                    f"{c.n}. {c.title} ({c.source}{page}, characters {c.start}–{c.end}): “{c.quote}”"
                )
            lines.append("")
        return "\n".join(lines)


def eval_rows(store: ConversationStore) -> Iterator[dict[str, Any]]:
    """Turn rated answers into `rag eval` rows: 👍 keeps the cited quotes as evidence, 👎 leaves them out.

    A reviewer then fills in (or corrects) the gold quotes; `rag eval` rejects a row until they do.
    """
    for message, earlier in store.rated():
        answer = message.answer
        if answer is None:
            continue
        liked = message.feedback == 1
        answerable = not answer.refused if liked else True
        evidence = [{"source": c.source, "quote": c.quote} for c in answer.citations] if liked else []
        yield {
            "id": f"feedback-{message.id}",
            "kind": "feedback-up" if liked else "feedback-down",
            "question": message.question,
            "history": [[m.question, m.answer.text if m.answer else ""] for m in earlier],
            "answer": _MARKERS.sub("", answer.text).strip() if answerable and liked else None,
            "answerable": answerable,
            "evidence": evidence,
            "rated_answer": answer.text,
            "feedback": "up" if liked else "down",
        }
