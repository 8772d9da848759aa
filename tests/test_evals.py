"""Evals: metrics against hand-computed cases, dataset validation, `rag eval`, `rag eval-retrieval`.

`test_seed_eval_meets_the_project_minimums` is the CI gate: `make test` runs the seed dataset through
`rag eval` with the --min/--max values the project meets, so a regression fails the build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from typer.testing import CliRunner

from rag.cli import app
from rag.evals.beir import doc_file, doc_id, rank_documents, score_run
from rag.evals.judge import judge_answer, parse_grades
from rag.evals.metrics import (
    SUMMARY_KEYS,
    DatasetError,
    Row,
    Span,
    best_threshold,
    citation_scores,
    exact_match,
    flatten,
    known_metric,
    load_dataset,
    normalize_answer,
    percentile,
    refusal_prf,
    refusal_scores,
    refusal_sweep,
    retrieval_scores,
    score_row,
    strip_markers,
    summarize,
    token_f1,
)
from rag.evals.run import check_thresholds
from rag.schema import REFUSAL, Answer, Citation, Passage
from tests.conftest import HANOI_2024, ROOT, SEEDS

SEED_QA = ROOT / "evals" / "datasets" / "seed_qa.jsonl"
CONVERSATIONS = ROOT / "evals" / "datasets" / "conversations.jsonl"
# What the project meets now (see evals/README.md); a regression below these fails `make test`.
# The seed set's figures before issue 13 (evals/README.md): 47 of 58 passed, citation precision 0.600,
# answer-first 0.609, refusal accuracy 0.60 at 4.2 % false refusals, 75.5 words an answer. After the
# sign-constrained refit (issue 13): 44 passed, precision 0.762, answer-first 0.787, refusal 0.40 at
# 2.1 % false refusals, 47.8 words. The earlier gate had 60x weight on these 58 rows and refused 6 of
# 10 in sample, 1 of 10 out of fold; the refit is fitted on 192 news rows and is better out of fold.
MINIMUMS = {
    "retrieval.hit_at_k": 0.95,
    "retrieval.recall_at_k": 0.9,
    "retrieval.mrr": 0.8,
    "citation.precision": 0.85,  # 0.904 now (the answer encoder, evals/README.md ninth pass)
    "citation.recall": 0.6,
    "citation.answer_first": 0.85,  # 0.915 now
    "answer.f1": 0.15,
    "groundedness": 0.99,
    "refusal.accuracy": 0.8,  # 0.9 now (the refusal rules of issue 13's sixth pass)
    "refusal.f1": 0.8,  # 0.9 now
    "passed": 53,  # 54 now
}
MAXIMUMS = {"refusal.false_rate": 0.05, "answer.words": 45}  # 39 words now
# The multi-turn set at its level after conversation handling (evals/README.md), overall and by kind.
CONVERSATION_MINIMUMS = {
    "passed": 25,  # 26 now
    "retrieval.hit_at_k": 0.95,
    "citation.recall": 0.7,
    "refusal.accuracy": 0.55,
    # 5 of 5 now: "What is the population of Pyongyang?" is refused since the sixth pass (what it
    # asks of Pyongyang is in neither article); one may sit near the threshold ("What is the best way
    # to learn Korean?"). conversations_dev and the check set refuse all of theirs (evals/README.md).
    "by_kind.off-corpus-after.refusal.recall": 0.8,
    "by_kind.topic-switch.passed": 4,
    "by_kind.follow-up.passed": 10,
}
CONVERSATION_MAXIMUMS = {"refusal.false_rate": 0.11}
PLOTS = ("metrics.png", "latency.png", "questions.png")


# --- metrics ----------------------------------------------------------------------------------


def test_retrieval_scores_by_overlap() -> None:
    gold = [Span("a", 10, 20)]
    retrieved = [Span("a", 0, 10), Span("b", 10, 20), Span("a", 19, 30), Span("a", 12, 14)]
    # a:0-10 ends where the quote starts (no shared character); b is another file; a:19-30 shares one.
    assert retrieval_scores(retrieved, gold, k=4) == (1.0, 1.0, 1 / 3)
    assert retrieval_scores(retrieved, gold, k=2) == (0.0, 0.0, 0.0)
    two = [Span("a", 10, 20), Span("b", 100, 120)]
    assert retrieval_scores(retrieved, two, k=3) == (1.0, 0.5, 1 / 3)
    assert retrieval_scores([Span("b", 110, 200), Span("a", 0, 50)], two, k=5) == (1.0, 1.0, 1.0)


def test_citation_precision_and_recall() -> None:
    gold = [Span("a", 15, 25), Span("b", 0, 10)]
    cited = [Span("a", 10, 20), Span("a", 50, 60)]
    assert citation_scores(cited, gold) == (0.5, 0.5)
    assert citation_scores([], gold) == (None, 0.0)
    assert citation_scores([Span("b", 5, 6), Span("a", 24, 30)], gold) == (1.0, 1.0)


def test_squad_normalisation_f1_and_exact_match() -> None:
    assert normalize_answer("The  Yongbyon nuclear facility!") == "yongbyon nuclear facility"
    assert normalize_answer("Kim’s “new way”") == normalize_answer("Kims new way") == "kims new way"
    assert exact_match("The Soviet Union.", "soviet union") == 1.0
    assert exact_match("the Soviet Union", "Russia") == 0.0
    # pred {yongbyon, nuclear, facility}, gold {yongbyon, facility}: P = 2/3, R = 1, F1 = 0.8
    assert token_f1("the Yongbyon nuclear facility", "Yongbyon facility") == pytest.approx(0.8)
    # repeated tokens count once per occurrence: pred [a, a, b] vs gold [a, c] -> common 1, P 1/3, R 1/2
    assert token_f1("x x y", "x z") == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert token_f1("", "") == 1.0 and token_f1("the", "Russia") == 0.0
    assert strip_markers("Trump walked out. [1] Kim offered Yongbyon [2, 3].") == (
        "Trump walked out. Kim offered Yongbyon."
    )


def test_refusal_metrics_and_threshold_sweep() -> None:
    results = [
        {"answerable": True, "refused": False, "evidence_score": 0.7},
        {"answerable": True, "refused": True, "evidence_score": 0.5},
        {"answerable": True, "refused": False, "evidence_score": 0.65},
        {"answerable": True, "refused": False, "evidence_score": 0.8},
        {"answerable": False, "refused": True, "evidence_score": 0.3},
        {"answerable": False, "refused": False, "evidence_score": 0.6},
    ]
    assert refusal_scores(results) == (0.5, 0.25)
    sweep = refusal_sweep(results, [0.4, 0.55, 0.62, 0.7])
    assert sweep == [(0.4, 0.5, 0.0), (0.55, 0.5, 0.25), (0.62, 1.0, 0.25), (0.7, 1.0, 0.5)]
    assert best_threshold(sweep) == (0.62, 1.0, 0.25)
    # A tie on accuracy minus false rate goes to fewer false refusals.
    assert best_threshold([(0.5, 0.5, 0.0), (0.6, 0.75, 0.25)]) == (0.5, 0.5, 0.0)


def test_refusal_precision_recall_and_f1() -> None:
    def rows(*pairs: tuple[bool, bool]) -> list[dict[str, bool]]:
        return [{"answerable": a, "refused": r} for a, r in pairs]

    # 3 unanswerable (2 refused), 2 answerable (1 refused): P = 2/3, R = 2/3, F1 = 2/3
    results = rows((False, True), (False, True), (False, False), (True, True), (True, False))
    precision, recall, f1 = refusal_prf(results)
    assert (precision, recall, f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert refusal_prf(rows((False, True), (True, False))) == (1.0, 1.0, 1.0)
    assert refusal_prf(rows((False, False), (True, True))) == (0.0, 0.0, 0.0)
    assert refusal_prf(rows((True, False))) == (None, None, None)  # nothing refused, nothing to refuse
    assert refusal_prf(rows((False, False))) == (None, 0.0, None)


def _answer(text: str, spans: list[Span], refused: bool = False) -> SimpleNamespace:
    citations = [SimpleNamespace(source=s.source, start=s.start, end=s.end) for s in spans]
    return SimpleNamespace(
        text=text,
        refused=refused,
        citations=citations,
        sentences=[text],
        unsupported=[],
        retrieval_query="q",
        history_used=False,
        timings={"total_ms": 10.0},
    )


def test_summary_adds_answer_first_length_and_every_metric_by_kind() -> None:
    gold = (Span("a", 0, 10),)
    rows = [
        Row("first", "q1", (), "x", True, gold, kind="follow-up", turns=("earlier?",)),
        Row("second", "q2", (), "x", True, gold, kind="follow-up"),
        Row("off", "q3", (), None, False, ()),
        Row("plain", "q4", (), "x", True, gold),
    ]
    answers = [
        _answer("One two three [1].", [Span("a", 2, 5)]),  # gold cited first
        _answer("Four five [1] six seven [2].", [Span("a", 50, 60), Span("a", 5, 8)]),  # gold second
        _answer(REFUSAL, [], refused=True),
        _answer(REFUSAL, [], refused=True),  # a false refusal
    ]
    results = [score_row(r, a, [Span("a", 0, 100)], 5) for r, a in zip(rows, answers, strict=True)]
    assert [r["kind"] for r in results] == ["follow-up", "follow-up", "unanswerable", "answerable"]
    assert [r["first_gold"] for r in results] == [1.0, 0.0, None, None]
    assert [r["words"] for r in results] == [3, 4, None, None]  # markers are not words
    summary = summarize(results, {"k": 5})
    assert summary["citation"]["answer_first"] == 0.5 and summary["answer"]["words"] == 3.5
    assert summary["refusal"] == {
        "accuracy": 1.0,
        "false_rate": 0.3333,
        "precision": 0.5,
        "recall": 1.0,
        "f1": 0.6667,
    }
    by_kind = summary["by_kind"]
    assert list(by_kind) == ["answerable", "follow-up", "unanswerable"]
    assert by_kind["follow-up"]["n"] == 2 and by_kind["follow-up"]["passed"] == 2
    assert by_kind["follow-up"]["citation"]["precision"] == 0.75
    assert by_kind["answerable"]["refusal"]["false_rate"] == 1.0 and by_kind["answerable"]["passed"] == 0
    # Every summary key exists for each kind, so --min can name any of them.
    flat = flatten(summary)
    assert all(f"by_kind.follow-up.{key}" in flat for key in SUMMARY_KEYS)
    assert known_metric("by_kind.follow-up.citation.precision") and known_metric("refusal.f1")
    assert not known_metric("by_kind.follow-up") and not known_metric("by_kind..passed")
    assert not known_metric("by_kind.x.nope")


def test_percentiles_match_numpy() -> None:
    values = [120.0, 10.0, 40.0, 30.0, 20.0]
    assert percentile(values, 50) == 30.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)  # 30 + 0.85 * 10
    assert percentile(values, 95) == pytest.approx(float(np.percentile(values, 95)))
    assert percentile([], 50) is None and percentile([7.0], 95) == 7.0


def test_thresholds_and_flat_keys() -> None:
    summary = {"n": 3, "retrieval": {"mrr": 0.5}, "refusal": {"false_rate": 0.2, "accuracy": None}}
    assert flatten(summary) == {
        "n": 3,
        "retrieval.mrr": 0.5,
        "refusal.false_rate": 0.2,
        "refusal.accuracy": None,
    }
    assert check_thresholds(summary, {"retrieval.mrr": 0.5}, {"refusal.false_rate": 0.2}) == []
    failed = check_thresholds(
        summary, {"retrieval.mrr": 0.6, "refusal.accuracy": 0.1}, {"refusal.false_rate": 0.1}
    )
    assert len(failed) == 3 and "retrieval.mrr = 0.5 is below the minimum 0.6" in failed


def test_judge_grades_are_parsed_defensively() -> None:
    assert parse_grades('{"correctness": 4, "faithfulness": 5}') == {
        "judge_correctness": 4.0,
        "judge_faithfulness": 5.0,
    }
    assert parse_grades('Sure! {"correctness": 9} and no more') == {
        "judge_correctness": None,
        "judge_faithfulness": None,
    }


def test_the_judge_grades_an_answer_from_its_cited_passages() -> None:
    passage = Passage(
        rank=1, id="p1", source=HANOI_2024, title="t", page=None, start=0, end=40, score=0.9, text="x" * 40
    )
    citation = Citation(
        n=1, source=HANOI_2024, title="t", page=None, start=5, end=15, quote="x" * 10, score=0.8
    )
    answer = Answer(text="Trump walked out [1].", citations=[citation], mode="extractive", passages=[passage])
    row = Row(
        "hanoi", "Why did the Hanoi summit collapse?", (), "Trump walked out", True, (Span(HANOI_2024, 0, 9),)
    )
    model = GenericFakeChatModel(messages=iter([AIMessage(content='{"correctness": 4, "faithfulness": 5}')]))
    assert judge_answer(model, row, answer, None) == {"judge_correctness": 4.0, "judge_faithfulness": 5.0}


# --- the dataset ------------------------------------------------------------------------------


def _write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


GOOD = {
    "id": "hanoi",
    "question": "Why did the Hanoi summit collapse?",
    "answer": "Trump walked out",
    "answerable": True,
    "evidence": [{"source": HANOI_2024, "quote": "Trump walked out of the summit in Hanoi"}],
}


def test_dataset_rows_are_validated(tmp_path: Path) -> None:
    rows = load_dataset(_write(tmp_path, GOOD), SEEDS)
    text = (SEEDS / HANOI_2024).read_text(encoding="utf-8")
    span = rows[0].evidence[0]
    assert text[span.start : span.end] == "Trump walked out of the summit in Hanoi"

    bad_quote = {**GOOD, "id": "made-up", "evidence": [{"source": HANOI_2024, "quote": "Trump stayed"}]}
    with pytest.raises(DatasetError, match=r"row 'made-up'.*quote not found"):
        load_dataset(_write(tmp_path, GOOD, bad_quote), SEEDS)
    with pytest.raises(DatasetError, match=r"line 2: not valid JSON"):
        load_dataset(_write(tmp_path, GOOD, '{"id": "broken", "question": '), SEEDS)
    with pytest.raises(DatasetError, match=r"row 'hanoi'.*nope\.txt"):
        load_dataset(_write(tmp_path, {**GOOD, "evidence": [{"source": "nope.txt", "quote": "x"}]}), SEEDS)
    with pytest.raises(DatasetError, match="appears twice"):
        load_dataset(_write(tmp_path, GOOD, GOOD), SEEDS)
    with pytest.raises(DatasetError, match="unanswerable row"):
        load_dataset(_write(tmp_path, {**GOOD, "answerable": False}), SEEDS)


def test_turns_and_kinds_are_validated(tmp_path: Path) -> None:
    row = {**GOOD, "id": "follow", "kind": "follow-up", "turns": ["Who is Kim Chol Won?"]}
    (loaded,) = load_dataset(_write(tmp_path, row), SEEDS)
    assert loaded.turns == ("Who is Kim Chol Won?",) and loaded.group == "follow-up"
    assert load_dataset(_write(tmp_path, GOOD), SEEDS)[0].group == "answerable"
    with pytest.raises(DatasetError, match="'turns' must be a list"):
        load_dataset(_write(tmp_path, {**row, "turns": "Who is Kim Chol Won?"}), SEEDS)
    with pytest.raises(DatasetError, match="not both"):
        load_dataset(_write(tmp_path, {**row, "history": [["q", "a"]]}), SEEDS)
    with pytest.raises(DatasetError, match="'kind' must be one word"):
        load_dataset(_write(tmp_path, {**row, "kind": "follow up"}), SEEDS)


def test_conversation_dataset_covers_what_it_should() -> None:
    rows = load_dataset(CONVERSATIONS, SEEDS)
    assert len(rows) >= 20
    kinds = {r.group for r in rows}
    assert {"follow-up", "topic-switch", "off-corpus-after", "unanswerable-follow-up"} <= kinds
    assert all(r.turns for r in rows if r.group != "opening")
    assert sum(len(r.turns) >= 2 for r in rows) >= 3
    assert all(not r.answerable for r in rows if r.group in ("off-corpus-after", "unanswerable-follow-up"))
    assert {r.question for r in rows} >= {
        "Why did the Hanoi summit collapse?",
        "What is a good recipe for kimchi?",
        "What did the KCNA statement say about Trump?",
    }


def _words(question: str) -> set[str]:
    return set(re.findall(r"\w+", question.lower()))


def test_training_questions_stay_apart_from_the_sets_that_measure() -> None:
    """Every dataset loads against the seeds with unique ids, and no question of news_train (written
    to fit on) is a near copy of a question of a set we measure with (the dev sets never fitted on
    and the check sets): 60 % or more of their words in common (Jaccard)."""
    datasets = ROOT / "evals" / "datasets"
    rows = {path.stem: load_dataset(path, SEEDS) for path in sorted(datasets.glob("*.jsonl"))}
    for name, part in rows.items():
        assert len({r.id for r in part}) == len(part), name
    fitted = ("seed_qa", "news_dev", "news_train", "conversations", "conversations_dev")
    measured = [n for n in rows if n not in fitted]
    assert {"news_more", "news_fresh", "news_check", "conversations_check"} <= set(measured)
    assert len(rows["news_train"]) >= 150
    train = [(r.id, _words(r.question)) for r in rows["news_train"]]
    for name in measured:
        for row in rows[name]:
            words = _words(row.question)
            close = [i for i, w in train if len(words & w) / len(words | w) >= 0.6]
            assert not close, (name, row.id, close)


def test_seed_dataset_covers_what_it_should() -> None:
    rows = load_dataset(SEED_QA, SEEDS)
    assert len(rows) >= 40
    assert sum(not r.answerable for r in rows) >= 8
    assert sum(bool(r.history) for r in rows) >= 4
    assert sum(len({s.source for s in r.evidence}) > 1 for r in rows) >= 3  # cross-document


# --- rag eval ---------------------------------------------------------------------------------


def _eval_args(tmp_path: Path, dataset: Path, out: str) -> list[str]:
    return [
        "eval",
        "--dataset",
        str(dataset),
        "--corpus",
        str(SEEDS),
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / out),
    ]


def test_seed_eval_meets_the_project_minimums(tmp_path: Path) -> None:
    limits = [f"--min={k}={v}" for k, v in MINIMUMS.items()] + [f"--max={k}={v}" for k, v in MAXIMUMS.items()]
    result = CliRunner().invoke(app, [*_eval_args(tmp_path, SEED_QA, "report"), *limits])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    flat = flatten(summary)
    assert set(SUMMARY_KEYS) <= flat.keys()
    assert {"k", "mode", "llm", "embedding_model", "corpus_hash"} <= summary["config"].keys()
    assert summary["config"]["collection"].startswith("eval-") and summary["n"] >= 40
    results = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(results) == summary["n"] and {"id", "passed", "citations", "latency_ms"} <= results[0].keys()
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "# Evaluation report" in report and "## By kind" in report
    assert set(summary["by_kind"]) == {"answerable", "follow-up", "unanswerable"}
    for name in PLOTS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "retrieval.mrr" in result.output
    # Retrieval is scored on the passages each answer was built from, searched with its own query.
    follow = next(r for r in results if r["kind"] == "follow-up" and r["history_used"])
    assert follow["retrieval_query"] != follow["question"] and len(follow["retrieved"]) == 5


def test_conversation_eval_replays_turns_and_meets_its_floor(tmp_path: Path) -> None:
    limits = [f"--min={k}={v}" for k, v in CONVERSATION_MINIMUMS.items()]
    limits += [f"--max={k}={v}" for k, v in CONVERSATION_MAXIMUMS.items()]
    result = CliRunner().invoke(app, [*_eval_args(tmp_path, CONVERSATIONS, "conv"), *limits])
    assert result.exit_code == 0, result.output
    out = tmp_path / "conv"
    results = {
        r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text(encoding="utf-8").splitlines())
    }
    # The must-show session: a new topic after an answered one is searched alone.
    kimchi, kcna = results["hanoi-kimchi"], results["hanoi-kimchi-kcna"]
    assert kimchi["turns"] == ["Why did the Hanoi summit collapse?"] and kimchi["refused"]
    assert kimchi["retrieval_query"] == kimchi["question"] and not kimchi["history_used"]
    assert kcna["retrieval_query"] == kcna["question"] and kcna["passed"]
    # A follow-up is searched with the turn it refers to, replayed through the chain.
    assert results["deleg-sign"]["history_used"] and "delegation" in results["deleg-sign"]["retrieval_query"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["by_kind"]["off-corpus-after"]["n"] >= 5


def test_eval_fails_a_minimum_and_rejects_unknown_metrics(tmp_path: Path) -> None:
    dataset = _write(
        tmp_path,
        GOOD,
        {
            "id": "kimchi",
            "question": "What is a good recipe for kimchi?",
            "answer": None,
            "answerable": False,
            "evidence": [],
        },
    )
    failed = CliRunner().invoke(
        app, [*_eval_args(tmp_path, dataset, "r1"), "--min", "answer.exact_match=1.0"]
    )
    assert failed.exit_code == 1
    assert "answer.exact_match" in failed.output and (tmp_path / "r1" / "summary.json").exists()
    unknown = CliRunner().invoke(app, [*_eval_args(tmp_path, dataset, "r2"), "--min", "accuracy=0.5"])
    assert unknown.exit_code == 1 and "unknown metric 'accuracy'" in unknown.output
    assert "Traceback" not in unknown.output and not (tmp_path / "r2").exists()
    bad = _write(
        tmp_path, {**GOOD, "id": "made-up", "evidence": [{"source": HANOI_2024, "quote": "no such"}]}
    )
    rejected = CliRunner().invoke(app, _eval_args(tmp_path, bad, "r3"))
    assert rejected.exit_code == 1 and "made-up" in rejected.output


# --- rag eval-retrieval -----------------------------------------------------------------------


def test_beir_ids_map_to_files_and_documents_score_their_best_chunk() -> None:
    for id_ in ("4983", "a/b c", ".hidden", "ünï"):
        name = doc_file(id_)
        assert "/" not in name and not name.startswith(".") and doc_id(name) == id_
    hits = [SimpleNamespace(source=doc_file(d), score=s) for d, s in [("x", 0.2), ("y", 0.9), ("x", 0.95)]]
    assert rank_documents(hits) == {"x": 0.95, "y": 0.9}
    assert rank_documents(hits, limit=1) == {"x": 0.95}


def test_beir_scores_count_queries_without_results() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    scores = score_run(qrels, {"q1": {"d1": 2.0, "d3": 1.0}, "q2": {}})
    assert scores == {"ndcg_at_10": 0.5, "recall_at_100": 0.5, "mrr_at_10": 0.5}
    # d1 at rank 2 of q1: nDCG = 1/log2(3), MRR = 1/2
    second = score_run({"q1": {"d1": 1}}, {"q1": {"d3": 2.0, "d1": 1.0}})
    assert second["ndcg_at_10"] == pytest.approx(1 / np.log2(3), abs=1e-4) and second["mrr_at_10"] == 0.5


def test_eval_retrieval_on_a_tiny_beir_folder(tmp_path: Path) -> None:
    beir = tmp_path / "tiny"
    (beir / "qrels").mkdir(parents=True)
    docs = {
        "d1": ("Photosynthesis", "Chlorophyll in plant leaves turns sunlight into chemical energy."),
        "d2": ("Volcanoes", "Magma rises through the crust and erupts as lava and ash."),
        "d3": ("Tides", "The moon's gravity pulls the oceans, raising tides twice a day."),
        "d/4": ("Glaciers", "Compacted snow flows downhill as slow rivers of ice."),
    }
    (beir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in docs.items())
    )
    queries = {
        "q1": "how do plants use chlorophyll and sunlight",
        "q2": "lava eruption magma",
        "q9": "unjudged",
    }
    (beir / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items())
    )
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    out = tmp_path / "out"
    args = ["eval-retrieval", "--beir", str(beir), "--data-dir", str(tmp_path / "data"), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads((out / "beir-tiny-test.json").read_text())
    assert payload["queries"] == 2 and payload["documents"] == 4 and payload["chunks"] == 4
    assert set(payload["results"]) == {"vector", "bm25", "hybrid"}
    for scores in payload["results"].values():
        assert scores["ndcg_at_10"] == 1.0 and scores["mrr_at_10"] == 1.0 and scores["recall_at_100"] == 1.0
    again = CliRunner().invoke(app, [*args, "--mode", "bm25"])  # the index is reused
    assert again.exit_code == 0 and "0 chunks embedded" in again.output
    missing = CliRunner().invoke(app, ["eval-retrieval", "--beir", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "corpus.jsonl is missing" in missing.output
