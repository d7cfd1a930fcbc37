"""Sessions over REST: create, inspect, paint, undo/redo/reset, delete a stroke, forget.

    curl -X POST localhost:8000/api/sessions -H 'content-type: application/json' -d '{"model": "scenes", "seed": 7}'
    curl -X POST localhost:8000/api/sessions/$ID/strokes -H 'content-type: application/json' \
         -d '{"concept": "tree", "points": [[0.2, 0.8], [0.6, 0.8]]}' -o painted.png
    curl -X POST localhost:8000/api/sessions/$ID/undo -o before.png
    curl localhost:8000/api/sessions/$ID/image?format=webp -o now.webp
    curl "localhost:8000/api/sessions/$ID/image?view=composite" -o photo.png   # photos: full resolution

Every edit answers with the new image (canonical render, so it equals the websocket's frame of the
same state byte for byte) and tells open websockets of the session about the new state.
"""
from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ganpaint.imaging import MEDIA_TYPES
from ganpaint.model import MAX_SEED

from ..deps import ModelsDep, SessionDep, SessionsDep, SettingsDep, lookup_model
from ..photos import session_image
from ..render import session_frame
from ..schemas import IMAGE_RESPONSES, ErrorOut, ImageFormat, SessionIn, SessionOut, StrokeIn
from ..sessions import Session
from ..strokes import parse_stroke
from .models import stroke_limits, z_from_list

router = APIRouter(tags=["sessions"], responses={404: {"model": ErrorOut}})

FormatQuery = Annotated[ImageFormat, Query(description="image format of the answer")]
EDIT_RESPONSES = {**IMAGE_RESPONSES, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}}


async def _image(request: Request, session: Session, fmt: str) -> Response:
    state = request.app.state
    if session.photo is not None:  # a photo's edits answer with the frame the page shows
        data = await session_image(state, session, fmt, view="frame", key=("rest", uuid.uuid4().hex))
        return Response(data, media_type=MEDIA_TYPES[fmt], headers={"X-Session-State": str(session.state.id)})
    data = await session_frame(state.renderer, session, session.state, fmt, key=("rest", uuid.uuid4().hex),
                               quality=state.settings.quality, refuse_when_busy=True)
    return Response(data, media_type=MEDIA_TYPES[fmt], headers={"X-Session-State": str(session.state.id)})


def _changed(request: Request, session: Session) -> None:
    for painter in list(request.app.state.painters.get(session.id, ())):
        painter.state_changed()


@router.post("/api/sessions", response_model=SessionOut, status_code=201,
             responses={422: {"model": ErrorOut}, 503: {"model": ErrorOut}}, summary="Start editing an image")
async def create_session(body: SessionIn, models: ModelsDep, sessions: SessionsDep) -> dict:
    model_id, m = lookup_model(models, body.model)
    if body.z is not None:
        seed, z = None, z_from_list(m, body.z)
    else:
        seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
        z = m.z_for_seed(seed)
    h = await anyio.to_thread.run_sync(m.features, z)
    return sessions.create(model_id, m, seed=seed, z=z, h=h).describe()


@router.get("/api/sessions/{session_id}", response_model=SessionOut, summary="A session's state")
def get_session(session: SessionDep) -> dict:
    return session.describe()


@router.get("/api/sessions/{session_id}/image", response_class=Response, responses=EDIT_RESPONSES,
            summary="The current image")
async def get_image(request: Request, session: SessionDep, format: FormatQuery = "png",
                    view: Annotated[Literal["composite", "frame", "model"], Query(
                        description="photos: the original at full resolution with the edit blended in, the same "
                                    "composite at display size (what the page shows), or the model's output")
                    ] = "composite",
                    ) -> Response:
    if session.photo is None:
        return await _image(request, session, format)  # generated images have one view: the model's output
    data = await session_image(request.app.state, session, format, view=view, key=("rest", uuid.uuid4().hex))
    return Response(data, media_type=MEDIA_TYPES[format], headers={"X-Session-State": str(session.state.id)})


@router.post("/api/sessions/{session_id}/strokes", response_class=Response, responses=EDIT_RESPONSES,
             summary="Commit one stroke")
async def add_stroke(request: Request, body: StrokeIn, session: SessionDep, settings: SettingsDep,
                     format: FormatQuery = "png") -> Response:
    session.commit(parse_stroke(body.to_dict(), session.model, stroke_limits(settings)))
    _changed(request, session)
    return await _image(request, session, format)


@router.post("/api/sessions/{session_id}/undo", response_class=Response, responses=EDIT_RESPONSES, summary="Undo")
async def undo(request: Request, session: SessionDep, format: FormatQuery = "png") -> Response:
    session.undo()
    _changed(request, session)
    return await _image(request, session, format)


@router.post("/api/sessions/{session_id}/redo", response_class=Response, responses=EDIT_RESPONSES, summary="Redo")
async def redo(request: Request, session: SessionDep, format: FormatQuery = "png") -> Response:
    session.redo()
    _changed(request, session)
    return await _image(request, session, format)


@router.post("/api/sessions/{session_id}/reset", response_class=Response, responses=EDIT_RESPONSES,
             summary="Remove all strokes (undoable)")
async def reset(request: Request, session: SessionDep, format: FormatQuery = "png") -> Response:
    session.reset()
    _changed(request, session)
    return await _image(request, session, format)


@router.delete("/api/sessions/{session_id}/strokes/{index}", response_class=Response, responses=EDIT_RESPONSES,
               summary="Remove one committed stroke (undoable)")
async def delete_stroke(request: Request, session: SessionDep, index: int, format: FormatQuery = "png") -> Response:
    session.delete(index)
    _changed(request, session)
    return await _image(request, session, format)


@router.delete("/api/sessions/{session_id}", status_code=204, response_class=Response, summary="Forget a session now")
async def delete_session(request: Request, session: SessionDep, sessions: SessionsDep) -> Response:
    sessions.delete(session.id)  # drops its photo; its adaptation job stops at its next step
    request.app.state.jobs.cancel_owner(session.id, "the session was deleted")
    for painter in list(request.app.state.painters.get(session.id, ())):
        painter.session_gone()
    return Response(status_code=204)
