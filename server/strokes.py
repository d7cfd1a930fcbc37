"""Stroke intake at the server's edge: validate a stroke dict against a model and store it compactly.

    entry = parse_stroke({"concept": "tree", "points": [[0.2, 0.8]]}, model, limits)   # or StrokeError
    entry.stroke, entry.points, entry.public()

Validation is the core's (`Stroke.from_dict`) plus the cheap per-model checks (known concept, unit
ids in range), so a bad stroke is answered before any rendering work is queued. Mask strokes are
reduced to the grid the edit engine rasterizes on, so a 4096² upload costs ~1 KB in a session.
"""
from __future__ import annotations

import base64
import dataclasses
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganpaint.edit import Stroke, StrokeError, StrokeLimits
from ganpaint.imaging import ImageError, mask_data_url_size
from ganpaint.model import PaintModel

__all__ = ["Entry", "parse_stroke", "parse_strokes", "check_stroke", "mask_pixels", "MaskBudgetExceeded",
           "MASK_OVERSAMPLE"]

# ganpaint.edit.stroke_mask rasterizes at layer_size × 4 by default; a mask reduced to exactly that
# grid (area average, then >= 0.5) rasterizes to the same footprint, bit for bit.
MASK_OVERSAMPLE = 4


@dataclass(frozen=True)
class Entry:
    """One committed stroke as a session keeps it."""

    stroke: Stroke
    points: int  # counted against the session's point budget

    def public(self) -> dict:
        return self.stroke.to_dict()


def check_stroke(stroke: Stroke, model: PaintModel) -> None:
    """The per-model checks of ganpaint.edit.stroke_edit, without rasterizing anything."""
    if stroke.concept is not None and stroke.concept not in model.table.concepts:
        known = ", ".join(model.table.brushes) or "none"
        raise StrokeError(f"unknown concept {stroke.concept!r}; this model knows: {known}")
    if stroke.units is not None:
        bad = [u for u in stroke.units if u >= model.channels]
        if bad:
            raise StrokeError(f"unit {bad[0]} does not exist: {model.edit_layer} has units 0…{model.channels - 1}")


def _mask_data_url(mask: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.where(mask, 0, 255).astype(np.uint8), "L").save(buf, "PNG")  # dark = painted
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _compact(stroke: Stroke, layer_size: int) -> Stroke:
    if stroke.mask is None:
        # the point tuples are the stroke; the request dict would only duplicate them
        return dataclasses.replace(stroke, source=None)
    n = layer_size * MASK_OVERSAMPLE
    m = torch.from_numpy(np.ascontiguousarray(stroke.mask, dtype=np.float32))[None, None]
    small = (F.interpolate(m, size=(n, n), mode="area")[0, 0] >= 0.5).numpy()
    public = {k: v for k, v in (stroke.source or {}).items() if k != "mask"}
    public["mask"] = _mask_data_url(small)
    return dataclasses.replace(stroke, mask=small, source=public)


class MaskBudgetExceeded(StrokeError):
    """The masks of one request or message would cost more to decode than its budget (HTTP 413)."""


def mask_pixels(items: list[Any], limits: StrokeLimits) -> int:
    """Pixels the masks among these stroke dicts declare (headers only: decodes nothing)."""
    total = 0
    for d in items:
        mask = d.get("mask") if isinstance(d, dict) else None
        if isinstance(mask, str):
            try:
                w, h = mask_data_url_size(mask, max_bytes=limits.max_mask_bytes)
            except ImageError:
                continue  # Stroke.from_dict says what is wrong with it
            total += w * h
    return total


def parse_strokes(items: list[Any], model: PaintModel, limits: StrokeLimits, mask_budget: int) -> list[Entry]:
    """parse_stroke for each of one request's strokes, refusing at once (before decoding any mask) when
    their masks hold more than `mask_budget` pixels in all. Slow for big masks: run it in a thread."""
    total = mask_pixels(items, limits)
    if total > mask_budget:
        raise MaskBudgetExceeded(f"the masks of one request may hold at most {mask_budget:,} pixels in all; these "
                                 f"hold {total:,} (send smaller masks: they are reduced to a "
                                 f"{model.layer_size * MASK_OVERSAMPLE}² grid anyway)")
    return [parse_stroke(d, model, limits) for d in items]


def parse_stroke(d: Any, model: PaintModel, limits: StrokeLimits) -> Entry:
    """Validate and compact one stroke dict; raise StrokeError with a readable reason."""
    stroke = Stroke.from_dict(d, limits)
    check_stroke(stroke, model)
    stroke = _compact(stroke, model.layer_size)
    return Entry(stroke, len(stroke.points) if stroke.points is not None else 1)
