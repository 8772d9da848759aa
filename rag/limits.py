"""A limit on calls in flight that threads and event loops share: the chain's chat-model slots."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable


class LLMLimit:
    """At most `slots` holders at once; the others wait first come, first served, for a bounded time.

    Written by hand because one chain serves both kinds of callers: `threading.Semaphore` would block
    an event loop, `asyncio.Semaphore` belongs to one loop, and a waiter parked in
    `asyncio.to_thread(semaphore.acquire)` would hold one of the default executor's few threads, the
    ones extractive answers retrieve in.
    """

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("an LLM limit needs at least one slot")
        self.slots = slots
        self._lock = threading.Lock()
        self._busy = 0
        # Each waiter is a function that hands it the slot; it returns False when the waiter is gone.
        self._waiters: deque[Callable[[], bool]] = deque()

    @property
    def busy(self) -> int:
        """Slots held now."""
        with self._lock:
            return self._busy

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot now."""
        with self._lock:
            return len(self._waiters)

    def _take(self) -> bool:
        if self._busy < self.slots and not self._waiters:
            self._busy += 1
            return True
        return False

    def acquire(self, timeout: float) -> bool:
        """Take a slot, waiting at most `timeout` seconds; tell whether one was taken."""
        granted = threading.Event()

        def wake() -> bool:
            granted.set()
            return True

        with self._lock:
            if self._take():
                return True
            self._waiters.append(wake)
        if granted.wait(timeout):
            return True
        return not self._withdraw(wake)

    async def aacquire(self, timeout: float) -> bool:
        """Take a slot without blocking the event loop, waiting at most `timeout` seconds."""
        loop = asyncio.get_running_loop()
        granted: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not granted.done():
                granted.set_result(None)

        def wake() -> bool:
            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:  # the loop is closed: its waiter is gone
                return False
            return True

        with self._lock:
            if self._take():
                return True
            self._waiters.append(wake)
        try:
            await asyncio.wait_for(granted, timeout)
        except TimeoutError:
            return not self._withdraw(wake)  # False, unless the slot was handed over as time ran out
        except BaseException:  # cancelled: leave the queue, or pass on a slot handed over meanwhile
            if not self._withdraw(wake):
                self.release()
            raise
        return True

    def _withdraw(self, wake: Callable[[], bool]) -> bool:
        """Leave the queue; False when the slot was already handed to this waiter."""
        with self._lock:
            try:
                self._waiters.remove(wake)
            except ValueError:
                return False
            return True

    def release(self) -> None:
        """Give a slot back: to the longest waiter, else to the pool."""
        with self._lock:
            while self._waiters:
                if self._waiters.popleft()():
                    return
            self._busy -= 1
