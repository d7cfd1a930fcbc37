"""Where can a concept go? A map over the edit layer's cells, for a picture or a session.

    curl -X POST localhost:8000/api/models/scenes/placement -H 'content-type: application/json' \
         -d '{"seed": 7, "concept": "door"}'
    curl "localhost:8000/api/sessions/$S/placement?concept=door"
"""
from __future__ import annotations

from typing import Annotated

import anyio
import torch
from fastapi import APIRouter, HTTPException, Query

from ganpaint.paint.edit import compose
from ganpaint.paint.placement import heatmap_data_url, placement_map

from ..deps import ClientDep, DecodingDep, ModelDep, SessionDep, SettingsDep
from ..explorer_schemas import PlacementIn, PlacementOut
from ..schemas import ErrorOut
from ..sources import z_from_list
from ..strokes import parse_strokes

router = APIRouter(tags=["explorer"], responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut},
                                                 422: {"model": ErrorOut}})


def _check(m, concept: str) -> None:
    if m.segmenter is None:
        raise HTTPException(409, f"model {m.id!r} has no segmenter: placement reads the concept with one")
    if concept not in m.table.concepts:
        raise HTTPException(422, f"unknown concept {concept!r}; this model knows: {', '.join(m.table.brushes) or 'none'}")
    if concept not in m.segmenter.labels:
        raise HTTPException(422, f"the segmenter of {m.id!r} cannot see {concept!r}")


def _map(m, h, alpha, value, concept: str, generator=None) -> dict:
    p = placement_map(m, m.segmenter, h, concept, alpha=alpha, value=value, generator=generator)
    return {**p.to_dict(), "map": heatmap_data_url(p.grid, m.resolution)}


@router.post("/api/models/{model}/placement", response_model=PlacementOut,
             summary="Where inserting a concept's units makes it appear, cell by cell (stateless)")
async def placement(body: PlacementIn, m: ModelDep, settings: SettingsDep, decoding: DecodingDep,
                    client: ClientDep) -> dict:
    _check(m, body.concept)
    entries = await decoding.run(client, parse_strokes, [s.to_dict() for s in body.strokes], m,
                                 settings.stroke_limits(), settings.max_request_mask_pixels)
    strokes = [e.stroke for e in entries]
    z = m.z_for_seed(body.seed) if body.seed is not None else z_from_list(m, body.z)

    def work() -> dict:
        alpha, value = compose(strokes, m.table, m.channels, m.layer_size)
        return _map(m, m.features(z), alpha, value, body.concept)

    return await anyio.to_thread.run_sync(work)


@router.get("/api/sessions/{session_id}/placement", response_model=PlacementOut,
            summary="Where a concept can go on the session's current picture")
async def session_placement(session: SessionDep,
                            concept: Annotated[str, Query(max_length=200, description="e.g. door")]) -> dict:
    m = session.model
    _check(m, concept)
    if not session.editable:
        raise HTTPException(409, "the photo is still being adapted; ask again when its job is done")
    state = session.state

    def work() -> dict:
        alpha, value = session.composite(state)
        with torch.inference_mode():
            return _map(m, session.h, alpha, value, concept, session.generator)

    return await anyio.to_thread.run_sync(work)
