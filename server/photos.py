"""Photo sessions: an upload becomes a session at once, and a background job adapts the generator to it.

    session, job = await start_photo(app.state, "scenes", model, data, fit="crop")   # PhotoError, JobQueueFull
    data = await session_image(app.state, session, "png", view="composite", key=("rest", "…"))
    data = await pending_frame(session, "webp", quality=90)     # what the websocket shows while adapting

While the job runs, the session shows the photo itself (its model-size square over the websocket, the
original for view=composite) and refuses strokes. When the job is done the session's source becomes
the photo: h = the adapted layer4 activations, generator = ganpaint.adapt's view (per-session copies of
the adapted layers; the shared model is never changed), so brushes, undo and frames work as on any
image. view=composite is then the original photo at full resolution with the edited region blended in
(ganpaint.photo.composite: pixels outside the edit are the original's, bit for bit).
The photo lives in the session only: deleting or expiring the session drops it and stops its job.
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

from .jobs import Job, JobAborted
from .render import session_frame
from .sessions import Session, new_session_id

__all__ = ["adapt_settings", "encoder_for", "pending_frame", "session_image", "start_photo"]

log = logging.getLogger("ganpaint.server")


def adapt_settings(settings) -> AdaptSettings:
    """The recipe's defaults, with the step budgets the server settings set."""
    budget = {"h_steps": settings.adapt_h_steps, "coarse_steps": settings.adapt_coarse_steps,
              "fine_steps": settings.adapt_fine_steps, "init_candidates": settings.adapt_init_candidates}
    return AdaptSettings(**{k: v for k, v in budget.items() if v is not None})


def encoder_for(app_state, model_id: str, model: PaintModel):
    """The model's encoder (models/<id>/encoder.safetensors), loaded once; None when it has none or it does not fit."""
    cache = app_state.encoders
    if model_id not in cache:
        try:
            cache[model_id] = find_encoder(model.folder, model.generator, model.info)
        except EncoderError as e:  # adaptation still works without one: it starts from random candidates
            log.warning("model %r: encoder not used: %s", model_id, e)
            cache[model_id] = None
        if cache[model_id] is not None:
            cache[model_id] = cache[model_id].to(model.device)
    return cache[model_id]


def running_job_message(app_state, session: Session) -> dict | None:
    """The progress message of the session's photo job while it runs: a socket that opens mid-job gets
    where it stands at once, not only the stages still to come."""
    job = app_state.jobs.get(session.source.get("job") or "")
    return None if job is None or job.ended else progress_message(app_state.jobs, job)


def _painters(app_state, session: Session):
    return list(app_state.painters.get(session.id, ()))


def progress_message(jobs, job: Job) -> dict:
    d = jobs.describe(job)
    return {"type": "progress", "job": job.id, "progress": d["progress"], "stage": d["stage"], "state": d["state"],
            "metrics": d["metrics"], "error": d["error"]}


async def start_photo(app_state, model_id: str, model: PaintModel, data: bytes, *, fit: str,
                      filename: str | None = None) -> tuple[Session, Job]:
    """Decode the upload (in a thread), make its session and queue its adaptation."""
    settings, jobs, store = app_state.settings, app_state.jobs, app_state.sessions
    jobs.check_capacity()  # refuse before decoding: a busy server should not spend a second on the upload
    photo = await anyio.to_thread.run_sync(lambda: load_photo(
        data, model.resolution, fit=fit, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_upload_pixels))
    # a placeholder h until the job is done: nothing renders it (the session shows the photo meanwhile)
    h = torch.zeros(1, model.channels, model.layer_size, model.layer_size, device=model.device)
    session = Session(new_session_id(), model_id, model, settings, seed=None, z=None, h=h, clock=store.clock)
    g = photo.geometry
    source = {"kind": "photo", "status": "adapting", "job": None, "width": g.width, "height": g.height, "fit": fit}
    if filename:
        source["name"] = filename[:200]
    session.set_source(seed=None, z=None, h=h, source=source, photo=photo)
    session.ttl_s = min(settings.photo_ttl_s, settings.session_ttl_s)
    jobs.check_capacity()  # again: another upload may have taken the last slot while this one decoded
    store.add(session)  # from here to submit nothing awaits, so the slot is still free
    hyper = adapt_settings(settings)

    def work(job: Job):  # worker thread
        job.report("encoder", 0.0)
        encoder = encoder_for(app_state, model_id, model)
        job.metrics = {"encoder": encoder is not None}
        x = photo.tensor().to(model.device)
        return adapt(model.generator, x, encoder=encoder, edit_layer=model.edit_layer, settings=hyper,
                     progress_fn=lambda stage, frac, err: job.report(stage, frac, {"l1": round(err, 5)}),
                     abort_fn=job.aborted)

    def stop_if() -> str | None:  # worker thread: read only
        if session.closed:
            return "the session was deleted or has expired"
        if session.source.get("job") != job_id[0]:
            return "the session moved on to another picture"
        return None

    def adopt(job: Job, result) -> None:  # event loop
        reason = stop_if()
        if reason:
            raise JobAborted(reason)
        st = result.metrics.get("stages", {})
        final = st.get("fine", {})
        job.metrics = {"encoder": job.metrics.get("encoder", False), "l1": final.get("l1"), "psnr": final.get("psnr"),
                       "seconds": result.metrics.get("seconds"), "stages": st}
        session.set_source(seed=None, z=None, h=result.h, generator=model.prepare_generator(result.generator),
                           source={**session.source, "status": "ready"}, photo=session.photo)
        for p in _painters(app_state, session):
            p.state_changed()

    def listener(job: Job) -> None:  # event loop
        if job.ended and job.state != "done" and session.source.get("job") == job.id and not session.closed:
            session.source = {**session.source, "status": job.state, "error": job.error}
            for p in _painters(app_state, session):
                p.state_changed()
        message = progress_message(jobs, job)
        for p in _painters(app_state, session):
            p.post(message)

    job_id = [None]
    try:
        job = jobs.submit(work, kind="adapt", owner=session.id, stop_if=stop_if, on_done=adopt, listener=listener)
    except Exception:
        store.delete(session.id)
        raise
    job_id[0] = job.id
    session.source["job"] = job.id
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


async def session_image(app_state, session: Session, fmt: str, *, view: str, key: Hashable,
                        refuse_when_busy: bool = True) -> bytes:
    """The image of a session's current state in the requested view (seed sessions have only one view)."""
    renderer, quality = app_state.renderer, app_state.settings.quality
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
    alpha = session.composite(state)[0]

    def blend() -> bytes:
        return encode_array(composite(photo, arr, alpha).image, fmt, quality)

    return await anyio.to_thread.run_sync(blend)
