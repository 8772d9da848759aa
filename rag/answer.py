"""Answering from retrieved passages: candidate sentences, their fitted scores, and the extractive answer.

Each sentence of the retrieved passages is scored for *answering* the question by a logistic
regression over features of `rag.features` (meaning, which of the question's words it holds and how,
what kind of answer it offers, its neighbours), and a second one, over the best sentence's features,
gives the probability that the passages answer at all: the chain refuses below `RAG_REFUSE_BELOW`.
Both were fitted by `evals/fit_answerer.py`; their coefficients ship in `rag/assets/answerer.json`.
The sentences are then reordered by a small answer encoder (`reranked`, trained by
`evals/train_reranker.py`), which reads meaning where the ranker's features read words; the
refusal decisions stay the ranker's and the gate's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.conversation import content_words
from rag.features import (
    GATE_FEATURES,
    SENTENCE_FEATURES,
    Lexicon,
    SentenceFeatures,
    gate_features,
    neighbours,
    sentence_features,
    term_weights,
)
from rag.followups import dependence
from rag.questions import (
    ATTRIBUTION,
    QUANTITIES,
    across_documents,
    asked_attribute,
    asked_years,
    asks_advice,
    asks_negated,
    count_missing,
    entities,
    held_years,
    negates,
    negation_dropped,
    number_mismatch,
    numbers,
    offers,
    opposite,
    ordinals,
    profile,
    question_type,
    refusal_unmet,
    reports_speech,
    same_name,
    speaker,
    subject,
    unit_missing,
    verb_subjects,
    without_document_reference,
)
from rag.retrieve import Hit
from rag.schema import Citation
from rag.soft import best_matches
from rag.synonyms import places_of
from rag.text import content_terms, cosine_rows, quotable, sentence_spans, words
from rag.vectors import TextVectors, WordVectors, as_vectors

# Weight of meaning (embedding cosine) against wording (shared content terms) in the LLM path's
# support score (rag.checking).
COSINE_WEIGHT = 0.75
MAX_ANSWER_SENTENCES = 3
MIN_SENTENCE_WORDS = 4
# A sentence offering what the question asks for leads when it scores this share of the best one.
# Set on the dev sets and SQuAD (0.2 → 0.5: SQuAD answer-first 0.742 → 0.749, conversations_more
# 25 → 27 passed, nothing lower; at 0.8 answer-first drops on the conversation sets).
LEAD_RATIO = 0.5
MODEL_FILE = "answerer.json"
# The answer encoder's cosine (x ENCODER_SCALE, the temperature it was trained at) is added to the
# ranker's logit with this weight: chosen out of fold by `evals/train_reranker.py compose` (0.5-1.5
# swept; at 1.0 citation precision 0.817 -> 0.829 on the news rows and 0.720 -> 0.738 on SQuAD,
# answer-first 0.814 -> 0.821 and 0.727 -> 0.747; evals/README.md, "Ninth pass").
ENCODER_WEIGHT = 1.0
ENCODER_SCALE = 20.0
# A follow-up's sentences that lack what it asks for keep this share of their score.
FOCUS_PENALTY = 0.5
# A follow-up asking for one of these is refused when its best sentence, after the penalty, still
# lacks it: on the conversation sets +3 refusals of unanswerable follow-ups and no loss. Not "name":
# "Which agency reported that?" is answered by "KCNA said", which holds neither of its words.
FOCUS_KINDS = ("number", "date", "place")
# What a sentence that negates nothing keeps of its score for a negated question when one that negates
# scores near the best: below the lead share of that one, so neither it nor the lead rule puts it first.
# news_fresh +1; SQuAD: 3 of its adversarial negated questions answered from the negating sentence
# ("… were at their most prolific before World War I, they remained active in the interwar years").
NEGATION_PENALTY = LEAD_RATIO**2
# A follow-up's own word is held in meaning by a sentence word this close (cosine of the local
# model's contextual word vectors, `rag.soft`): "fall apart" finds "collapse" at 0.55, "salary" and
# "old" find nothing above 0.19 in the delegation's passage. Set on the conversation sets: at 0.5 or
# 0.45 two more false refusals became wrong answers, no row more passed.
SOFT_HOLD = 0.55
TIE_MAX_SIMILARITY = 0.75  # a near tie this similar to a picked sentence is a look-alike
# Share of the topic's IDF weight a named speaker's report must hold (`attributed`): set by hand on
# the dev sets, where reports that answer hold 0.34 or more and those of unanswerable rows 0.08 or less.
TOPIC_SHARE = 0.2
_QUOTES = "“\"‘'"
_PRONOUNS = frozenset({"he", "she", "they"})
ANSWER_KINDS = ("name", "date", "number", "place")
_CLOSING = "\"'”’)] "  # after a question mark: "... Turn to Russia?”"


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with its place in the source."""

    hit: int  # index into the hits
    start: int  # in the source text
    end: int
    text: str


def candidates(hits: list[Hit]) -> list[Candidate]:
    """Split the passages into quotable sentences, once each (overlapping chunks repeat sentences).

    Headings are left out, bullets and inline markup are cut off (see `rag.text.quotable`), a
    question is left out (a headline such as "Will Kim Jong Un Turn to Russia?", or an FAQ's
    question: it asks, it never answers), and a sentence whose words were already seen (a copied
    document) is kept once.
    """
    seen: set[tuple[str, int]] = set()
    texts: set[str] = set()
    out: list[Candidate] = []
    for i, hit in enumerate(hits):
        for start, end in sentence_spans(hit.text):
            span = quotable(hit.text, start, end, MIN_SENTENCE_WORDS)
            if span is None:
                continue
            text = hit.text[span[0] : span[1]]
            if text.rstrip(_CLOSING).endswith("?"):
                continue
            key = (hit.source, hit.start + span[0])
            if key in seen or text in texts:
                continue
            seen.add(key)
            texts.add(text)
            out.append(Candidate(i, hit.start + span[0], hit.start + span[1], text))
    return out


@dataclass(frozen=True)
class Model:
    """A fitted logistic regression over named features (standardised by the stored mean and scale)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Model:
        """Read one model of the coefficient file."""
        return cls(
            tuple(obj["features"]),
            np.asarray(obj["mean"], dtype=np.float64),
            np.asarray(obj["scale"], dtype=np.float64),
            np.asarray(obj["coef"], dtype=np.float64),
            float(obj["intercept"]),
        )

    def columns(self, names: tuple[str, ...]) -> list[int]:
        """Return the positions of this model's features among `names`."""
        return [names.index(f) for f in self.features]

    def probability(self, x: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """Return P(positive) for each row of `x`, whose columns are `names`."""
        z = ((x[:, self.columns(names)] - self.mean) / self.scale) @ self.coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


@dataclass(frozen=True)
class Answerer:
    """The fitted sentence ranker, the answerability gate, and the composition rule's constants."""

    ranker: Model
    gate: Model
    second_ratio: float  # a further sentence needs this share of the best one's score
    min_gain: float  # ... and to hold this share of the question's words the first ones lack
    max_similarity: float  # ... and to be less similar than this to each of them
    tie_ratio: float = 1.0  # one scoring this share of the best is kept without new words: a near tie


@cache
def load_answerer() -> Answerer:
    """Read the shipped coefficients (a small immutable package file, read once per process)."""
    raw = resources.files("rag").joinpath("assets", MODEL_FILE).read_text(encoding="utf-8")
    obj = json.loads(raw)
    compose = obj["compose"]
    return Answerer(
        Model.from_json(obj["ranker"]),
        Model.from_json(obj["gate"]),
        float(compose["second_ratio"]),
        float(compose["min_gain"]),
        float(compose["max_similarity"]),
        float(compose.get("tie_ratio", 1.0)),
    )


@dataclass(frozen=True)
class Evidence:
    """Sentences of the passages scored against a question."""

    candidates: list[Candidate]
    vectors: np.ndarray
    scores: np.ndarray  # P(the sentence answers), from the fitted ranker
    features: np.ndarray  # (sentences, SENTENCE_FEATURES), for the fitting script
    held: list[frozenset[str]]  # the question's (known) terms each sentence holds
    weights: dict[str, float]  # their IDF weights, summing to 1
    answerable: float  # P(the passages answer the question), from the fitted gate
    asks: str = "other"  # what the question asks for (`question_type`: name, date, cause, ...)
    across: bool = False  # asked of several documents (`across_documents`): quote more than one

    @property
    def best(self) -> float:
        """How likely the passages answer at all: the gate's probability, compared with refuse_below."""
        return self.answerable


def score_evidence(
    question: str,
    hits: list[Hit],
    embeddings: Embeddings | TextVectors,
    idf: Lexicon | Callable[[str], float] | None = None,
    *,
    asked: str | None = None,
    said: str | None = None,
    written: str | None = None,
    answerer: Answerer | None = None,
) -> Evidence:
    """Score each passage sentence for answering `question`, and the passages for answering at all.

    `idf` gives a stemmed term's inverse document frequency over the corpus (the BM25 index or
    its `idf` method); a word found nowhere in the corpus is left out of every word feature, so
    it neither helps nor sinks a question. `asked` is the question as the person wrote it when
    `question` is a follow-up combined with an earlier turn: a sentence must then also hold what
    the follow-up itself asks for (`focus`), or the passages do not answer it; `said` is the answer
    the person read last. `written` is the question as the person wrote it when `question` was
    given synonyms (`rag.synonyms`): the ranker and the gate read the synonyms, the refusal rules
    only what the person wrote ("salary" is no "pay dividends"). A question asking what a named
    person said is answered only from a sentence that reports them (`attributed`).
    """
    model = answerer or load_answerer()
    across = across_documents(asked if asked is not None else question)
    question = without_document_reference(question)
    asked = without_document_reference(asked) if asked is not None else None
    cands = candidates(hits)
    if not cands:
        none = np.zeros((0, len(SENTENCE_FEATURES)))
        return Evidence([], np.zeros((0, 1), dtype=np.float32), np.zeros(0), none, [], {}, 0.0)
    texts = [question] + [c.text for c in cands]
    store = as_vectors(embeddings)
    vectors, word_vectors = store(texts), store.words(texts)
    feats = sentence_features(
        question, cands, hits, vectors[:1], vectors[1:], idf, (word_vectors[0], word_vectors[1:])
    )
    scores = model.ranker.probability(feats.x, SENTENCE_FEATURES)
    # What the sentences are shown in: for a follow-up with words of its own, the ranker also
    # hears the follow-up alone (`own_scored`), so the earlier turn's words do not bring its answer back.
    ordered = scores
    if asked is not None and asked != question:
        sentences = (vectors[1:], word_vectors[1:])
        ordered = own_scored(asked, scores, feats, cands, hits, store, sentences, idf, model)
    gate = gate_features(feats, scores)  # fitted on the ranker's own scores, before the encoder's
    answerable = float(model.gate.probability(gate[None, :], GATE_FEATURES)[0])
    # A follow-up's combined query leans towards the earlier turn's sentence; the encoder also
    # hears what the follow-up itself asks ("Why is that telling?"), half and half.
    told = asked or question
    encoded = answer_vectors()(texts if told == question else [question, told] + texts[1:])
    if told != question:
        encoded = np.vstack([_unit(encoded[0] + encoded[1]), encoded[2:]])
    # `scores` stay the ranker's: the refusal rules below read its best sentence, as they were set
    # on; `shown` orders the sentences quoted. Each penalty applies to both.
    shown = reranked(ordered, encoded)
    own = asked or written or question  # what the person asked: not combined, nor given synonyms
    if said and asked is not None and asks_why_that(asked):
        # "Why is that considered important?" asks the reason for what was just read: not the
        # sentence already quoted, but most often the one after it ("... is particularly telling
        # given ...", "Kim is an opportunist, so ..."), which is preferred when there is one.
        read = np.array([_already_read(c.text, said) for c in cands])
        if read.any() and not read.all():
            after = np.zeros(len(cands), dtype=bool)
            nxt = neighbours(cands)[1]
            for i in np.flatnonzero(read):
                j = nxt[i]
                if j is not None and not read[j]:
                    after[j] = True
            shown = np.where(read | (after.any() & ~after), shown * FOCUS_PENALTY, shown)
    reported = attributed(own, cands, idf)
    if reported is not None:
        if not reported.any():
            answerable = 0.0  # no passage reports the person asked about saying anything
        else:
            scores = np.where(reported, scores, scores * FOCUS_PENALTY)
            shown = np.where(reported, shown, shown * FOCUS_PENALTY)
    # A negated question ("Which leader has Kim not yet gone to see?") is answered from a sentence
    # that negates ("Kim has yet to make a trip to meet ... Xi Jinping") when one scores near the
    # best; when none does, `opposite_asked` refuses below.
    if asks_negated(own):
        dropped = np.array([not negates(c.text) for c in cands])
        if dropped.any() and (~dropped & (scores >= LEAD_RATIO * scores.max())).any():
            scores = np.where(dropped, scores * NEGATION_PENALTY, scores)
            shown = np.where(dropped, shown * NEGATION_PENALTY, shown)
    # The rules read the ranker's best sentence, as they were set on; a swapped role is also read
    # at the sentence shown first (reranked): "When did Kim Chol Won visit Moscow?" would show
    # "Russian President Vladimir Putin visited Pyongyang in June".
    lead_differs = int(np.argmax(shown)) != int(np.argmax(scores))
    if role_swapped(own, cands, scores) or (lead_differs and role_swapped(own, cands, shown)):
        answerable = 0.0  # the sentence shown says someone else did it: "Trump walked out", not Kim
    window = _window(cands, int(np.argmax(scores)))  # the best sentence and its neighbours
    if another_number(own, " ".join(window)) or opposite_asked(own, cands, scores):
        answerable = 0.0  # another year or count, or the opposite ("increased" for "decreased")
    if refusal_unmet(own, window):
        answerable = 0.0  # "Why did Putin refuse to sign ...?" of "Putin ... signed a mutual defense treaty"
    if unit_missing(own, " ".join(window)):
        answerable = 0.0  # a sum of money or a year asked, none given: "How much did the drills cost?"
    if all(count_missing(own, cands[int(np.argmax(s))].text) for s in (scores, shown)):
        answerable = 0.0  # "How many people were in the delegation?" of "a three-day visit"
    if attribute_missing(own, window):
        answerable = 0.0  # "What is the population of Pyongyang?" of a sentence that only names Pyongyang
    if asks_advice(own) and advice_unheld(own, window):
        answerable = 0.0  # "What should I pack for a trip to Pyongyang?" of a sentence that names Pyongyang
    if asked is not None and asked != question:
        covers = focus(asked, question, cands, held_in_meaning(asked, word_vectors[0], word_vectors[1:]))
        if not covers.any():
            answerable = 0.0  # the passages are about the earlier turn, not what the follow-up asks
        else:
            scores = np.where(covers, scores, scores * FOCUS_PENALTY)
            shown = np.where(covers, shown, shown * FOCUS_PENALTY)
            if question_type(asked) in FOCUS_KINDS and not covers[int(np.argmax(scores))]:
                # The sentence shown would not hold it: "How many members did it have?" after the
                # delegation question ("three members" of the Security Council is another passage's).
                answerable = 0.0
    return Evidence(
        cands, vectors[1:], shown, feats.x, feats.held, feats.weights, answerable, feats.qtype, across
    )


@cache
def _reported_as(place: tuple[str, ...]) -> re.Pattern[str]:
    """A place's name right before a reporting word ("North Korea expressed", "Russia's ... said")."""
    reporting = "|".join(sorted(ATTRIBUTION))
    return re.compile(
        r"\b" + r"\s+".join(place) + rf"(?:['’]s)?\s+(?:\w+\s+)?(?:{reporting})\b", re.IGNORECASE
    )


def asks_why_that(question: str) -> bool:
    """Tell whether `question` asks only why of what came before ("Why does that matter?")."""
    return question_type(question) == "cause" and dependence(question) == "no content words"


def _already_read(text: str, said: str) -> bool:
    """Tell whether a sentence of `text` (a candidate can hold two) is in the answer `said`."""
    flat = " ".join(said.split()).casefold()
    return any(" ".join(text[a:b].split()).casefold() in flat for a, b in sentence_spans(text))


# A follow-up holding at least this many terms of its own that the corpus knows ("Did he later give
# Washington a deadline?": "later", "washington") is also scored alone, and the two logits averaged
# with this weight on its own (evals/README.md, "Thirteenth pass").
OWN_MIN_TERMS = 2
OWN_WEIGHT = 0.5


def own_scored(
    asked: str,
    scores: np.ndarray,
    feats: SentenceFeatures,
    cands: list[Candidate],
    hits: list[Hit],
    store: TextVectors,
    sentences: tuple[np.ndarray, Sequence[WordVectors]],
    idf: Lexicon | Callable[[str], float] | None,
    model: Answerer,
) -> np.ndarray:
    """Return the sentence scores a follow-up is shown by: the combined query's and its own, mixed.

    The combined query ("And what aim did the state news agency say they share? Russia Korea
    contacts ... March") holds the earlier turn's words, which the earlier answer holds best; the
    follow-up alone holds what it asks ("aim", "share"). Only the order shown changes: the refusal
    rules still read the combined query's scores, as they were set on. A follow-up of one word of
    its own ("How many members did it have?") is scored by the combined query alone: its own
    score would be noise.
    """
    own = content_terms(" ".join(content_words(asked))) & set(feats.weights)
    if len(own) < OWN_MIN_TERMS:
        return scores
    vectors, words_of = sentences
    pair = (store.words([asked])[0], words_of)
    alone = sentence_features(asked, cands, hits, store([asked]), vectors, idf, pair)
    mixed = (1 - OWN_WEIGHT) * _logit(scores) + OWN_WEIGHT * _logit(
        model.ranker.probability(alone.x, SENTENCE_FEATURES)
    )
    return np.asarray(1.0 / (1.0 + np.exp(-mixed)))


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)))


@cache
def answer_vectors() -> TextVectors:
    """The answer encoder (`rag.embeddings.answer_model_path`) behind its own cache, loaded once."""
    from rag.embeddings import ANSWER_MODEL_SHA256, LocalEmbeddings, answer_model_path

    # One text per run: int8 activations are scaled per run, so in a batch a sentence's score would
    # depend on its batch-mates (up to 0.46 of a logit) and on what the cache already held; alone it
    # is the same every time, and no faster in batches (30 seed sentences: 71 ms alone, 105 ms in 16s).
    encoder = LocalEmbeddings(answer_model_path(), batch_size=1, sha256=ANSWER_MODEL_SHA256)
    return TextVectors(encoder, max_word_items=0)


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / max(float(np.linalg.norm(v)), 1e-9))


def reranked(scores: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Move each sentence's ranker logit by the answer encoder's cosine with the question.

    `vectors` are the question's then the sentences' unit vectors under the answer encoder. Only
    the order and the gaps change: the new best keeps the ranker's best logit, so the composition
    (`second_ratio`, `tie_ratio`) compares on the scale it was set on.
    """
    if not len(scores):
        return scores
    z = _logit(scores)
    moved = z + ENCODER_WEIGHT * ENCODER_SCALE * (vectors[1:] @ vectors[0])
    moved += z.max() - moved.max()
    return np.asarray(1.0 / (1.0 + np.exp(-moved)))


def attributed(
    question: str, cands: list[Candidate], idf: Lexicon | Callable[[str], float] | None
) -> np.ndarray | None:
    """Tell which sentences report what a question asks a named person said ("What did Xi Jinping say ...?").

    None when the question asks no one by name. A sentence reports them when it holds the most
    distinctive word of their name (the rarest in the corpus: "Manning", "Chol") and a reporting
    word ("said", "told", "according") in lower case, or follows such a sentence as its quote's next
    sentence. When the question names them and says what about ("What did Robert Manning say about
    China?"), the report (with its next sentence) must also hold `TOPIC_SHARE` of the topic's IDF
    weight: Manning's reading of the KCNA statement never mentions China. A described speaker ("the
    Brookings scholar") asks in other words, so its topic is not matched word for word.
    """
    who = speaker(question)
    if who is None:
        return None
    fn = (idf.idf if not callable(idf) else idf) if idf is not None else None

    def rarity(word: str) -> float:
        return fn(next(iter(content_terms(word)), word)) if fn is not None else len(word)

    key = max(sorted(who.names), key=rarity)
    prev, nxt = neighbours(cands)
    texts = [c.text for c in cands]
    # A capital speaks for its country: "How did Pyongyang react …?" of "North Korea expressed …",
    # the country right before the reporting word (not "joint drills with South Korea", of Seoul).
    stands_for = [_reported_as(place) for place in places_of(key)]
    reports = [
        reports_speech(t) and (key in profile(t).words or any(p.search(t) for p in stands_for)) for t in texts
    ]
    out = np.zeros(len(cands), dtype=bool)
    for i, text in enumerate(texts):
        before = prev[i]
        # A quote's next sentence ("…,” he said.) goes on with the report of the sentence before it.
        pronoun = not _PRONOUNS.isdisjoint(profile(text).words)
        goes_on = text.lstrip()[:1] in _QUOTES or pronoun and reports_speech(text)
        out[i] = reports[i] or (before is not None and reports[before] and goes_on)
    topic = content_terms(who.topic) - content_terms(" ".join(who.names))
    if topic and who.named and fn is not None:
        weights, _ = term_weights(sorted(topic), fn)
        for i in map(int, np.flatnonzero(out)):
            window = [texts[i]] + [texts[j] for j in (nxt[i],) if j is not None]
            held = set().union(*(profile(t).forms.keys() for t in window))
            if weights and sum(w for t, w in weights.items() if t in held) < TOPIC_SHARE:
                out[i] = False
    return out


def another_number(question: str, window: str) -> bool:
    """Tell whether the question names a year or number `window` lacks, while it holds others.

    `window` is the best sentence and its neighbours. "What happened to the East India Company in
    1766?" against a sentence of 1767: it tells of another time. A year within a range the
    sentences give ("1568–1609") is held. Counts and ranks likewise (`number_mismatch`): "the 8
    schools" against "Four Great Schools".
    """
    if number_mismatch(question, window):
        return True
    asked = asked_years(question)
    held, ranges = held_years(window)
    return bool(held) and any(y not in held and not any(a <= y <= z for a, z in ranges) for y in asked)


# An advice question is answered only by a sentence (with its neighbours) that holds more than this
# share of its own words, names left out.
ADVICE_HELD = 0.5


def advice_unheld(question: str, window: list[str]) -> bool:
    """Tell whether the best sentence and its neighbours hold too few of an advice question's words.

    "What street foods should I try when I visit Hanoi?" shares only "Hanoi" with the sentence that
    scores best: a document that answers it speaks of street food. Unlike the word features, words the
    corpus never uses count as missing here: advice on packing for a winter trip, asked of documents
    that never speak of packing or winter, is not in them; the names are what drew the search there.
    """
    names = content_terms(" ".join(entities(question)))
    asked = content_terms(" ".join(content_words(question))) - names
    if not asked:
        return False
    held = set().union(*(profile(text).forms for text in window))
    return len(asked & held) <= ADVICE_HELD * len(asked)


def attribute_missing(question: str, window: list[str]) -> bool:
    """Tell whether `window` (the best sentence and its neighbours) lacks what a question asks of a thing.

    "What is the population of Pyongyang?" against "Pyongyang has mostly kept to itself": the word
    "population" is found nowhere in the corpus, so no word feature counts it (`rag.features`),
    and the question is left with its name, which the sentence holds. What the question asks of
    Pyongyang must be there too: its word (any form), or for an amount ("population", "ratio") a
    count or a number. Kept for news off-corpus questions; on SQuAD it refused one answerable row
    (already failed) and nothing else (evals/README.md).
    """
    attr = asked_attribute(question)
    if attr is None:
        return False
    stem = next(iter(content_terms(attr)), attr)
    if any(stem in profile(t).forms for t in window):
        return False
    return not (attr in QUANTITIES and any(numbers(t)[0] or _AMOUNT.search(t) for t in window))


def opposite_asked(question: str, cands: list[Candidate], scores: np.ndarray) -> bool:
    """Tell whether the best sentence holds the opposite of a question's word, not the word itself.

    "Who decreased British military resources in the colonies?" against "William Pitt ...
    significantly increased British military resources in the colonies". A negated question of a
    sentence that negates nothing is its opposite too: "Who didn't the Mongols send to Bukhara?"
    against "the Mongols also sent Han Chinese and Khitans ... over the Muslim population in Bukhara".
    """
    if not cands:
        return False
    best = cands[int(np.argmax(scores))].text
    return opposite(question, best) or negation_dropped(question, best)


def _window(cands: list[Candidate], i: int) -> list[str]:
    """Return the texts of sentence i and of its neighbours in its passage, in order."""
    prev, nxt = neighbours(cands)
    return [cands[j].text for j in (prev[i], i, nxt[i]) if j is not None]


def role_swapped(question: str, cands: list[Candidate], scores: np.ndarray) -> bool:
    """Tell whether the best sentence gives the question's verb to someone else, and none to its subject.

    "Why did Kim Jong Un walk out of the Hanoi summit?" against "Trump walked out of the summit in
    Hanoi, ...": a swapped role, the most common way a question the documents don't answer borrows
    all their words. Only a name standing right before the verb counts as its subject (`verb_subjects`).
    """
    who = subject(question)
    if who is None or not cands:
        return False
    uses = [verb_subjects(c.text, who.verb) for c in cands]
    if any(same_name(u, who.names) for us in uses for u in us):
        return False
    return any(uses[int(np.argmax(scores))])


def held_in_meaning(asked: str, query: WordVectors, sentences: Sequence[WordVectors]) -> list[frozenset[str]]:
    """Return, for each sentence, the follow-up's own terms it holds in meaning (`SOFT_HOLD`).

    The query starts with the follow-up, so its own words' vectors are read in their context there.
    """
    own = {w.casefold() for w in content_words(asked)}
    at = [i for i, w in enumerate(query.words) if w in own]
    if not at:
        return [frozenset() for _ in sentences]
    best = best_matches(query.vectors[at].astype(np.float32), sentences)
    return [
        frozenset(
            content_terms(" ".join(query.words[i] for i, b in zip(at, row, strict=True) if b >= SOFT_HOLD))
        )
        for row in best
    ]


def focus(
    asked: str, query: str, cands: list[Candidate], meant: list[frozenset[str]] | None = None
) -> np.ndarray:
    """Tell which sentences (with their neighbours) hold what a follow-up itself asks for.

    A follow-up is searched with the words of the turn it refers to, which the old answer holds;
    what it adds ("How old is he?": "old"; "What did he sign there?": "sign") must be in the
    sentence or beside it: one of the follow-up's own content words, and the kind of answer it
    asks for (a number, a date, a name, a place) in a sentence that holds one of them: "When was
    that facility built?" is not answered by a date beside the facility's sentence. A word the
    corpus lacks counts as missing here: a follow-up has few words of its own, and "What is his
    salary?" over documents that never mention a salary asks for something they do not hold. A
    word is also held in meaning (`meant`, from `held_in_meaning`): "When did it fall apart?" is
    answered by "Since the collapse of the second U.S.-North Korea summit … at the end of February".
    """
    own = content_terms(" ".join(content_words(asked)))
    picks = ordinals(asked)  # "one last time": the word that picks, if its verb is paraphrased
    kind = question_type(asked)
    known = set(words(query))
    prev, nxt = neighbours(cands)
    out = np.zeros(len(cands), dtype=bool)
    soft = meant if meant is not None else [frozenset() for _ in cands]
    for i in range(len(cands)):
        at = [i] + [j for j in (prev[i], nxt[i]) if j is not None]
        window = [cands[j] for j in at]
        terms = [set(profile(cands[j].text).forms) | soft[j] for j in at]  # profiles cached per text
        held = set().union(*terms)
        if own and not (own | picks) & held:
            continue
        mine = [w for w, t in zip(window, terms, strict=True) if not own or not (own | picks).isdisjoint(t)]
        if kind in ANSWER_KINDS and not any(offers(w.text, known)[kind] for w in mine):
            continue
        out[i] = True
    return out


def _citation(n: int, hit: Hit, cand: Candidate, score: float) -> Citation:
    return Citation(
        n=n,
        source=hit.source,
        title=hit.title,
        page=hit.page,
        start=cand.start,
        end=cand.end,
        quote=cand.text,
        score=round(max(0.0, min(1.0, score)), 4),
    )


def extract(
    evidence: Evidence, hits: list[Hit], *, answerer: Answerer | None = None
) -> tuple[list[str], list[Citation]]:
    """Quote the best sentence first, then at most two more that each carry a part it lacks; cite each.

    A further sentence must score at least `second_ratio` × the best, hold question words the
    picked ones lack (more than `min_gain` of the question's IDF weight) or offer the kind of
    answer asked (a name for who, ...) or score within `tie_ratio` of the best, and not be a
    look-alike of them (more similar than `max_similarity`: the next table row). A
    passage is cited once: a sentence next to one already picked from the same passage joins its
    quote (one contiguous source span); any other sentence of that passage is left out.
    """
    if not evidence.candidates:
        return [], []
    model = answerer or load_answerer()
    cands, scores = evidence.candidates, evidence.scores
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    sims = cosine_rows(evidence.vectors, evidence.vectors)
    match = evidence.features[:, SENTENCE_FEATURES.index("type_match")]
    groups: list[list[int]] = [[order[0]]]
    for j in order[1:]:
        if len(groups) >= MAX_ANSWER_SENTENCES or scores[j] < model.second_ratio * scores[order[0]]:
            break
        picked = [i for group in groups for i in group]
        closest = max(float(sims[j, i]) for i in picked)
        if closest > model.max_similarity:
            continue  # a look-alike says nothing new
        # A near tie the ranker can't tell from the best is another possible answer, unless it is
        # shaped like the picked ones (the next row of the same table: 0.81 against 0.67 for two
        # readings of one statement).
        tied = scores[j] >= model.tie_ratio * scores[order[0]] and closest < TIE_MAX_SIMILARITY
        gain = _gain(evidence, j, picked)
        if gain <= model.min_gain and not match[j] and not tied:
            continue  # it adds neither question words nor the kind of answer asked: a look-alike
        if gain <= model.min_gain and any(_same_row_shape(cands[j].text, cands[i].text) for i in picked):
            continue  # another row of the same table offers a value of the same kind, not this answer
        same = [g for g in groups if cands[g[0]].hit == cands[j].hit]
        if not same:
            groups.append([j])
        elif any(_adjacent(cands, i, j) for i in same[0]):
            same[0].append(j)
    # The first sentence answers: when the best one lacks what the question asks for (a cause for
    # why, a date for when, ...) and another picked one has it, that one leads.
    if not match[groups[0][0]]:
        lead = next((j for j in order if match[j] and scores[j] >= LEAD_RATIO * scores[order[0]]), None)
        if lead is not None:
            groups = [g for g in groups if lead not in g and cands[g[0]].hit != cands[lead].hit]
            groups = [[lead], *groups][:MAX_ANSWER_SENTENCES]
    # A why-question's best sentence that concludes from the one before it ("And so, in this
    # context, the surge stands out.") is quoted with it: the reason is told there.
    first = groups[0][0]
    if evidence.asks == "cause" and _CONCLUDES.match(cands[first].text):
        before = neighbours(cands)[0][first]
        if before is not None and _adjacent(cands, before, first) and before not in groups[0]:
            groups = [[before, *groups[0]], *([i for i in g if i != before] for g in groups[1:])]
            groups = [g for g in groups if g]
    if evidence.across:
        groups = _from_another_document(evidence, hits, groups, order, sims, model.max_similarity)
    sentences, citations = [], []
    for n, group in enumerate(groups, start=1):
        cand = _joined(cands, group, hits)
        sentences.append(f"{cand.text} [{n}]")
        citations.append(_citation(n, hits[cand.hit], cand, float(max(scores[i] for i in group))))
    return sentences, citations


# A sentence that draws a conclusion from what came before it.
_CONCLUDES = re.compile(
    r"^\W*(?:and\s+|but\s+)?(?:so|thus|hence|therefore|consequently|as a result|"
    r"for (?:this|that|these) reasons?|(?:that|this) is why|"
    r"(?:in|against) (?:this|that) (?:context|light|background))\b",
    re.IGNORECASE,
)
# An amount in digits (not a year) or a fraction: "20 to 1", "one-eighth".
_AMOUNT = re.compile(
    r"(?<![\d.,])(?!(?:1\d{3}|20\d{2})(?!\d))\d|\b(?:half|quarter|thirds?|fifths?|eighths?|tenths?)\b"
)
_ROW_KEY = re.compile(r"(?:^|;\s+)([^:;\n]{1,40}):\s")


def _from_another_document(
    evidence: Evidence,
    hits: list[Hit],
    groups: list[list[int]],
    order: list[int],
    sims: np.ndarray,
    max_similarity: float,
) -> list[list[int]]:
    """Add the best sentence of another document when all quoted ones come from one.

    A question asked of several documents ("How do the two articles differ?") is answered from each;
    the sentence takes the last place when the answer is full.
    """
    cands = evidence.candidates
    sources = {hits[cands[i].hit].source for group in groups for i in group}
    if len(sources) != 1:
        return groups
    picked = [i for group in groups for i in group]
    elsewhere = (j for j in order if hits[cands[j].hit].source not in sources)
    other = next((j for j in elsewhere if max(float(sims[j, i]) for i in picked) <= max_similarity), None)
    if other is None:
        return groups
    return [*groups[: MAX_ANSWER_SENTENCES - 1], [other]]


def _same_row_shape(a: str, b: str) -> bool:
    """Tell whether two sentences are rows of one table ("route: …; operator: …", as loaders write rows)."""
    keys = _ROW_KEY.findall(a)
    return len(keys) >= 2 and keys == _ROW_KEY.findall(b)


def _gain(evidence: Evidence, j: int, picked: list[int]) -> float:
    """Share of the question's word weight that sentence j holds and the picked ones do not."""
    have = set().union(*(evidence.held[i] for i in picked))
    return float(sum(evidence.weights[t] for t in evidence.held[j] - have))


def _adjacent(cands: list[Candidate], i: int, j: int) -> bool:
    a, b = cands[i], cands[j]
    gap = (b.start - a.end) if a.start < b.start else (a.start - b.end)
    return 0 <= gap <= 3


def _joined(cands: list[Candidate], group: list[int], hits: list[Hit]) -> Candidate:
    if len(group) == 1:
        return cands[group[0]]
    hit = hits[cands[group[0]].hit]
    start = min(cands[i].start for i in group)
    end = max(cands[i].end for i in group)
    return Candidate(cands[group[0]].hit, start, end, hit.text[start - hit.start : end - hit.start])
