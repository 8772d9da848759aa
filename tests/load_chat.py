"""Load a running `rag serve` with concurrent chat sessions: `python -m tests.load_chat --url URL`.

Each simulated user is its own gradio_client session asking a few seed questions in turn; every
answer must cite the source that holds it. Prints p50/p95 latency and answers per second as JSON.
Requests go only to the URL given (use a server on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# (question, the source files one of which its answer must cite)
QUESTIONS = [
    ("Why did the Hanoi summit collapse?", "000_6854160968a17922.txt 002_a7a77883c45afa15.txt"),
    ("Who headed the Russian prosecutors' delegation to Pyongyang?", "000_6854160968a17922.txt"),
    (
        "Which countries signed a trilateral statement favoring limited sanctions relief?",
        "002_a7a77883c45afa15.txt",
    ),
    ("When did Putin visit Pyongyang?", "000_6854160968a17922.txt"),
    ("Who was a major benefactor for Kim's grandfather?", "002_a7a77883c45afa15.txt"),
]


def _user(url: str, user: int, questions: int) -> list[dict[str, Any]]:
    from gradio_client import Client

    # httpx's 5 s default times out 50 sessions connecting at once to a server on 2 busy cores.
    client = Client(
        url, verbose=False, analytics_enabled=False, download_files=False, httpx_kwargs={"timeout": 60}
    )
    out = []
    for i in range(questions):
        question, source = QUESTIONS[(user + i) % len(QUESTIONS)]
        began = time.perf_counter()
        try:
            _, _, answer = client.predict(question, api_name="/chat")
            ok = not answer["refused"] and any(c["source"] in source.split() for c in answer["citations"])
            error = None
        except Exception as e:  # a load test counts failures instead of stopping at the first
            ok, error = False, f"{type(e).__name__}: {e}"[:200]
        out.append(
            {
                "user": user,
                "question": question,
                "ok": ok,
                "error": error,
                "seconds": time.perf_counter() - began,
            }
        )
        client.reset_session()  # unrelated questions: like pressing Clear chat, no history carried over
    return out


def run_load(url: str, users: int, questions: int) -> dict[str, Any]:
    """Run `users` concurrent sessions of `questions` questions each; summarise."""
    began = time.perf_counter()
    with ThreadPoolExecutor(users) as pool:
        results = [r for rs in pool.map(lambda u: _user(url, u, questions), range(users)) for r in rs]
    wall = time.perf_counter() - began
    latencies = sorted(r["seconds"] for r in results)
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
    return {
        "users": users,
        "questions_per_user": questions,
        "answers": len(results),
        "correct": sum(r["ok"] for r in results),
        "errors": [r["error"] for r in results if r["error"]],
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(p95, 3),
        "answers_per_s": round(len(results) / wall, 2),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    """Parse arguments, run the load, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run_load(args.url, args.users, args.questions), indent=2))


if __name__ == "__main__":
    main()
