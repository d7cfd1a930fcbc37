"""Background jobs: a bounded pool of worker threads behind a bounded FIFO queue, with progress and cancel.

    jobs = JobRunner(workers=1, max_queued=4)                 # made with the app; start() in the lifespan
    job = jobs.submit(work, owner=session.id, stop_if=lambda: None, on_done=adopt, listener=notify)
    def work(job):                                            # runs in a worker thread
        job.report("h4", 0.4, {"l1": 0.2})                    # progress 0..1; the listener hears it (throttled)
        if job.aborted(): raise JobAborted(job.abort_reason)  # or pass job.aborted to ganpaint.photo.adapt as abort_fn
        return result
    jobs.describe(job)    # {"id", "state", "progress", "stage", "metrics", "error", "position", ...}
    await jobs.cancel(job.id)  # queued: cancelled at once; running: stops at the work's next abort check

States: queued → running → done | failed | cancelled (queued → cancelled too). A full queue raises
JobQueueFull with a Retry-After estimate from recent job durations. Work runs in the pool's threads,
never on the event loop; submit, cancel and the callbacks (`on_done(job, result)`, which adopts the
result and may raise JobAborted, and `listener(job)`) run on the event loop, so they may touch sessions
and websockets without locks. `stop_if()` is polled by `job.aborted()` from the worker: it returns a
reason to stop (e.g. "the session was deleted") or None, so it must only read.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .threads import own_threads, single_threaded

__all__ = ["STATES", "Job", "JobAborted", "JobQueueFull", "JobRunner"]

log = logging.getLogger("ganpaint.server")

STATES = ("queued", "running", "done", "failed", "cancelled")
_RECENT = 8  # finished jobs whose durations estimate Retry-After
_MAX_RECORDS = 10_000  # finished jobs remembered at most, however young


class JobAborted(Exception):
    """The job was asked to stop (cancelled, or what it works for went away); the message says why."""


class JobQueueFull(RuntimeError):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(eq=False)
class Job:
    id: str
    kind: str
    owner: str | None
    work: Callable[[Job], Any] = field(repr=False)
    stop_if: Callable[[], str | None] | None = field(default=None, repr=False)
    on_done: Callable[[Job, Any], None] | None = field(default=None, repr=False)
    listener: Callable[[Job], None] | None = field(default=None, repr=False)
    state: str = "queued"
    progress: float = 0.0
    stage: str = "queued"
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    abort_reason: str | None = None
    _abort: threading.Event = field(default_factory=threading.Event, repr=False)
    _report: Callable[[Job, bool], None] | None = field(default=None, repr=False)
    _ended: asyncio.Event | None = field(default=None, repr=False)

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def aborted(self) -> bool:
        """True once cancelled or once stop_if gives a reason (any thread; cheap enough to call every step)."""
        if self._abort.is_set():
            return True
        reason = self.stop_if() if self.stop_if is not None else None
        if reason:
            self.abort(reason)
            return True
        return False

    def abort(self, reason: str) -> None:
        if not self._abort.is_set():
            self.abort_reason = reason
            self._abort.set()

    def report(self, stage: str, progress: float, metrics: dict | None = None) -> None:
        """From the work (any thread): where it is; listeners hear of a new stage at once, of progress throttled."""
        new_stage = stage != self.stage
        self.stage, self.progress = stage, min(1.0, max(0.0, float(progress)))
        if metrics:
            self.metrics = {**self.metrics, **metrics}
        if self._report is not None:
            self._report(self, new_stage)


class JobRunner:
    def __init__(self, *, workers: int = 1, max_queued: int = 4, keep_s: float = 600.0, report_every_s: float = 0.1,
                 default_duration_s: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 threads: int | None = None) -> None:
        self.workers, self.max_queued, self.keep_s = max(1, workers), max(0, max_queued), keep_s
        self.threads = threads
        self.report_every_s, self.default_duration_s, self.clock = report_every_s, default_duration_s, clock
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._running: set[Job] = set()
        self._tasks: set[asyncio.Task] = set()
        self._durations: deque[float] = deque(maxlen=_RECENT)
        self._last_sent: dict[str, float] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle (event loop)
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._pool is None:
            # a job's torch gets `threads` intra-op threads (threads.py); none given: one
            init = partial(own_threads, self.threads) if self.threads else single_threaded
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ganpaint-job", initializer=init)

    async def stop(self, timeout: float = 10.0) -> None:
        """Cancel everything; running work stops at its next abort check (waited for up to `timeout`)."""
        for job in list(self._queue):
            self._finish_queued(job, "cancelled", "the server is shutting down")
        for job in list(self._running):
            job.abort("the server is shutting down")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------------ reading
    def get(self, job_id: str) -> Job | None:
        self._prune()
        return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """1 = next to start; 0 when not waiting."""
        try:
            return self._queue.index(job) + 1 if job.state == "queued" else 0
        except ValueError:
            return 0

    def describe(self, job: Job) -> dict:
        now = self.clock()
        return {"id": job.id, "kind": job.kind, "state": job.state, "progress": round(job.progress, 4),
                "stage": job.stage, "metrics": job.metrics, "error": job.error, "position": self.position(job),
                "seconds": round((job.finished or now) - job.started, 2) if job.started is not None else 0.0,
                "eta_s": self.eta(job)}

    def eta(self, job: Job) -> float | None:
        """Seconds until the job is likely done: its own progress rate once it has some, else recent durations."""
        if job.ended:
            return None
        mean = sum(self._durations) / len(self._durations) if self._durations else None
        if job.state == "queued":
            return None if mean is None else round(mean * (1 + self.position(job) / self.workers), 1)
        elapsed = self.clock() - (job.started or self.clock())
        if job.progress >= 0.05 and elapsed > 0:
            return round(elapsed * (1 - job.progress) / job.progress, 1)
        return None if mean is None else round(max(0.0, mean - elapsed), 1)

    def counts(self) -> dict:
        return {"queued": len(self._queue), "running": len(self._running), "workers": self.workers,
                "max_queued": self.max_queued}

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: half a recent mean duration per round of jobs ahead."""
        mean = sum(self._durations) / len(self._durations) if self._durations else self.default_duration_s
        ahead = (len(self._queue) + len(self._running)) / self.workers
        return int(min(3600, max(1, round(mean * max(ahead, 1) / 2))))

    # ------------------------------------------------------------------ submitting and cancelling (event loop)
    def check_capacity(self) -> None:
        """Raise JobQueueFull now if a submit would be refused (so callers can refuse before doing work)."""
        if len(self._running) >= self.workers and len(self._queue) >= self.max_queued:
            raise JobQueueFull(f"{len(self._running)} jobs are running and {len(self._queue)} are waiting; "
                               "try again later", self.retry_after())

    def submit(self, work: Callable[[Job], Any], *, kind: str = "job", owner: str | None = None,
               stop_if: Callable[[], str | None] | None = None, on_done: Callable[[Job, Any], None] | None = None,
               listener: Callable[[Job], None] | None = None) -> Job:
        self._prune()
        self.check_capacity()
        # a job id starts with its session's id: a load balancer routing by session id sends both to one replica
        jid = f"{owner}-{secrets.token_hex(8)}" if owner else secrets.token_hex(12)
        job = Job(jid, kind, owner, work, stop_if, on_done, listener, created=self.clock())
        job._report = self._progress
        job._ended = asyncio.Event()
        self._jobs[job.id] = job
        self._queue.append(job)
        self._dispatch()
        return job

    async def cancel(self, job_id: str, *, reason: str = "cancelled", wait_s: float = 5.0) -> Job | None:
        """Cancel a job; waits up to wait_s for running work to stop, so the answer is usually final."""
        job = self._jobs.get(job_id)
        if job is None:
            return None
        if job.state == "queued":
            self._finish_queued(job, "cancelled", reason)
        elif job.state == "running":
            job.abort(reason)
            job.stage = "cancelling"
            try:
                await asyncio.wait_for(asyncio.shield(job._ended.wait()), wait_s)
            except TimeoutError:
                pass
        return job

    def cancel_owner(self, owner: str, reason: str) -> None:
        for job in list(self._jobs.values()):
            if job.owner == owner and not job.ended:
                if job.state == "queued":
                    self._finish_queued(job, "cancelled", reason)
                else:
                    job.abort(reason)

    # ------------------------------------------------------------------ internals
    def _finish_queued(self, job: Job, state: str, error: str) -> None:
        try:
            self._queue.remove(job)
        except ValueError:
            pass
        job.abort(error)
        self._settle(job, state, error)

    def _settle(self, job: Job, state: str, error: str | None) -> None:
        job.state, job.error, job.finished = state, error, self.clock()
        # the record stays readable for keep_s; what the work held (a photo, a session) must not
        job.work = job.stop_if = job.on_done = None
        job.stage = "done" if state == "done" else state
        if state == "done":
            job.progress = 1.0
        self._last_sent.pop(job.id, None)
        if job._ended is not None:
            job._ended.set()
        self._notify(job)
        job.listener = None

    def _notify(self, job: Job) -> None:
        if job.listener is None:
            return
        try:
            job.listener(job)
        except Exception:  # a listener's failure (a closed socket) must not break the job's bookkeeping
            log.exception("job listener failed for job %s", job.id[:8])

    def _progress(self, job: Job, new_stage: bool) -> None:
        """Called from the worker thread: hand the news to the event loop, at most every report_every_s."""
        now = time.monotonic()
        if not new_stage and now - self._last_sent.get(job.id, 0.0) < self.report_every_s:
            return
        self._last_sent[job.id] = now
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(lambda: None if job.ended else self._notify(job))
        except RuntimeError:
            pass  # the loop closed meanwhile: nobody is listening

    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.workers:
            job = self._queue.popleft()
            reason = job.stop_if() if job.stop_if is not None else None
            if reason:  # what it was for went away while it waited
                job.abort(reason)
                self._settle(job, "cancelled", reason)
                continue
            self._running.add(job)
            job.state, job.stage, job.started = "running", "starting", self.clock()
            self._notify(job)
            task = asyncio.get_running_loop().create_task(self._run(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job) -> None:
        state, error = "failed", "the job did not finish"
        try:
            if self._pool is None:
                self.start()
            result = await asyncio.get_running_loop().run_in_executor(self._pool, job.work, job)
            if job.aborted():
                raise JobAborted(job.abort_reason or "cancelled")
            if job.on_done is not None:
                job.on_done(job, result)
            state, error = "done", None
        except JobAborted as e:
            state, error = "cancelled", str(e) or "cancelled"
        except Exception as e:
            if job.aborted():  # the work's own abort exception (e.g. ganpaint.photo.adapt.AdaptationAborted)
                state, error = "cancelled", job.abort_reason or "cancelled"
            else:
                log.exception("job %s (%s) failed", job.id[:8], job.kind)
                state, error = "failed", f"the job failed: {str(e)[:300] or type(e).__name__}"
        except asyncio.CancelledError:
            job.abort("the server is shutting down")
            state, error = "cancelled", "the server is shutting down"
            raise
        finally:
            self._running.discard(job)
            if job.started is not None and state == "done":  # a cancelled job says nothing about how long one takes
                self._durations.append(self.clock() - job.started)
            self._settle(job, state, error)
            self._dispatch()

    def _prune(self) -> None:
        now = self.clock()
        old = [j.id for j in self._jobs.values() if j.ended and now - (j.finished or now) > self.keep_s]
        for jid in old:
            del self._jobs[jid]
        if len(self._jobs) > _MAX_RECORDS:
            ended = sorted((j for j in self._jobs.values() if j.ended), key=lambda j: j.finished or 0.0)
            for j in ended[: len(self._jobs) - _MAX_RECORDS]:
                del self._jobs[j.id]
