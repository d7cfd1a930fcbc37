"""Request and response shapes of the REST API (pydantic), as published in /openapi.json.

    body = StrokeIn.model_validate({"concept": "tree", "points": [[0.2, 0.8]]})
    stroke_dict = body.to_dict()            # what ganpaint.paint.edit.Stroke.from_dict reads

Shapes are checked here (422 with a readable detail); meaning (known concept, exactly one of
points/mask, limits from settings) is checked by the core's Stroke.from_dict at the same 422.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ganpaint.paint.model import MAX_SEED

__all__ = [
    "ImageFormat", "StrokeIn", "RenderIn", "SessionIn", "SessionOut", "ModelSummary", "ModelDetail",
    "ConceptOut", "HealthOut", "SegmentOut", "ErrorOut", "IMAGE_RESPONSES", "PhotoOut", "JobOut", "OptionsIn",
]

def _not_bool(v: Any) -> Any:
    # pydantic's lax mode reads true/false as 1/0 for numbers ({"seed": false} was seed 0); the websocket's
    # own validation (ganpaint.paint.edit.Stroke.from_dict) refuses them, and so does REST now
    if isinstance(v, bool):
        raise ValueError("a number is expected here, not true/false")
    return v


NoBool = BeforeValidator(_not_bool)
ImageFormat = Literal["png", "jpeg", "webp"]
Coord = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False), NoBool]  # Field first: else its bounds
# reach the JSON schema as "ge"/"le" instead of minimum/maximum
Seed = Annotated[int, Field(ge=0, le=MAX_SEED, description="image id; 0…9999 are the original demo's ids"), NoBool]
Latent = Annotated[list[Annotated[float, Field(allow_inf_nan=False, ge=-1e4, le=1e4), NoBool]],
                   Field(min_length=1, max_length=4096, description="a latent vector of the model's z size")]


def _given(name: str) -> dict:
    """JSON Schema for "`name` is present and not null" (absent and null both mean "not given")."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def _exactly_one(*pairs: tuple[str, str]) -> dict:
    rules = [{"oneOf": [_given(a), _given(b)]} for a, b in pairs]
    return {"allOf": rules}


class ErrorOut(BaseModel):
    detail: str


class StrokeIn(BaseModel):
    """One brush stroke; positions are normalized image coordinates (x right, y down)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={
        **_exactly_one(("concept", "units"), ("points", "mask")),
        "examples": [{"concept": "tree", "mode": "draw", "strength": 1, "radius": 0.06,
                      "points": [[0.2, 0.8], [0.6, 0.8]]}]})

    concept: str | None = Field(None, max_length=200, description="a concept of the model (or give `units`)")
    units: list[Annotated[int, Field(ge=0, le=1_000_000), NoBool]] | None = Field(
        None, max_length=4096, description="a custom brush: unit ids, best first")
    mode: Literal["draw", "remove"] = "draw"
    strength: Annotated[float, NoBool] = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False,
                                               description="share of ranked units used")
    radius: Annotated[float, NoBool] = Field(0.06, ge=0.0, le=0.5, allow_inf_nan=False,
                                             description="brush radius (image widths); a draw edits each "
                                                         "edit-layer cell by the share of it the brush covers, a "
                                                         "removal every cell it touches, and the picture changes "
                                                         "only within the stroke grown by 2.5 % of the image")
    points: list[tuple[Coord, Coord]] | None = Field(None, description="polyline [[x, y], ...]")
    mask: str | None = Field(None, description="data:image/png;base64,… (alpha > 0 or dark = painted); "
                                               "a draw edits each cell by its painted share, a removal every cell it "
                                               "touches; the picture changes only within the painted area grown by "
                                               "2.5 % of the image")

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump(exclude_none=True)
        if "points" in d:
            d["points"] = [list(p) for p in d["points"]]
        return d


class RenderIn(BaseModel):
    """A stateless render: an image id or a latent, the strokes to apply in order, an image format."""

    model_config = ConfigDict(json_schema_extra={**_exactly_one(("seed", "z")), "examples": [{
        "seed": 7, "format": "png",
        "strokes": [{"concept": "tree", "points": [[0.2, 0.8], [0.6, 0.8]]}]}]})

    seed: Seed | None = None
    z: Latent | None = None
    strokes: list[StrokeIn] = Field(default_factory=list, max_length=1000)
    format: ImageFormat = "png"

    @model_validator(mode="after")
    def _one_source(self) -> "RenderIn":
        if (self.seed is None) == (self.z is None):
            raise ValueError("give exactly one of 'seed' or 'z'")
        return self


class SessionIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"not": {"allOf": [_given("seed"), _given("z")]},
                                                 "examples": [{"model": "scenes", "seed": 7}]})

    model: str | None = Field(None, max_length=200, description="model id (default: the first loaded model)")
    seed: Seed | None = Field(None, description="image id (default: a random one)")
    z: Latent | None = None

    @model_validator(mode="after")
    def _at_most_one_source(self) -> "SessionIn":
        if self.seed is not None and self.z is not None:
            raise ValueError("give at most one of 'seed' or 'z'")
        return self


class SessionOut(BaseModel):
    id: str = Field(description="the session's secret id (128 random bits)")
    model: str
    seed: int | None
    source: dict[str, Any] = Field(description='{"kind": "seed", "seed": n}, {"kind": "z"} or '
                                               '{"kind": "photo", "status", "job", "width", "height", "fit", ...}')
    width: int
    height: int
    state: int = Field(description="id of the current history state (changes with every edit)")
    strokes: list[dict[str, Any]]
    undo_depth: int
    redo_depth: int
    max_strokes: int
    ws: str = Field(description="path of this session's websocket")
    options: dict[str, Any] = Field(default_factory=dict, description='{"remove_artifacts": bool}; see PATCH')


class OptionsIn(BaseModel):
    """Session options to change; those left out keep their value. Options are not undoable."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"remove_artifacts": True}]})

    remove_artifacts: bool | None = Field(None, description="render without the model's artifact units")


class ConceptOut(BaseModel):
    name: str
    units: list[int] = Field(description="ranked units, best first")
    levels: list[float] = Field(description="draw value per unit (its q99 level)")
    scores: list[float]
    ranking: str = Field(description="how units were ranked: ace, iou, ...")
    value_scale: float = Field(description="draw values are levels × value_scale")
    remove_units: list[int] = Field(default_factory=list,
                                    description="units the remove brush switches off, ranked by ablation alone, best "
                                                "first; empty: remove uses `units`. With `remove_values`: every unit")
    remove_scores: list[float] = Field(default_factory=list)
    values: list[float] = Field(default_factory=list,
                                description="learned draw value per unit (optional); when present the draw brush "
                                            "uses these instead of levels × value_scale")
    remove_values: list[float] = Field(default_factory=list,
                                       description="a fill removal (optional): the level each of `remove_units` is set to "
                                                   "instead of 0, the mean of the class `remove_fill` (strength is then "
                                                   "the removal's opacity)")
    remove_fill: str = Field("", description="the class a fill removal paints in the concept's place; empty: the "
                                             "remove brush switches its units off")


class ModelSummary(BaseModel):
    id: str
    title: str
    resolution: int
    edit_layer: str
    units: int
    layer_size: int
    brushes: list[str]
    device: str
    segmenter: bool


class ModelDetail(ModelSummary):
    concepts: list[ConceptOut]
    table: dict[str, Any] = Field(description="how the concept table was made (method, samples, hashes)")


class HealthOut(BaseModel):
    status: Literal["ok"]
    device: str
    models: dict[str, dict[str, Any]]
    sessions: int
    renderer: dict[str, Any]


class SegmentOut(BaseModel):
    labels: list[str]
    fractions: dict[str, float]
    map: str = Field(description="data:image/png;base64,… at the model's resolution; pixel = index into labels")


class PhotoOut(BaseModel):
    session: str = Field(description="the new session's id: paint on it once the job is done")
    job: str = Field(description="the adaptation job's id: GET /api/jobs/{job} for its progress")
    model: str
    width: int = Field(description="the photo's width in pixels (after EXIF orientation)")
    height: int
    fit: Literal["crop", "letterbox"]
    position: int = Field(description="place in the job queue (1 = next); 0 once running")


class JobOut(BaseModel):
    id: str
    kind: str = Field(description='"adapt": fitting the generator to an uploaded photo')
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float = Field(ge=0.0, le=1.0)
    stage: str = Field(description="queued, starting, encoder, h4, coarse, fine, cancelling, then the final state")
    metrics: dict[str, Any] = Field(description="l1 (current reconstruction error, images in [-1, 1]); when done "
                                    "also psnr, seconds, per-stage l1/psnr, psnr_model (before the fine offset: how "
                                    "well the model itself can draw the photo), fit ({level: good|rough|poor, hint, "
                                    "omitted}) and omissions (per-class shares in the photo vs its reconstruction)")
    error: str | None = Field(description="why it failed or was cancelled")
    position: int = Field(description="place in the queue (1 = next to start); 0 when not waiting")
    seconds: float = Field(description="time spent running so far")
    eta_s: float | None = Field(None, description="estimated seconds until done (from the progress rate while "
                                "running, recent job durations while queued); null once ended or unknown")


IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}, "description": "the image"},
}
