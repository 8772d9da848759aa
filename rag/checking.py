"""Checking an LLM's answer: each sentence against the passages its [n] markers cite."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.answer import COSINE_WEIGHT, TextVectors, _citation, _vectors, candidates
from rag.retrieve import Hit
from rag.schema import Citation
from rag.text import content_terms, coverage, sentence_spans

_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class Checked:
    """An LLM answer after its citations were checked against the passages."""

    text: str
    sentences: list[str]
    citations: list[Citation]
    unsupported: list[int]


def check_citations(
    answer: str, hits: list[Hit], embeddings: Embeddings | TextVectors, *, threshold: float
) -> Checked:
    """Check every sentence of `answer` against the passages its [n] markers cite.

    Markers that point at no passage are dropped. A sentence is supported when one of its cited
    passages holds a sentence close to it in meaning and wording (score >= threshold); the
    unsupported ones are listed. Each cited passage gets one citation: its best-supporting sentence.
    """
    spans = list(sentence_spans(answer))
    raw = [answer[s:e] for s, e in spans]
    cleaned: list[str] = []
    cited: list[list[int]] = []
    for sentence in raw:
        numbers: list[int] = []

        def keep_valid(match: re.Match[str], numbers: list[int] = numbers) -> str:
            valid = [int(x) for x in re.findall(r"\d+", match.group(1)) if 1 <= int(x) <= len(hits)]
            numbers.extend(n for n in valid if n not in numbers)
            return f" [{', '.join(map(str, valid))}]" if valid else ""

        cleaned.append(_MARKER.sub(keep_valid, sentence).strip())
        cited.append(numbers)
    cands = candidates(hits)
    by_hit: dict[int, list[int]] = {}
    for idx, cand in enumerate(cands):
        by_hit.setdefault(cand.hit, []).append(idx)
    plain = [_MARKER.sub("", s).strip() for s in cleaned]
    vectors = _vectors(embeddings)(plain + [c.text for c in cands]) if plain else np.zeros((0, 1))
    sent_vecs, cand_vecs = vectors[: len(plain)], vectors[len(plain) :]
    best_for: dict[int, tuple[float, int]] = {}
    unsupported: list[int] = []
    for si, (sentence, numbers) in enumerate(zip(plain, cited, strict=True)):
        terms = content_terms(sentence)
        support = 0.0
        for n in numbers:
            for ci in by_hit.get(n - 1, []):
                passage_terms = content_terms(hits[n - 1].text)
                cos = float(sent_vecs[si] @ cand_vecs[ci])
                score = COSINE_WEIGHT * cos + (1 - COSINE_WEIGHT) * coverage(terms, passage_terms)
                support = max(support, score)
                if score > best_for.get(n, (-1.0, -1))[0]:
                    best_for[n] = (score, ci)
        if support < threshold:
            unsupported.append(si)
    citations = [_citation(n, hits[n - 1], cands[ci], score) for n, (score, ci) in sorted(best_for.items())]
    return Checked(" ".join(cleaned), cleaned, citations, unsupported)
