"""Saved conversations (SQLite) and feedback export: per owner, every Answer field kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from rag.app.conversations import ConversationStore, eval_rows, title_of
from rag.cli import app
from rag.schema import Answer, Citation, Passage

QUOTE = "Trump walked out of the summit in Hanoi"


def _answer(question: str = "Why did Hanoi fail?", refused: bool = False) -> Answer:
    passage = Passage(
        rank=1,
        id="p1",
        source="a.txt",
        title="A",
        page=None,
        start=10,
        end=80,
        score=0.9,
        text=QUOTE + ", rejecting the offer." + " " * 8,
    )
    citation = Citation(
        n=1, source="a.txt", title="A", page=None, start=10, end=10 + len(QUOTE), quote=QUOTE, score=0.8
    )
    return Answer(
        text="I couldn't find this in the documents." if refused else f"{QUOTE}. [1]",
        citations=[] if refused else [citation],
        refused=refused,
        mode="extractive",
        question=question,
        sentences=[f"{QUOTE}. [1]"],
        passages=[passage],
        retrieval_query=question,
    )


def test_conversations_are_per_owner_and_restore_every_answer_field(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "app.sqlite3")
    cid = store.create("ada", "Why did Hanoi fail? " * 10)
    first = store.add("ada", cid, "Why did Hanoi fail?", _answer(), None)
    store.add("ada", cid, "   ", None, "the question is empty")
    assert [c.id for c in store.conversations("ada")] == [cid]
    assert store.conversations("bob") == [] and store.messages("bob", cid) == []
    assert not store.owns("bob", cid)
    bob = store.create("bob", "mine")
    store.rename("ada", bob, "stolen")  # not ada's: nothing happens
    store.delete("ada", bob)
    assert [c.title for c in store.conversations("bob")] == ["mine"]

    again = ConversationStore(tmp_path / "app.sqlite3")  # a restart
    messages = again.messages("ada", cid)
    assert [m.id for m in messages][0] == first and messages[1].error == "the question is empty"
    restored = messages[0].answer
    assert restored is not None and restored == _answer()  # passages and sentences included
    assert restored.passage_of(restored.citations[0]) is not None
    assert len(again.conversations("ada")[0].title) <= 60
    with sqlite3.connect(tmp_path / "app.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    again.drop_last("ada", cid)
    assert len(again.messages("ada", cid)) == 1
    md = again.markdown("ada", cid)
    assert "**Question:** Why did Hanoi fail?" in md and f"1. A (a.txt, characters 10–49): “{QUOTE}”" in md
    again.delete("ada", cid)
    assert again.conversations("ada") == []


def test_feedback_export_writes_eval_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = ConversationStore(data / "app.sqlite3")
    cid = store.create("ada", "q")
    liked = store.add("ada", cid, "Why did Hanoi fail?", _answer(), None)
    disliked = store.add("ada", cid, "And then?", _answer("And then?"), None)
    store.add("ada", cid, "Unrated", _answer("Unrated"), None)
    store.rate("ada", liked, 1)
    store.rate("ada", disliked, -1)
    store.rate("bob", liked, -1)  # not bob's message: ignored
    rows = {r["id"]: r for r in eval_rows(store)}
    up, down = rows[f"feedback-{liked}"], rows[f"feedback-{disliked}"]
    assert set(rows) == {f"feedback-{liked}", f"feedback-{disliked}"}
    assert up["answerable"] and up["evidence"] == [{"source": "a.txt", "quote": QUOTE}]
    assert up["answer"] == f"{QUOTE}." and up["history"] == [] and up["feedback"] == "up"
    assert down["evidence"] == [] and down["answer"] is None and down["feedback"] == "down"
    assert down["history"] == [["Why did Hanoi fail?", f"{QUOTE}. [1]"]]

    out = tmp_path / "rated.jsonl"
    result = CliRunner().invoke(app, ["feedback", "export", str(out), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["id"] for r in lines} == set(rows) and "2 rated answers" in result.output
    empty = CliRunner().invoke(app, ["feedback", "export", str(out), "--data-dir", str(tmp_path / "none")])
    assert empty.exit_code == 1 and "no saved conversations" in empty.output


def test_titles_are_one_short_line() -> None:
    assert title_of("  a\n b  ") == "a b"
    assert len(title_of("x" * 500)) == 60 and title_of("x" * 500).endswith("…")
