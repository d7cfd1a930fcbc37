"""The loop every trainer runs (GAN, encoder, segmenter): step until told to stop, time the steps,
checkpoint now and then and at the end, report progress.

    reason = train_loop(trainer, max_steps=10_000, time_limit_s=3600, checkpoint_every_s=300,
                        progress_fn=print, abort_fn=lambda: stopping)     # "steps", "time", "aborted", "done"

A trainer is any object with `step` (steps done, all sessions), `wall_s` (seconds spent in steps, all
sessions), `iteration() -> dict` (one step; returns what it measured) and `save()` (its resumable
checkpoint). What is particular to one trainer comes in as `done()` (its own end, e.g. images seen)
and `after_step(stats, seconds)` (extra bookkeeping, e.g. sample grids; it may add to `stats` before
`progress_fn` sees them). The time limit never stops a session before its first step, so a resumed
run always moves on.
"""
from __future__ import annotations

import time
from typing import Callable, Protocol

__all__ = ["Trainable", "train_loop"]


class Trainable(Protocol):
    step: int
    wall_s: float

    def iteration(self) -> dict: ...

    def save(self) -> None: ...


def train_loop(trainer: Trainable, *, max_steps: int | None = None, time_limit_s: float | None = None,
               done: Callable[[], bool] | None = None, checkpoint_every_s: float = 300.0,
               progress_fn: Callable[[dict], None] | None = None, abort_fn: Callable[[], bool] | None = None,
               after_step: Callable[[dict, float], None] | None = None,
               clock: Callable[[], float] = time.monotonic) -> str:
    """Run `trainer.iteration()` until a stop condition holds, then save; return which one stopped it:
    "done" (the trainer's own end), "steps" (`max_steps` reached, counted over all sessions), "time"
    (this session ran `time_limit_s`), "aborted" (`abort_fn()` said so)."""
    start = last_save = clock()
    first = True
    while True:
        if done is not None and done():
            reason = "done"
        elif max_steps is not None and trainer.step >= max_steps:
            reason = "steps"
        elif not first and time_limit_s is not None and clock() - start >= time_limit_s:
            reason = "time"
        elif abort_fn is not None and abort_fn():
            reason = "aborted"
        else:
            reason = None
        if reason is not None:
            break
        first = False
        t0 = clock()
        stats = trainer.iteration()
        seconds = clock() - t0
        trainer.wall_s += seconds
        if after_step is not None:
            after_step(stats, seconds)
        if progress_fn is not None:
            progress_fn(stats)
        if clock() - last_save >= checkpoint_every_s:
            trainer.save()
            last_save = clock()
    trainer.save()
    return reason
