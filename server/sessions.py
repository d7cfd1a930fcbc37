"""Sessions: one picture being edited, and its owner. Every change goes through `apply`; whoever shows
the picture subscribes to hear of changes.

    s = Session(new_session_id(), "scenes", model, settings, seed=7, z=z, h=model.features(z))
    unsubscribe = s.subscribe(listener)          # listener(Changed(state) | Progress(message) | Closed(reason))
    state = await s.apply(AddStroke(entry))      # also Undo(), Redo(), Reset(), DeleteStroke(i), SetSeed(n),
                                                 # SetOptions(remove_artifacts=True); SessionError if it cannot be done
    alpha, value = s.composite(s.state)          # cached per state, safe from the render thread
    reach, img0 = s.reach(s.state), s.unedited() # where the picture shows the strokes, and what it shows elsewhere
    s.adopt_photo(h, generator)                  # a photo's adaptation is done (server.photos)

History is a list of immutable states (tuples of strokes) with a cursor: commit, delete and reset
push a new state (so each is undoable), undo/redo move the cursor. States share stroke objects, so a
session's memory is bounded by max_history, max_strokes and max_session_points, plus small LRU caches
of composites and encoded frames (server.session_cache). The shared model is only read, never changed.
A photo session also holds its photo (dropped with the session: `closed` tells a running job to
stop) and cannot be painted until its adaptation is done (`editable`). Options (`remove_artifacts`)
are stored and reported but are not history: undo leaves them alone. Everything but the caches runs on the event loop.
"""
from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import torch

from ganpaint.photo.adapt import Adaptation
from ganpaint.dissect.artifact_units import removal_edit
from ganpaint.paint.edit import compose, over, stroke_edit
from ganpaint.paint.footprint import reach_map
from ganpaint.dissect.explorer import artifact_units_of
from ganpaint.paint.model import PaintModel
from ganpaint.gan.networks import Generator
from ganpaint.photo.photo import Photo

from .commands import AddStroke, Command, DeleteStroke, Redo, Reset, SetOptions, SetSeed, Undo
from .session_cache import Comp, SessionCache
from .settings import Settings
from .sources import PhotoSource, SeedSource, Source
from .strokes import Entry

__all__ = ["State", "Session", "SessionError", "SessionOptions", "Changed", "Progress", "Closed", "Event",
           "Listener", "new_session_id"]

log = logging.getLogger("ganpaint.server")

def new_session_id() -> str:
    return secrets.token_hex(16)  # 128 random bits: the id is the only key to a session


class SessionError(ValueError):
    """An edit that cannot be done (nothing to undo, index out of range, ...); status is the HTTP code."""

    def __init__(self, detail: str, status: int = 409) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class State:
    id: int
    strokes: tuple[Entry, ...]
    parent: int | None = None  # the state this one extends by exactly its last stroke


@dataclass(frozen=True)
class SessionOptions:
    remove_artifacts: bool = False  # render without the model's artifact units


# ---------------------------------------------------------------------- what subscribers hear
@dataclass(frozen=True)
class Changed:
    """A new state, source or options: show the state and a new frame."""

    state: State


@dataclass(frozen=True)
class Progress:
    """News of the photo's adaptation job: {"type": "progress", "job", "progress", "stage", ...}."""

    message: dict


@dataclass(frozen=True)
class Closed:
    """The session was deleted or expired; nothing more will come."""

    reason: str


Event = Changed | Progress | Closed
Listener = Callable[[Event], None]


class Session:
    def __init__(self, sid: str, model_id: str, model: PaintModel, settings: Settings, *,
                 seed: int | None = None, z: torch.Tensor | None, h: torch.Tensor,
                 generator: Generator | None = None, source: Source | None = None, photo: Photo | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.id, self.model_id, self.model, self.settings = sid, model_id, model, settings
        self.clock = clock
        self.created = self.last_used = clock()
        self.connections = 0  # open websockets: a session with any is never evicted or expired
        self.closed = False  # set once the store drops it: its photo job stops, its memory can go
        self.ttl_s: float | None = None  # idle time before expiry; None: settings.session_ttl_s
        self.options = SessionOptions()
        self.progress: dict | None = None  # the running photo job's newest progress message
        self.saver: Callable[[Session], None] | None = None  # writes committed changes through (server.persist)
        self._listeners: list[Listener] = []
        self._next_id = 0
        self.adaptation: Adaptation | None = None  # a photo's adapted state, kept for the record store
        self.set_source(source or SeedSource(seed), z=z, h=h, generator=generator, photo=photo)

    # ------------------------------------------------------------------ commands
    async def apply(self, command: Command) -> State:
        """Do one command and tell the subscribers; the current state after it."""
        if self.closed:
            raise SessionError("this session was deleted or has expired", 404)
        self.touch()
        match command:
            case AddStroke(final=False):
                self.check_editable()
                return self.state  # a preview changes nothing here: the socket that sent it draws it
            case AddStroke(entry=entry):
                self.commit(entry)
            case Undo():
                self.undo()
            case Redo():
                self.redo()
            case Reset():
                self.reset()
            case DeleteStroke(index=index):
                self.delete(index)
            case SetSeed(seed=seed):
                z = self.model.z_for_seed(seed)
                h = await anyio.to_thread.run_sync(self.model.features, z)
                self.set_source(SeedSource(seed), z=z, h=h)
            case SetOptions():
                changes = {k: v for k, v in dataclasses.asdict(command).items() if v is not None}
                options = dataclasses.replace(self.options, **changes)
                if options != self.options:
                    self.options = options
                    self.cache.clear_frames()  # frames of the old options must not be served again
            case _:
                raise TypeError(f"not a session command: {command!r}")
        self._save()
        self.publish(Changed(self.state))
        return self.state

    def _save(self) -> None:
        """Write the change through before anyone hears of it (SessionError 503 when the store fails)."""
        if self.saver is not None:
            self.saver(self)

    # ------------------------------------------------------------------ subscribers
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener(event) on every change (on the event loop); returns the unsubscribe function.
        A listener that joins while a photo is being adapted hears where its job stands at once."""
        self._listeners.append(listener)
        if self.progress is not None:
            listener(Progress(self.progress))

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    @property
    def subscribers(self) -> int:
        return len(self._listeners)

    def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken listener must not keep the news from the others
                log.exception("listener of session %s failed on %s", self.id[:8], type(event).__name__)

    # ------------------------------------------------------------------ source
    def set_source(self, source: Source, *, z: torch.Tensor | None, h: torch.Tensor,
                   generator: Generator | None = None, photo: Photo | None = None) -> None:
        """A new image to edit (a seed, a latent, or a photo with its own adapted generator); history restarts."""
        assert h.dim() == 4 and h.shape[0] == 1, "h must be (1, C, s, s)"
        self.source, self.z, self.h, self.generator, self.photo = source, z, h, generator, photo
        self.adaptation = None
        self.omissions: dict | None = None  # a photo's classes vs its reconstruction's (ganpaint.photo.photo_fit)
        self.cache = SessionCache(self.settings.frame_cache)
        self.history = [self._new_state(())]
        self.pos = 0

    @property
    def seed(self) -> int | None:
        return self.source.seed if isinstance(self.source, SeedSource) else None

    def _photo_source(self) -> PhotoSource:
        if not isinstance(self.source, PhotoSource):
            raise SessionError("the session moved on to another picture")
        return self.source

    def attach_job(self, job_id: str, progress: dict) -> None:
        """The photo's adaptation job was queued."""
        self.source = dataclasses.replace(self._photo_source(), job=job_id)
        self.progress = progress

    def report_progress(self, message: dict, *, ended: bool) -> None:
        """News of the photo's job for the subscribers (a listener joining later hears the newest, until it ends)."""
        self.progress = None if ended else message
        self.publish(Progress(message))

    def adopt_photo(self, h: torch.Tensor, generator: Generator, *, fit: dict | None = None,
                    omissions: dict | None = None, adaptation: Adaptation | None = None) -> None:
        """The photo's adaptation is done: paint on its activations with its adapted generator. `fit` and
        `omissions` say how well the model can draw the photo (ganpaint.photo.photo_fit); `adaptation` is what
        the record store keeps to restore it."""
        source = dataclasses.replace(self._photo_source(), status="ready", model_fit=fit)
        self.set_source(source, z=None, h=h, generator=generator, photo=self.photo)
        self.omissions = omissions
        self.adaptation = adaptation
        self._save_quietly()
        self.publish(Changed(self.state))

    def _save_quietly(self) -> None:
        try:
            self._save()
        except SessionError as e:  # not a client's command: the session goes on, the store may catch up
            log.error("session %s: %s", self.id[:8], e)

    def photo_failed(self, status: str, error: str | None) -> None:
        """The photo's adaptation failed or was cancelled: the session cannot be painted, so it keeps only
        the photo's model-size square to show (its full-resolution pixels are freed now)."""
        self.source = dataclasses.replace(self._photo_source(), status=status, error=error)
        if self.photo is not None:
            self.photo = self.photo.released()
            self.cache.clear_frames()
        self._save_quietly()
        self.publish(Changed(self.state))

    def _new_state(self, strokes: tuple[Entry, ...], parent: int | None = None) -> State:
        self._next_id += 1
        return State(self._next_id, strokes, parent)

    def touch(self) -> None:
        self.last_used = self.clock()

    @property
    def editable(self) -> bool:
        """False while a photo's generator is not adapted yet (or its adaptation failed): h is a placeholder."""
        return self.source.editable

    def check_editable(self) -> None:
        if not self.editable:
            status = self.source.status
            raise SessionError("the photo is still being adapted; paint when its job is done" if status == "adapting"
                               else f"the photo's adaptation {status}; upload it again", 409)

    def close(self, reason: str = "this session was deleted or has expired") -> None:
        """Dropped by the store: forget the photo now (a job may still hold the session for one step)."""
        if self.closed:
            return
        self.closed = True
        self.photo = None
        self.progress = None
        self.publish(Closed(reason))
        self._listeners.clear()

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
    def _options_base(self, apply: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The edit the session's options make under every stroke: the artifact units switched off everywhere."""
        units = artifact_units_of(self.model) if apply and self.options.remove_artifacts else []
        return removal_edit(self.model.channels, self.model.layer_size, units) if units else None

    def composite(self, state: State, *, options: bool = True) -> Comp:
        """(alpha, value) of a committed state; built from its parent's when cached. With `options`, the
        strokes composite over the options' edit (remove_artifacts), so they and undo work as without it.

        compose() folds `over` from the base edit, so extending the parent's composite by one
        stroke gives bit-identical tensors to composing all strokes again.
        """
        base = self._options_base(options)
        m = self.model

        def build(parent: Comp | None) -> Comp:
            if parent is not None:
                return over(parent, stroke_edit(state.strokes[-1].stroke, m.table, m.channels, m.layer_size))
            return compose([e.stroke for e in state.strokes], m.table, m.channels, m.layer_size, base=base)

        return self.cache.composite(state, base is not None, build)

    def reach(self, state: State) -> torch.Tensor | None:
        """Where the picture shows the state's strokes (footprint.reach_map), (R, R); None without strokes.
        Built from its parent's when cached, like composite()."""
        if not state.strokes:
            return None
        r = self.model.resolution

        def build(parent: torch.Tensor | None) -> torch.Tensor:
            if parent is not None:
                return torch.maximum(parent, reach_map([state.strokes[-1].stroke], r))
            return reach_map([e.stroke for e in state.strokes], r)

        return self.cache.reach(state, build)

    def preview_reach(self, stroke) -> torch.Tensor:
        """The reach of a stroke being previewed; a growing stroke's is extended, not measured again."""
        r = self.model.resolution
        return self.cache.preview_reach(stroke, lambda s: reach_map([s], r))

    def unedited(self) -> torch.Tensor:
        """The picture without strokes, with the options' edit (1, 3, R, R): what every edit is shown over
        beyond its reach. Rendered on first use (on the render thread) and kept."""
        on = bool(self.options.remove_artifacts and artifact_units_of(self.model))  # the key, without building

        def build() -> torch.Tensor:
            base = self._options_base(True)
            alpha, value = base if base is not None else (None, None)
            return self.model.render(self.h, alpha, value, generator=self.generator)

        return self.cache.unedited(on, build)

    def cached_frame(self, state_id: int, fmt: str) -> bytes | None:
        return self.cache.frame(state_id, fmt)

    def store_frame(self, state_id: int, fmt: str, data: bytes) -> None:
        self.cache.store_frame(state_id, fmt, data)

    # ------------------------------------------------------------------ reporting
    def describe(self) -> dict:
        r = self.model.resolution
        return {
            "id": self.id, "model": self.model_id, "seed": self.seed, "source": self.source.public(),
            "width": r, "height": r, "state": self.state.id,
            "strokes": [e.public() for e in self.state.strokes],
            "undo_depth": self.undo_depth, "redo_depth": self.redo_depth,
            "max_strokes": self.settings.max_strokes, "ws": f"/api/sessions/{self.id}/ws",
            "options": dataclasses.asdict(self.options),
        }

    def memory_bytes(self) -> int:
        """Approximate bytes this session holds beyond the shared model."""
        tensors = [self.h] + ([self.z] if self.z is not None else [])
        photo = self.photo
        extra = photo.nbytes if photo is not None else 0
        n = sum(t.numel() * t.element_size() for t in tensors) + self.cache.nbytes() + extra
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
