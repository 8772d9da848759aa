"""A public retrieval benchmark: a BEIR dataset indexed by the project's own ingestion, scored by trec_eval.

Each BEIR document becomes a file `<doc_id>.txt` (title, blank line, text) in a cache folder under the
data dir, ingested into a collection of its own (`beir-<name>`), so a re-run reuses the index. Retrieval
is by chunk, as in the chat; a document scores its best chunk's score.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from langchain_core.embeddings import Embeddings

from rag.errors import RagError
from rag.ingest import IngestReport
from rag.settings import RetrievalMode, Settings

METRICS = ("ndcg_at_10", "recall_at_100", "mrr_at_10")
CHUNKS_PER_QUERY = 300  # enough chunks to rank 100 documents of a few chunks each
DOCS_PER_QUERY = 100


class BenchmarkError(RagError):
    """A BEIR folder is missing or malformed."""


@dataclass(frozen=True)
class BeirData:
    """A BEIR dataset: documents (title, text), queries, and the relevance judgements of one split."""

    name: str
    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BenchmarkError(f"{path} is missing: a BEIR folder holds corpus.jsonl, queries.jsonl, qrels/")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                row["_id"] = str(row["_id"])
                rows.append(row)
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise BenchmarkError(f"{path} line {n}: not a JSON object with an _id ({e})") from None
    return rows


def load_beir(folder: Path, split: str = "test") -> BeirData:
    """Read corpus.jsonl, queries.jsonl and qrels/<split>.tsv; keep only queries with judgements."""
    rows = _jsonl(folder / "corpus.jsonl")
    corpus = {r["_id"]: (str(r.get("title") or ""), str(r.get("text") or "")) for r in rows}
    all_queries = {r["_id"]: str(r.get("text") or "") for r in _jsonl(folder / "queries.jsonl")}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise BenchmarkError(f"{qrels_path} is missing: no qrels for split {split!r}")
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split("\t")
        if n == 1 and not parts[-1].strip().lstrip("-").isdigit():
            continue  # the header: query-id, corpus-id, score
        if not line.strip():
            continue
        if len(parts) != 3 or not parts[2].strip().lstrip("-").isdigit():
            raise BenchmarkError(f"{qrels_path} line {n}: expected query-id<TAB>corpus-id<TAB>score")
        qrels.setdefault(parts[0].strip(), {})[parts[1].strip()] = int(parts[2])
    queries = {q: all_queries[q] for q in qrels if q in all_queries and all_queries[q].strip()}
    if not queries:
        raise BenchmarkError(f"no query of {qrels_path} is in queries.jsonl")
    return BeirData(folder.resolve().name, corpus, queries, {q: qrels[q] for q in queries})


def doc_file(doc_id: str) -> str:
    """Name the file of a document (ids are quoted so any id is a safe, visible file name)."""
    name = quote(doc_id, safe="")
    return ("%2E" + name[1:] if name.startswith(".") else name) + ".txt"


def doc_id(source: str) -> str:
    """Map a chunk's source file back to its document id."""
    return unquote(source.removesuffix(".txt"))


def collection_name(name: str) -> str:
    """Name the collection of a benchmark (Chroma: 3-63 characters, alphanumeric ends)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "data"
    return f"beir-{slug}"[:63].rstrip("-._")


def write_corpus(data: BeirData, folder: Path) -> Path:
    """Write each document as `<doc_id>.txt`, rewriting only changed files and removing stale ones."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    for id_, (title, text) in data.corpus.items():
        name = doc_file(id_)
        wanted.add(name)
        body = f"{title.strip()}\n\n{text.strip()}\n" if title.strip() else f"{text.strip()}\n"
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
    for path in folder.glob("*.txt"):
        if path.name not in wanted:
            path.unlink()
    return folder


def benchmark_settings(settings: Settings, data: BeirData) -> Settings:
    """Return the settings of the benchmark's own corpus folder and collection."""
    folder = settings.data_dir / "beir" / collection_name(data.name) / "corpus"
    return settings.model_copy(update={"corpus_dir": folder, "collection": collection_name(data.name)})


def rank_documents(hits: Sequence[Any], limit: int = DOCS_PER_QUERY) -> dict[str, float]:
    """Score each document by its best chunk and keep the `limit` best."""
    best: dict[str, float] = {}
    for hit in hits:
        id_ = doc_id(hit.source)
        best[id_] = max(best.get(id_, float("-inf")), float(hit.score))
    top = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return dict(top)


def score_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """Compute nDCG@10, recall@100 and MRR@10 with trec_eval (through ir-measures), over all queries."""
    import ir_measures
    from ir_measures import RR, R, nDCG

    # trec_eval averages over the queries that have results: give the empty ones a dummy document
    # so they count as zeros.
    full = {q: (run.get(q) or {"\x00none": 0.0}) for q in qrels}
    measures = {"ndcg_at_10": nDCG @ 10, "recall_at_100": R @ 100, "mrr_at_10": RR @ 10}
    found = ir_measures.calc_aggregate(list(measures.values()), qrels, full)
    return {key: round(float(found[m]), 4) for key, m in measures.items()}


def evaluate(
    settings: Settings,
    data: BeirData,
    modes: Sequence[RetrievalMode],
    *,
    embeddings: Embeddings | None = None,
    on_query: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Retrieve for every query in each mode and score the document rankings."""
    from rag.retrieve import open_retriever

    retriever = open_retriever(settings, embeddings)
    results: dict[str, Any] = {}
    for mode in modes:
        began = time.perf_counter()
        run: dict[str, dict[str, float]] = {}
        for qid, text in data.queries.items():
            run[qid] = rank_documents(retriever.search(text, k=CHUNKS_PER_QUERY, mode=mode))
            if on_query is not None:
                on_query()
        seconds = time.perf_counter() - began
        results[mode] = {
            **score_run(data.qrels, run),
            "queries": len(data.queries),
            "ms_per_query": round(1000 * seconds / max(1, len(data.queries)), 1),
        }
    return results


def results_payload(
    settings: Settings, data: BeirData, split: str, report: IngestReport, results: dict[str, Any]
) -> dict[str, Any]:
    """Return what `rag eval-retrieval` writes: the run's setup and its scores per mode."""
    return {
        "dataset": data.name,
        "split": split,
        "documents": len(data.corpus),
        "queries": len(data.queries),
        "chunks": report.chunks_total,
        "embedding_model": settings.embedding_model_id,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "rrf_k": settings.rrf_k,
        "index_seconds": round(report.seconds, 1),
        "results": results,
    }
