"""Background jobs (photo adaptation): progress and cancel.

    curl localhost:8000/api/jobs/$JOB        → {"state": "running", "progress": 0.42, "stage": "coarse", ...}
    curl -X DELETE localhost:8000/api/jobs/$JOB

Progress also reaches the photo session's websocket as {"type": "progress", ...} messages.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from ..deps import JobsDep

from ..schemas import ErrorOut, JobOut

router = APIRouter(tags=["jobs"], responses={404: {"model": ErrorOut}})

JobId = Annotated[str, Path(description="the id returned by POST /api/photos", max_length=200)]


def _unknown() -> HTTPException:
    return HTTPException(404, "unknown job (finished jobs are forgotten after a while)")


@router.get("/api/jobs/{job_id}", response_model=JobOut, summary="A job's state and progress")
def get_job(jobs: JobsDep, job_id: JobId) -> dict:
    job = jobs.get(job_id)
    if job is None:
        raise _unknown()
    return jobs.describe(job)


@router.delete("/api/jobs/{job_id}", response_model=JobOut, responses={409: {"model": ErrorOut}},
               summary="Cancel a job (running ones stop within one optimization step)")
async def cancel_job(jobs: JobsDep, job_id: JobId) -> dict:
    job = jobs.get(job_id)
    if job is None:
        raise _unknown()
    if job.ended:
        raise HTTPException(409, f"the job has already ended ({job.state})")
    await jobs.cancel(job_id)
    return jobs.describe(job)
