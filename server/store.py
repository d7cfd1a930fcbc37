"""The session store: sessions by id, least recently used first; expired or surplus idle sessions are dropped.

    store = SessionStore(settings)
    s = store.create("scenes", model, seed=7, z=z, h=h)   # evicts the oldest idle session when full (StoreFull)
    store.get(s.id)                                      # None once deleted or expired; touches it otherwise
    store.delete(s.id)                                   # closes it: its subscribers hear Closed, its job stops

A session with an open websocket (connections > 0) is never evicted or expired.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable

import torch

from ganpaint.model import PaintModel
from ganpaint.networks import Generator

from .sessions import Session, new_session_id
from .settings import Settings

__all__ = ["SessionStore", "StoreFull"]


class StoreFull(RuntimeError):
    """Every session slot is held by an open websocket."""


class SessionStore:
    """Sessions by id, least recently used first; expired or surplus idle sessions are dropped."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.clock = settings, clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self):
        return iter(list(self._sessions.values()))

    def add(self, session: Session) -> Session:
        self.sweep()
        while len(self._sessions) >= self.settings.max_sessions:
            idle = next((s for s in self._sessions.values() if s.connections == 0), None)
            if idle is None:
                raise StoreFull(f"all {self.settings.max_sessions} sessions are in use")
            self._sessions.pop(idle.id).close()
        self._sessions[session.id] = session
        return session

    def create(self, model_id: str, model: PaintModel, *, seed: int | None, z: torch.Tensor,
               h: torch.Tensor, generator: Generator | None = None) -> Session:
        s = Session(new_session_id(), model_id, model, self.settings, seed=seed, z=z, h=h,
                    generator=generator, clock=self.clock)
        return self.add(s)

    def _expired(self, s: Session, now: float) -> bool:
        ttl = s.ttl_s if s.ttl_s is not None else self.settings.session_ttl_s
        return s.connections == 0 and now - s.last_used > ttl

    def get(self, sid: str) -> Session | None:
        s = self._sessions.get(sid)
        if s is None:
            return None
        if self._expired(s, self.clock()):
            self._sessions.pop(sid).close()
            return None
        s.touch()
        self._sessions.move_to_end(sid)
        return s

    def delete(self, sid: str) -> bool:
        s = self._sessions.pop(sid, None)
        if s is not None:
            s.close()
        return s is not None

    def sweep(self) -> int:
        now = self.clock()
        dead = [sid for sid, s in self._sessions.items() if self._expired(s, now)]
        for sid in dead:
            self._sessions.pop(sid).close()
        return len(dead)
