"""Brute-force geometry for tests: exact distances to point strokes, pixel by pixel."""
import numpy as np


def distance_beyond(strokes, shape, x0, y0, side) -> np.ndarray:
    """Exact distance (pixels) of every pixel centre beyond the painted area of point strokes (≤ 0 inside)."""
    H, W = shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    u, v = (xx + 0.5 - x0) / side, (yy + 0.5 - y0) / side
    out = np.full(shape, np.inf)
    for s in strokes:
        p = np.asarray(s.points, np.float64)
        for a, b in zip(p[:-1] if len(p) > 1 else p, p[1:] if len(p) > 1 else p):
            d = b - a
            t = np.clip(((u - a[0]) * d[0] + (v - a[1]) * d[1]) / max((d * d).sum(), 1e-18), 0, 1)
            out = np.minimum(out, (np.hypot(u - a[0] - t * d[0], v - a[1] - t * d[1]) - s.radius) * side)
    return out
