"""The chat under load: 50 concurrent Gradio sessions, then memory over thousands of new sessions.

Both drive one `rag serve` child on the seeds with `tests/load_chat.py` (gradio_client over real HTTP).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.proc import child_env, rag_command, run, vm_hwm_mb, vm_rss_mb
from bench.report import BenchError
from bench.serve import serving

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
LOAD_USERS, LOAD_QUESTIONS = 50, 3
PLATEAU_ROUNDS, PLATEAU_USERS = 8, 25
# Flat means the second half of the sessions adds less than this per session (today's leak: ~60 KB).
PLATEAU_KB_PER_SESSION = 10.0


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def plateau(curve: list[tuple[int, float | None]]) -> dict[str, Any]:
    """Judge an RSS curve [(sessions so far, MB)]: growth per session over its second half."""
    points = [(n, mb) for n, mb in curve if mb is not None]
    if len(points) < 3:
        return {"kb_per_session_second_half": None, "flat": None}
    last_n, last_mb = points[-1]
    half_n, half_mb = min(points, key=lambda p: abs(p[0] - last_n / 2))
    if last_n == half_n:
        return {"kb_per_session_second_half": None, "flat": None}
    per_session = (last_mb - half_mb) * 1024 / (last_n - half_n)
    return {
        "kb_per_session_second_half": round(per_session, 1),
        "flat": per_session < PLATEAU_KB_PER_SESSION,
    }


def _load(url: str, users: int, questions: int) -> dict[str, Any]:
    """Run tests/load_chat.py's load; a client that cannot even connect is a failed round, not a crash."""
    from tests.load_chat import run_load

    try:
        return run_load(url, users, questions)
    except Exception as e:  # gradio_client/httpx raise many types (timeouts when the server is swamped)
        error = f"{type(e).__name__} opening a gradio_client session: {e}"[:200]
        return {
            "users": users,
            "questions_per_user": questions,
            "answers": 0,
            "correct": 0,
            "errors": [error],
        }


def measure_chat_load(
    work: Path,
    sessions: int,
    on_stage: Callable[[str], None],
    users: int = LOAD_USERS,
    questions: int = LOAD_QUESTIONS,
) -> dict[str, Any]:
    """Serve the seeds; run `users` × `questions` concurrent sessions, then `sessions` new ones for RSS."""
    env = child_env(SEEDS, work / "load-data", "bench-load")
    indexed = run([*rag_command(), "ingest", "-q"], env)
    if indexed.code != 0:
        raise BenchError(
            f"rag ingest of the seeds exited with {indexed.code}: {indexed.stderr.strip()[-200:]}"
        )
    with serving(env) as served:
        pid = served.proc.pid
        on_stage(f"load: {users} concurrent chat sessions × {questions} questions")
        rss_start = vm_rss_mb(pid)
        load = _load(served.url, users, questions)
        if "p50_s" not in load:
            raise BenchError(f"{users} concurrent sessions: {load['errors'][0]}")
        load["peak_rss_mb"] = _mb(vm_hwm_mb(pid))
        load["rss_before_mb"] = _mb(rss_start)
        per_round_users = max(1, min(PLATEAU_USERS, sessions // PLATEAU_ROUNDS))
        per_user = max(1, sessions // (PLATEAU_ROUNDS * per_round_users))
        curve: list[tuple[int, float | None]] = [(0, vm_rss_mb(pid))]
        answered = correct = 0
        errors: list[str] = []
        began = time.perf_counter()
        for r in range(PLATEAU_ROUNDS):
            on_stage(f"memory: new sessions {answered:,}–{answered + per_round_users * per_user:,}")
            part = _load(served.url, per_round_users, per_user)
            answered += part["answers"]
            correct += part["correct"]
            errors += part["errors"]
            curve.append((answered, vm_rss_mb(pid)))
            if r == 0 and len(part["errors"]) >= part["answers"]:
                break  # every question failed: the curve would measure errors, not sessions
        memory: dict[str, Any] = {
            "sessions": answered,
            "correct": correct,
            "errors": errors[:5],
            "error_count": len(errors),
            "concurrency": per_round_users,
            "answers_per_s": round(answered / (time.perf_counter() - began), 2),
            "rss_mb": [[n, _mb(mb)] for n, mb in curve],
            "peak_rss_mb": _mb(vm_hwm_mb(pid)),
            **plateau(curve),
        }
    return {"load": load, "memory": memory}
