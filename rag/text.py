"""Sentences with offsets, content terms, and the support score shared by answering and checking.

Sentence splitting is by hand: pysbd and nltk's punkt either need a data download or lose
character offsets, and citations need exact offsets. News and report prose splits well on
terminal punctuation (plus closing quotes) followed by whitespace, and on line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import numpy as np

# A sentence ends at . ! ? … (with closing quotes or brackets) before whitespace, or at a line break.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
# Abbreviations that end in a period without ending a sentence.
_ABBREV = re.compile(
    r"(?:\b(?:U\.S|U\.K|U\.N|Mr|Mrs|Ms|Dr|Prof|Gen|Sen|Rep|St|Jr|Sr|vs|etc|e\.g|i\.e|No|Vol|Fig)\.|\b[A-Z]\.)$"
)
_EXTRA_STOPWORDS = {"say", "said", "says", "tell", "told", "according"}


def sentence_spans(text: str, base: int = 0) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each sentence of `text`, shifted by `base`, whitespace trimmed."""
    start = 0
    for match in _BOUNDARY.finditer(text):
        piece = text[start : match.start()]
        if "\n" not in match.group() and _ABBREV.search(piece):
            continue  # "U.S. officials": not a sentence end
        yield from _trimmed(text, start, match.start(), base)
        start = match.end()
    yield from _trimmed(text, start, len(text), base)


def _trimmed(text: str, start: int, end: int, base: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield base + start, base + end


@lru_cache(maxsize=1)
def _stemmer_and_stopwords() -> tuple[object, frozenset[str]]:
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return Stemmer.Stemmer("english"), frozenset(STOPWORDS_EN_PLUS) | _EXTRA_STOPWORDS


def content_terms(text: str) -> set[str]:
    """Return the stemmed content words of `text` (stopwords and one-letter words left out)."""
    stemmer, stopwords = _stemmer_and_stopwords()
    words = [w for w in _WORD.findall(text.casefold()) if len(w) > 1 and w not in stopwords]
    return set(stemmer.stemWords(words))  # type: ignore[attr-defined]


def coverage(needles: set[str], haystack: set[str]) -> float:
    """Share of `needles` found in `haystack` (1.0 when there are no needles)."""
    return len(needles & haystack) / len(needles) if needles else 1.0


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities between unit-vector rows of `a` and of `b`."""
    return np.asarray(a, dtype=np.float32) @ np.asarray(b, dtype=np.float32).T
