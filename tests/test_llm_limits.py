"""The chain's chat-call slots: shared by threads and event loops, first come first served, bounded waits."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from rag.limits import LLMLimit


def test_slots_are_taken_and_given_back() -> None:
    limit = LLMLimit(2)
    assert limit.acquire(0) and limit.acquire(0)
    assert limit.busy == 2
    began = time.monotonic()
    assert not limit.acquire(0.2)  # full: waits its time, then gives up
    assert 0.15 < time.monotonic() - began < 1.0
    assert limit.waiting == 0  # a waiter that gave up left the queue
    limit.release()
    assert limit.acquire(0)
    limit.release()
    limit.release()
    assert limit.busy == 0


def test_waiters_are_served_in_order() -> None:
    limit = LLMLimit(1)
    assert limit.acquire(0)
    order: list[int] = []

    def wait(n: int) -> None:
        assert limit.acquire(5)
        order.append(n)
        limit.release()

    threads = []
    for n in range(3):
        t = threading.Thread(target=wait, args=(n,))
        t.start()
        threads.append(t)
        while limit.waiting < n + 1:
            time.sleep(0.005)
    limit.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2] and limit.busy == 0


def test_an_event_loop_waits_without_blocking_and_threads_share_the_slots() -> None:
    limit = LLMLimit(1)
    assert limit.acquire(0)  # a thread holds the only slot

    async def main() -> tuple[bool, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        threading.Timer(0.3, limit.release).start()  # the thread lets go a bit later
        got = await limit.aacquire(5)
        ticker.cancel()
        return got, ticks

    got, ticks = asyncio.run(main())
    assert got and ticks >= 10  # the loop kept running while it waited
    assert limit.busy == 1
    limit.release()
    assert limit.busy == 0


def test_an_async_waiter_times_out_or_is_cancelled_without_leaking_a_slot() -> None:
    limit = LLMLimit(1)
    assert limit.acquire(0)

    async def main() -> None:
        assert not await limit.aacquire(0.1)
        assert limit.waiting == 0
        waiter = asyncio.create_task(limit.aacquire(5))
        await asyncio.sleep(0.05)
        assert limit.waiting == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert limit.waiting == 0

    asyncio.run(main())
    limit.release()
    assert limit.busy == 0 and limit.acquire(0)


def test_a_slot_needs_a_count() -> None:
    with pytest.raises(ValueError):
        LLMLimit(0)


def test_threads_and_tasks_together_never_exceed_the_limit() -> None:
    limit = LLMLimit(2)
    lock = threading.Lock()
    held = peak = 0
    done = 0

    def enter() -> None:
        nonlocal held, peak
        with lock:
            held += 1
            peak = max(peak, held)

    def leave() -> None:
        nonlocal held, done
        with lock:
            held -= 1
            done += 1

    def thread_user() -> None:
        for _ in range(5):
            assert limit.acquire(10)
            enter()
            time.sleep(0.005)
            leave()
            limit.release()

    async def task_user() -> None:
        for _ in range(5):
            assert await limit.aacquire(10)
            enter()
            await asyncio.sleep(0.005)
            leave()
            limit.release()

    async def main() -> None:
        await asyncio.gather(*(task_user() for _ in range(4)))

    threads = [threading.Thread(target=thread_user) for _ in range(4)]
    for t in threads:
        t.start()
    asyncio.run(main())
    for t in threads:
        t.join(10)
    assert done == 40 and peak <= 2 and limit.busy == 0 and limit.waiting == 0
