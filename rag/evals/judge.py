"""The optional LLM judge of `rag eval`: correctness against the reference answer, and faithfulness."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from rag.errors import ConfigError, ProviderError
from rag.prompts import load_prompt

JUDGE_VARIABLES = frozenset({"question", "reference", "answer", "passages"})
_SCORES = re.compile(r"\{[^{}]*\}")


def parse_grades(reply: str) -> dict[str, float | None]:
    """Read the judge's JSON grades (1-5); a grade it did not give, or gave out of range, is None."""
    grades: dict[str, float | None] = {"judge_correctness": None, "judge_faithfulness": None}
    for match in _SCORES.finditer(reply):
        try:
            found = json.loads(match.group())
        except json.JSONDecodeError:
            continue
        for name in ("correctness", "faithfulness"):
            value = found.get(name) if isinstance(found, dict) else None
            if isinstance(value, int | float) and 1 <= value <= 5:
                grades[f"judge_{name}"] = float(value)
    return grades


def judge_answer(model: BaseChatModel, row: Any, answer: Any, prompts_dir: Path | None) -> dict[str, Any]:
    """Ask the judge model to grade one answer; return judge_correctness and judge_faithfulness."""
    prompt = load_prompt("judge", prompts_dir)
    if prompt.variables != JUDGE_VARIABLES:
        raise ConfigError(f"prompt judge.md must use {{{', '.join(sorted(JUDGE_VARIABLES))}}}")
    # The judge reads each cited passage whole (the quote is only the words the answer leaned on).
    cited = [(c.n, answer.passage_of(c)) for c in answer.citations]
    passages = "\n".join(
        f"[{n}] {p.text if p is not None else c.quote}"
        for (n, p), c in zip(cited, answer.citations, strict=True)
    )
    passages = passages or "(none)"
    text = prompt.format(
        question=row.question, reference=row.answer or "", answer=answer.text, passages=passages
    )
    try:
        reply = model.invoke(text).text
    except Exception as e:
        raise ProviderError(f"the judge model failed: {type(e).__name__}: {str(e)[:160]}") from e
    return parse_grades(reply)
