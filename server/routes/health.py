"""GET /api/health: liveness, loaded models and their devices, session count, renderer counters.

The counters (and the process CPU time) let benchmarks see where server time goes.
"""
from __future__ import annotations

import time

from fastapi import APIRouter

from ..deps import DeviceDep, ModelsDep, RendererDep, SessionsDep
from ..schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=HealthOut, summary="Liveness and loaded models")
async def health(models: ModelsDep, sessions: SessionsDep, renderer: RendererDep, device: DeviceDep) -> HealthOut:
    # on the loop, not in a thread: it answers when threads are busy
    loaded = {mid: {"device": str(m.device), "resolution": m.resolution} for mid, m in models.items()}
    return HealthOut(status="ok", device=device, models=loaded, sessions=len(sessions),
                     renderer={**renderer.stats, "pending": renderer.pending_count(), "batching": renderer.batching,
                               "threads": renderer.threads, "process_cpu_s": time.process_time()})
