"""The edit engine: strokes (plain data) → per-unit alpha/value maps → an edited layer.

    stroke = Stroke.from_dict({"concept": "tree", "mode": "draw", "points": [[0.2, 0.8], [0.6, 0.8]]})
    alpha, value = compose([stroke], table, channels=128, size=8)   # (128, 8, 8) each
    h = apply_edit(h4, alpha, value)                                # x·(1−a) + v·a
    img = G.render_from(h, "layer5")

A stroke is rasterized on a grid `oversample`× finer than the layer (anti-aliased for point strokes)
and averaged down: a layer cell's alpha follows how much of it the stroke covers (`coverage_alpha`),
so a small dab makes a small edit and a fully covered cell gets alpha 1 (cell-aligned masks edit
exactly as a hard mask would). Strokes composite in order (alpha-over): later strokes win where they
overlap. Everything here is a pure function, testable on tiny tensors.
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
           "coverage_alpha", "stroke_edit", "compose", "apply_edit", "over", "excerpt", "clip_to_reach"]

OVERSAMPLE = 4  # a stroke is rasterized on a grid this many times finer than the edited layer


class StrokeError(ValueError):
    """A stroke that cannot be applied; the message says why (shown to users as-is)."""


@dataclass(frozen=True)
class StrokeLimits:
    max_points: int = 2048
    max_units: int = 512
    max_mask_bytes: int = 2_000_000
    max_mask_pixels: int = 4096 * 4096


def excerpt(value: Any, limit: int = 40) -> str:
    """repr() of a user's value for an error message, cut short: messages never echo a whole input."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 1] + "…"


def _finite_number(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StrokeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise StrokeError(f"{name} must be between {lo} and {hi}, got {excerpt(value)}")
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
            raise StrokeError(f"mode must be 'draw' or 'remove', got {excerpt(mode)}")
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


def _points_mask(points: Sequence[tuple[float, float]], radius: float, n: int) -> np.ndarray:
    """(n, n) float32 in [0, 1]: how much of each fine cell the polyline of width 2·radius covers.

    Anti-aliased (a one-cell linear ramp across the edge, ≈ the area share of a straight edge), so the
    covered area grows smoothly with the radius instead of in whole fine cells; each point's own cell
    counts as covered, so even a zero-radius dab paints something.
    (numpy, float32: this runs for every preview frame, and small torch ops cost more than the math.)"""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)  # (P, 2) as (x, y)
    cov = np.zeros((n, n), dtype=np.float32)
    r = np.float32(radius)
    reach = r + np.float32(0.5 / n)  # beyond this a fine cell's centre ramp is 0
    # only cells that can be reached: the points' bounding box grown by `reach`
    lo = np.clip(np.floor((pts.min(0) - reach) * n - np.float32(0.5)), 0, n - 1).astype(int)
    hi = np.clip(np.ceil((pts.max(0) + reach) * n - np.float32(0.5)), 0, n - 1).astype(int)
    x0, y0, x1, y1 = lo[0], lo[1], hi[0] + 1, hi[1] + 1
    c = (np.arange(n, dtype=np.float32) + np.float32(0.5)) / np.float32(n)
    y, x = np.meshgrid(c[y0:y1], c[x0:x1], indexing="ij")
    a = pts[:-1] if len(pts) > 1 else pts
    d = (pts[1:] if len(pts) > 1 else pts) - a  # (S, 2)
    px, py = x.reshape(-1, 1), y.reshape(-1, 1)  # (cells, 1)
    len2 = np.maximum(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1], np.float32(1e-12))  # (S,)
    t = np.clip(((px - a[:, 0]) * d[:, 0] + (py - a[:, 1]) * d[:, 1]) / len2, 0, 1)  # (cells, S)
    dx, dy = px - (a[:, 0] + t * d[:, 0]), py - (a[:, 1] + t * d[:, 1])
    dist = np.sqrt((dx * dx + dy * dy).min(axis=1))
    ramp = np.clip((r - dist) * np.float32(n) + np.float32(0.5), 0, 1)
    cov[y0:y1, x0:x1] = ramp.reshape(y1 - y0, x1 - x0)
    idx = np.clip((pts * n).astype(np.int64), 0, n - 1)
    cov[idx[:, 1], idx[:, 0]] = 1.0
    return cov


def mask_grid(mask: np.ndarray, n: int) -> np.ndarray:
    """A painted mask of any size on the (n, n) rasterizing grid: area average, then >= 0.5 (bool).
    A mask already reduced to that grid reduces to itself, so a stored copy paints the same cells."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    return (F.interpolate(m, size=(n, n), mode="area")[0, 0] >= 0.5).numpy()


def stroke_mask(stroke: Stroke, size: int, oversample: int = OVERSAMPLE) -> torch.Tensor:
    """The stroke's coverage at the layer's resolution: (size, size) float in [0, 1], the share of each
    layer cell the stroke covers on the `oversample`× finer grid (0 exactly where it does not reach)."""
    n = size * oversample
    if stroke.points is not None:
        fine = torch.from_numpy(_points_mask(stroke.points, stroke.radius, n))
    else:
        fine = torch.from_numpy(mask_grid(stroke.mask, n)).float()  # hard: what server/strokes.py stores
    return F.avg_pool2d(fine[None, None], oversample)[0, 0].clamp_(0, 1)


# How a cell's coverage becomes its alpha. The generator already saturates (a tenth of the alpha still
# changes ~60 % as many pixels). Before edits were shown only within the stroke's reach (footprint.reach_map,
# clip_to_reach), linear was shipped: a curve above it (gamma 0.5) coarsened the small end, one below it
# (gamma 2) made dabs under radius 0.03 change nothing visible. Within the reach a cell's edit cannot spread
# past the stroke, and gamma 0.5 lets a round stroke's part-covered cells draw the concept rather than a
# faint version of it: on held-out latents, read by the ranking segmenter, freehand strokes drew more often
# than with linear alpha for every brush (tree 91 → 95 %, cloud 94 → 99 %, dome 78 → 84 %, …; docs/history.md).
ALPHA_GAMMA = 0.5


def coverage_alpha(coverage: torch.Tensor, gamma: float = ALPHA_GAMMA) -> torch.Tensor:
    """Cell coverage in [0, 1] → alpha in [0, 1]: coverage**gamma (0 stays 0, a covered cell gets 1)."""
    return coverage if gamma == 1.0 else coverage.pow(gamma)


def clip_to_reach(edited: torch.Tensor, unedited: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """Images (N, 3, R, R): `edited` where `reach` ((R, R) or (N, R, R), footprint.reach_map) is 1,
    `unedited` where it is 0, blended between."""
    r = reach.to(edited.device, edited.dtype)
    r = r[None, None] if r.dim() == 2 else r[:, None]
    return torch.lerp(unedited.to(edited.device, edited.dtype), edited, r)  # exact at 0 and at 1


def check_stroke(stroke: Stroke, table: ConceptTable, channels: int) -> None:
    """The checks a stroke needs against a model (known concept, units in range), without rasterizing:
    a server calls it when a stroke arrives, stroke_edit again when it paints."""
    if stroke.concept is not None and stroke.concept not in table.concepts:
        known = ", ".join(table.brushes) or "none"
        raise StrokeError(f"unknown concept {excerpt(stroke.concept)}; this model knows: {known}")
    if stroke.concept is None:
        bad = [u for u in stroke.units or () if u >= channels]
        if bad:
            raise StrokeError(f"unit {bad[0]} does not exist: {table.layer} has units 0…{channels - 1}")


def stroke_edit(stroke: Stroke, table: ConceptTable, channels: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One stroke → (alpha, value), each (channels, size, size)."""
    check_stroke(stroke, table, channels)
    opacity = 1.0
    if stroke.concept is not None:
        units, levels = table.brush(stroke.concept, stroke.strength, stroke.mode)
        opacity = table.opacity(stroke.concept, stroke.strength, stroke.mode)
    else:
        all_units = list(dict.fromkeys(stroke.units or ()))
        units = all_units[: units_for_strength(len(all_units), stroke.strength)]
        levels = [table.unit_level(u) if stroke.mode == "draw" else 0.0 for u in units]
    coverage = stroke_mask(stroke, size)
    # a draw's cells follow how much of them the stroke covers (finer than a cell); a removal switches its
    # units off in every cell it touches: switched off only partly, the generator draws the concept back
    # from its surroundings (docs/history.md). The picture shows either only within the stroke's reach.
    a = (coverage_alpha(coverage) if stroke.mode == "draw" else (coverage > 0).float()) * opacity
    alpha = torch.zeros(channels, size, size)
    value = torch.zeros(channels, size, size)
    idx = torch.tensor(units, dtype=torch.long)
    alpha[idx] = a
    # the value is the level itself wherever the stroke reaches (alpha carries the coverage): `over` and
    # apply_edit read v un-premultiplied. A removal's levels are 0 (units switched off) or a fill's levels.
    if any(levels):
        value[idx] = torch.tensor(levels, dtype=torch.float32)[:, None, None] * (a > 0)
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
