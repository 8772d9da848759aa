"""Prompt templates: files in prompts/, loaded by name, their variables checked on load."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError

# The variables each prompt must use, no more and no fewer.
EXPECTED = {
    "system": set(),
    "answer": {"context", "question"},
    "condense": {"history", "question"},
}


def default_prompts_dir() -> Path:
    """Return the project's prompts/ folder (beside the `rag` package)."""
    return Path(__file__).resolve().parent.parent / "prompts"


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
    """Load prompts/<name>.md and check it uses exactly the variables the code fills in."""
    path = (folder or default_prompts_dir()) / f"{name}.md"
    try:
        template = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"cannot read prompt {name!r} at {path}: {e.strerror}") from e
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
