"""Photo sessions: an upload becomes a session at once, and a background job adapts the generator to it.

    photos = Photos(settings, jobs, sessions)                       # one per app (PhotosDep)
    session, job = await photos.start("scenes", model, data, fit="crop")   # PhotoError, JobQueueFull, StoreFull
    data = await session_image(renderer, session, "png", view="composite", key=("rest", "…"), quality=95)
    data = await photo_frame(renderer, session, session.state, "webp", key=key)   # what the page shows

While the job runs, the session shows the photo itself (its square at display size over the websocket,
the original for view=composite) and refuses strokes; its subscribers hear the job's progress. When the
job is done the session adopts the result (`Session.adopt_photo`): h = the adapted layer4 activations,
generator = ganpaint.photo.adapt's view (per-session copies of the adapted layers; the shared model is never
changed), so brushes, undo and frames work as on any image. view=composite is then the original photo
at full resolution with the painted area blended in (ganpaint.photo.photo.composite: pixels beyond the
strokes' footprint + a 2 % seam are the original's, bit for bit), and every frame the page shows
(websocket, view=frame, edit answers) is that same composite on the photo's square at display size:
what you see is what you download. The job's metrics say how well the model itself can draw the photo
(ganpaint.photo.photo_fit: PSNR before the fine offset, per-class omissions, a plain hint).

The photo lives in the session only: deleting or expiring the session drops it and stops its job, and
a job that is cancelled or fails leaves only the photo's model-size square (Photo.released). All photos
together stay within settings.photo_memory_bytes (counted from the upload's header before decoding):
beyond it uploads get PhotoMemoryFull (503 + Retry-After).
"""
from __future__ import annotations

import logging
from collections.abc import Hashable

import anyio
import torch

from ganpaint.photo.adapt import AdaptSettings, adapt
from ganpaint.paint.imaging import encode_array
from ganpaint.photo.invert import EncoderError, find_encoder
from ganpaint.paint.model import PaintModel
from ganpaint.photo.photo import composite, load_photo, photo_size
from ganpaint.photo.photo_fit import fit_summary, photo_omissions

from .jobs import Job, JobAborted, JobRunner
from .memory import release_memory
from .render import Renderer, session_edit, session_frame
from .sessions import Closed, Event, Session, new_session_id
from .settings import Settings
from .sources import PhotoSource
from .store import SessionStore

__all__ = ["Photos", "PhotoMemoryFull", "adapt_settings", "frame_size", "pending_frame", "photo_frame",
           "progress_message", "session_image"]

log = logging.getLogger("ganpaint.server")


def adapt_settings(settings: Settings) -> AdaptSettings:
    """The recipe's defaults, with the step budgets the server settings set."""
    budget = {"h_steps": settings.adapt_h_steps, "coarse_steps": settings.adapt_coarse_steps,
              "fine_steps": settings.adapt_fine_steps, "init_candidates": settings.adapt_init_candidates}
    return AdaptSettings(**{k: v for k, v in budget.items() if v is not None})


def progress_message(jobs: JobRunner, job: Job) -> dict:
    d = jobs.describe(job)
    return {"type": "progress", "job": job.id, "progress": d["progress"], "stage": d["stage"], "state": d["state"],
            "metrics": d["metrics"], "error": d["error"], "eta_s": d["eta_s"], "position": d["position"]}


class PhotoMemoryFull(RuntimeError):
    """Photos held in memory would exceed settings.photo_memory_bytes; retry_after: seconds (503)."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Photos:
    """Turns uploads into photo sessions and runs their adaptation jobs; keeps each model's encoder."""

    def __init__(self, settings: Settings, jobs: JobRunner, sessions: SessionStore) -> None:
        self.settings, self.jobs, self.sessions = settings, jobs, sessions
        self._encoders: dict[str, torch.nn.Module | None] = {}  # model id → encoder, loaded by the first job
        self.decoding = 0  # bytes reserved by uploads being decoded (the memory budget counts them)

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
        # the memory budget, from the header alone: pixels of the decoded photo, its square and its display frame
        size = photo_size(data)
        need = 0
        if size is not None and size[0] * size[1] <= settings.max_upload_pixels:  # larger ones get 413 below
            square = min(size) if fit == "crop" else max(size)
            side = max(model.resolution, min(settings.photo_frame_size, square))  # as frame_size() will make it
            need = (size[0] * size[1] + model.resolution ** 2 + side * side) * 3
        self.check_memory(need)
        self.decoding += need
        try:
            photo = await anyio.to_thread.run_sync(lambda: load_photo(
                data, model.resolution, fit=fit, max_bytes=settings.max_upload_bytes,
                max_pixels=settings.max_upload_pixels))
        finally:
            self.decoding -= need
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
            result = adapt(model.generator, x, encoder=encoder, edit_layer=model.edit_layer, settings=hyper,
                           progress_fn=lambda stage, frac, err: job.report(stage, frac, {"l1": round(err, 5)}),
                           abort_fn=job.aborted, keep_images=True)
            # honest about fit: what the model itself draws, before the fine offset copies the photo's details in
            drawn = result.metrics.pop("images")["coarse"]
            omissions = photo_omissions(model.segmenter, x, drawn) if model.segmenter is not None else None
            return result, omissions

        def stop_if() -> str | None:  # worker thread: read only
            if session.closed:
                return "the session was deleted or has expired"
            if session.photo is not photo:  # the photo is this job's token: a new picture replaces it
                return "the session moved on to another picture"
            return None

        def adopt(job: Job, out) -> None:  # event loop
            reason = stop_if()
            if reason:
                raise JobAborted(reason)
            result, omissions = out
            st = result.metrics.get("stages", {})
            final = st.get("fine", {})
            fit_ = fit_summary(st.get("coarse", {}).get("psnr"), omissions)
            job.metrics = {"encoder": job.metrics.get("encoder", False), "l1": final.get("l1"),
                           "psnr": final.get("psnr"), "psnr_model": fit_["psnr_model"],
                           "seconds": result.metrics.get("seconds"), "stages": st, "fit": fit_, "omissions": omissions}
            session.adopt_photo(result.h, model.prepare_generator(result.generator),
                                fit={k: fit_[k] for k in ("level", "hint")}, omissions=omissions, adaptation=result)

        def listener(job: Job) -> None:  # event loop
            if stop_if():
                return  # the news is about a picture the session no longer shows
            if job.ended and job.state != "done":
                session.photo_failed(job.state, job.error)  # keeps only the photo's model-size square
                release_memory()
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

    # ------------------------------------------------------------------ memory
    def memory(self) -> int:
        """Bytes of photo pixels held now: every session's photo plus uploads being decoded."""
        return sum(s.photo.nbytes for s in self.sessions if s.photo is not None) + self.decoding

    def check_memory(self, need: int) -> None:
        budget = self.settings.photo_memory_bytes
        held = self.memory()
        if held + need <= budget:
            return
        # photos leave memory when their session is deleted or expires, or their job is cancelled or fails
        now = self.sessions.clock()
        expiries = [max(0.0, (s.ttl_s or self.settings.session_ttl_s) - (now - s.last_used))
                    for s in self.sessions if s.photo is not None and s.subscribers == 0]
        soonest = min(expiries + [self.jobs.retry_after() if self.jobs.counts()["running"] else 3600])
        mb = 2 ** 20
        raise PhotoMemoryFull(f"the server holds {held / mb:.0f} MB of photos and this one needs {need / mb:.0f} MB "
                              f"more than its {budget / mb:.0f} MB allow; try again later or upload a smaller photo",
                              int(min(3600, max(1, round(soonest)))))


def frame_size(session: Session) -> int:
    """The side of the frames the page shows for a photo: its square at display size, never below the model's."""
    return max(session.model.resolution, min(session.settings.photo_frame_size, int(session.photo.geometry.side)))


async def pending_frame(session: Session, fmt: str, quality: int) -> bytes:
    """The photo's square at display size (what the model is being fitted to), encoded and cached per state."""
    state = session.state
    photo = session.photo
    if photo is None:
        raise RuntimeError("the session has no photo")
    tag = f"{fmt}@frame"
    cached = session.cached_frame(state.id, tag)
    if cached is not None:
        return cached
    data = await anyio.to_thread.run_sync(encode_array, photo.display(frame_size(session)), fmt, quality)
    session.store_frame(state.id, tag, data)
    return data


async def photo_frame(renderer: Renderer, session: Session, state, fmt: str, *, key: Hashable, preview=None,
                      quality: int = 90, region=None, refuse_when_busy: bool = False) -> bytes | None:
    """What the page shows while painting a photo: the same composite as the download, on the photo's
    square at display size (ganpaint.photo.photo.composite(size=…)). None when a newer frame superseded it."""
    photo = session.photo
    if photo is None:
        raise RuntimeError("the session has no photo")
    if not session.editable:
        return await pending_frame(session, fmt, quality)
    tag = f"{fmt}@frame"
    if preview is None:
        cached = session.cached_frame(state.id, tag)
        if cached is not None:
            return cached
    strokes = [e.stroke for e in state.strokes] + ([preview] if preview is not None else [])
    size = frame_size(session)
    arr = None
    if strokes:
        h, model = session.h, session.model

        def prepare():
            return session_edit(session, state, preview, h)

        arr = await renderer.render(key, model, prepare, generator=session.generator, canonical=preview is None,
                                    region=region, refuse_when_busy=refuse_when_busy)
        if arr is None:
            return None

    def blend() -> bytes:
        img = photo.display(size) if arr is None else composite(photo, arr, strokes, size=size).image
        return encode_array(img, fmt, quality)

    data = await anyio.to_thread.run_sync(blend)
    if preview is None:
        session.store_frame(state.id, tag, data)
    return data


async def session_image(renderer: Renderer, session: Session, fmt: str, *, view: str, key: Hashable, quality: int,
                        refuse_when_busy: bool = True) -> bytes:
    """The image of a session's current state in the requested view (seed sessions have only one view).

    Photos: composite = full resolution; frame = the same composite at display size (what the page
    shows); model = the generator's own output."""
    photo = session.photo
    if photo is None:
        return await session_frame(renderer, session, session.state, fmt, key=key, quality=quality,
                                   refuse_when_busy=refuse_when_busy)
    if view == "frame":
        data = await photo_frame(renderer, session, session.state, fmt, key=key, quality=quality,
                                 refuse_when_busy=refuse_when_busy)
        if data is None:
            raise RuntimeError("the render was superseded")
        return data
    if not session.editable:
        if view == "model":
            return await anyio.to_thread.run_sync(encode_array, photo.square, fmt, quality)
        return await anyio.to_thread.run_sync(encode_array, photo.original, fmt, quality)
    if view == "model":
        return await session_frame(renderer, session, session.state, fmt, key=key, quality=quality,
                                   refuse_when_busy=refuse_when_busy)
    state = session.state
    strokes = [e.stroke for e in state.strokes]
    if not strokes:  # nothing edited: the composite is the photo itself
        return await anyio.to_thread.run_sync(encode_array, photo.original, fmt, quality)
    h, model = session.h, session.model

    def prepare():
        return session_edit(session, state, h=h)

    arr = await renderer.render(key, model, prepare, generator=session.generator, canonical=True,
                                refuse_when_busy=refuse_when_busy)
    if arr is None:
        raise RuntimeError("the render was superseded")

    def blend() -> bytes:
        return encode_array(composite(photo, arr, strokes).image, fmt, quality)

    return await anyio.to_thread.run_sync(blend)
