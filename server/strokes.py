"""Stroke intake at the server's edge: validate a stroke dict against a model and store it compactly.

    entry = parse_stroke({"concept": "tree", "points": [[0.2, 0.8]]}, model, limits)   # or StrokeError
    entry.stroke, entry.points, entry.public()

Validation is the core's (`Stroke.from_dict`, then `check_stroke` against the model), so a bad stroke
is answered before any rendering work is queued. Mask strokes are reduced to the grid the edit engine
rasterizes on (`mask_grid`, the engine's own reduction), so a 4096² upload costs ~1 KB in a session
and paints exactly the cells the full mask would.
"""
from __future__ import annotations

import base64
import dataclasses
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ganpaint.edit import OVERSAMPLE, Stroke, StrokeLimits, check_stroke, mask_grid
from ganpaint.model import PaintModel

__all__ = ["Entry", "parse_stroke"]


@dataclass(frozen=True)
class Entry:
    """One committed stroke as a session keeps it."""

    stroke: Stroke
    points: int  # counted against the session's point budget

    def public(self) -> dict:
        return self.stroke.to_dict()


def _mask_data_url(mask: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.where(mask, 0, 255).astype(np.uint8), "L").save(buf, "PNG")  # dark = painted
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _compact(stroke: Stroke, layer_size: int) -> Stroke:
    if stroke.mask is None:
        # the point tuples are the stroke; the request dict would only duplicate them
        return dataclasses.replace(stroke, source=None)
    small = mask_grid(stroke.mask, layer_size * OVERSAMPLE)
    public = {k: v for k, v in (stroke.source or {}).items() if k != "mask"}
    public["mask"] = _mask_data_url(small)
    return dataclasses.replace(stroke, mask=small, source=public)


def parse_stroke(d: Any, model: PaintModel, limits: StrokeLimits) -> Entry:
    """Validate and compact one stroke dict; raise StrokeError with a readable reason."""
    stroke = Stroke.from_dict(d, limits)
    check_stroke(stroke, model.table, model.channels)
    stroke = _compact(stroke, model.layer_size)
    return Entry(stroke, len(stroke.points) if stroke.points is not None else 1)
