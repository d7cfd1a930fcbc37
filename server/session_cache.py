"""What a session remembers for the render thread: composites and reaches of its states, its unedited
picture, and encoded frames.

    cache = SessionCache(frames_kept=settings.frame_cache)
    alpha, value = cache.composite(state, on, build)    # build(parent_comp | None) -> (alpha, value)
    reach = cache.reach(state, build)                    # build(parent_reach | None) -> (R, R)
    img = cache.unedited(on, build)                      # build() -> (1, 3, R, R), kept per options
    reach = cache.preview_reach(stroke, build)           # build(stroke) -> (R, R), extended as it grows
    cache.frame(state.id, "jpeg") or cache.store_frame(state.id, "jpeg", data)
    cache.clear_frames()                                 # the options changed: old frames are wrong now

They are small LRU maps behind one lock: the session lives on the event loop, its frames are rendered
on the render thread, and either may read while the other writes.
"""
from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import torch

__all__ = ["SessionCache", "Comp"]

Comp = tuple[torch.Tensor, torch.Tensor]  # (alpha, value) of a state's strokes

_COMPOSITES_KEPT = 3  # current state, its parent (previews of the next stroke), one spare for undo


class _State(Protocol):
    id: int
    parent: int | None


def _extends(stroke, last) -> bool:
    """Is `stroke` the point stroke `last` with (possibly no) points added at its end, at the same radius?"""
    p, q = stroke.points, last.points
    return (p is not None and q is not None and stroke.radius == last.radius and stroke.strength > 0
            and last.strength > 0 and len(p) >= len(q) and p[: len(q)] == q)


class SessionCache:
    def __init__(self, frames_kept: int) -> None:
        self.frames_kept = frames_kept
        self._lock = threading.Lock()
        self._composites: OrderedDict[tuple[int, bool], Comp] = OrderedDict()
        self._frames: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self._reaches: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._unedited: dict[bool, torch.Tensor] = {}
        self._preview: tuple[object, torch.Tensor] | None = None  # the newest preview stroke and its reach

    def composite(self, state: _State, on: bool, build: Callable[[Comp | None], Comp]) -> Comp:
        """The cached composite of `state` (keyed also by whether the options' edit is under it), else
        build(parent's composite if cached, else None) and keep it."""
        return self._from_parent(self._composites, (state.id, on),
                                 (state.parent, on) if state.parent is not None else None, build)

    def reach(self, state: _State, build: Callable[[torch.Tensor | None], torch.Tensor]) -> torch.Tensor:
        """The cached reach of `state`, else build(parent's reach if cached, else None) and keep it."""
        return self._from_parent(self._reaches, state.id, state.parent, build)

    def _from_parent(self, store: OrderedDict, key, parent_key, build: Callable):
        """store[key] if kept, else build(store[parent_key] if kept, else None), kept among the newest
        _COMPOSITES_KEPT."""
        with self._lock:
            hit = store.get(key)
            parent = store.get(parent_key) if parent_key is not None else None
            if hit is not None:
                store.move_to_end(key)
                return hit
        value = build(parent)  # outside the lock: building is the slow part
        with self._lock:
            store[key] = value
            while len(store) > _COMPOSITES_KEPT:
                store.popitem(last=False)
        return value

    def preview_reach(self, stroke, build: Callable[[object], torch.Tensor]) -> torch.Tensor:
        """The reach of a preview stroke (build(stroke) -> (R, R)). A preview usually extends the previous
        one by a few points (the page sends the stroke so far): then only the new segments are measured and
        joined to the kept reach (a polyline's reach is the union of its segments')."""
        with self._lock:
            last = self._preview
        if last is not None and _extends(stroke, last[0]):
            k = len(last[0].points)
            if k == len(stroke.points):
                return last[1]
            reach = torch.maximum(last[1], build(dataclasses.replace(stroke, points=stroke.points[k - 1 :])))
        else:
            reach = build(stroke)
        with self._lock:
            self._preview = (stroke, reach)
        return reach

    def unedited(self, on: bool, build: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The picture without strokes (with the options' edit when `on`), built once."""
        with self._lock:
            hit = self._unedited.get(on)
        if hit is None:
            hit = build()  # two render threads may both build it: the same image, the last one kept
            with self._lock:
                self._unedited[on] = hit
        return hit

    def frame(self, state_id: int, fmt: str) -> bytes | None:
        with self._lock:
            data = self._frames.get((state_id, fmt))
            if data is not None:
                self._frames.move_to_end((state_id, fmt))
            return data

    def store_frame(self, state_id: int, fmt: str, data: bytes) -> None:
        if self.frames_kept <= 0:
            return
        with self._lock:
            self._frames[(state_id, fmt)] = data
            while len(self._frames) > self.frames_kept:
                self._frames.popitem(last=False)

    def clear_frames(self) -> None:
        with self._lock:
            self._frames.clear()

    def nbytes(self) -> int:
        """Bytes held in composites and frames."""
        with self._lock:
            tensors = [t for comp in self._composites.values() for t in comp]
            tensors += list(self._reaches.values()) + list(self._unedited.values())
            frames = sum(len(b) for b in self._frames.values())
        return sum(t.numel() * t.element_size() for t in tensors) + frames
