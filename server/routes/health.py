"""GET /api/health: liveness, loaded models and their devices, session count, renderer counters.

The counters (and the process CPU time) let benchmarks see where server time goes.
"""
from __future__ import annotations

import time

from fastapi import APIRouter, Request

from ..schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=HealthOut, summary="Liveness and loaded models")
async def health(request: Request) -> HealthOut:  # on the loop, not in a thread: it answers when threads are busy
    state = request.app.state
    models = {mid: {"device": str(m.device), "resolution": m.resolution} for mid, m in state.models.items()}
    return HealthOut(status="ok", device=state.device, models=models, sessions=len(state.sessions),
                     renderer={**state.renderer.stats, "pending": state.renderer.pending_count(),
                               "batching": state.renderer.batching, "threads": state.renderer.threads,
                               "process_cpu_s": time.process_time()})
