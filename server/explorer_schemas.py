"""Request and response shapes of the dissection explorer's routes (units, artifacts, placement, omissions)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .schemas import Latent, Seed, StrokeIn

__all__ = ["UnitOut", "UnitDetail", "ArtifactsOut", "PlacementIn", "PlacementOut", "OmissionsOut",
           "PhotoOmissionsOut", "PendingOut"]


class UnitBrush(BaseModel):
    concept: str
    mode: str = Field(description="draw or remove")
    rank: int = Field(description="0-based rank of the unit in this brush")
    of: int = Field(description="units in the brush")
    ranking: str = Field(description="how the brush was ranked: ace (causal) or iou")
    score: float | None = Field(description="the unit's coefficient in the ranking (causal effect for ace)")


class UnitOut(BaseModel):
    unit: int
    label: str | None = Field(description="class of best IoU (None without a segmenter)")
    iou: float | None
    q99: float = Field(description="the unit's 0.99 quantile: its draw level")
    artifact: bool = Field(description="flagged by the artifact ranking")
    brushes: list[UnitBrush] = Field(description="where the concept table uses the unit: its causal effect")


class UnitDetail(UnitOut):
    ious: dict[str, float] = Field(default_factory=dict, description="IoU with every class")
    threshold: float = Field(description="activation threshold of the label's IoU (outlined in examples.png)")
    threshold_quantile: float
    examples: list[int] = Field(description="seeds of the top-activating samples, highest first")
    peaks: list[float] = Field(description="the unit's peak activation in each example")
    examples_png: str = Field(description="path of the examples strip")


class ArtifactUnit(BaseModel):
    unit: int
    rank: int
    score: float = Field(description="the gain the ranking sorts by")
    z: float = Field(description="standard deviations above the layer's mean gain")
    realism_gain: float | None = Field(description="mean discriminator score change when the unit is switched off")
    fsd_gain: float | None = Field(description="FSD drop when the unit is switched off (positive = more plausible)")
    artifact: bool


class ArtifactsOut(BaseModel):
    model: str
    method: str
    ranked_by: str
    samples: int
    base: dict[str, float | None]
    artifacts: list[int] = Field(description="the flagged units, removed by the session option remove_artifacts")
    units: list[ArtifactUnit]


class PlacementIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"seed": 7, "concept": "door", "strokes": []}]})

    seed: Seed | None = None
    z: Latent | None = None
    strokes: list[StrokeIn] = Field(default_factory=list, max_length=1000, description="edits already on the picture")
    concept: str = Field(max_length=200, description="the concept to place")

    @model_validator(mode="after")
    def _one_source(self) -> "PlacementIn":
        if (self.seed is None) == (self.z is None):
            raise ValueError("give exactly one of 'seed' or 'z'")
        return self


class PlacementOut(BaseModel):
    concept: str
    units: list[int] = Field(description="the brush's units inserted at each cell")
    grid: list[list[float]] = Field(description="rows of the edit layer's grid: share of the cell read as the "
                                                "concept after inserting its units there alone (0..1)")
    before: list[list[float]] = Field(description="the same share without the insertion")
    map: str = Field(description="data:image/png;base64 RGBA overlay at the model's resolution")


class ClassShare(BaseModel):
    generated: float
    reference: float
    ratio: float | None


class OmissionsOut(BaseModel):
    model: str
    samples: int
    reference: str = Field(description="world (the procedural world) or an image folder")
    fsd: float = Field(description="Fréchet Segmentation Distance, generated vs reference")
    fsd_baseline: float | None = Field(description="FSD between two reference sets: sampling noise alone")
    classes: dict[str, ClassShare]
    dropped: list[str]
    overdrawn: list[str]
    rule: str


class PhotoOmissionsOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    classes: dict[str, dict[str, Any]] = Field(description="per class: share in the photo, in the reconstruction, "
                                                           "and how much survives")
    missing: list[str] = Field(description="classes of the photo its reconstruction (almost) leaves out")


class PendingOut(BaseModel):
    state: str = "running"
    stage: str
    progress: float
    detail: str
