"""Sessions over REST: create, inspect, paint, undo/redo/reset, delete a stroke, set options, forget.

    curl -X POST localhost:8000/api/sessions -H 'content-type: application/json' -d '{"model": "scenes", "seed": 7}'
    curl -X POST localhost:8000/api/sessions/$ID/strokes -H 'content-type: application/json' \
         -d '{"concept": "tree", "points": [[0.2, 0.8], [0.6, 0.8]]}' -o painted.png
    curl -X POST localhost:8000/api/sessions/$ID/undo -o before.png
    curl -X PATCH localhost:8000/api/sessions/$ID -H 'content-type: application/json' -d '{"remove_artifacts": true}'
    curl localhost:8000/api/sessions/$ID/image?format=webp -o now.webp
    curl "localhost:8000/api/sessions/$ID/image?view=composite" -o photo.png   # photos: full resolution

Each edit is parse → `Session.apply` → answer: the session tells its open websockets, and the answer
is the new image (canonical render, so it equals the websocket's frame of the same state byte for byte).
"""
from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from ganpaint.paint.imaging import MEDIA_TYPES, upscale_encoded
from ganpaint.paint.model import MAX_SEED

from ..commands import AddStroke, Command, DeleteStroke, Redo, Reset, SetOptions, Undo
from ..cluster.haproxy import SESSION_HEADER
from ..deps import (ClientDep, DecodingDep, ModelsDep, RendererDep, SessionDep, SessionsDep, SettingsDep,
                    lookup_model)
from ..photos import session_image
from ..render import Renderer, session_frame
from ..schemas import IMAGE_RESPONSES, ErrorOut, ImageFormat, OptionsIn, SessionIn, SessionOut, StrokeIn
from ..sessions import Session
from ..settings import Settings
from ..sources import z_from_list
from ..strokes import parse_strokes

router = APIRouter(tags=["sessions"], responses={404: {"model": ErrorOut}})

FormatQuery = Annotated[ImageFormat, Query(description="image format of the answer")]
EDIT_RESPONSES = {**IMAGE_RESPONSES, **{code: {"model": ErrorOut} for code in (409, 413, 422, 503)}}


async def _edit(session: Session, command: Command, renderer: Renderer, settings: Settings, fmt: str) -> Response:
    state = await session.apply(command)
    if session.photo is not None:  # a photo's edits answer with the frame the page shows
        data = await session_image(renderer, session, fmt, view="frame", key=("rest", uuid.uuid4().hex),
                                   quality=settings.quality)
        return Response(data, media_type=MEDIA_TYPES[fmt], headers={"X-Session-State": str(state.id)})
    data = await session_frame(renderer, session, state, fmt, key=("rest", uuid.uuid4().hex),
                               quality=settings.quality, refuse_when_busy=True)
    return Response(data, media_type=MEDIA_TYPES[fmt], headers={"X-Session-State": str(state.id)})


@router.post("/api/sessions", response_model=SessionOut, status_code=201,
             responses={422: {"model": ErrorOut}, 503: {"model": ErrorOut}}, summary="Start editing an image")
async def create_session(body: SessionIn, models: ModelsDep, sessions: SessionsDep, client: ClientDep,
                         response: Response) -> dict:
    model_id, m = lookup_model(models, body.model)
    if body.z is not None:
        seed, z = None, z_from_list(m, body.z)
    else:
        seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
        z = m.z_for_seed(seed)
    h = await anyio.to_thread.run_sync(m.features, z)
    s = sessions.create(model_id, m, seed=seed, z=z, h=h, client=client)
    response.headers[SESSION_HEADER] = s.id  # a load balancer learns where the session lives (server.cluster)
    return s.describe()


@router.get("/api/sessions/{session_id}", response_model=SessionOut, summary="A session's state")
def get_session(session: SessionDep) -> dict:
    return session.describe()


@router.patch("/api/sessions/{session_id}", response_model=SessionOut, responses={422: {"model": ErrorOut}},
              summary="Change session options (not undoable: undo leaves them alone)")
async def set_options(body: OptionsIn, session: SessionDep) -> dict:
    await session.apply(SetOptions(**body.model_dump()))
    return session.describe()


@router.get("/api/sessions/{session_id}/image", response_class=Response, responses=EDIT_RESPONSES,
            summary="The current image")
async def get_image(session: SessionDep, renderer: RendererDep, settings: SettingsDep, format: FormatQuery = "png",
                    view: Annotated[Literal["composite", "frame", "model"], Query(
                        description="photos: the original at full resolution with the edit blended in, the same "
                                    "composite at display size (what the page shows), or the model's output")
                    ] = "composite",
                    scale: Annotated[int, Query(ge=1, le=8, description=(
                        "enlarge the model's output this many times (Lanczos): a bigger file, no new detail; "
                        "not for a photo's composite, which is at the photo's own resolution"))] = 1,
                    ) -> Response:
    state = session.state
    if scale > 1 and session.photo is not None and view == "composite":
        raise HTTPException(422, "scale applies to the model's output (view=model); a photo's composite is "
                                 "already at the photo's own resolution")
    data = await session_image(renderer, session, format, view=view, key=("rest", uuid.uuid4().hex),
                               quality=settings.quality)
    headers = {"X-Session-State": str(state.id)}
    if scale > 1:
        data = await anyio.to_thread.run_sync(upscale_encoded, data, scale, format, settings.quality)
        headers["X-Upscaled"] = f"{scale}x (Lanczos, from the model's {session.model.resolution} px)"
    return Response(data, media_type=MEDIA_TYPES[format], headers=headers)


@router.post("/api/sessions/{session_id}/strokes", response_class=Response, responses=EDIT_RESPONSES,
             summary="Commit one stroke")
async def add_stroke(body: StrokeIn, session: SessionDep, renderer: RendererDep, settings: SettingsDep,
                     decoding: DecodingDep, client: ClientDep, format: FormatQuery = "png") -> Response:
    entry, = await decoding.run(client, parse_strokes, [body.to_dict()], session.model, settings.stroke_limits(),
                                settings.max_request_mask_pixels)
    return await _edit(session, AddStroke(entry), renderer, settings, format)


@router.post("/api/sessions/{session_id}/undo", response_class=Response, responses=EDIT_RESPONSES, summary="Undo")
async def undo(session: SessionDep, renderer: RendererDep, settings: SettingsDep,
               format: FormatQuery = "png") -> Response:
    return await _edit(session, Undo(), renderer, settings, format)


@router.post("/api/sessions/{session_id}/redo", response_class=Response, responses=EDIT_RESPONSES, summary="Redo")
async def redo(session: SessionDep, renderer: RendererDep, settings: SettingsDep,
               format: FormatQuery = "png") -> Response:
    return await _edit(session, Redo(), renderer, settings, format)


@router.post("/api/sessions/{session_id}/reset", response_class=Response, responses=EDIT_RESPONSES,
             summary="Remove all strokes (undoable)")
async def reset(session: SessionDep, renderer: RendererDep, settings: SettingsDep,
                format: FormatQuery = "png") -> Response:
    return await _edit(session, Reset(), renderer, settings, format)


@router.delete("/api/sessions/{session_id}/strokes/{index}", response_class=Response, responses=EDIT_RESPONSES,
               summary="Remove one committed stroke (undoable)")
async def delete_stroke(session: SessionDep, index: int, renderer: RendererDep, settings: SettingsDep,
                        format: FormatQuery = "png") -> Response:
    return await _edit(session, DeleteStroke(index), renderer, settings, format)


@router.delete("/api/sessions/{session_id}", status_code=204, response_class=Response, summary="Forget a session now")
async def delete_session(session: SessionDep, sessions: SessionsDep) -> Response:
    sessions.delete(session.id)  # closes it: its sockets are told, its photo is dropped, its job stops
    return Response(status_code=204)
