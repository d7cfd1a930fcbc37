"""What a session paints on: a generated image (a seed, or a latent given as numbers) or an uploaded photo.

    SeedSource(7).public()      → {"kind": "seed", "seed": 7}
    SeedSource(None).public()   → {"kind": "z"}
    PhotoSource(4032, 3024, "crop", job="…").public()
        → {"kind": "photo", "status": "adapting", "job": "…", "width": 4032, "height": 3024, "fit": "crop"}
    z = z_from_list(model, [0.1, ...])          # ModelError (→ 422) when the length is wrong

Sources are values: a photo's progress (adapting → ready, failed or cancelled) replaces the session's
source with an updated copy, so whoever holds the old one holds a consistent snapshot.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ganpaint.paint.model import ModelError, PaintModel

__all__ = ["SeedSource", "PhotoSource", "PhotoStatus", "Source", "z_from_list"]

PhotoStatus = Literal["adapting", "ready", "failed", "cancelled"]


@dataclass(frozen=True)
class SeedSource:
    """A generated image: image id `seed` of the model, or (seed None) a latent the client sent."""

    seed: int | None = None

    @property
    def editable(self) -> bool:
        return True

    def public(self) -> dict:
        return {"kind": "seed", "seed": self.seed} if self.seed is not None else {"kind": "z"}


@dataclass(frozen=True)
class PhotoSource:
    """An uploaded photo: its original size, how it was fitted to the model's square, its adaptation job."""

    width: int
    height: int
    fit: str
    name: str | None = None  # the uploaded file's name, for the page to show
    job: str | None = None
    status: PhotoStatus = "adapting"
    error: str | None = None
    # once ready: how well the model draws it, {"level", "hint"} (ganpaint.photo.photo_fit)
    model_fit: dict | None = None

    @property
    def editable(self) -> bool:
        """Only once the generator is adapted: until then the session's activations are a placeholder."""
        return self.status == "ready"

    def public(self) -> dict:
        d = {"kind": "photo", "status": self.status, "job": self.job, "width": self.width, "height": self.height,
             "fit": self.fit}
        if self.name:
            d["name"] = self.name
        if self.status in ("failed", "cancelled"):
            d["error"] = self.error
        if self.model_fit is not None:
            d["model_fit"] = dict(self.model_fit)
        return d


Source = SeedSource | PhotoSource


def z_from_list(model: PaintModel, values: list[float]) -> torch.Tensor:
    """A latent sent as numbers, checked against the model's z size: (1, z_dim)."""
    zdim = model.generator.config.z_dim
    if len(values) != zdim:
        raise ModelError(f"z must have {zdim} numbers for model {model.id!r}, got {len(values)}")
    return torch.tensor([values], dtype=torch.float32, device=model.device)
