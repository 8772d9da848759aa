"""Run the chain over a dataset and write the evaluation: results.jsonl, summary.json, report.md, plots."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from rag.evals.metrics import Row, Span, flatten, score_row, summarize
from rag.evals.report import PLOTS, EvalRun, render_markdown, write_plots
from rag.schema import ChatInput, Turn, to_turns
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.chain import RagChain

__all__ = [
    "PLOTS",
    "EvalRun",
    "check_thresholds",
    "corpus_hash",
    "eval_settings",
    "run_config",
    "run_eval",
    "write_report",
]


def corpus_hash(corpus_dir: Path) -> str:
    """Hash the corpus: every indexable file's name and bytes."""
    from rag.sources import discover

    digest = hashlib.sha256()
    for path, source in discover([corpus_dir], corpus_dir).files:
        digest.update(f"{source}\x00{hashlib.sha256(path.read_bytes()).hexdigest()}\x00".encode())
    return digest.hexdigest()


def eval_settings(settings: Settings, corpus_dir: Path, digest: str) -> Settings:
    """Return settings with the eval's own collection: one per corpus content and embedding model."""
    key = hashlib.sha256(f"{digest}\x00{settings.embedding_model_id}".encode()).hexdigest()[:8]
    return settings.model_copy(update={"corpus_dir": corpus_dir, "collection": f"eval-{key}"})


def run_config(settings: Settings, digest: str, dataset: Path) -> dict[str, Any]:
    """Describe what a run measured, for summary.json."""
    return {
        "k": settings.top_k,
        "mode": settings.retrieval_mode,
        "llm": settings.llm_mode,
        "chat_model": settings.chat_model if settings.llm_mode == "openai" else None,
        "embedding_model": settings.embedding_model_id,
        "corpus_hash": digest,
        "corpus": str(settings.corpus_dir),
        "dataset": str(dataset),
        "refuse_below": settings.refuse_below,
        "collection": settings.collection,
    }


def run_eval(
    settings: Settings,
    rows: Sequence[Row],
    config: dict[str, Any],
    *,
    embeddings: Embeddings | None = None,
    judge: BaseChatModel | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> EvalRun:
    """Answer every row with the chain the UI uses, score it, and summarise (settings name the index).

    A row's `turns` are asked first, each with the answers before it as history, so the question is
    scored in the conversation the chain itself produced; rows that start alike share the replay.
    """
    from rag.chain import build_chain

    chain = build_chain(settings, embeddings=embeddings)
    chain.invoke({"question": rows[0].question})  # untimed warm-up: latencies are a warm chain's
    replayed: dict[tuple[str, ...], tuple[Turn, ...]] = {(): ()}
    results = []
    for row in rows:
        history = (
            _replay(chain, row.turns, replayed) if row.turns else to_turns([list(t) for t in row.history])
        )
        answer = chain.invoke(ChatInput(question=row.question, history=history))
        # Scored on the passages the answer was built from: the chain's own search, condensed query and all.
        retrieved = [Span(p.source, p.start, p.end) for p in answer.passages]
        result = score_row(row, answer, retrieved, chain.top_k)
        result["evidence_score"] = answer.evidence
        if judge is not None and row.answerable and row.answer is not None:
            from rag.evals.judge import judge_answer

            result.update(judge_answer(judge, row, answer, settings.prompts_dir))
        results.append(result)
        if on_row is not None:
            on_row(result)
    return EvalRun(results, summarize(results, config))


def _replay(
    chain: RagChain, turns: tuple[str, ...], done: dict[tuple[str, ...], tuple[Turn, ...]]
) -> tuple[Turn, ...]:
    """Return the history the chain builds answering `turns` in order (cached by prefix)."""
    if turns not in done:
        before = _replay(chain, turns[:-1], done)
        answer = chain.invoke(ChatInput(question=turns[-1], history=before))
        done[turns] = (*before, Turn(question=turns[-1], answer=answer.text))
    return done[turns]


def check_thresholds(
    summary: dict[str, Any], minimums: dict[str, float], maximums: dict[str, float]
) -> list[str]:
    """Return a line per failed --min/--max check (an absent metric fails)."""
    flat = flatten(summary)
    failed = []
    for name, limit in minimums.items():
        value = flat.get(name)
        if not isinstance(value, int | float) or value < limit:
            failed.append(f"{name} = {value} is below the minimum {limit}")
    for name, limit in maximums.items():
        value = flat.get(name)
        if not isinstance(value, int | float) or value > limit:
            failed.append(f"{name} = {value} is above the maximum {limit}")
    return failed


def write_report(run: EvalRun, out: Path) -> list[Path]:
    """Write every file of a run into `out` and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    results.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in run.results), encoding="utf-8"
    )
    summary = out / "summary.json"
    summary.write_text(json.dumps(run.summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plots = write_plots(run, out)
    report = out / "report.md"
    report.write_text(render_markdown(run), encoding="utf-8")
    return [results, summary, report, *plots]
