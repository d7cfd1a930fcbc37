"""Stroke intake at the server's edge: validate a stroke dict against a model and store it compactly.

    entry = parse_stroke({"concept": "tree", "points": [[0.2, 0.8]]}, model, limits)   # or StrokeError
    entries = parse_strokes(items, model, limits, mask_budget)    # one request's strokes (MaskBudgetExceeded)
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

from ganpaint.paint.edit import OVERSAMPLE, Stroke, StrokeError, StrokeLimits, check_stroke, mask_grid
from ganpaint.paint.imaging import ImageError, mask_data_url_size
from ganpaint.paint.model import PaintModel

__all__ = ["Entry", "parse_stroke", "parse_strokes", "mask_pixels", "MaskBudgetExceeded"]


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
                                 f"{model.layer_size * OVERSAMPLE}² grid anyway)")
    return [parse_stroke(d, model, limits) for d in items]


def parse_stroke(d: Any, model: PaintModel, limits: StrokeLimits) -> Entry:
    """Validate and compact one stroke dict; raise StrokeError with a readable reason."""
    stroke = Stroke.from_dict(d, limits)
    check_stroke(stroke, model.table, model.channels)
    stroke = _compact(stroke, model.layer_size)
    return Entry(stroke, len(stroke.points) if stroke.points is not None else 1)
