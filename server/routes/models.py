"""Models: list, describe (with concepts), stateless render, segment an uploaded image.

    curl localhost:8000/api/models/scenes
    curl -X POST localhost:8000/api/models/scenes/render -H 'content-type: application/json' \
         -d '{"seed": 7, "strokes": [{"concept": "tree", "points": [[0.2, 0.8], [0.6, 0.8]]}]}' -o out.png
    curl -X POST localhost:8000/api/models/scenes/segment -F file=@photo.jpg
"""
from __future__ import annotations

import base64
import io
import uuid
from typing import Annotated

import anyio
import numpy as np
import torch
from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.responses import Response
from PIL import Image

from ganpaint.paint.imaging import MEDIA_TYPES
from ganpaint.paint.model import PaintModel
from ganpaint.photo.photo import decode_photo

from ..deps import ClientDep, DecodingDep, ModelDep, ModelsDep, RendererDep, SettingsDep
from ..schemas import IMAGE_RESPONSES, ConceptOut, ErrorOut, ModelDetail, ModelSummary, RenderIn, SegmentOut
from ..settings import Settings
from ..sources import z_from_list
from ..strokes import parse_strokes

router = APIRouter(tags=["models"], responses={404: {"model": ErrorOut}, 413: {"model": ErrorOut},
                                               422: {"model": ErrorOut}})


def _summary(mid: str, m: PaintModel) -> dict:
    d = m.describe()
    return {**d, "id": mid, "title": d["title"], "device": str(m.device), "segmenter": m.segmenter is not None}


@router.get("/api/models", response_model=list[ModelSummary], summary="Loaded models")
def list_models(models: ModelsDep) -> list[dict]:
    return [_summary(mid, m) for mid, m in models.items()]


@router.get("/api/models/{model}", response_model=ModelDetail, summary="One model with its concepts")
def get_model(model: str, m: ModelDep) -> dict:
    t = m.table
    concepts = [ConceptOut(name=n, **t.concepts[n].to_dict()) for n in t.brushes]
    return {**_summary(model, m), "concepts": concepts, "table": {"layer": t.layer, **t.meta}}


@router.post("/api/models/{model}/render", response_class=Response, responses=IMAGE_RESPONSES,
             summary="Render a seed or latent with strokes (stateless)")
async def render(body: RenderIn, m: ModelDep, settings: SettingsDep, renderer: RendererDep, decoding: DecodingDep,
                 client: ClientDep) -> Response:
    entries = await decoding.run(client, parse_strokes, [s.to_dict() for s in body.strokes], m,
                                 settings.stroke_limits(), settings.max_request_mask_pixels)
    strokes = [e.stroke for e in entries]
    z = m.z_for_seed(body.seed) if body.seed is not None else z_from_list(m, body.z)

    def prepare():
        return m.features(z), *m.edit(strokes), None  # the unedited picture: rendered beside it

    data = await renderer.render(("rest", uuid.uuid4().hex), m, prepare, canonical=True,
                                 encode=(body.format, settings.quality), refuse_when_busy=True)
    return Response(data, media_type=MEDIA_TYPES[body.format])


def _read_image(raw: bytes, settings: Settings) -> np.ndarray:
    """(H, W, 3) uint8, decoded exactly as photo uploads are (same formats, limits and statuses)."""
    return decode_photo(raw, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_upload_pixels)


def _segment(m: PaintModel, rgb: np.ndarray) -> dict:
    r = m.resolution
    arr = np.asarray(Image.fromarray(rgb).resize((r, r), Image.BILINEAR), dtype=np.float32) / 127.5 - 1.0
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].to(m.device)  # (1, 3, R, R) in [-1, 1]
    with torch.inference_mode():
        labels = m.segmenter.segment(x)[0].to("cpu", torch.int64)  # (R', R')
    if labels.shape != (r, r):  # the map is promised at the model's resolution
        labels = torch.nn.functional.interpolate(labels[None, None].float(), size=(r, r), mode="nearest")[0, 0].long()
    names = list(m.segmenter.labels)
    counts = torch.bincount(labels.flatten().clamp(0, len(names) - 1), minlength=len(names)).double()
    fractions = {n: float(c) for n, c in zip(names, counts / counts.sum())}
    buf = io.BytesIO()
    Image.fromarray(labels.clamp(0, 255).to(torch.uint8).numpy(), "L").save(buf, "PNG")
    return {"labels": names, "fractions": fractions,
            "map": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")}


@router.post("/api/models/{model}/segment", response_model=SegmentOut,
             responses={413: {"model": ErrorOut}, 415: {"model": ErrorOut}}, summary="Segment an image into concepts")
async def segment(m: ModelDep, settings: SettingsDep, decoding: DecodingDep, client: ClientDep,
                  file: Annotated[UploadFile, File(description="an image file")]) -> dict:
    if m.segmenter is None:
        raise HTTPException(404, f"model {m.id!r} has no segmenter")
    raw = await file.read(settings.max_upload_bytes + 1)  # one byte more: decode_photo says "too large"
    rgb = await decoding.run(client, _read_image, raw, settings)
    return await anyio.to_thread.run_sync(_segment, m, rgb)


__all__ = ["router"]
