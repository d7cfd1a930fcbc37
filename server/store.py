"""The session store: sessions by id, least recently used first; expired or surplus idle sessions are dropped.

    store = SessionStore(settings)
    s = store.create("scenes", model, seed=7, z=z, h=h)   # evicts the oldest idle session when full (StoreFull)
    store.get(s.id)                                      # None once deleted or expired; touches it otherwise
    store.delete(s.id)                                   # closes it: its subscribers hear Closed, its job stops

A session with an open websocket (connections > 0) is never evicted or expired. When the store is
full, the least recently used session idle for `session_protect_s` goes first; only when there is none
does a recently used one go, and then the least recently used of the client holding the most
sessions. A client (`add(..., client=ip)`) holds at most `client_sessions`: its next one replaces its
own least recently used idle session, so a flood from one address recycles its own sessions and
never pushes anyone else out.
With a `persistence` (server.persist) every session is also written to the record store: a session
this process does not hold is restored from there on `get` (after a restart, or from another
replica), an evicted one can come back, and deleted or expired ones are forgotten there too.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable

import torch

from ganpaint.paint.model import PaintModel
from ganpaint.gan.networks import Generator

from .clients import TooMany
from .persist import Persistence
from .sessions import Session, new_session_id
from .settings import Settings

__all__ = ["SessionStore", "StoreFull"]


class StoreFull(RuntimeError):
    """Every session slot is held by an open websocket."""


class SessionStore:
    """Sessions by id, least recently used first; expired or surplus idle sessions are dropped."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic, *,
                 persistence: Persistence | None = None) -> None:
        self.settings, self.clock, self.persistence = settings, clock, persistence
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._owner: dict[str, str] = {}  # session id → the client (address) that made it

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self):
        return iter(list(self._sessions.values()))

    def add(self, session: Session, client: str | None = None, *, restored: bool = False) -> Session:
        self.sweep()
        if client is not None:
            mine = [s for s in self._sessions.values() if self._owner.get(s.id) == client]
            if len(mine) >= self.settings.client_sessions:
                own = self._least_recent(s for s in mine if s.connections == 0)
                if own is None:
                    raise TooMany(f"your address holds {len(mine)} sessions with open connections, the most "
                                  "allowed; close one", 30)
                self._drop(own.id)
        while len(self._sessions) >= self.settings.max_sessions:
            victim = self._victim()
            if victim is None:
                raise StoreFull(f"all {self.settings.max_sessions} sessions are in use")
            self._drop(victim.id)
        self._sessions[session.id] = session
        if self.persistence is not None:
            try:
                self.persistence.attach(session, save=not restored)
            except Exception:
                self._sessions.pop(session.id, None)
                raise
        if client is not None:
            self._owner[session.id] = client
        return session

    @staticmethod
    def _least_recent(sessions) -> Session | None:
        return min(sessions, key=lambda s: s.last_used, default=None)

    def _victim(self) -> Session | None:
        """Who makes room: an idle session if there is one, else the busiest client's least recent one."""
        now = self.clock()
        free = [s for s in self._sessions.values() if s.connections == 0]
        idle = self._least_recent(s for s in free if now - s.last_used > self.settings.session_protect_s)
        if idle is not None or not free:
            return idle
        held: dict[str | None, int] = {}
        for s in self._sessions.values():
            held[self._owner.get(s.id)] = held.get(self._owner.get(s.id), 0) + 1
        busiest = max(held.get(self._owner.get(s.id), 0) for s in free)
        return self._least_recent(s for s in free if held.get(self._owner.get(s.id), 0) == busiest)

    def _drop(self, sid: str) -> Session | None:
        """Out of memory (evicted or recycled); a persisted session can still come back from the store."""
        self._owner.pop(sid, None)
        s = self._sessions.pop(sid, None)
        if s is not None:
            s.close()
        if self.persistence is not None:
            self.persistence.release(sid)  # what it kept of the session (its adapted layers) goes too
        return s

    def create(self, model_id: str, model: PaintModel, *, seed: int | None, z: torch.Tensor,
               h: torch.Tensor, generator: Generator | None = None, client: str | None = None) -> Session:
        s = Session(new_session_id(), model_id, model, self.settings, seed=seed, z=z, h=h,
                    generator=generator, clock=self.clock)
        return self.add(s, client)

    def _expired(self, s: Session, now: float) -> bool:
        ttl = s.ttl_s if s.ttl_s is not None else self.settings.session_ttl_s
        return s.connections == 0 and now - s.last_used > ttl

    def get(self, sid: str) -> Session | None:
        s = self._sessions.get(sid)
        if s is None:
            if self.persistence is None:
                return None
            s = self.persistence.restore(sid, self.clock)  # a restart, or another replica's session
            if s is None:
                return None
            self.add(s, restored=True)
        if self._expired(s, self.clock()):
            self._forget(sid)
            return None
        s.touch()
        if self.persistence is not None:
            self.persistence.touch(s, self.clock())
        self._sessions.move_to_end(sid)
        return s

    def _forget(self, sid: str) -> Session | None:
        """Deleted or expired: gone from memory and from the record store."""
        s = self._drop(sid)
        if self.persistence is not None:
            self.persistence.forget(sid)
        return s

    def delete(self, sid: str) -> bool:
        return self._forget(sid) is not None

    def sweep(self) -> int:
        now = self.clock()
        dead = [sid for sid, s in self._sessions.items() if self._expired(s, now)]
        for sid in dead:
            self._forget(sid)
        return len(dead)
