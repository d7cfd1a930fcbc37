"""The unit inspector and the artifact ranking of a model.

    curl localhost:8000/api/models/scenes/units                  # every unit: label, IoU, q99, artifact flag
    curl localhost:8000/api/models/scenes/units/11               # details: IoU per class, example seeds
    curl localhost:8000/api/models/scenes/units/11/examples.png -o u11.png
    curl localhost:8000/api/models/scenes/artifacts              # units ranked by realism gain when removed

A model's first request for its units computes them in the background (202 with progress; ask again);
the artifact ranking, much longer, comes from `ganpaint artifacts` only.
"""
from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import JSONResponse, Response

from ganpaint.dissect.explorer import artifact_ranking, artifact_units_of, unit_report
from ganpaint.dissect.units import examples_strip

from ..analyses import Failed, Pending
from ..deps import AnalysesDep, ModelDep
from ..explorer_schemas import ArtifactsOut, PendingOut, UnitDetail, UnitOut
from ..schemas import ErrorOut

router = APIRouter(tags=["explorer"], responses={404: {"model": ErrorOut}, 202: {"model": PendingOut},
                                                 409: {"model": ErrorOut}})
UnitId = Annotated[int, Path(ge=0, le=1_000_000, description="unit of the edit layer")]


def pending(e: Pending, what: str) -> JSONResponse:
    return JSONResponse({"state": "running", "stage": e.stage, "progress": e.progress,
                         "detail": f"computing the {what} for this model (once); ask again shortly"},
                        status_code=202, headers={"Retry-After": "5"})


def analysis(analyses, m, name: str, compute, cached):
    try:
        return analyses.get(m.id, name, compute, cached)
    except Failed as e:
        raise HTTPException(409, str(e)) from None


def _units(analyses, m):
    return analysis(analyses, m, "units", lambda p: unit_report(m, progress_fn=p), lambda: unit_report(m, compute=False))


def _public(u: dict, artifacts: set[int]) -> dict:
    # the flag follows the model's ranking now (it may have been computed after the inspector)
    return {**{k: u[k] for k in ("unit", "label", "iou", "q99", "brushes")}, "artifact": u["unit"] in artifacts}


@router.get("/api/models/{model}/units", response_model=list[UnitOut], summary="Every unit of the edit layer")
async def list_units(analyses: AnalysesDep, m: ModelDep):
    try:
        report = await anyio.to_thread.run_sync(_units, analyses, m)
    except Pending as e:
        return pending(e, "unit inspector")
    flagged = set(artifact_units_of(m))
    return [_public(u, flagged) for u in report["units"]]


def _unit(report: dict, m, unit: int) -> dict:
    if unit >= len(report["units"]):
        raise HTTPException(404, f"{m.edit_layer} of {m.id!r} has units 0…{len(report['units']) - 1}")
    return report["units"][unit]


@router.get("/api/models/{model}/units/{unit}", response_model=UnitDetail, summary="One unit in detail")
async def get_unit(analyses: AnalysesDep, m: ModelDep, unit: UnitId):
    try:
        report = await anyio.to_thread.run_sync(_units, analyses, m)
    except Pending as e:
        return pending(e, "unit inspector")
    u = _unit(report, m, unit)
    return {**u, **_public(u, set(artifact_units_of(m))), "examples_png": f"/api/models/{m.id}/units/{unit}/examples.png"}


@router.get("/api/models/{model}/units/{unit}/examples.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "top samples, unit's region outlined"}},
            summary="The unit's top-activating samples with where it fires outlined")
async def unit_examples(analyses: AnalysesDep, m: ModelDep, unit: UnitId, count: int = 6):
    try:
        report = await anyio.to_thread.run_sync(_units, analyses, m)
    except Pending as e:
        return pending(e, "unit inspector")
    _unit(report, m, unit)
    png = await anyio.to_thread.run_sync(lambda: examples_strip(m, report, unit, count=max(1, min(count, 12))))
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@router.get("/api/models/{model}/artifacts", response_model=ArtifactsOut,
            summary="Units ranked by how much removing them everywhere makes images more realistic")
async def get_artifacts(m: ModelDep):
    # ranking renders every unit's removal on many pictures (minutes to an hour on a CPU): never on a
    # page load, only by the CLI; the route serves what it computed
    ranking = await anyio.to_thread.run_sync(lambda: artifact_ranking(m, compute=False))
    if ranking is None:
        raise HTTPException(409, f"no artifact ranking for model {m.id!r} yet: run `ganpaint artifacts --model "
                                 f"{m.id}` (it renders each unit's removal on 100 pictures)")
    return ranking
