"""A record store in this process's memory: for tests and for deployments that want no persistence."""
from __future__ import annotations

import threading
import time
from typing import Callable


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._data: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def put(self, sid: str, data: bytes, *, ttl_s: float) -> None:
        with self._lock:
            self._data[sid] = (bytes(data), self.clock() + ttl_s)

    def get(self, sid: str) -> bytes | None:
        with self._lock:
            hit = self._data.get(sid)
            if hit is None:
                return None
            if hit[1] <= self.clock():
                del self._data[sid]
                return None
            return hit[0]

    def touch(self, sid: str, *, ttl_s: float) -> None:
        with self._lock:
            if sid in self._data:
                self._data[sid] = (self._data[sid][0], self.clock() + ttl_s)

    def delete(self, sid: str) -> None:
        with self._lock:
            self._data.pop(sid, None)

    def close(self) -> None:
        pass
