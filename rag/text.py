"""Sentences with offsets, content terms, and the support score shared by answering and checking.

Sentence splitting is by hand: pysbd and nltk's punkt either need a data download or lose
character offsets, and citations need exact offsets. News and report prose splits well on
terminal punctuation (plus closing quotes) followed by whitespace, and on line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
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


# --- what a question asks for, and what a sentence offers --------------------------------------

QUESTION_TYPES = ("name", "date", "number", "place", "cause")
_YES_NO = re.compile(r"^(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|may|might)\b")
_TYPE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "date",
        re.compile(r"\bwhen\b|\b(?:what|which|in which|in what)\s+(?:year|month|day|date|decade|century)"),
    ),
    (
        "number",
        re.compile(
            r"\bhow\s+(?:many|much|long|old|far|large|big|high|often)\b|\bwhat\s+(?:percentage|number|amount)"
        ),
    ),
    (
        "name",
        re.compile(
            r"\bwho(?:m|se)?\b|\b(?:which|what)\s+(?:person|man|woman|leader|president|minister|agency|organi[sz]ation|company|group|king|emperor)\b"
        ),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|\b(?:which|what)\s+(?:city|country|place|region|state|town|area|province|river|island|continent)\b"
        ),
    ),
    (
        "cause",
        re.compile(
            r"\bwhy\b|\bhow\s+come\b"
            r"|\bwhat\s+(?:caused|led|was the reason|reason|prompted|triggered|motivated)"
        ),
    ),
)
_MONTHS = (
    "january february march april june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday "
    "saturday sunday century centuries decade decades"
).split()
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "twenty thirty forty fifty hundred hundreds thousand thousands million millions billion "
    "billions trillion dozen dozens half first second third fourth fifth percent"
).split()
_DATE_WORDS = frozenset(_MONTHS)
_NUMBER_SET = frozenset(_NUMBER_WORDS)
_CAUSE = re.compile(
    r"\b(?:because|due to|as a result|owing to|so that|in order to|reason|reasons|led to|leading to|"
    r"caused|causes|cause|result(?:ed|s)? in|thanks to|therefore|thus|hence|amid|"
    r"rejecting|in return for|in response to|so as to)\b",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(r"(?<![\w’'])[A-Z][\w’'.-]*[A-Za-z]")
_PLACE = re.compile(r"\b(?:in|at|from|to|near|into|across|outside|inside)\s+(?:the\s+)?([A-Z][\w’'-]+)")
_DIGITS = re.compile(r"\d")
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b")
# "has yet to make a trip" says "has not made one": a negation without a negation word.
_NEGATION = re.compile(r"\b(?:not|never|no|none|nor|without|n[’']t|cannot|neither|nobody|nothing|yet to)\b")
_YET_TO = re.compile(r"\byet to\b")


def question_type(question: str) -> str:
    """Return what `question` asks for: name, date, number, place, cause, yesno or other."""
    q = question.casefold().replace("’", "'")
    for kind, rule in _TYPE_RULES:
        if rule.search(q):
            return kind
    return "yesno" if _YES_NO.match(q) else "other"


def words(text: str) -> list[str]:
    """Return the casefolded words of `text`."""
    return _WORD.findall(text.casefold())


@dataclass(frozen=True)
class Profile:
    """What the features read of one text, computed once per text (passage sentences recur)."""

    forms: dict[str, set[str]]  # stemmed content term -> the casefolded words it came from
    stems: tuple[str, ...]  # content terms in order
    words: frozenset[str]
    qualifiers: frozenset[str]
    negated: bool
    names: tuple[frozenset[str], ...]  # the words of each capitalised token after the first
    places: tuple[str, ...]  # casefolded capitalised words after "in", "at", "from", ...
    years: frozenset[str]
    digits: frozenset[str]
    cause: bool


@lru_cache(maxsize=50_000)
def profile(text: str) -> Profile:
    """Analyse `text` once: a pure function of it, so its results are cached."""
    stops = _stops()
    all_words = frozenset(words(text))
    return Profile(
        forms=term_forms(text),
        stems=tuple(stems(text)),
        words=all_words,
        qualifiers=frozenset(qualifiers(text)),
        negated=negated(text),
        names=tuple(
            frozenset(w for w in words(m.group()) if w not in stops)
            for m in _CAPITALISED.finditer(text)
            if m.start() > 0
        ),
        places=tuple(m.group(1).casefold() for m in _PLACE.finditer(text)),
        years=frozenset(w for w in all_words if _YEAR.fullmatch(w)),
        digits=frozenset(w for w in all_words if _DIGITS.search(w)),
        cause=bool(_CAUSE.search(text)),
    )


def offers(sentence: str, known: set[str]) -> dict[str, bool]:
    """Tell which kinds of answer `sentence` holds beyond the words in `known` (casefolded)."""
    p = profile(sentence)
    fresh = p.words - known
    return {
        "name": any(ws - known for ws in p.names),
        "date": not fresh.isdisjoint(_DATE_WORDS) or bool(p.years - known),
        "number": not fresh.isdisjoint(_NUMBER_SET) or bool(p.digits - known),
        "place": any(t in fresh for t in p.places),
        "cause": p.cause,
    }


def entities(question: str) -> set[str]:
    """Return the casefolded names and numbers of `question`: capitalised words after its first, digits."""
    found = {m.group().casefold() for m in _CAPITALISED.finditer(question) if m.start() > 0}
    found |= {w for w in words(question) if _DIGITS.search(w)}
    return {w for w in found if w not in _stops()}


def negated(text: str) -> bool:
    """Tell whether `text` holds a negation word."""
    return bool(_NEGATION.search(text.casefold()))


def _stops() -> frozenset[str]:
    return _stemmer_and_stopwords()[1]


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


# Small words that change what a question asks ("the only", "not", "the first"): an unanswerable
# question is often an answerable one with one of them added, so a sentence must hold them too.
QUALIFIERS = frozenset(
    "not no never only first last most least all any every none without nor same other before after "
    "more less fewer largest smallest earliest latest".split()
)
_CONTRACTED = frozenset(
    "isn wasn aren weren didn doesn don hasn haven hadn couldn wouldn shouldn won cannot".split()
)


def qualifiers(text: str) -> set[str]:
    """Return the qualifier words of `text` (a contracted or plain negation, or "yet to", counts as "not")."""
    found = {"not"} if _YET_TO.search(text.casefold()) else set()
    for w in words(text.replace("’", "'")):
        if w in _CONTRACTED or w == "nt":
            found.add("not")
        elif w in QUALIFIERS:
            found.add(w)
    return found
