"""`python -m bench` (what `make bench` runs): every benchmark on SciFact, written to BENCHMARKS.md."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.figures import figure_rows
from bench.suite import BenchConfig, run_bench
from rag.errors import RagError
from rag.offline import apply_offline_env


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value!r}")
    return n


def _sizes(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in value.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"chunk counts separated by commas, got {value!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"positive chunk counts, got {value!r}")
    return sizes


def parser() -> argparse.ArgumentParser:
    """Declare the options: those of the former `rag bench`, --skip-formats and --sessions."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--beir",
        type=Path,
        default=Path("../shared/bench/scifact"),
        help="BEIR SciFact folder (corpus.jsonl, queries.jsonl) [default: %(default)s]",
    )
    p.add_argument("--docs", type=_positive, default=None, help="use the first N documents [default: all]")
    p.add_argument("--out", type=Path, default=Path("."), help="folder for BENCHMARKS.md and bench.json")
    p.add_argument(
        "--skip-serve", action="store_true", help="don't start `rag serve` (no start-up or chat-load figures)"
    )
    p.add_argument(
        "--scale", type=_sizes, default=(1_000, 10_000, 100_000), help="synthetic collection sizes, in chunks"
    )
    p.add_argument(
        "--skip-formats", action="store_true", help="don't time document formats (bench/formats.py)"
    )
    p.add_argument("--queries", type=_positive, default=200, help="SciFact queries timed per figure")
    p.add_argument("--ask-runs", type=_positive, default=3, help="`rag ask` cold runs (median)")
    p.add_argument(
        "--sessions",
        type=_positive,
        default=2_000,
        help="questions, each in a new Gradio session, for the memory plateau [default: %(default)s]",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print its targets; a missing dataset or a failed child is one line, exit 1."""
    apply_offline_env()
    args = parser().parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    config = BenchConfig(
        beir=args.beir,
        out=args.out,
        command=shlex.join(["python", "-m", "bench", *given]),
        docs=args.docs,
        queries=args.queries,
        scale=args.scale,
        ask_runs=args.ask_runs,
        skip_serve=args.skip_serve,
        skip_formats=args.skip_formats,
        sessions=args.sessions,
    )
    try:
        result = run_bench(config, lambda stage: print(f"bench: {stage}", file=sys.stderr, flush=True))
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    for t in result["targets"]:
        met = "–" if t["met"] is None else ("yes" if t["met"] else "NO")
        print(f"{met:>3}  {t['target']}: {t['value']} (goal {t['goal']})")
    written = f"{args.out / 'BENCHMARKS.md'} and {args.out / 'bench.json'}"
    print(f"{len(figure_rows(result))} figures, and what limits each target: {written}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
