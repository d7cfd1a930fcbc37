"""The embedded default: one SQLite file under GANPAINT_HOME, so a restarted server keeps its sessions.

Writes are committed before `put` returns (WAL journal, synchronous=NORMAL: a committed record survives
a process crash; a power cut may lose the last ones). One connection guarded by a lock: records are
small and writes are rare next to renders. Expired rows are removed lazily on read and by `sweep`.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable

from .base import StoreError


class SQLiteStore:
    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path, self.clock = Path(path), clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data BLOB NOT NULL, "
                             "expires REAL NOT NULL)")
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the session store {self.path}: {e}") from None
        self._lock = threading.Lock()
        self.sweep()

    def put(self, sid: str, data: bytes, *, ttl_s: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO sessions (id, data, expires) VALUES (?, ?, ?)",
                             (sid, sqlite3.Binary(data), self.clock() + ttl_s))

    def get(self, sid: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT data, expires FROM sessions WHERE id = ?", (sid,)).fetchone()
            if row is None:
                return None
            if row[1] <= self.clock():
                self._db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
                return None
            return bytes(row[0])

    def touch(self, sid: str, *, ttl_s: float) -> None:
        with self._lock:
            self._db.execute("UPDATE sessions SET expires = ? WHERE id = ?", (self.clock() + ttl_s, sid))

    def delete(self, sid: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id = ?", (sid,))

    def sweep(self) -> int:
        """Remove expired records; returns how many."""
        with self._lock:
            return self._db.execute("DELETE FROM sessions WHERE expires <= ?", (self.clock(),)).rowcount

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM sessions WHERE expires > ?", (self.clock(),)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
