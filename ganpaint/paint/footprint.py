"""Footprints: where strokes painted, rasterized at any image's own resolution, with a feathered margin.

    fp = footprint(strokes, (H, W), x0=0, y0=0, side=512, margin=10)   # the model square → base pixels
    fp.box                    # (y0, y1, x0, x1): the only base pixels with a weight above 0
    fp.weight                 # (y1-y0, x1-x0) float32: 1 where painted, a linear ramp to 0 over `margin`

A stroke is data in the model square's normalized coordinates (ganpaint.paint.edit.Stroke: points + radius,
or a mask). Photo composites need it at the photo's resolution, not at the edit layer's 8×8 cells:
a stroke touching two cells must not claim a quarter of a photo. The square covers base pixels
[x0, x0+side) × [y0, y0+side); pixels outside the base image are never part of the box.

Guarantee: every pixel whose centre lies farther than `margin` (Euclidean, base pixels) from the
painted area has weight exactly 0. Large images are computed on a coarser grid (spacing `s`) and the
signed distance interpolated; the ramp then ends `s` early, so the error never widens the margin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Footprint", "footprint", "GRID", "reach_map", "REACH_GROW", "REACH_FEATHER"]

GRID = 512  # working-grid cells across the square at most (full-resolution photos are interpolated)
_ENTRIES_PER_CHUNK = 1 << 20  # segment-window grid points measured at once (memory ≈ 40 B each)


@dataclass(frozen=True)
class Footprint:
    box: tuple[int, int, int, int]  # (y0, y1, x0, x1) in base pixels; empty when y1 <= y0 or x1 <= x0
    weight: np.ndarray  # (y1-y0, x1-x0) float32 in [0, 1]

    @property
    def empty(self) -> bool:
        y0, y1, x0, x1 = self.box
        return y1 <= y0 or x1 <= x0 or not (self.weight > 0).any()


def _stroke_bounds(stroke) -> tuple[float, float, float, float] | None:
    """(u0, v0, u1, v1): the painted area's bounding box in normalized square coordinates."""
    if stroke.points is not None:
        p = np.asarray(stroke.points, np.float64).reshape(-1, 2)
        r = float(stroke.radius)
        return p[:, 0].min() - r, p[:, 1].min() - r, p[:, 0].max() + r, p[:, 1].max() + r
    m = np.asarray(stroke.mask, bool)
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return None
    h, w = m.shape
    return xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h


def _polyline_distance(points, gu: np.ndarray, gv: np.ndarray, limit: float) -> np.ndarray:
    """Distance (normalized units) from each grid point (gv rows × gu columns, both ascending) to the
    polyline; inf where it is farther than `limit`. Each segment is measured only over the grid points
    within `limit` of its bounding box, so the cost follows the stroke's length, not its bounding box."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    a = pts[:-1] if len(pts) > 1 else pts
    d = (pts[1:] if len(pts) > 1 else pts) - a  # (S, 2)
    len2 = np.maximum((d * d).sum(1), 1e-18)
    best = np.full((len(gv), len(gu)), np.inf)
    lo = np.minimum(a, a + d) - limit
    hi = np.maximum(a, a + d) + limit
    c0, c1 = np.searchsorted(gu, lo[:, 0]), np.searchsorted(gu, hi[:, 0], side="right")
    r0, r1 = np.searchsorted(gv, lo[:, 1]), np.searchsorted(gv, hi[:, 1], side="right")
    h, w = r1 - r0, c1 - c0
    live = np.nonzero((h > 0) & (w > 0))[0]
    if not len(live):
        return np.sqrt(best)
    ph, pw = int(h[live].max()), int(w[live].max())
    step = max(1, _ENTRIES_PER_CHUNK // (ph * pw))
    for i in range(0, len(live), step):  # each segment's own window, all windows of a chunk at once
        k = live[i : i + step]
        rows = np.minimum(r0[k, None] + np.arange(ph), len(gv) - 1)  # (S, ph); past a window's end: unused
        cols = np.minimum(c0[k, None] + np.arange(pw), len(gu) - 1)
        px, py = gu[cols][:, None, :], gv[rows][:, :, None]  # (S, 1, pw), (S, ph, 1)
        ax, ay = a[k, 0, None, None], a[k, 1, None, None]
        dx, dy, ll = d[k, 0, None, None], d[k, 1, None, None], len2[k, None, None]
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / ll, 0.0, 1.0)
        ex, ey = px - (ax + t * dx), py - (ay + t * dy)
        dist2 = ex * ex + ey * ey  # (S, ph, pw)
        for n, seg in enumerate(k):
            view = best[r0[seg]:r1[seg], c0[seg]:c1[seg]]
            np.minimum(view, dist2[n, : h[seg], : w[seg]], out=view)
    return np.sqrt(best)


def _mask_distance(mask: np.ndarray, gu: np.ndarray, gv: np.ndarray, cell: float, reach: float) -> np.ndarray:
    """Distance (base pixels) from each grid point to the mask's painted pixels, by a 3×3 chamfer.

    The chamfer (steps 1 and √2) never underestimates the Euclidean distance, so weights built from
    it stay inside the margin. Distances beyond `reach` come out as inf.
    """
    m = np.asarray(mask, bool)
    h, w = m.shape
    inside_u = (gu >= 0) & (gu < 1)
    inside_v = (gv >= 0) & (gv < 1)
    iu = np.clip(np.floor(gu * w).astype(np.int64), 0, w - 1)
    iv = np.clip(np.floor(gv * h).astype(np.int64), 0, h - 1)
    painted = m[iv[:, None], iu[None, :]] & inside_v[:, None] & inside_u[None, :]
    d = torch.where(torch.from_numpy(painted), 0.0, math.inf).to(torch.float32)[None, None]
    diag = cell * math.sqrt(2.0)
    for _ in range(int(math.ceil(reach / cell)) + 1):
        p = F.pad(d, (1, 1, 1, 1), value=math.inf)
        H, W = d.shape[-2:]
        straight = torch.minimum(torch.minimum(p[..., 0:H, 1:W + 1], p[..., 2:H + 2, 1:W + 1]),
                                 torch.minimum(p[..., 1:H + 1, 0:W], p[..., 1:H + 1, 2:W + 2]))
        corner = torch.minimum(torch.minimum(p[..., 0:H, 0:W], p[..., 0:H, 2:W + 2]),
                               torch.minimum(p[..., 2:H + 2, 0:W], p[..., 2:H + 2, 2:W + 2]))
        new = torch.minimum(d, torch.minimum(straight + cell, corner + diag))
        if torch.equal(new, d):
            break
        d = new
    return d[0, 0].numpy().astype(np.float64)


def footprint(strokes: Sequence, shape: tuple[int, int], *, x0: float, y0: float, side: float,
              margin: float, grid: int = GRID, grow: float = 0.0) -> Footprint:
    """Weights of the strokes' painted area (+ feathered margin) on a base image of `shape` (H, W).

    `strokes`: ganpaint.paint.edit.Stroke objects (strength 0 paints nothing); the square covers base
    pixels [x0, x0+side)²; `margin` in base pixels (≥ 0; 0 gives a hard edge). With `grow` (base pixels)
    the painted area first grows by that much (weight 1), and the margin's ramp starts there.
    """
    H, W = shape
    strokes = [s for s in strokes if s.strength > 0]
    bounds = [b for b in map(_stroke_bounds, strokes) if b is not None]
    empty = Footprint((0, 0, 0, 0), np.zeros((0, 0), np.float32))
    if not bounds:
        return empty
    u0, v0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
    u1, v1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
    out = margin + grow  # nothing beyond this (base pixels) has a weight
    bx0 = max(0, int(math.floor(x0 + u0 * side - out - 1)))
    bx1 = min(W, int(math.ceil(x0 + u1 * side + out + 1)))
    by0 = max(0, int(math.floor(y0 + v0 * side - out - 1)))
    by1 = min(H, int(math.ceil(y0 + v1 * side + out + 1)))
    if bx1 <= bx0 or by1 <= by0:
        return empty
    # grid spacing in base pixels: fine enough for the margin, coarse enough for a 4096² photo
    s = max(1.0, min(side / grid, margin / 4 if margin > 0 else 1.0))
    nx, ny = int(math.ceil((bx1 - bx0 - 1) / s)) + 1, int(math.ceil((by1 - by0 - 1) / s)) + 1
    cx = np.linspace(bx0 + 0.5, bx1 - 0.5, nx)  # pixel centres at both ends: align_corners below
    cy = np.linspace(by0 + 0.5, by1 - 0.5, ny)
    gu, gv = (cx - x0) / side, (cy - y0) / side
    cell = max((cx[1] - cx[0]) if nx > 1 else 1.0, (cy[1] - cy[0]) if ny > 1 else 1.0)
    # signed distance beyond the painted area, in base pixels (≤ 0 inside)
    e = np.full((ny, nx), np.inf)
    for st in strokes:
        if st.points is not None:
            far = st.radius + (out + 2 * cell) / side
            e = np.minimum(e, (_polyline_distance(st.points, gu, gv, far) - st.radius) * side - grow)
        else:
            e = np.minimum(e, _mask_distance(st.mask, gu, gv, cell, out + 2 * cell) - grow)
    exact = nx == bx1 - bx0 and ny == by1 - by0
    slack = 0.0 if exact else cell  # interpolating a 1-Lipschitz distance errs by less than one cell
    e_t = torch.from_numpy(np.minimum(e, 1e9).astype(np.float32))
    if not exact:
        e_t = F.interpolate(e_t[None, None], size=(by1 - by0, bx1 - bx0), mode="bilinear", align_corners=True)[0, 0]
    ramp = margin - slack
    if ramp <= 0:
        w = (e_t <= ramp).to(torch.float32)  # too little margin to feather: a hard edge, still inside it
    else:
        w = ((ramp - e_t) / ramp).clamp(0.0, 1.0)
    return Footprint((by0, by1, bx0, bx1), w.numpy().astype(np.float32))


# Where a rendered edit is shown (ganpaint.paint.edit.clip_to_reach). A layer4 cell is an eighth of the
# image wide, so the generator's edit of the cells a stroke touches reaches well past a small or round
# stroke (a dab of the default radius, 1.1 % of the image, changed 7 % of it). The
# rendered edit is shown through the stroke's own shape grown by REACH_GROW (room for a drawn object's
# edge, frame and shading) with a ramp REACH_FEATHER wide; fractions of the image size (≈3 + 2 px at
# 128 px). benchmarks/brush_size.py and `ganpaint evaluate` measure what it does.
REACH_GROW = 0.025
REACH_FEATHER = 1 / 64


def reach_map(strokes: Sequence, resolution: int) -> torch.Tensor:
    """(resolution, resolution) float32 in [0, 1]: where the picture shows the edit of `strokes`."""
    n = resolution
    fp = footprint(strokes, (n, n), x0=0.0, y0=0.0, side=float(n), margin=REACH_FEATHER * n, grow=REACH_GROW * n)
    out = torch.zeros(n, n)
    if not fp.empty:
        y0, y1, x0, x1 = fp.box
        out[y0:y1, x0:x1] = torch.from_numpy(fp.weight)
    return out
