"""What a model cannot generate, and what a photo's reconstruction leaves out.

    curl localhost:8000/api/models/scenes/omissions          # class shares generated vs world, FSD
    curl localhost:8000/api/sessions/$S/omissions            # a photo session: classes lost in reconstruction
"""
from __future__ import annotations

import anyio
import torch
from fastapi import APIRouter, HTTPException

from ganpaint.dissect.explorer import omission_report
from ganpaint.dissect.omissions import photo_omissions

from ..analyses import Pending
from ..deps import AnalysesDep, ModelDep, SessionDep
from ..explorer_schemas import OmissionsOut, PhotoOmissionsOut
from ..schemas import ErrorOut
from .units import analysis, pending

router = APIRouter(tags=["explorer"], responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}})


@router.get("/api/models/{model}/omissions", response_model=OmissionsOut,
            summary="Per-class share in generated vs real images, FSD and its baseline, dropped classes")
async def model_omissions(analyses: AnalysesDep, m: ModelDep):
    if m.segmenter is None:
        raise HTTPException(409, f"model {m.id!r} has no segmenter to read class shares with")
    try:
        return await anyio.to_thread.run_sync(
            analysis, analyses, m, "omissions", lambda p: omission_report(m, progress_fn=p),
            lambda: omission_report(m, compute=False))
    except Pending as e:
        return pending(e, "omission report")


def _photo_omissions(session) -> dict:
    m = session.model
    photo = session.photo
    if photo is None:
        raise HTTPException(409, "this session is not a photo (or its photo was dropped): see "
                                 f"/api/models/{session.model_id}/omissions for the model")
    if not session.editable:
        raise HTTPException(409, "the photo is still being adapted; ask again when its job is done")
    with torch.inference_mode():
        recon = m.render(session.h, generator=session.generator)
    return photo_omissions(m.segmenter, photo.tensor().to(recon.device), recon)


@router.get("/api/sessions/{session_id}/omissions", response_model=PhotoOmissionsOut,
            summary="Classes the segmenter finds in the session's photo and how much of each its reconstruction keeps")
async def session_omissions(session: SessionDep):
    if session.model.segmenter is None:
        raise HTTPException(409, f"model {session.model_id!r} has no segmenter")
    return await anyio.to_thread.run_sync(_photo_omissions, session)
