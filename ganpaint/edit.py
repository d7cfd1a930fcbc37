"""The edit engine: strokes (plain data) → per-unit alpha/value maps → an edited layer.

    stroke = Stroke.from_dict({"concept": "tree", "mode": "draw", "points": [[0.2, 0.8], [0.6, 0.8]]})
    alpha, value = compose([stroke], table, channels=128, size=8)   # (128, 8, 8) each
    h = apply_edit(h4, alpha, value)                                # x·(1−a) + v·a
    img = G.render_from(h, "layer5")

A stroke's mask is rasterized on a grid `oversample`× finer than the layer and max-pooled down, so a
thin stroke still reaches the cells it touches. Strokes composite in order (alpha-over): later
strokes win where they overlap. Everything here is a pure function, testable on tiny tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .concepts import ConceptTable, units_for_strength
from .imaging import ImageError, decode_mask_data_url

__all__ = ["Stroke", "StrokeError", "StrokeLimits", "OVERSAMPLE", "check_stroke", "mask_grid", "stroke_mask",
           "stroke_edit", "compose", "apply_edit", "over"]

OVERSAMPLE = 4  # a stroke is rasterized on a grid this many times finer than the edited layer


class StrokeError(ValueError):
    """A stroke that cannot be applied; the message says why (shown to users as-is)."""


@dataclass(frozen=True)
class StrokeLimits:
    max_points: int = 2048
    max_units: int = 512
    max_mask_bytes: int = 2_000_000
    max_mask_pixels: int = 4096 * 4096


def _finite_number(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StrokeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise StrokeError(f"{name} must be between {lo} and {hi}, got {value!r}")
    return v


@dataclass(frozen=True)
class Stroke:
    mode: str = "draw"  # "draw" or "remove"
    concept: str | None = None
    units: tuple[int, ...] | None = None
    strength: float = 1.0
    radius: float = 0.06
    points: tuple[tuple[float, float], ...] | None = None
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)  # (H, W) bool
    source: dict | None = field(default=None, compare=False, repr=False)  # the dict it came from

    @classmethod
    def from_dict(cls, d: Any, limits: StrokeLimits = StrokeLimits()) -> "Stroke":
        """Validate a stroke as sent over the API; raise StrokeError with a readable reason."""
        if not isinstance(d, dict):
            raise StrokeError(f"a stroke must be an object, got {type(d).__name__}")
        mode = d.get("mode", "draw")
        if mode not in ("draw", "remove"):
            raise StrokeError(f"mode must be 'draw' or 'remove', got {mode!r}")
        concept, units = d.get("concept"), d.get("units")
        if (concept is None) == (units is None):
            raise StrokeError("a stroke needs exactly one of 'concept' or 'units'")
        if concept is not None and not isinstance(concept, str):
            raise StrokeError("concept must be a string")
        if units is not None:
            if not isinstance(units, list) or not units or len(units) > limits.max_units:
                raise StrokeError(f"units must be a non-empty list of at most {limits.max_units} unit ids")
            if not all(isinstance(u, int) and not isinstance(u, bool) and u >= 0 for u in units):
                raise StrokeError("units must be non-negative integers")
            units = tuple(units)
        strength = _finite_number(d.get("strength", 1.0), "strength", 0.0, 1.0)
        radius = _finite_number(d.get("radius", 0.06), "radius", 0.0, 0.5)
        points, mask = d.get("points"), d.get("mask")
        if (points is None) == (mask is None):
            raise StrokeError("a stroke needs exactly one of 'points' or 'mask'")
        if points is not None:
            if not isinstance(points, list) or not points:
                raise StrokeError("points must be a non-empty list of [x, y] pairs")
            if len(points) > limits.max_points:
                raise StrokeError(f"too many points: {len(points)} > {limits.max_points}")
            pts = []
            for p in points:
                if not isinstance(p, (list, tuple)) or len(p) != 2:
                    raise StrokeError("each point must be an [x, y] pair")
                pts.append((_finite_number(p[0], "x", 0.0, 1.0), _finite_number(p[1], "y", 0.0, 1.0)))
            points = tuple(pts)
        else:
            if not isinstance(mask, str):
                raise StrokeError("mask must be a data:image/png;base64 URL string")
            try:
                mask = decode_mask_data_url(mask, max_bytes=limits.max_mask_bytes, max_pixels=limits.max_mask_pixels)
            except ImageError as e:
                raise StrokeError(f"mask: {e}") from None
        return cls(mode, concept, units, strength, radius, points, mask, source=d)

    def to_dict(self) -> dict:
        if self.source is not None:
            return dict(self.source)
        d: dict = {"mode": self.mode, "strength": self.strength}
        if self.concept is not None:
            d["concept"] = self.concept
        else:
            d["units"] = list(self.units or ())
        if self.points is not None:
            d["points"] = [list(p) for p in self.points]
            d["radius"] = self.radius
        return d


def _points_mask(points: Sequence[tuple[float, float]], radius: float, n: int) -> torch.Tensor:
    """(n, n) bool: cells whose centre lies within `radius` of the polyline, plus each point's own cell.
    (numpy, float32: this runs for every preview frame, and small torch ops cost more than the math.)"""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)  # (P, 2) as (x, y)
    mask = np.zeros((n, n), dtype=bool)
    r = np.float32(radius)
    # only cells whose centre can be within `radius`: the points' bounding box grown by radius
    lo = np.clip(np.floor((pts.min(0) - r) * n - np.float32(0.5)), 0, n - 1).astype(int)
    hi = np.clip(np.ceil((pts.max(0) + r) * n - np.float32(0.5)), 0, n - 1).astype(int)
    x0, y0, x1, y1 = lo[0], lo[1], hi[0] + 1, hi[1] + 1
    c = (np.arange(n, dtype=np.float32) + np.float32(0.5)) / np.float32(n)
    y, x = np.meshgrid(c[y0:y1], c[x0:x1], indexing="ij")
    a = pts[:-1] if len(pts) > 1 else pts
    d = (pts[1:] if len(pts) > 1 else pts) - a  # (S, 2)
    px, py = x.reshape(-1, 1), y.reshape(-1, 1)  # (cells, 1)
    len2 = np.maximum(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1], np.float32(1e-12))  # (S,)
    t = np.clip(((px - a[:, 0]) * d[:, 0] + (py - a[:, 1]) * d[:, 1]) / len2, 0, 1)  # (cells, S)
    dx, dy = px - (a[:, 0] + t * d[:, 0]), py - (a[:, 1] + t * d[:, 1])
    dist2 = (dx * dx + dy * dy).min(axis=1)
    mask[y0:y1, x0:x1] = (dist2 <= r * r).reshape(y1 - y0, x1 - x0)
    idx = np.clip((pts * n).astype(np.int64), 0, n - 1)
    mask[idx[:, 1], idx[:, 0]] = True
    return torch.from_numpy(mask)


def mask_grid(mask: np.ndarray, n: int) -> np.ndarray:
    """A painted mask of any size on the (n, n) rasterizing grid: area average, then >= 0.5 (bool).
    A mask already reduced to that grid reduces to itself, so a stored copy paints the same cells."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    return (F.interpolate(m, size=(n, n), mode="area")[0, 0] >= 0.5).numpy()


def stroke_mask(stroke: Stroke, size: int, oversample: int = OVERSAMPLE) -> torch.Tensor:
    """The stroke's footprint at the layer's resolution: (size, size) float in {0, 1}."""
    n = size * oversample
    if stroke.points is not None:
        fine = _points_mask(stroke.points, stroke.radius, n).float()
    else:
        fine = torch.from_numpy(mask_grid(stroke.mask, n)).float()
    return F.adaptive_max_pool2d(fine[None, None], size)[0, 0]


def check_stroke(stroke: Stroke, table: ConceptTable, channels: int) -> None:
    """The checks a stroke needs against a model (known concept, units in range), without rasterizing:
    a server calls it when a stroke arrives, stroke_edit again when it paints."""
    if stroke.concept is not None and stroke.concept not in table.concepts:
        known = ", ".join(table.brushes) or "none"
        raise StrokeError(f"unknown concept {stroke.concept!r}; this model knows: {known}")
    if stroke.concept is None:
        bad = [u for u in stroke.units or () if u >= channels]
        if bad:
            raise StrokeError(f"unit {bad[0]} does not exist: {table.layer} has units 0…{channels - 1}")


def stroke_edit(stroke: Stroke, table: ConceptTable, channels: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One stroke → (alpha, value), each (channels, size, size)."""
    check_stroke(stroke, table, channels)
    if stroke.concept is not None:
        units, levels = table.brush(stroke.concept, stroke.strength, stroke.mode)
    else:
        all_units = list(dict.fromkeys(stroke.units or ()))
        units = all_units[: units_for_strength(len(all_units), stroke.strength)]
        levels = [table.unit_level(u) for u in units]
    mask = stroke_mask(stroke, size)
    alpha = torch.zeros(channels, size, size)
    value = torch.zeros(channels, size, size)
    idx = torch.tensor(units, dtype=torch.long)
    alpha[idx] = mask
    if stroke.mode == "draw":
        value[idx] = torch.tensor(levels, dtype=torch.float32)[:, None, None] * mask
    return alpha, value


def over(acc: tuple[torch.Tensor, torch.Tensor], new: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Alpha-over: `new` on top of `acc`."""
    a_acc, v_acc = acc
    a_new, v_new = new
    a = 1 - (1 - a_new) * (1 - a_acc)
    v = torch.where(a > 0, (v_acc * a_acc * (1 - a_new) + v_new * a_new) / a.clamp_min(1e-12), torch.zeros_like(a))
    return a, v


def compose(strokes: Sequence[Stroke], table: ConceptTable, channels: int, size: int,
            base: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite strokes in order over `base` (default: no edit)."""
    acc = base if base is not None else (torch.zeros(channels, size, size), torch.zeros(channels, size, size))
    for s in strokes:
        acc = over(acc, stroke_edit(s, table, channels, size))
    return acc


def apply_edit(x: torch.Tensor, alpha: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """x·(1−a) + v·a, broadcasting (C, H, W) maps over a batch (N, C, H, W)."""
    return x * (1 - alpha) + value * alpha
