"""Checking an LLM's answer: each sentence against the passages its [n] markers cite.

A model's answer is untrusted like the documents are. Its sentences are split once with the
markers taken out, each marker group is attached to the sentence it belongs to (after it, or
before it: "[1] Putin signed ..."), repeats are collapsed, and each sentence is held to what its
cited passages say: close in meaning and wording, no number, speaker or quotation they lack, and
the same polarity (a "not" the passage doesn't have, or drops one it has).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.answer import COSINE_WEIGHT, _citation, candidates
from rag.retrieve import Hit
from rag.schema import Citation
from rag.text import content_terms, coverage, sentence_spans
from rag.vectors import TextVectors, as_vectors

# [1], [1, 2], [1][2], [1-3], [1; 2], [1 and 2]: one group of numbers.
_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*(?:,|;|-|–|and)\s*\d{1,3})*)\s*\]")
_RANGE = re.compile(r"(\d+)\s*[-–]\s*(\d+)")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {
    w: str(i)
    for i, names in enumerate(
        "zero none|one first|two second|three third|four fourth|five fifth|six sixth|seven seventh|"
        "eight eighth|nine ninth|ten tenth|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
        "seventeen|eighteen|nineteen|twenty".split("|")
    )
    for w in names.split()
}
_VAGUE = frozenset({"zero", "none", "one", "first", "second"})  # "no one", "at first", "a second look"
_WORDS = re.compile(r"[\w’']+")
# Negation, spelled out or implied ("has yet to", "rejected"): a paraphrase may swap one for the other.
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nor|neither|nobody|nothing|nowhere|without|cannot|unable|yet\s+to|"
    r"(?:fail|refus|declin)(?:e|es|ed|s|ing)?\s+to|reject\w*|lack(?:s|ed|ing)?)\b|n[’']t\b",
    re.IGNORECASE,
)
_SPEECH = (
    r"(?:said|says|say|told|tells|stated|states|announced|announces|added|adds|wrote|writes|claimed|"
    r"claims|insisted|insists|warned|warns|declared|declares|noted|notes|explained|argued|urged|vowed|"
    r"promised|denied|admitted|reported|quoted|called|accused)"
)
_NAME = r"[A-Z][\w’'.-]*(?:\s+(?:[A-Z][\w’'.-]*|de|van|von|bin|al|el|la|le))*"
_SPEAKERS = (
    re.compile(rf"({_NAME})\s+(?:has\s+|had\s+|have\s+|also\s+|publicly\s+|reportedly\s+)*{_SPEECH}\b"),
    re.compile(rf"\b[Aa]ccording\s+to\s+(?:the\s+)?({_NAME})"),
    re.compile(rf"[,”\"]\s*{_SPEECH}\s+({_NAME})"),
)
# Capitalised words that name no one: a sentence's first word, pronouns, titles.
_NOT_NAMES = frozenset(
    "a an the he she it they we i you his her its their our this that these those there then "
    "mr mrs ms dr president prime minister leader chairman secretary general state officials "
    "official spokesman spokeswoman spokesperson however meanwhile also".split()
)
# Small models echo the prompt's scaffolding: its "Answer:" cue, its <passage> fences.
_ANSWER_LABEL = re.compile(r"^\s*answer\s*:\s*", re.IGNORECASE)
_FENCE = re.compile(r"</?\s*passage\b[^>]*>", re.IGNORECASE)
_QUOTE = re.compile(r"[\"“]([^\"“”]{8,})[\"”]")


@dataclass(frozen=True)
class Checked:
    """An LLM answer after its citations were checked against the passages."""

    text: str
    sentences: list[str]
    citations: list[Citation]
    unsupported: list[int]
    reasons: dict[int, str] = field(default_factory=dict)  # why each unsupported sentence is


@dataclass
class _Sentence:
    text: str  # without markers
    cited: list[int]  # valid 1-based passage numbers, in order


def split_cited(answer: str, n_hits: int) -> list[_Sentence]:
    """Split `answer` into sentences, each with the valid passage numbers of its markers, repeats merged."""
    plain, marks = _strip_markers(_ANSWER_LABEL.sub("", _FENCE.sub("\n", answer), count=1))
    spans = [(s, e) for s, e in sentence_spans(plain) if re.search(r"\w", plain[s:e])]
    if not spans:
        return []
    leading = bool(marks) and marks[0][0] <= spans[0][0]
    sentences = [_Sentence(_tidy(plain[s:e]), []) for s, e in spans]
    for pos, numbers in marks:
        i = _owner(plain, spans, pos, leading)
        sentences[i].cited.extend(n for n in numbers if 1 <= n <= n_hits and n not in sentences[i].cited)
    merged: dict[str, _Sentence] = {}
    for sentence in sentences:
        key = " ".join(_WORDS.findall(sentence.text.casefold()))
        first = merged.setdefault(key, sentence)
        if first is not sentence:  # a looping model's repeat: one sentence, all its markers
            first.cited.extend(n for n in sentence.cited if n not in first.cited)
    return list(merged.values())


def _strip_markers(answer: str) -> tuple[str, list[tuple[int, list[int]]]]:
    """Return the answer without markers, and each marker group's position in that text."""
    parts: list[str] = []
    marks: list[tuple[int, list[int]]] = []
    last = length = 0
    for match in _MARKER.finditer(answer):
        parts.append(answer[last : match.start()])
        length += match.start() - last
        marks.append((length, _numbers_of(match.group(1))))
        last = match.end()
    parts.append(answer[last:])
    return "".join(parts), marks


def _numbers_of(group: str) -> list[int]:
    numbers: list[int] = []
    for piece in re.split(r"\s*(?:,|;|and)\s*", group):
        span = _RANGE.fullmatch(piece.strip())
        if span and int(span.group(1)) <= int(span.group(2)) <= int(span.group(1)) + 20:
            numbers.extend(range(int(span.group(1)), int(span.group(2)) + 1))
        elif piece.strip().isdigit():
            numbers.append(int(piece))
    return numbers


def _owner(plain: str, spans: list[tuple[int, int]], pos: int, leading: bool) -> int:
    """Pick the sentence a marker at `pos` belongs to: the one it stands in, else a neighbour."""
    for i, (start, end) in enumerate(spans):
        if pos <= start:
            if i == 0:
                return 0
            gap_before, gap_after = plain[spans[i - 1][1] : pos], plain[pos:start]
            if pos == spans[i - 1][1]:
                return i - 1  # glued to the previous sentence's end
            if "\n" in gap_before:
                return i  # starts a line
            if "\n" in gap_after:
                return i - 1  # ends a line
            return i if leading else i - 1  # between two sentences: the answer's own habit decides
        if pos <= end:
            return i
    return len(spans) - 1


def _tidy(sentence: str) -> str:
    """Collapse the spaces a removed marker leaves ("walked out ." -> "walked out.")."""
    return re.sub(r"\s+([.,;:!?…])", r"\1", " ".join(sentence.split()))


def _numbers(text: str) -> set[str]:
    found = {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}
    return {n.split(".")[0] if n.endswith(".0") else n for n in found}


def _claimed_numbers(sentence: str) -> set[str]:
    """Numbers a sentence states: digits, and number words from "two" up ("one" is mostly a pronoun)."""
    words = _WORDS.findall(sentence.casefold())
    return _numbers(sentence) | {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS and w not in _VAGUE}


def _passage_numbers(text: str) -> set[str]:
    words = _WORDS.findall(text.casefold())
    return _numbers(text) | {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}


def _speakers(sentence: str) -> list[list[str]]:
    """Return the name words of each person or source the sentence says spoke."""
    found = []
    for pattern in _SPEAKERS:
        for match in pattern.finditer(sentence):
            names = [w for w in _WORDS.findall(match.group(1)) if w.casefold() not in _NOT_NAMES]
            names = [re.sub(r"[’']s$", "", w) for w in names]
            if names:
                found.append(names)
    return found


def _fold(text: str) -> str:
    return " ".join(_WORDS.findall(text.casefold().replace("’", "'")))


def _claims_problem(sentence: str, cited_text: str, best_match: str) -> str | None:
    """Name what the sentence claims that its cited passages don't: a number, speaker, quote, polarity."""
    missing = sorted(_claimed_numbers(sentence) - _passage_numbers(cited_text))
    if missing:
        return f"the number {missing[0]} is not in the cited passage"
    words = set(_WORDS.findall(cited_text.casefold()))
    for names in _speakers(sentence):
        if not any(name.casefold() in words for name in names):
            return f"{' '.join(names)} is not quoted in the cited passage"
    folded = _fold(cited_text)
    for quote in _QUOTE.findall(sentence):
        if len(quote.split()) >= 3 and _fold(quote) not in folded:
            return "the quotation is not in the cited passage"
    if bool(_NEGATION.search(sentence)) != bool(_NEGATION.search(best_match)):
        return (
            "it negates what the cited passage says"
            if _NEGATION.search(sentence)
            else ("the cited passage says the opposite")
        )
    return None


def check_citations(
    answer: str, hits: list[Hit], embeddings: Embeddings | TextVectors, *, threshold: float
) -> Checked:
    """Check every sentence of `answer` against the passages its [n] markers cite.

    Markers that point at no passage are dropped. A sentence is supported when one of its cited
    passages holds a sentence close to it in meaning and wording (score >= threshold) and the
    passages hold its numbers, speakers and quotations, with the same polarity; the unsupported
    ones are listed, with the reason. Each cited passage gets one citation: the sentence that best
    supports what cites it.
    """
    sentences = split_cited(answer, len(hits))
    cands = candidates(hits)
    by_hit: dict[int, list[int]] = {}
    for idx, cand in enumerate(cands):
        by_hit.setdefault(cand.hit, []).append(idx)
    plain = [s.text for s in sentences]
    vectors = as_vectors(embeddings)(plain + [c.text for c in cands]) if plain else np.zeros((0, 1))
    sent_vecs, cand_vecs = vectors[: len(plain)], vectors[len(plain) :]
    passage_terms = {n: content_terms(hits[n - 1].text) for s in sentences for n in s.cited}
    best_for: dict[int, tuple[bool, float, int]] = {}  # n -> (supported, score, candidate)
    reasons: dict[int, str] = {}
    for si, sentence in enumerate(sentences):
        terms = content_terms(sentence.text)
        support, best = 0.0, -1
        scored: list[tuple[int, float, int]] = []
        for n in sentence.cited:
            for ci in by_hit.get(n - 1, []):
                cos = float(sent_vecs[si] @ cand_vecs[ci])
                score = COSINE_WEIGHT * cos + (1 - COSINE_WEIGHT) * coverage(terms, passage_terms[n])
                scored.append((n, score, ci))
                if score > support:
                    support, best = score, ci
        if not sentence.cited:
            reasons[si] = "it cites no passage"
        elif support < threshold:
            reasons[si] = "no cited passage says this"
        else:
            cited_text = "\n".join(hits[n - 1].text for n in sentence.cited)
            problem = _claims_problem(sentence.text, cited_text, cands[best].text if best >= 0 else "")
            if problem:
                reasons[si] = problem
        ok = si not in reasons
        for n, score, ci in scored:
            if (ok, score) > best_for.get(n, (False, -1.0, -1))[:2]:
                best_for[n] = (ok, score, ci)
    citations = [
        _citation(n, hits[n - 1], cands[ci], score) for n, (_, score, ci) in sorted(best_for.items())
    ]
    rendered = []
    for s in sentences:  # a passage with no quotable sentence gets no citation, so no marker either
        marks = [n for n in s.cited if n in best_for]
        rendered.append(f"{s.text} [{', '.join(map(str, marks))}]" if marks else s.text)
    return Checked(" ".join(rendered), rendered, citations, sorted(reasons), reasons)
