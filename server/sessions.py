"""Sessions: one image being edited, its cached activations and its undoable stroke history.

    store = SessionStore(settings)
    s = store.create("scenes", model, seed=7)          # evicts the oldest idle session when full
    s.commit(entry); s.undo(); s.redo(); s.delete(0); s.reset()
    alpha, value = s.composite(s.state)                # cached per state, safe from the render thread
    store.get(s.id)                                    # None once deleted or expired
    s.set_source(..., photo=photo, source={"kind": "photo", "status": "adapting", ...})   # see server.photos

History is a list of immutable states (tuples of strokes) with a cursor: commit, delete and reset
push a new state (so each is undoable), undo/redo move the cursor. States share stroke objects, so a
session's memory is bounded by max_history, max_strokes and max_session_points, plus small LRU caches
of composites and encoded frames. The shared model is only read, never changed. A photo session
also holds its photo (dropped with the session: `closed` tells a running job to stop) and cannot be
painted until its adaptation is done (`editable`).
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch

from ganpaint.edit import compose, over, stroke_edit
from ganpaint.model import PaintModel
from ganpaint.networks import Generator
from ganpaint.photo import Photo

from .settings import Settings
from .strokes import Entry

__all__ = ["State", "Session", "SessionStore", "SessionError", "StoreFull", "new_session_id"]

_COMPOSITES_KEPT = 3  # current state, its parent (previews of the next stroke), one spare for undo


def new_session_id() -> str:
    return secrets.token_hex(16)  # 128 random bits: the id is the only key to a session


class SessionError(ValueError):
    """An edit that cannot be done (nothing to undo, index out of range, ...); status is the HTTP code."""

    def __init__(self, detail: str, status: int = 409) -> None:
        super().__init__(detail)
        self.status = status


class StoreFull(RuntimeError):
    """Every session slot is held by an open websocket."""


@dataclass(frozen=True)
class State:
    id: int
    strokes: tuple[Entry, ...]
    parent: int | None = None  # the state this one extends by exactly its last stroke


class Session:
    def __init__(self, sid: str, model_id: str, model: PaintModel, settings: Settings, *,
                 seed: int | None, z: torch.Tensor, h: torch.Tensor, generator: Generator | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.id, self.model_id, self.model, self.settings = sid, model_id, model, settings
        self.clock = clock
        self.created = self.last_used = clock()
        self.connections = 0
        self.closed = False  # set once the store drops it: its photo job stops, its memory can go
        self.ttl_s: float | None = None  # idle time before expiry; None: settings.session_ttl_s
        self._lock = threading.Lock()  # guards the caches, which the render thread fills
        self._next_id = 0
        self.set_source(seed=seed, z=z, h=h, generator=generator)

    # ------------------------------------------------------------------ source
    def set_source(self, *, seed: int | None, z: torch.Tensor | None, h: torch.Tensor,
                   generator: Generator | None = None, source: dict | None = None,
                   photo: Photo | None = None) -> None:
        """A new image to edit (a seed, a latent, or a photo with its own adapted generator)."""
        assert h.dim() == 4 and h.shape[0] == 1, "h must be (1, C, s, s)"
        self.seed, self.z, self.h, self.generator, self.photo = seed, z, h, generator, photo
        self.source = source or ({"kind": "seed", "seed": seed} if seed is not None else {"kind": "z"})
        with self._lock:
            self._composites: OrderedDict[int, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
            self._frames: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self.history = [self._new_state(())]
        self.pos = 0

    def _new_state(self, strokes: tuple[Entry, ...], parent: int | None = None) -> State:
        self._next_id += 1
        return State(self._next_id, strokes, parent)

    def touch(self) -> None:
        self.last_used = self.clock()

    @property
    def editable(self) -> bool:
        """False while a photo's generator is not adapted yet (or its adaptation failed): h is a placeholder."""
        return self.source.get("kind") != "photo" or self.source.get("status") == "ready"

    def check_editable(self) -> None:
        if not self.editable:
            status = self.source.get("status")
            raise SessionError("the photo is still being adapted; paint when its job is done" if status == "adapting"
                               else f"the photo's adaptation {status}; upload it again", 409)

    def close(self) -> None:
        """Dropped by the store: forget the photo now (a job may still hold the session for one step)."""
        self.closed = True
        self.photo = None

    # ------------------------------------------------------------------ history
    @property
    def state(self) -> State:
        return self.history[self.pos]

    @property
    def undo_depth(self) -> int:
        return self.pos

    @property
    def redo_depth(self) -> int:
        return len(self.history) - 1 - self.pos

    def _push(self, state: State) -> State:
        self.history = self.history[: self.pos + 1] + [state]
        drop = max(0, len(self.history) - (self.settings.max_history + 1))
        while self._points(self.history[drop:]) > self.settings.max_session_points and drop < len(self.history) - 1:
            drop += 1  # forget the oldest undo steps before refusing a stroke
        self.history = self.history[drop:]
        self.pos = len(self.history) - 1
        return state

    @staticmethod
    def _points(states: list[State]) -> int:
        seen = {id(e): e.points for s in states for e in s.strokes}
        return sum(seen.values())

    def commit(self, entry: Entry) -> State:
        self.check_editable()
        cur = self.state
        if len(cur.strokes) >= self.settings.max_strokes:
            raise SessionError(
                f"an image holds at most {self.settings.max_strokes} strokes; undo, delete or reset", 422)
        if self._points([cur]) + entry.points > self.settings.max_session_points:
            raise SessionError(
                f"an image holds at most {self.settings.max_session_points} stroke points; delete or reset strokes",
                422)
        return self._push(self._new_state(cur.strokes + (entry,), parent=cur.id))

    def delete(self, index: int) -> State:
        strokes = self.state.strokes
        if not 0 <= index < len(strokes):
            raise SessionError(f"no stroke {index}: the image has {len(strokes)} strokes (0-based)", 404)
        return self._push(self._new_state(strokes[:index] + strokes[index + 1:]))

    def reset(self) -> State:
        if not self.state.strokes:
            return self.state  # already clean: nothing worth an undo step
        return self._push(self._new_state(()))

    def undo(self) -> State:
        if self.pos == 0:
            raise SessionError("nothing to undo")
        self.pos -= 1
        return self.state

    def redo(self) -> State:
        if self.redo_depth == 0:
            raise SessionError("nothing to redo")
        self.pos += 1
        return self.state

    # ------------------------------------------------------------------ caches (any thread)
    def composite(self, state: State) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha, value) of a committed state; built from its parent's when cached.

        compose() folds `over` from an empty edit, so extending the parent's composite by one
        stroke gives bit-identical tensors to composing all strokes again.
        """
        with self._lock:
            hit = self._composites.get(state.id)
            parent = self._composites.get(state.parent) if state.parent is not None else None
            if hit is not None:
                self._composites.move_to_end(state.id)
                return hit
        m = self.model
        if parent is not None:
            comp = over(parent, stroke_edit(state.strokes[-1].stroke, m.table, m.channels, m.layer_size))
        else:
            comp = compose([e.stroke for e in state.strokes], m.table, m.channels, m.layer_size)
        with self._lock:
            self._composites[state.id] = comp
            while len(self._composites) > _COMPOSITES_KEPT:
                self._composites.popitem(last=False)
        return comp

    def cached_frame(self, state_id: int, fmt: str) -> bytes | None:
        with self._lock:
            data = self._frames.get((state_id, fmt))
            if data is not None:
                self._frames.move_to_end((state_id, fmt))
            return data

    def store_frame(self, state_id: int, fmt: str, data: bytes) -> None:
        if self.settings.frame_cache <= 0:
            return
        with self._lock:
            self._frames[(state_id, fmt)] = data
            while len(self._frames) > self.settings.frame_cache:
                self._frames.popitem(last=False)

    # ------------------------------------------------------------------ reporting
    def describe(self) -> dict:
        r = self.model.resolution
        return {
            "id": self.id, "model": self.model_id, "seed": self.seed, "source": self.source,
            "width": r, "height": r, "state": self.state.id,
            "strokes": [e.public() for e in self.state.strokes],
            "undo_depth": self.undo_depth, "redo_depth": self.redo_depth,
            "max_strokes": self.settings.max_strokes, "ws": f"/api/sessions/{self.id}/ws",
        }

    def memory_bytes(self) -> int:
        """Approximate bytes this session holds beyond the shared model."""
        tensors = [self.h] + ([self.z] if self.z is not None else [])
        photo = self.photo
        extra = photo.original.nbytes + photo.square.nbytes if photo is not None else 0
        with self._lock:
            tensors += [t for comp in self._composites.values() for t in comp]
            frames = sum(len(b) for b in self._frames.values())
        n = sum(t.numel() * t.element_size() for t in tensors) + frames + extra
        entries = {id(e): e for s in self.history for e in s.strokes}
        # a point is a 2-tuple of floats (~64 B) plus its slot in the outer tuple; a mask is ≤ 32×32 bools
        n += sum(e.points * 72 + (e.stroke.mask.nbytes + 400 if e.stroke.mask is not None else 0) + 400
                 for e in entries.values())
        if self.generator is not None:  # a photo's: only its own layers, the rest is the model's
            base = self.model.render_generator
            shared = {t.data_ptr() for t in (*base.parameters(), *base.buffers())}
            n += sum(t.numel() * t.element_size() for t in (*self.generator.parameters(), *self.generator.buffers())
                     if t.data_ptr() not in shared)
        return n


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
