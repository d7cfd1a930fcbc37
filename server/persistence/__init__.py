"""Where sessions outlive their process: a small record store behind one interface.

    store = open_store(settings.store, home)        # None/"" → SQLite under home; "redis://…" → Redis
    store.put(sid, data, ttl_s=3600)                # bytes, written through before the change is acknowledged
    store.get(sid)                                  # bytes, or None once deleted or expired
    store.touch(sid, ttl_s=3600); store.delete(sid)

A record is opaque bytes here (server.session_codec turns a session into bytes and back); previews are
never stored, only committed states.
"""
from __future__ import annotations

from pathlib import Path

from .base import RecordStore, StoreError
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["RecordStore", "StoreError", "MemoryStore", "SQLiteStore", "open_store"]


def open_store(url: str | None, home: Path) -> RecordStore | None:
    """The store a setting names: unset → SQLite file under `home`; "none" (sessions live in memory only);
    "memory:" (records in this process); "sqlite:///path"; "redis://…"."""
    if url == "none":
        return None
    if not url:
        return SQLiteStore(Path(home) / "sessions.sqlite3")
    if url == "memory:":
        return MemoryStore()
    if url.startswith("sqlite:///"):
        return SQLiteStore(Path(url[len("sqlite:///") - 1:]))
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_store import RedisStore

        return RedisStore(url)
    raise StoreError(f"GANPAINT_STORE must be unset, 'none', 'memory:', 'sqlite:///path' or 'redis://…', not {url[:80]!r}")
