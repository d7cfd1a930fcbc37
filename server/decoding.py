"""Image decoding off the event loop, shared fairly between clients.

    decoding = Decoding(threads=2)
    entries = await decoding.run(client_ip, parse_strokes, items, model, limits, budget)  # in a thread

A PNG mask of a few KB can take a second of CPU to decode (a 4096² RGBA one does), so no decoding
runs on the event loop: it runs in its own worker threads, at most `threads` at once, at a lower CPU
priority (nice +10 on Linux), so that on a busy machine the event loop and the render threads get the
cores first. Each client has at most one decode running or waiting for a thread, so a client that
floods the server queues behind itself while others' requests go in between. What one request may
cost is bounded by its callers (a per-request mask-pixel budget, see server.strokes.parse_strokes;
upload pixel limits).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

__all__ = ["Decoding"]

T = TypeVar("T")
log = logging.getLogger("ganpaint.server")


def _lower_priority(nice: int) -> None:
    try:  # on Linux a thread is a task with its own niceness; raising it needs no privilege
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
    except (AttributeError, OSError) as e:
        log.debug("decode threads keep the normal priority: %r", e)


class Decoding:
    def __init__(self, threads: int = 2, nice: int = 10) -> None:
        self.threads, self.nice = threads, nice
        self._pool: ThreadPoolExecutor | None = None  # made on first use, again after close() (an app restarted)
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}  # client → (its turn, requests holding or waiting)

    def waiting(self, client: str) -> int:
        return self._turns.get(client, (None, 0))[1]

    async def run(self, client: str, fn: Callable[..., T], *args: Any) -> T:
        lock, n = self._turns.get(client, (None, 0))
        lock = lock or asyncio.Lock()
        self._turns[client] = (lock, n + 1)
        try:
            async with lock:
                return await asyncio.get_running_loop().run_in_executor(self._executor(), functools.partial(fn, *args))
        finally:
            lock, n = self._turns[client]
            if n <= 1:
                del self._turns[client]
            else:
                self._turns[client] = (lock, n - 1)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ganpaint-decode",
                                            initializer=_lower_priority, initargs=(self.nice,))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
