"""Sentences with offsets, content terms, and the support score shared by answering and checking.

Sentence splitting is by hand: pysbd and nltk's punkt either need a data download or lose
character offsets, and citations need exact offsets. News and report prose splits well on
terminal punctuation (plus closing quotes) followed by whitespace, and on line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

# A sentence ends at . ! ? … (with closing quotes or brackets) before whitespace, or at a line break.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
# Abbreviations that end in a period without ending a sentence.
_ABBREV = re.compile(
    r"(?:\b(?:U\.S|U\.K|U\.N|Mr|Mrs|Ms|Dr|Prof|Gen|Sen|Rep|St|Jr|Sr|vs|etc|e\.g|i\.e|No|Vol|Fig)\.|\b[A-Z]\.)$"
    r"|^\s*\d{1,3}\.$"  # "1. First item": a list number, not a sentence
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
def _stemmer_and_stopwords() -> tuple[Any, frozenset[str]]:
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return Stemmer.Stemmer("english"), frozenset(STOPWORDS_EN_PLUS) | _EXTRA_STOPWORDS


def stem_words(ws: list[str]) -> list[str]:
    """Return the English stems of `ws`, stopwords kept ("after", "first")."""
    stemmer, _ = _stemmer_and_stopwords()
    return list(stemmer.stemWords(ws))


def stop_words() -> frozenset[str]:
    """Return the words content terms leave out (English stopwords, "say", "according", ...)."""
    return _stemmer_and_stopwords()[1]


def content_terms(text: str) -> set[str]:
    """Return the stemmed content words of `text` (stopwords and one-letter words left out)."""
    stemmer, stopwords = _stemmer_and_stopwords()
    words = [w for w in _WORD.findall(text.casefold()) if len(w) > 1 and w not in stopwords]
    return set(stemmer.stemWords(words))


def coverage(needles: set[str], haystack: set[str]) -> float:
    """Share of `needles` found in `haystack` (1.0 when there are no needles)."""
    return len(needles & haystack) / len(needles) if needles else 1.0


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities between unit-vector rows of `a` and of `b`."""
    return np.asarray(a, dtype=np.float32) @ np.asarray(b, dtype=np.float32).T


def words(text: str) -> list[str]:
    """Return the casefolded words of `text`."""
    return _WORD.findall(text.casefold())


# --- quotable spans: no headings, bullets or markup ----------------------------------------------

_HEADING = re.compile(r"^\s{0,3}(?:#{1,6}\s|=+\s*$|-{3,}\s*$)")
_LINE_PREFIX = re.compile(r"^(?:\s*(?:[-*+•‣▪–]|\d{1,3}[.)]|>|#{1,6})\s+)+")
_INLINE_MARKUP = re.compile(
    r"!?\[[^\]\n]*\]\([^)\n]*\)|</?[A-Za-z][^>\n]*>|\*\*|__|`+|~~|\|"
    r"|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)"
)
_EDGE = re.compile(r"[\s*_`]+")


def quotable(text: str, start: int, end: int, min_words: int) -> tuple[int, int] | None:
    """Return the span of text[start:end] worth quoting, without headings, bullets and markup.

    A heading line (Markdown `#`, or a short line with no sentence-ending punctuation standing on
    its own line) is never quoted. A bullet or quote prefix is left out of the span; inline
    markup (emphasis, code, links, HTML tags, table bars) splits the sentence, and the longest
    clean piece is kept. Spans stay exact offsets into `text`.
    """
    piece = text[start:end]
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    own_line = not text[line_start:start].strip() and not text[end:line_end].strip()
    if _HEADING.match(piece) or (own_line and _heading_like(piece) and "\n" in text):
        return None
    prefix = _LINE_PREFIX.match(piece) if not text[line_start:start].strip() else None
    if prefix:
        start += prefix.end()
    best: tuple[int, int] | None = None
    cursor = start
    for match in [*_INLINE_MARKUP.finditer(text, start, end), None]:
        stop = match.start() if match else end
        a, b = _strip_edges(text, cursor, stop)
        if b > a and len(text[a:b].split()) >= min_words and (best is None or b - a > best[1] - best[0]):
            best = (a, b)
        cursor = match.end() if match else end
    return best


def _heading_like(piece: str) -> bool:
    stripped = _INLINE_MARKUP.sub("", piece).strip()
    return bool(stripped) and stripped[-1] not in '.!?…:;,"”’)' and len(stripped.split()) <= 12


def _strip_edges(text: str, start: int, end: int) -> tuple[int, int]:
    lead = _EDGE.match(text, start, end)
    if lead:
        start = lead.end()
    while end > start and text[end - 1] in " \t\n*_`":
        end -= 1
    return start, end


def term_forms(text: str) -> dict[str, set[str]]:
    """Map each stemmed content term of `text` to the casefolded words it came from."""
    stemmer, stopwords = _stemmer_and_stopwords()
    found = [w for w in _WORD.findall(text.casefold()) if len(w) > 1 and w not in stopwords]
    forms: dict[str, set[str]] = {}
    for word, stem in zip(found, stemmer.stemWords(found), strict=True):
        forms.setdefault(stem, set()).add(word)
    return forms


def stems(text: str) -> list[str]:
    """Return the stemmed content words of `text` in order (stopwords and one-letter words left out)."""
    stemmer, stopwords = _stemmer_and_stopwords()
    return list(
        stemmer.stemWords([w for w in _WORD.findall(text.casefold()) if len(w) > 1 and w not in stopwords])
    )
