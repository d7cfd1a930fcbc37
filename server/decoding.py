"""Image decoding off the event loop, shared fairly between clients.

    decoding = Decoding(threads=2)
    entries = await decoding.run(client_ip, parse_strokes, items, model, limits, budget)

A PNG mask of a few KB can take a second of CPU to decode (a 4096² RGBA one does), so no decoding
runs on the event loop: it runs in worker threads, at most `threads` at once, and each client has at
most one decode running or waiting for a thread, so a client that floods the server queues behind
itself while others' requests go in between. What one request may cost is bounded by its callers
(a per-request mask-pixel budget, see server.strokes.parse_strokes; upload pixel limits).
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar

import anyio

__all__ = ["Decoding"]

T = TypeVar("T")


class Decoding:
    def __init__(self, threads: int = 2) -> None:
        self.limiter = anyio.CapacityLimiter(threads)
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}  # client → (its turn, requests holding or waiting)

    def waiting(self, client: str) -> int:
        return self._turns.get(client, (None, 0))[1]

    async def run(self, client: str, fn: Callable[..., T], *args: Any) -> T:
        lock, n = self._turns.get(client, (None, 0))
        lock = lock or asyncio.Lock()
        self._turns[client] = (lock, n + 1)
        try:
            async with lock:
                return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
        finally:
            lock, n = self._turns[client]
            if n <= 1:
                del self._turns[client]
            else:
                self._turns[client] = (lock, n - 1)
