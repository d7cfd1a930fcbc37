"""Long model analyses for the explorer routes: served from cache, else computed once in the background.

    result = app.state.analyses.get("scenes", "units", lambda progress: unit_report(m, progress_fn=progress))
    # → the result, or raises Pending(progress, stage) while a worker thread computes it (route: 202)

One analysis runs at a time per (model, name); a second request for it while it runs gets the same
progress instead of starting another. Failures are kept as a readable message (route: 409), so a
model that cannot have an analysis does not recompute it on every request.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Analyses", "Pending", "Failed"]


class Pending(Exception):
    def __init__(self, stage: str, progress: float) -> None:
        super().__init__(stage)
        self.stage, self.progress = stage, progress


class Failed(Exception):
    pass


@dataclass
class _Run:
    stage: str = "queued"
    progress: float = 0.0
    result: Any = None
    error: str | None = None
    done: bool = False
    thread: threading.Thread | None = field(default=None, repr=False)


class Analyses:
    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], _Run] = {}
        self._lock = threading.Lock()

    def get(self, model_id: str, name: str, compute: Callable[[Callable[[str, int, int], None]], Any],
            cached: Callable[[], Any] | None = None) -> Any:
        """The finished result; else start `compute(progress_fn)` in a thread and raise Pending."""
        key = (model_id, name)
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                hit = cached() if cached else None
                if hit is not None:  # kept in memory: the next request does not read the file again
                    self._runs[key] = _Run(stage="cached", progress=1.0, result=hit, done=True)
                    return hit
                run = self._runs[key] = _Run()
                run.thread = threading.Thread(target=self._work, args=(run, compute), daemon=True,
                                              name=f"analysis-{model_id}-{name}")
                run.thread.start()
        if run.done:
            if run.error is not None:
                raise Failed(run.error)
            return run.result
        raise Pending(run.stage, run.progress)

    def wait(self, model_id: str, name: str, timeout: float | None = None) -> None:
        run = self._runs.get((model_id, name))
        if run is not None and run.thread is not None:
            run.thread.join(timeout)

    @staticmethod
    def _work(run: _Run, compute) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            run.stage, run.progress = stage, round(done / max(total, 1), 4)

        try:
            run.result = compute(progress)
        except ValueError as e:  # the core's readable errors
            run.error = str(e)
        except Exception as e:  # noqa: BLE001 — a failed analysis must answer, not hang the route
            run.error = f"the analysis failed: {type(e).__name__}"
        run.done = True
