"""Vector, BM25 and hybrid retrieval over the seeds, on embedded Chroma and a real Chroma server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag import Retriever, ingest, open_retriever
from rag.documents import load_text
from rag.embeddings import LocalEmbeddings
from rag.errors import IndexEmptyError, QuestionError, StoreError
from rag.retrieve import rrf, weighted_fusion
from rag.settings import Settings
from tests.conftest import HANOI_2024, SEEDS, ChromaServer

HANOI_Q = "Why did the Hanoi summit collapse?"
WALKED_OUT = (
    "Trump walked out of the summit in Hanoi, rejecting Kim’s offer"
    " to dismantle the Yongbyon nuclear facility"
)


@pytest.fixture
def retriever(make_settings: Callable[..., Settings], embeddings: LocalEmbeddings) -> Retriever:
    settings = make_settings()
    ingest(settings, embeddings=embeddings)
    return open_retriever(settings, embeddings)


def _rank_of(hits: list, needle: str) -> int | None:
    return next((h.rank for h in hits if needle in h.text), None)


def test_hanoi_question_finds_the_walk_out_passage(retriever: Retriever) -> None:
    hits = retriever.search(HANOI_Q, k=5, mode="hybrid")
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    # Measured: rank 2 in vector, 3 in hybrid; rank 1 is the 2019 article's "Since the collapse of
    # the second U.S.-North Korea summit in Hanoi" paragraph, closer in words and in MiniLM's space.
    assert _rank_of(hits, WALKED_OUT) in (1, 2, 3)
    assert _rank_of(retriever.search(HANOI_Q, k=5, mode="vector"), WALKED_OUT) in (1, 2)
    hit = next(h for h in hits if WALKED_OUT in h.text)
    assert hit.source == HANOI_2024
    assert load_text(SEEDS / hit.source)[hit.start : hit.end] == hit.text


def test_modes_score_their_own_way(retriever: Retriever) -> None:
    vector = retriever.search("Yongbyon nuclear facility", k=3, mode="vector")
    bm25 = retriever.search("Yongbyon nuclear facility", k=3, mode="bm25")
    hybrid = retriever.search("Yongbyon nuclear facility", k=3, mode="hybrid")
    assert "Yongbyon" in bm25[0].text and "Yongbyon" in hybrid[0].text and "Yongbyon" in vector[0].text
    assert all(-1.0 <= h.score <= 1.0 for h in vector)  # cosine similarity
    assert bm25[0].score > 1.0  # its own BM25 ÷ the best (1) + 1.5 × its document's ÷ the best
    assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)
    assert hybrid[0].score == pytest.approx(1.0)  # first in both lists: 0.65 × 1 + 0.35 × 1


def test_rrf_fusion_can_be_chosen(
    make_settings: Callable[..., Settings], embeddings: LocalEmbeddings
) -> None:
    settings = make_settings(fusion="rrf")
    ingest(settings, embeddings=embeddings)
    hits = open_retriever(settings, embeddings).search("Yongbyon nuclear facility", k=3, mode="hybrid")
    assert hits[0].score == pytest.approx(2 / 61)  # first in both lists under RRF(k=60)


def test_weighted_fusion_divides_each_list_by_its_best_and_floors_missing_ones() -> None:
    vector, lexical = [("a", 0.9), ("b", 0.5), ("c", 0.1)], [("c", 12.0), ("d", 2.0)]
    # Both lists cut at depth 2-3: vector a 1, b 5/9, c 1/9 (floor 1/9); BM25 c 1, d 1/6 (floor 1/6)
    fused = dict(weighted_fusion(vector, lexical, 0.6, depth=2))
    assert fused["a"] == pytest.approx(0.6 + 0.4 / 6)
    assert fused["b"] == pytest.approx(0.6 * 5 / 9 + 0.4 / 6)
    assert fused["c"] == pytest.approx(0.6 / 9 + 0.4)
    assert fused["d"] == pytest.approx(0.6 / 9 + 0.4 / 6)
    # Lists shorter than the depth asked for are complete: what is missing from them scores 0.
    complete = dict(weighted_fusion(vector, lexical, 0.6, depth=40))
    assert complete["a"] == pytest.approx(0.6) and complete["d"] == pytest.approx(0.4 / 6)
    assert [id_ for id_, _ in weighted_fusion([("a", 0.9)], [], 0.6)] == ["a"]


def test_bm25_stems_and_ignores_unknown_words(retriever: Retriever) -> None:
    stemmed = retriever.search("prosecutors delegations", k=2, mode="bm25")
    assert "delegation" in stemmed[0].text and "prosecutor" in stemmed[0].text
    assert retriever.search("zzyzx qwertyuiop", mode="bm25") == []


def test_hits_carry_documented_json(retriever: Retriever) -> None:
    hit = retriever.search(HANOI_Q, k=1)[0]
    assert list(hit.to_json()) == ["rank", "source", "title", "page", "start", "end", "score", "text"]


@pytest.mark.parametrize("query", ["", "   \n\t "])
def test_empty_query_is_a_clear_error(retriever: Retriever, query: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        retriever.search(query)


def test_huge_query_is_a_clear_error(retriever: Retriever) -> None:
    with pytest.raises(QuestionError, match="limit"):
        retriever.search("why " * 10_000)


def test_searching_before_ingest_says_what_to_do(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    with pytest.raises(IndexEmptyError, match="rag ingest"):
        open_retriever(Settings(data_dir=tmp_path / "empty"), embeddings)


def test_rrf_fuses_rankings() -> None:
    fused = dict(rrf([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["b"] == pytest.approx(1 / 62)
    assert list(fused) == ["a", "c", "b"]


def test_server_outage_is_one_clear_error_and_recovers(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    server = ChromaServer(tmp_path / "db")
    server.start()
    try:
        settings = Settings(
            corpus_dir=SEEDS, data_dir=tmp_path / "d", chroma_url=server.url, collection="outage"
        )
        ingest(settings, embeddings=embeddings)
        retriever = open_retriever(settings, embeddings)
        assert retriever.search(HANOI_Q, mode="vector")
        server.stop()
        with pytest.raises(StoreError, match=f"cannot reach the Chroma server at {server.url}"):
            retriever.search(HANOI_Q, mode="vector")
        server.start()
        assert retriever.search(HANOI_Q, mode="hybrid")
    finally:
        server.stop()


def test_bm25_lifts_passages_of_documents_about_the_question() -> None:
    from rag.lexical import BM25Index

    filler = "water was changed weekly and the tubing nets and filters were cleaned of algae"
    index = BM25Index.build(
        ["a1", "a2", "b1", "b2", "b3"],
        [
            "zebrafish regrow their fins within weeks",
            "methods: the fins were imaged",
            filler,
            "fins of the filter were imaged; the imaged fins were clean",
            filler,
        ],
        "g",
        (0.9, 0.4),
        sources=["zebrafish.txt", "zebrafish.txt", "tanks.txt", "tanks.txt", "tanks.txt"],
    )
    query = "zebrafish fins imaged"
    # By their own words the tank passage (fins, imaged twice) beats the paper's methods passage ...
    assert [id_ for id_, _ in index.search(query, 3)] == ["a1", "b2", "a2"]
    # ... with its document counted, the passage of the paper about zebrafish comes first.
    blended = index.search(query, 3, doc_weight=1.5)
    assert [id_ for id_, _ in blended] == ["a1", "a2", "b2"]
    assert blended[0][1] == pytest.approx(2.5)  # best chunk (1) + 1.5 × best document (1)
    assert index.search("zebrafish", 5, doc_weight=1.5) == [("a1", pytest.approx(2.5))]  # shares a term


def test_the_seeds_bm25_ranks_passages_by_their_own_words_within_a_document(retriever: Retriever) -> None:
    # Every passage of one document gets the same document score: their order is their own.
    bm25 = retriever.bm25()
    own = [i for i, _ in bm25.search("Putin visit Pyongyang June", 40)]
    blended = [i for i, _ in bm25.search("Putin visit Pyongyang June", 40, doc_weight=1.5)]
    by_source: dict[str, list[str]] = {}
    for record in retriever.store.get(own):
        by_source.setdefault(str(record.metadata["source"]), []).append(record.id)
    for ids in by_source.values():
        assert [i for i in own if i in ids] == [i for i in blended if i in ids]


def test_a_bm25_index_saved_without_documents_is_rebuilt(
    make_settings: Callable[..., Settings], embeddings: LocalEmbeddings
) -> None:
    import json
    import shutil

    from rag.lexical import BM25_FIELDS, BM25Index, side_index_dir

    settings = make_settings()
    ingest(settings, embeddings=embeddings)
    folder = side_index_dir(settings)
    version = folder / (folder / "CURRENT").read_text(encoding="utf-8")
    state = json.loads((version / "state.json").read_text(encoding="utf-8"))
    del state["fields"]  # as saved before documents were indexed too
    (version / "state.json").write_text(json.dumps(state), encoding="utf-8")
    shutil.rmtree(version / "documents")
    (version / "chunk_doc.npy").unlink()
    assert open_retriever(settings, embeddings).search("Yongbyon", mode="bm25")
    rebuilt = BM25Index.load(folder)
    assert rebuilt is not None and rebuilt.fields == BM25_FIELDS and rebuilt.doc_retriever is not None
