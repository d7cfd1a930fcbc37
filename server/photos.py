"""Photo sessions: an upload becomes a session at once, and a background job adapts the generator to it.

    photos = Photos(settings, jobs, sessions)                       # one per app (PhotosDep)
    session, job = await photos.start("scenes", model, data, fit="crop")   # PhotoError, JobQueueFull, StoreFull
    data = await session_image(renderer, session, "png", view="composite", key=("rest", "…"), quality=95)
    data = await pending_frame(session, "webp", quality=90)     # what the websocket shows while adapting

While the job runs, the session shows the photo itself (its model-size square over the websocket, the
original for view=composite) and refuses strokes; its subscribers hear the job's progress. When the
job is done the session adopts the result (`Session.adopt_photo`): h = the adapted layer4 activations,
generator = ganpaint.adapt's view (per-session copies of the adapted layers; the shared model is never
changed), so brushes, undo and frames work as on any image. view=composite is then the original photo
at full resolution with the edited region blended in (ganpaint.photo.composite: pixels outside the
edit are the original's, bit for bit). The photo lives in the session only: deleting or expiring the
session drops it and stops its job.
"""
from __future__ import annotations

import logging
from collections.abc import Hashable

import anyio
import torch

from ganpaint.adapt import AdaptSettings, adapt
from ganpaint.imaging import encode_array
from ganpaint.invert import EncoderError, find_encoder
from ganpaint.model import PaintModel
from ganpaint.photo import composite, load_photo

from .jobs import Job, JobAborted, JobRunner
from .render import Renderer, session_frame
from .sessions import Closed, Event, Session, new_session_id
from .settings import Settings
from .sources import PhotoSource
from .store import SessionStore

__all__ = ["Photos", "adapt_settings", "pending_frame", "progress_message", "session_image"]

log = logging.getLogger("ganpaint.server")


def adapt_settings(settings: Settings) -> AdaptSettings:
    """The recipe's defaults, with the step budgets the server settings set."""
    budget = {"h_steps": settings.adapt_h_steps, "coarse_steps": settings.adapt_coarse_steps,
              "fine_steps": settings.adapt_fine_steps, "init_candidates": settings.adapt_init_candidates}
    return AdaptSettings(**{k: v for k, v in budget.items() if v is not None})


def progress_message(jobs: JobRunner, job: Job) -> dict:
    d = jobs.describe(job)
    return {"type": "progress", "job": job.id, "progress": d["progress"], "stage": d["stage"], "state": d["state"],
            "metrics": d["metrics"], "error": d["error"]}


class Photos:
    """Turns uploads into photo sessions and runs their adaptation jobs; keeps each model's encoder."""

    def __init__(self, settings: Settings, jobs: JobRunner, sessions: SessionStore) -> None:
        self.settings, self.jobs, self.sessions = settings, jobs, sessions
        self._encoders: dict[str, torch.nn.Module | None] = {}  # model id → encoder, loaded by the first job

    def encoder_for(self, model_id: str, model: PaintModel):
        """The model's encoder (models/<id>/encoder.safetensors), loaded once; None when it has none or it does not fit."""
        if model_id not in self._encoders:
            try:
                encoder = find_encoder(model.folder, model.generator, model.info)
            except EncoderError as e:  # adaptation still works without one: it starts from random candidates
                log.warning("model %r: encoder not used: %s", model_id, e)
                encoder = None
            self._encoders[model_id] = encoder.to(model.device) if encoder is not None else None
        return self._encoders[model_id]

    async def start(self, model_id: str, model: PaintModel, data: bytes, *, fit: str,
                    filename: str | None = None, client: str | None = None) -> tuple[Session, Job]:
        """Decode the upload (in a thread), make its session and queue its adaptation."""
        settings, jobs = self.settings, self.jobs
        jobs.check_capacity()  # refuse before decoding: a busy server should not spend a second on the upload
        photo = await anyio.to_thread.run_sync(lambda: load_photo(
            data, model.resolution, fit=fit, max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_upload_pixels))
        # a placeholder h until the job is done: nothing renders it (the session shows the photo meanwhile)
        h = torch.zeros(1, model.channels, model.layer_size, model.layer_size, device=model.device)
        g = photo.geometry
        source = PhotoSource(g.width, g.height, fit, name=filename[:200] if filename else None)
        session = Session(new_session_id(), model_id, model, settings, z=None, h=h, source=source, photo=photo,
                          clock=self.sessions.clock)
        session.ttl_s = min(settings.photo_ttl_s, settings.session_ttl_s)
        jobs.check_capacity()  # again: another upload may have taken the last slot while this one decoded
        self.sessions.add(session, client)  # from here to submit nothing awaits, so the slot is still free
        hyper = adapt_settings(settings)

        def work(job: Job):  # worker thread
            job.report("encoder", 0.0)
            encoder = self.encoder_for(model_id, model)
            job.metrics = {"encoder": encoder is not None}
            x = photo.tensor().to(model.device)
            return adapt(model.generator, x, encoder=encoder, edit_layer=model.edit_layer, settings=hyper,
                         progress_fn=lambda stage, frac, err: job.report(stage, frac, {"l1": round(err, 5)}),
                         abort_fn=job.aborted)

        def stop_if() -> str | None:  # worker thread: read only
            if session.closed:
                return "the session was deleted or has expired"
            if session.photo is not photo:  # the photo is this job's token: a new picture replaces it
                return "the session moved on to another picture"
            return None

        def adopt(job: Job, result) -> None:  # event loop
            reason = stop_if()
            if reason:
                raise JobAborted(reason)
            st = result.metrics.get("stages", {})
            final = st.get("fine", {})
            job.metrics = {"encoder": job.metrics.get("encoder", False), "l1": final.get("l1"),
                           "psnr": final.get("psnr"), "seconds": result.metrics.get("seconds"), "stages": st}
            session.adopt_photo(result.h, model.prepare_generator(result.generator))

        def listener(job: Job) -> None:  # event loop
            if stop_if():
                return  # the news is about a picture the session no longer shows
            if job.ended and job.state != "done":
                session.photo_failed(job.state, job.error)
            session.report_progress(progress_message(jobs, job), ended=job.ended)

        try:
            job = jobs.submit(work, kind="adapt", owner=session.id, stop_if=stop_if, on_done=adopt, listener=listener)
        except Exception:
            self.sessions.delete(session.id)
            raise
        session.attach_job(job.id, progress_message(jobs, job))

        def on_session(event: Event) -> None:  # a deleted or expired session stops its job now, even queued
            if isinstance(event, Closed):
                jobs.cancel_owner(session.id, event.reason)

        session.subscribe(on_session)
        return session, job


async def pending_frame(session: Session, fmt: str, quality: int) -> bytes:
    """The photo's model-size square (what the model is being fitted to), encoded and cached per state."""
    state = session.state
    cached = session.cached_frame(state.id, fmt)
    if cached is not None:
        return cached
    photo = session.photo
    if photo is None:
        raise RuntimeError("the session has no photo")
    data = await anyio.to_thread.run_sync(encode_array, photo.square, fmt, quality)
    session.store_frame(state.id, fmt, data)
    return data


async def session_image(renderer: Renderer, session: Session, fmt: str, *, view: str, key: Hashable, quality: int,
                        refuse_when_busy: bool = True) -> bytes:
    """The image of a session's current state in the requested view (seed sessions have only one view)."""
    photo = session.photo
    if photo is None:
        return await session_frame(renderer, session, session.state, fmt, key=key, quality=quality,
                                   refuse_when_busy=refuse_when_busy)
    if not session.editable:
        if view == "model":
            return await pending_frame(session, fmt, quality)
        return await anyio.to_thread.run_sync(encode_array, photo.original, fmt, quality)
    if view == "model":
        return await session_frame(renderer, session, session.state, fmt, key=key, quality=quality,
                                   refuse_when_busy=refuse_when_busy)
    state = session.state
    if not state.strokes:  # nothing edited: the composite is the photo itself
        return await anyio.to_thread.run_sync(encode_array, photo.original, fmt, quality)
    h, model = session.h, session.model

    def prepare():
        alpha, value = session.composite(state)
        return h, alpha, value

    arr = await renderer.render(key, model, prepare, generator=session.generator, canonical=True,
                                refuse_when_busy=refuse_when_busy)
    if arr is None:
        raise RuntimeError("the render was superseded")
    alpha = session.composite(state, options=False)[0]  # the photo is replaced where strokes are, only

    def blend() -> bytes:
        return encode_array(composite(photo, arr, alpha).image, fmt, quality)

    return await anyio.to_thread.run_sync(blend)
