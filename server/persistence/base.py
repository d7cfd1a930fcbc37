"""The record store's interface: bytes by session id, each with a time to live."""
from __future__ import annotations

from typing import Protocol, runtime_checkable


class StoreError(RuntimeError):
    """The store is misconfigured or cannot be reached; the message says which."""


@runtime_checkable
class RecordStore(Protocol):
    def put(self, sid: str, data: bytes, *, ttl_s: float) -> None:
        """Store (replace) a session's record; it expires `ttl_s` seconds after its last put or touch."""

    def get(self, sid: str) -> bytes | None:
        """The record, or None when there is none or it has expired."""

    def touch(self, sid: str, *, ttl_s: float) -> None:
        """Push the record's expiry to now + ttl_s (no-op when absent)."""

    def delete(self, sid: str) -> None:
        """Forget the record now (no-op when absent)."""

    def close(self) -> None:
        """Release connections."""
