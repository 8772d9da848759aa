"""The `rag eval` dataset: JSONL rows with gold evidence quotes, an optional `kind`, and earlier turns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import RagError


class DatasetError(RagError):
    """A dataset file or row is malformed, or a quote is not in its source."""


@dataclass(frozen=True)
class Span:
    """A stretch of a source text: `source` relative to the corpus, `start`/`end` in characters."""

    source: str
    start: int
    end: int


@dataclass(frozen=True)
class Row:
    """One dataset question with its gold answer and evidence, and the conversation before it.

    `history` is a fixed list of (user, assistant) pairs; `turns` are earlier questions the eval asks
    the chain first, so that the chain's own answers form the history (a row has one or the other).
    """

    id: str
    question: str
    history: tuple[tuple[str, str], ...]
    answer: str | None
    answerable: bool
    evidence: tuple[Span, ...]
    kind: str = ""
    turns: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        """Return the row's kind, or one derived from it: follow-up, unanswerable or answerable."""
        if self.kind:
            return self.kind
        if self.history or self.turns:
            return "follow-up"
        return "answerable" if self.answerable else "unanswerable"


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(s, str) and s.strip() for s in value)


def _row(obj: Any, where: str, corpus_dir: Path, texts: dict[str, str]) -> Row:
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: a row must be a JSON object")
    id_ = obj.get("id")
    if not isinstance(id_, str) or not id_.strip():
        raise DatasetError(f"{where}: missing string field 'id'")
    where = f"{where} (row {id_!r})"
    question, answer, answerable = obj.get("question"), obj.get("answer"), obj.get("answerable")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: 'question' must be a non-empty string")
    if answer is not None and not isinstance(answer, str):
        raise DatasetError(f"{where}: 'answer' must be a string or null")
    if not isinstance(answerable, bool):
        raise DatasetError(f"{where}: 'answerable' must be true or false")
    kind = obj.get("kind") or ""
    if not isinstance(kind, str) or kind != kind.strip() or " " in kind:
        raise DatasetError(f"{where}: 'kind' must be one word (letters, digits, '-')")
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(s, str) for s in t) for t in history
    ):
        raise DatasetError(f"{where}: 'history' must be a list of [user, assistant] string pairs")
    turns = obj.get("turns") or []
    if not _strings(turns):
        raise DatasetError(f"{where}: 'turns' must be a list of earlier questions (non-empty strings)")
    if history and turns:
        raise DatasetError(f"{where}: give 'history' (fixed answers) or 'turns' (replayed), not both")
    evidence = obj.get("evidence") or []
    if not isinstance(evidence, list):
        raise DatasetError(f"{where}: 'evidence' must be a list")
    spans = []
    for item in evidence:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("source", "quote")):
            raise DatasetError(f"{where}: each evidence item needs string 'source' and 'quote'")
        source, quote = item["source"], item["quote"]
        if source not in texts:
            from rag.documents import DocumentError, load_text

            try:
                texts[source] = load_text(corpus_dir / source)
            except DocumentError as e:
                raise DatasetError(f"{where}: evidence source {source!r} in {corpus_dir}: {e}") from None
        at = texts[source].find(quote) if quote else -1
        if at < 0:
            raise DatasetError(f"{where}: quote not found in {source}: {quote[:80]!r}")
        spans.append(Span(source, at, at + len(quote)))
    if answerable and not spans:
        raise DatasetError(f"{where}: an answerable row needs at least one evidence quote")
    if not answerable and (spans or answer is not None):
        raise DatasetError(f"{where}: an unanswerable row has answer null and no evidence")
    return Row(
        id_,
        question,
        tuple((u, a) for u, a in history),
        answer,
        answerable,
        tuple(spans),
        kind=kind,
        turns=tuple(turns),
    )


def load_dataset(path: Path, corpus_dir: Path) -> list[Row]:
    """Read and validate a JSONL dataset; every quote must be an exact substring of its source."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read the dataset {path}: {e}") from None
    rows: list[Row] = []
    texts: dict[str, str] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{path} line {n}: not valid JSON ({e.msg})") from None
        rows.append(_row(obj, f"{path} line {n}", corpus_dir, texts))
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise DatasetError(f"{path}: row id {row.id!r} appears twice")
        seen.add(row.id)
    if not rows:
        raise DatasetError(f"{path} has no rows")
    return rows
