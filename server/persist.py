"""Sessions that outlive their process: write-through to the record store, restore on a miss.

    persistence = Persistence(open_store(settings.store, zoo.home(settings.home)), models, settings)
    store = SessionStore(settings, persistence=persistence)   # the in-memory registry calls the hooks below

- `attach(session)`: every committed change (`Session.apply`) is written before the change is
  acknowledged (the session calls `save` before telling anyone); a photo's original and adapted layers
  are written once, off the event loop, when its adaptation is adopted.
- `restore(sid)`: a session this process does not hold (after a restart, or made by another replica)
  is rebuilt from its records, or None.
- `forget(sid)`: deleted or expired sessions leave the store; evicted ones stay (they can come back).
Previews, frames and composites are never stored. Records expire with the session's own TTL.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from ganpaint.paint.model import PaintModel

from .persistence import RecordStore, StoreError
from .session_codec import CodecError, decode_session, encode_photo, encode_session, read_model_id
from .sessions import Changed, Event, Session, SessionError
from .settings import Settings

__all__ = ["Persistence"]

log = logging.getLogger("ganpaint.server")

PHOTO_SUFFIX = ":photo"


class Persistence:
    def __init__(self, records: RecordStore, models: dict[str, PaintModel], settings: Settings, *,
                 clock: Callable[[], float] | None = None) -> None:
        self.records, self.models, self.settings = records, models, settings
        self._touched: dict[str, float] = {}
        self._photo_written: dict[str, object] = {}  # session id → the adaptation its photo record holds
        self._pending: set[asyncio.Future] = set()

    def _ttl(self, s: Session) -> float:
        return s.ttl_s if s.ttl_s is not None else self.settings.session_ttl_s

    # ------------------------------------------------------------------ writing
    def attach(self, s: Session, *, save: bool = True) -> None:
        """Write the session now (unless it was just restored) and on every committed change."""
        s.saver = self.save
        s.subscribe(lambda event: self._on_event(s, event))
        if save:
            self.save(s)

    def save(self, s: Session) -> None:
        """Write the session's record; SessionError 503 when the store cannot take it."""
        try:
            self.records.put(s.id, encode_session(s), ttl_s=self._ttl(s))
        except StoreError as e:
            log.error("session %s not saved: %s", s.id[:8], e)
            raise SessionError("the session store is unavailable; try again shortly", 503) from None

    def _on_event(self, s: Session, event: Event) -> None:
        if isinstance(event, Changed) and s.adaptation is not None and self._photo_written.get(s.id) is not s.adaptation:
            self._photo_written[s.id] = s.adaptation
            self._in_thread(self._save_photo, s)

    def _save_photo(self, s: Session) -> None:
        if s.closed or s.photo is None:
            return
        try:
            self.records.put(s.id + PHOTO_SUFFIX, encode_photo(s, s.adaptation), ttl_s=self._ttl(s))
        except StoreError as e:
            log.error("photo of session %s not saved: %s", s.id[:8], e)

    def _in_thread(self, fn, *args) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop (tests, scripts): just do it
            fn(*args)
            return
        fut = loop.run_in_executor(None, fn, *args)
        self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for background writes (photos) to finish: shutdown and tests."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def touch(self, s: Session, now: float) -> None:
        """Keep the records alive while the session is used (at most every 1/20 of its TTL)."""
        ttl = self._ttl(s)
        if now - self._touched.get(s.id, float("-inf")) < ttl / 20:
            return
        self._touched[s.id] = now
        try:
            self.records.touch(s.id, ttl_s=ttl)
            if s.photo is not None:
                self.records.touch(s.id + PHOTO_SUFFIX, ttl_s=ttl)
        except StoreError as e:
            log.warning("session %s not touched in the store: %s", s.id[:8], e)

    # ------------------------------------------------------------------ reading and forgetting
    def restore(self, sid: str, clock: Callable[[], float]) -> Session | None:
        try:
            data = self.records.get(sid)
            if data is None:
                return None
            model_id = read_model_id(data)
            model = self.models.get(model_id)
            if model is None:
                log.warning("session %s needs model %r, which this server has not loaded", sid[:8], model_id)
                return None
            photo = self.records.get(sid + PHOTO_SUFFIX)
            s = decode_session(data, photo, model, self.settings, clock=clock)
        except StoreError as e:
            log.error("session %s not restored: %s", sid[:8], e)
            raise SessionError("the session store is unavailable; try again shortly", 503) from None
        except (CodecError, ValueError, KeyError) as e:
            log.error("session %s has an unreadable record: %s", sid[:8], e)
            return None
        self._touched[sid] = clock()
        if s.adaptation is not None:
            self._photo_written[sid] = s.adaptation  # its photo record is the one just read
        return s

    def release(self, sid: str) -> None:
        """The session left memory (evicted, expired or deleted): drop what this object keeps of it (its
        records stay until forget or their TTL; restore reads them again)."""
        self._touched.pop(sid, None)
        self._photo_written.pop(sid, None)

    def forget(self, sid: str) -> None:
        self.release(sid)
        try:
            self.records.delete(sid)
            self.records.delete(sid + PHOTO_SUFFIX)
        except StoreError as e:
            log.warning("session %s not removed from the store: %s", sid[:8], e)
