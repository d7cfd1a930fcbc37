"""Photos: upload one to edit it; the generator is adapted to it in the background.

    curl -F file=@photo.jpg -F model=scenes -F fit=crop localhost:8000/api/photos
        → 202 {"session": "…", "job": "…", "width": 4032, "height": 3024, ...}
    curl localhost:8000/api/jobs/$JOB                  # until "state": "done"
    curl "localhost:8000/api/sessions/$SESSION/image?view=composite" -o edited.png

Decoding limits come from settings (max_upload_bytes, max_upload_pixels): too large → 413, not an
image → 415, truncated or corrupt → 422, unknown model → 404, job queue full → 503 with Retry-After.
"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse

from ..deps import ClientDep, JobsDep, ModelsDep, PhotosDep, SettingsDep, lookup_model
from ..schemas import ErrorOut, PhotoOut

router = APIRouter(tags=["photos"])


@router.post("/api/photos", status_code=202, response_model=PhotoOut, summary="Upload a photo to edit",
             responses={404: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut},
                        422: {"model": ErrorOut}, 503: {"model": ErrorOut}})
async def upload_photo(models: ModelsDep, settings: SettingsDep, photos: PhotosDep, jobs: JobsDep, client: ClientDep,
                       file: Annotated[UploadFile, File(description="a JPEG, PNG or WebP image")],
                       model: Annotated[str | None, Form(max_length=200, description="model id (default: the first)")] = None,
                       fit: Annotated[Literal["crop", "letterbox"] | None, Form(
                           description="centre-crop to the model's square, or letterbox (default: settings)")] = None,
                       ) -> JSONResponse:
    model_id, m = lookup_model(models, model)
    data = await file.read(settings.max_upload_bytes + 1)  # one byte more tells "too large" from "exactly the limit"
    session, job = await photos.start(model_id, m, data, fit=fit or settings.photo_fit, filename=file.filename,
                                      client=client)
    src = session.source
    body = PhotoOut(session=session.id, job=job.id, model=model_id, width=src.width, height=src.height,
                    fit=src.fit, position=jobs.position(job))
    return JSONResponse(body.model_dump(), 202, headers={"Location": f"/api/jobs/{job.id}"})
