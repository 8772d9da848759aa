"""Word vectors from the local model and the soft-match features built on them (rag.soft)."""

from __future__ import annotations

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.answer import candidates
from rag.embeddings import DIMENSIONS, LocalEmbeddings
from rag.features import SENTENCE_FEATURES, neighbours, sentence_features
from rag.retrieve import Hit
from rag.soft import SOFT_FEATURES, soft_features
from rag.vectors import TextVectors

PASSAGE = (
    "A delegation from the Russian prosecutor’s office wrapped up a three-day visit to Pyongyang and "
    "headed home Wednesday, North Korea’s state-run KCNA said. Prosecutor General Igor Krasnov, the head "
    "of the delegation, and Kim Chol Won, director of North Korea’s Central Public Prosecutors Office, "
    "signed an agreement on Monday to cooperate on law enforcement countering foreign influence."
)
HIT = Hit(
    rank=1, id="x", source="a.txt", title="", page=None, start=0, end=len(PASSAGE), score=1.0, text=PASSAGE
)


def test_one_run_gives_the_sentence_vectors_and_each_words_vector(embeddings: LocalEmbeddings) -> None:
    texts = ["Kim Jong Un met Putin in Pyongyang.", "The Hanoi summit collapsed in February 2019!", ""]
    pooled, words = embeddings.embed_with_words(texts)
    np.testing.assert_array_equal(pooled, embeddings.embed_array(texts))
    assert words[0].words == ("kim", "jong", "un", "met", "putin", "in", "pyongyang")
    assert words[1].words[-2:] == ("february", "2019")  # punctuation is no word
    assert words[2].words == () and words[2].vectors.shape == (0, DIMENSIONS)
    norms = np.linalg.norm(words[0].vectors.astype(np.float32), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=2e-3)  # float16


class _PlainEmbeddings(Embeddings):
    """Another provider's model: vectors only, no word vectors."""

    def __init__(self, inner: LocalEmbeddings) -> None:
        self.inner = inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_word_vectors_come_from_the_local_model_whatever_embeds_the_sentences(
    embeddings: LocalEmbeddings,
) -> None:
    store = TextVectors(_PlainEmbeddings(embeddings), max_word_items=2)
    texts = ["Kim met Putin.", "Trump walked out.", "Talks stalled."]
    got = store.words(texts)
    _, want = embeddings.embed_with_words(texts)
    for g, w in zip(got, want, strict=True):
        assert g.words == w.words
        np.testing.assert_allclose(g.vectors.astype(np.float32), w.vectors.astype(np.float32), atol=2e-2)
    assert len(store._words) == 2  # the LRU keeps its bound


def test_the_same_run_fills_both_caches(embeddings: LocalEmbeddings) -> None:
    store = TextVectors(embeddings)
    store(["Kim met Putin."])
    assert "Kim met Putin." in store._words  # no second run when the answer asks for its words


def test_a_paraphrase_matches_in_meaning_where_a_stem_match_misleads(embeddings: LocalEmbeddings) -> None:
    question = "Which senior Russian legal official led the group that came to North Korea?"
    hit = HIT
    cands = candidates([hit])
    store = TextVectors(embeddings)
    words = store.words([question] + [c.text for c in cands])
    weights = {
        w: 1.0 for w in ("senior", "russian", "legal", "official", "led", "group", "came", "north", "korea")
    }
    prev, nxt = neighbours(cands)
    soft = soft_features(words[0], weights, words[1:], prev, nxt)
    assert soft.shape == (len(cands), len(SOFT_FEATURES))
    krasnov = next(i for i, c in enumerate(cands) if "Krasnov" in c.text)
    home = next(i for i, c in enumerate(cands) if "headed home" in c.text)
    col = SOFT_FEATURES.index("soft")
    assert soft[krasnov, col] > soft[home, col]
    assert soft[:, SOFT_FEATURES.index("soft_rel")].max() == 0.0
    # Through the feature matrix: the soft columns are these, the question's own content words weighed.
    feats = sentence_features(
        question, cands, [hit], store([question]), store([c.text for c in cands]), None, (words[0], words[1:])
    )
    assert feats.x.shape == (len(cands), len(SENTENCE_FEATURES))
    in_matrix = feats.x[:, [SENTENCE_FEATURES.index(f) for f in SOFT_FEATURES]]
    assert in_matrix[krasnov, 0] > in_matrix[home, 0]


def test_a_near_tie_is_cited_too_even_without_new_question_words(embeddings: LocalEmbeddings) -> None:
    from dataclasses import replace

    from rag.answer import Evidence, extract, load_answerer, score_evidence

    hit = HIT
    ev = score_evidence("Who led the delegation?", [hit], embeddings)
    # Two sentences the ranker can't tell apart, the second adding no question word.
    scores = np.zeros(len(ev.candidates))
    scores[:2] = (0.60, 0.57)
    held = [frozenset({"deleg"})] * len(ev.candidates)
    tied = Evidence(ev.candidates, ev.vectors, scores, np.zeros_like(ev.features), held, {"deleg": 1.0}, 1.0)
    model = load_answerer()
    _, one = extract(tied, [hit], answerer=replace(model, tie_ratio=1.0, min_gain=0.0, max_similarity=1.0))
    _, both = extract(tied, [hit], answerer=replace(model, tie_ratio=0.8, min_gain=0.0, max_similarity=1.0))
    assert len(one) == 1 and len(both) == 1  # one passage: the two adjacent sentences join one quote
    assert both[0].end - both[0].start > one[0].end - one[0].start
