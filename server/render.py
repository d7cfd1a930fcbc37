"""The renderer: one worker thread that turns edit-layer activations into images, newest first.

    renderer = Renderer(batching=True, max_batch=8)
    arr = await renderer.render(key, model, lambda: (h, alpha, value))      # (H, W, 3) uint8, or None
    data = await session_frame(renderer, session, session.state, "webp", key=key)   # encoded bytes

Latest wins: a job submitted under a key that already waits replaces it (the old caller gets None),
so a fast client never builds a queue. Jobs due together for the same model and generator go through
it as one batch. Batched convolutions may differ from single ones in the last float bits, so
*canonical* jobs (committed states, REST images) always run alone: a state renders to the same bytes
whenever it is rendered, and undo returns exactly the frame shown before. Previews batch, unless
they carry a `region` renderer (one per socket): then only the cells changed since that socket's
previous frame are recomputed, which beats batching for a stroke in progress.
With `encode=`, an image is encoded in the worker when nothing else waits (one thread hop less on
the latency path) and in a thread pool when jobs queue up (encoding then overlaps the next render).
A batch on the CPU is split into one part per render thread (threads.py), and each thread prepares,
renders, encodes and delivers its own part: the whole per-frame pipeline runs on every core at once.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Hashable

import anyio
import numpy as np
import torch

from ganpaint.paint.edit import Stroke, over, stroke_edit
from ganpaint.paint.imaging import encode_array, to_uint8
from ganpaint.paint.model import PaintModel
from ganpaint.gan.networks import Generator
from ganpaint.gan.renderer import RegionRenderer

from .sessions import Session, State
from .threads import single_threaded

__all__ = ["Renderer", "Busy", "session_frame", "session_edit", "split_render"]

log = logging.getLogger("ganpaint.server")

# h (1,C,s,s), alpha, value (C,s,s), and optionally reach (R,R) with the unedited image (1,3,R,R): the
# picture shows the edit only within the reach (PaintModel.render)
Prepared = tuple


class Busy(RuntimeError):
    """Too many renders are waiting; try again shortly."""


@dataclass(eq=False)
class _Job:
    key: Hashable
    model: PaintModel
    prepare: Callable[[], Prepared]
    generator: Generator | None
    canonical: bool
    encode: tuple[str, int] | None
    region: RegionRenderer | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future = field(repr=False)
    submitted: float = field(default_factory=time.perf_counter)


def _settle(fut: asyncio.Future, result, exc: BaseException | None) -> None:
    if fut.done():
        return  # the caller went away (cancelled) or the job was superseded
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def split_render(helpers: ThreadPoolExecutor, parts: int, render: Callable[..., torch.Tensor],
                 *batch: torch.Tensor) -> torch.Tensor:
    """`render(*batch)` in up to `parts` slices along the batch, rendered at once: the calling thread takes
    the first, `helpers` the rest (each on one core, no OpenMP barriers between cores; threads.py)."""
    n = len(batch[0])
    parts = min(n, parts)
    cuts = [round(i * n / parts) for i in range(parts + 1)]
    spans = [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    futures = [helpers.submit(render, *(t[s] for t in batch)) for s in spans[1:]]
    first = render(*(t[spans[0]] for t in batch))
    return torch.cat([first] + [f.result() for f in futures])


class Renderer:
    def __init__(self, *, batching: bool = True, max_batch: int = 8, max_pending: int = 64,
                 threads: int | None = None) -> None:
        self.batching, self.max_batch, self.max_pending = batching, max(1, max_batch), max_pending
        # CPU threads that render (threads.py): the render thread and threads-1 helpers, each running torch
        # single-threaded; a CPU batch is split across them. None: the render thread keeps torch's setting.
        self.threads = threads
        self._helpers: ThreadPoolExecutor | None = None
        self._pending: dict[Hashable, _Job] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.stats = {"jobs": 0, "batches": 0, "images": 0, "superseded": 0, "max_batch_seen": 0,
                      # seconds summed over jobs (wait, prepare) or batches (render, encode): where time goes
                      "wait_s": 0.0, "prepare_s": 0.0, "render_s": 0.0, "encode_s": 0.0, "render_cpu_s": 0.0,
                      "worker_cpu_s": 0.0, "join_wait_s": 0.0, "parts_s": 0.0}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="ganpaint-render", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            jobs, self._pending = list(self._pending.values()), {}
            self._cond.notify_all()
        for job in jobs:
            self._deliver(job, None, None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._helpers is not None:
            self._helpers.shutdown(wait=False)
            self._helpers = None

    def pending_count(self) -> int:
        with self._cond:
            return len(self._pending)

    def cancel(self, key: Hashable) -> None:
        with self._cond:
            job = self._pending.pop(key, None)
        if job is not None:
            self._deliver(job, None, None)

    # ------------------------------------------------------------------ submitting (event loop)
    async def render(self, key: Hashable, model: PaintModel, prepare: Callable[[], Prepared], *,
                     generator: Generator | None = None, canonical: bool = False, encode: tuple[str, int] | None = None,
                     region: RegionRenderer | None = None, refuse_when_busy: bool = False) -> np.ndarray | bytes | None:
        """(H, W, 3) uint8 image (bytes when `encode=(format, quality)`), or None when a newer job
        under the same key replaced this one."""
        self.start()
        loop = asyncio.get_running_loop()
        job = _Job(key, model, prepare, generator, canonical, encode, None if canonical else region, loop,
                   loop.create_future())
        with self._cond:
            if refuse_when_busy and len(self._pending) >= self.max_pending:
                raise Busy(f"{len(self._pending)} renders are waiting")
            old = self._pending.pop(key, None)
            self._pending[key] = job
            self._cond.notify()
        if old is not None:
            self.stats["superseded"] += 1
            self._deliver(old, None, None)
        try:
            result = await job.future
            if encode is not None and isinstance(result, np.ndarray):
                result = await anyio.to_thread.run_sync(encode_array, result, *encode)
            return result
        except asyncio.CancelledError:
            with self._cond:  # the caller left (e.g. socket closed): drop its job, not a newer one
                if self._pending.get(key) is job:
                    del self._pending[key]
            raise

    # ------------------------------------------------------------------ worker thread
    def _deliver(self, job: _Job, result, exc: BaseException | None) -> None:
        try:
            job.loop.call_soon_threadsafe(_settle, job.future, result, exc)
        except RuntimeError:
            pass  # the event loop is closed: nobody is waiting any more

    def _run(self) -> None:
        if self.threads:
            single_threaded()
            if self.threads > 1 and self._helpers is None:
                self._helpers = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="ganpaint-render-helper",
                                                   initializer=single_threaded)
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                jobs, self._pending = list(self._pending.values()), {}
            cpu = time.thread_time()
            self._work(jobs)
            self.stats["worker_cpu_s"] += time.thread_time() - cpu

    def _work(self, jobs: list[_Job]) -> None:
        groups: dict[Hashable, list[_Job]] = {}
        for job in jobs:
            if job.future.done():
                continue
            self.stats["wait_s"] += time.perf_counter() - job.submitted
            gen = job.generator or job.model.generator
            alone = job.canonical or not self.batching or job.region is not None
            gkey = ("one", id(job)) if alone else ("batch", id(job.model), id(gen))
            groups.setdefault(gkey, []).append(job)
        for members in groups.values():
            for i in range(0, len(members), self.max_batch):
                chunk = members[i : i + self.max_batch]
                if len(chunk) > 1 and self._helpers is not None and chunk[0].model.device.type == "cpu":
                    self._render_parts(chunk)
                else:
                    prepared = self._prepare(chunk, self.stats)
                    if prepared:
                        self._render_group(prepared)

    def _prepare(self, jobs: list[_Job], stats: dict) -> list[tuple[_Job, Prepared]]:
        """Each job's (h, alpha, value); a job whose stroke data fails gets its error, the others go on."""
        out = []
        for job in jobs:
            t = time.perf_counter()
            try:
                out.append((job, job.prepare()))
            except Exception as e:  # bad stroke data etc.: an answer for this caller only
                self._deliver(job, None, e)
            stats["prepare_s"] += time.perf_counter() - t
        return out

    def _render_parts(self, jobs: list[_Job]) -> None:
        """A CPU batch split into one part per render thread; each thread prepares, renders and encodes its
        own part and delivers its frames, so the whole per-frame pipeline runs on every core at once."""
        parts = min(len(jobs), self.threads or 1)
        cuts = [round(i * len(jobs) / parts) for i in range(parts + 1)]
        spans = [jobs[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
        t = time.perf_counter()
        futures = [self._helpers.submit(self._part, span) for span in spans[1:]]
        counts = [self._part(spans[0])]
        t_join = time.perf_counter()
        counts += [f.result() for f in futures]
        self.stats["join_wait_s"] += time.perf_counter() - t_join  # the render thread waiting on its helpers
        for c in counts:
            for k, v in c.items():
                self.stats[k] += v
        self.stats["batches"] += 1
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(jobs))
        self.stats["parts_s"] += time.perf_counter() - t

    def _part(self, jobs: list[_Job]) -> dict:
        """One render thread's share of a batch: prepare, render as one batch, convert, encode, deliver.
        Returns its counters (summed by the caller: threads never write the shared stats)."""
        stats = {"prepare_s": 0.0, "render_s": 0.0, "render_cpu_s": 0.0, "encode_s": 0.0, "jobs": 0, "images": 0}
        members = self._prepare(jobs, stats)
        if members:
            self._render_members(members, stats, encode_all=True)
        return stats

    def _render_group(self, members: list[tuple[_Job, Prepared]]) -> None:
        self._render_members(members, self.stats, encode_all=False)
        self.stats["batches"] += 1
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(members))

    def _render_members(self, members: list[tuple[_Job, Prepared]], stats: dict, *, encode_all: bool) -> None:
        """Render prepared jobs as one batch (a region job alone), convert, deliver. Encodes every frame
        with `encode_all`, else only while no other job waits (then callers encode in a thread pool)."""
        job0 = members[0][0]
        t, cpu = time.perf_counter(), time.thread_time()
        try:
            if len(members) == 1:
                h, alpha, value, reach, unedited = _full(members[0][1])
                img = job0.model.render(h, alpha, value, generator=job0.generator, region=job0.region,
                                        reach=reach, unedited=unedited)
            else:
                parts = [_full(p) for _, p in members]
                h = torch.cat([p[0] for p in parts])
                alphas = [p[1] if p[1] is not None else torch.zeros_like(p[0][0]) for p in parts]
                values = [p[2] if p[2] is not None else torch.zeros_like(p[0][0]) for p in parts]
                reach = unedited = None
                if any(p[3] is not None for p in parts):  # batch members without a reach show all of it
                    r = job0.model.resolution
                    reach = torch.stack([p[3] if p[3] is not None else torch.ones(r, r) for p in parts])
                    unedited = torch.cat([p[4] if p[3] is not None else torch.zeros(1, 3, r, r, device=h.device)
                                          for p in parts])
                img = job0.model.render(h, torch.stack(alphas), torch.stack(values), generator=job0.generator,
                                        reach=reach, unedited=unedited)
            arrs = [np.ascontiguousarray(a) for a in to_uint8(img)]  # PIL copies strided arrays slowly
        except Exception as e:
            log.exception("render failed")
            for job, _ in members:
                self._deliver(job, None, RuntimeError(f"render failed: {type(e).__name__}"))
            return
        now = time.perf_counter()
        stats["render_s"] += now - t
        stats["render_cpu_s"] += time.thread_time() - cpu
        stats["jobs"] += len(members)
        stats["images"] += len(members)
        for (job, _), arr in zip(members, arrs):
            if job.encode is not None and (encode_all or not self._pending):  # idle: the shortest path
                try:
                    arr = encode_array(arr, *job.encode)
                except Exception as e:
                    self._deliver(job, None, e)
                    continue
            self._deliver(job, arr, None)
        stats["encode_s"] += time.perf_counter() - now


def _full(p: Prepared) -> tuple:
    """A prepared job as (h, alpha, value, reach, unedited); reach and unedited None when it has none."""
    return tuple(p) + (None,) * (5 - len(p))


def session_edit(session: Session, state: State, preview: Stroke | None = None,
                 h: torch.Tensor | None = None) -> Prepared:
    """What a session's state (and a preview stroke on top of it) renders from: (h, alpha, value, reach,
    unedited). Runs on the render thread: composites, reaches and the unedited picture are cached. `h`: the
    activations snapshotted when the job was queued; when the session's source changed since, the stale
    frame is drawn without a reach (the unedited picture is the new source's)."""
    model = session.model
    h = session.h if h is None else h
    alpha, value = session.composite(state)
    if preview is not None:
        alpha, value = over((alpha, value), stroke_edit(preview, model.table, model.channels, model.layer_size))
    if h is not session.h:
        return h, alpha, value
    reach = session.reach(state)
    if preview is not None:
        own = session.preview_reach(preview)
        reach = own if reach is None else torch.maximum(reach, own)
    return h, alpha, value, reach, session.unedited() if reach is not None else None


async def session_frame(renderer: Renderer, session: Session, state: State, fmt: str, *, key: Hashable,
                        preview: Stroke | None = None, quality: int = 90, region: RegionRenderer | None = None,
                        refuse_when_busy: bool = False) -> bytes | None:
    """Encoded image of a committed state (cached, canonical) or of a preview stroke on top of it."""
    if preview is None:
        cached = session.cached_frame(state.id, fmt)
        if cached is not None:
            return cached
    model, h = session.model, session.h  # snapshot: a seed change must not swap h under a queued job

    def prepare() -> Prepared:
        return session_edit(session, state, preview, h)

    data = await renderer.render(key, model, prepare, generator=session.generator, canonical=preview is None,
                                 encode=(fmt, quality), region=region, refuse_when_busy=refuse_when_busy)
    if data is not None and preview is None:
        session.store_frame(state.id, fmt, data)
    return data
