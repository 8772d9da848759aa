"""Prompt templates: the shipped prompts/ files (package data) or RAG_PROMPTS_DIR, checked on load."""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from rag.errors import ConfigError

# The variables each prompt must use, no more and no fewer.
EXPECTED = {
    "system": set(),
    "answer": {"context", "question"},
    "condense": {"history", "question"},
    "judge": {"question", "reference", "answer", "passages"},
}
CHAIN_PROMPTS = ("system", "answer", "condense")


def shipped_prompts() -> Traversable:
    """Return the prompts folder inside the installed package (`prompts/` in the source tree)."""
    return resources.files("rag._prompts")


@dataclass(frozen=True)
class Prompt:
    """A prompt template with named `{variables}`."""

    name: str
    template: str
    variables: frozenset[str]

    def format(self, **values: str) -> str:
        """Fill the template; values are inserted as text, never parsed as templates."""
        missing = self.variables - values.keys()
        if missing:
            raise ConfigError(f"prompt {self.name!r} needs {', '.join(sorted(missing))}")
        return self.template.format(**{k: values[k] for k in self.variables})


def load_prompt(name: str, folder: Path | None = None) -> Prompt:
    """Load <name>.md from `folder` (default: the shipped prompts) and check its variables."""
    path: Traversable = (folder if folder is not None else shipped_prompts()) / f"{name}.md"
    try:
        template = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"cannot read prompt {name!r} at {path}: {e.strerror or e}") from e
    try:
        found = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError as e:
        raise ConfigError(f"prompt {path} is not a valid template: {e}") from e
    expected = EXPECTED.get(name)
    if expected is not None and found != expected:
        raise ConfigError(
            f"prompt {path} uses {{{', '.join(sorted(found))}}}; expected {{{', '.join(sorted(expected))}}}"
        )
    return Prompt(name, template, frozenset(found))


@dataclass(frozen=True)
class ChainPrompts:
    """The prompts the chain uses, loaded once and shared by every chain built from them."""

    system: Prompt
    answer: Prompt
    condense: Prompt

    @classmethod
    def load(cls, folder: Path | None = None) -> ChainPrompts:
        """Load and check the chain's prompts (a broken file is a start-up error)."""
        return cls(*(load_prompt(name, folder) for name in CHAIN_PROMPTS))
