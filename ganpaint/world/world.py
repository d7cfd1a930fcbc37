"""A procedural outdoor world that renders church-like scenes with exact per-pixel labels.

    img, labels = render_scene(seed=7, size=64)     # uint8 (64, 64, 3), uint8 (64, 64) indices into CLASSES
    imgs, labs = render_batch(range(32), size=64)   # (32, 64, 64, 3), (32, 64, 64)

Scenes are composed like LSUN church-outdoor photos: sky with clouds above a horizon, sometimes
mountains, grass and roads below, one or two large brick buildings with doors and windows in the
walls and a roof or a dome on top, and a few big trees. The same seed always gives the same scene
at any size (geometry is in normalized coordinates; only sampling changes).
"""
from __future__ import annotations

import numpy as np

CLASSES: tuple[str, ...] = (
    "sky", "cloud", "mountain", "grass", "road", "tree", "brick", "door", "window", "roof", "dome",
)
CLASS_INDEX = {name: i for i, name in enumerate(CLASSES)}
HELDOUT_SEED_BASE = 1_000_000_000  # scene seeds at and above this are never trained on (held-out evaluation)

# colours for label maps in grids and docs
PALETTE = np.array(
    [
        [110, 170, 240], [235, 235, 235], [120, 110, 150], [60, 170, 60], [130, 130, 130],
        [20, 100, 30], [190, 80, 50], [120, 60, 20], [250, 220, 60], [160, 30, 110], [40, 200, 200],
    ],
    dtype=np.uint8,
)

_SUPERSAMPLE = 2


class _Canvas:
    """Float RGB image + label map on a supersampled grid, painted back to front."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.n = n = size * _SUPERSAMPLE
        self.rng = rng
        c = (np.arange(n, dtype=np.float32) + 0.5) / n
        self.y, self.x = np.meshgrid(c, c, indexing="ij")  # (n, n) each, normalized, y down
        self.img = np.zeros((n, n, 3), np.float32)
        self.lab = np.zeros((n, n), np.uint8)

    def noise(self, cells: int, amp: float) -> np.ndarray:
        """Smooth value noise in [-amp, amp] with about `cells` features across the image."""
        g = self.rng.uniform(-amp, amp, size=(cells + 2, cells + 2)).astype(np.float32)
        t = self.x * cells
        s = self.y * cells
        i, j = s.astype(int), t.astype(int)
        fs, ft = s - i, t - j
        return (
            g[i, j] * (1 - fs) * (1 - ft) + g[i + 1, j] * fs * (1 - ft)
            + g[i, j + 1] * (1 - fs) * ft + g[i + 1, j + 1] * fs * ft
        )

    def fill(self, mask: np.ndarray, color, label: str | None, shade: np.ndarray | float = 0.0) -> None:
        """Paint `color` (RGB in [0,1]) where mask; `shade` is added brightness (scalar or field)."""
        col = np.asarray(color, np.float32)
        if np.ndim(shade):
            val = col[None, :] + shade[mask][:, None]
        else:
            val = col + shade
        self.img[mask] = val
        if label is not None:
            self.lab[mask] = CLASS_INDEX[label]

    def ellipse(self, cx, cy, rx, ry) -> np.ndarray:
        return ((self.x - cx) / rx) ** 2 + ((self.y - cy) / ry) ** 2 <= 1.0

    def rect(self, x0, y0, x1, y1) -> np.ndarray:
        return (self.x >= x0) & (self.x < x1) & (self.y >= y0) & (self.y < y1)

    def finish(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        s = _SUPERSAMPLE
        img = self.img.reshape(size, s, size, s, 3).mean(axis=(1, 3))
        lab = self.lab[s // 2 :: s, s // 2 :: s]
        return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), lab.copy()


def _jitter(rng, color, amount=0.06):
    return np.clip(np.asarray(color, np.float32) + rng.uniform(-amount, amount, 3), 0, 1)


def _pick(rng, options):
    return options[rng.integers(len(options))]


_BRICK_COLORS = [(0.62, 0.30, 0.22), (0.55, 0.25, 0.18), (0.72, 0.45, 0.30), (0.80, 0.70, 0.55),
                 (0.60, 0.58, 0.55), (0.85, 0.80, 0.70), (0.50, 0.35, 0.28)]
_ROOF_COLORS = [(0.45, 0.15, 0.12), (0.30, 0.30, 0.35), (0.22, 0.25, 0.35), (0.40, 0.28, 0.18), (0.55, 0.22, 0.15)]
_DOME_COLORS = [(0.35, 0.62, 0.52), (0.80, 0.65, 0.25), (0.55, 0.58, 0.62), (0.25, 0.35, 0.60), (0.60, 0.35, 0.25)]
_DOOR_COLORS = [(0.30, 0.17, 0.08), (0.20, 0.10, 0.06), (0.35, 0.08, 0.06), (0.10, 0.20, 0.12), (0.12, 0.12, 0.14)]


def _sky(cv: _Canvas, rng, horizon: float, mood: str) -> None:
    if mood == "clear":
        top, low = _jitter(rng, (0.25, 0.48, 0.85)), _jitter(rng, (0.68, 0.82, 0.95))
    elif mood == "overcast":
        top, low = _jitter(rng, (0.55, 0.58, 0.64)), _jitter(rng, (0.75, 0.77, 0.80))
    else:  # golden hour
        top, low = _jitter(rng, (0.35, 0.45, 0.75)), _jitter(rng, (0.95, 0.72, 0.45))
    t = np.clip(cv.y / max(horizon, 1e-3), 0, 1)[..., None]
    cv.img[:] = top * (1 - t) + low * t
    cv.lab[:] = CLASS_INDEX["sky"]


def _clouds(cv: _Canvas, rng, horizon: float, mood: str) -> None:
    count = rng.integers(2, 6) if mood == "overcast" else rng.choice([0, 1, 1, 2, 2, 3, 4])
    base = (0.92, 0.92, 0.94) if mood != "overcast" else (0.80, 0.81, 0.84)
    if mood == "golden":
        base = (0.98, 0.86, 0.75)
    for _ in range(count):
        w = rng.uniform(0.18, 0.45)
        cx = rng.uniform(-0.1, 1.1)
        cy = rng.uniform(0.06, max(0.08, horizon - 0.18))
        mask = np.zeros_like(cv.lab, dtype=bool)
        for _ in range(rng.integers(4, 8)):
            px = cx + rng.uniform(-w / 2, w / 2)
            r = rng.uniform(0.05, 0.10) * (1.3 - abs(px - cx) / w)
            mask |= cv.ellipse(px, cy - rng.uniform(0, r * 0.6), r * rng.uniform(1.0, 1.6), r)
        mask &= cv.y <= cy + 0.02  # flat bottom
        shade = -0.25 * np.clip((cv.y - (cy - 0.1)) / 0.15, 0, 1)
        cv.fill(mask, _jitter(rng, base, 0.04), "cloud", shade)


def _mountains(cv: _Canvas, rng, horizon: float) -> None:
    height = rng.uniform(0.08, 0.2)
    ridge = np.zeros_like(cv.x)
    for k in range(1, 4):
        ridge += rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * (k * cv.x * rng.uniform(0.7, 1.5) + rng.uniform()))
    ridge = horizon - height * (0.55 + 0.45 * ridge / 1.6)
    mask = (cv.y >= ridge) & (cv.y < horizon + 0.01)
    col = _jitter(rng, (0.45, 0.48, 0.62), 0.05)
    cv.fill(mask, col, "mountain", cv.noise(6, 0.05) + 0.12 * (cv.y - horizon) / height)


def _ground(cv: _Canvas, rng, horizon: float) -> None:
    mask = cv.y >= horizon
    col = _pick(rng, [(0.30, 0.55, 0.20), (0.38, 0.60, 0.22), (0.45, 0.55, 0.25), (0.25, 0.45, 0.18)])
    shade = cv.noise(10, 0.06) + cv.noise(40, 0.04) + 0.12 * (cv.y - horizon)
    cv.fill(mask, _jitter(rng, col, 0.04), "grass", shade)


def _road(cv: _Canvas, rng, horizon: float, target_x: float, target_y: float) -> None:
    col = _jitter(rng, _pick(rng, [(0.50, 0.50, 0.50), (0.62, 0.56, 0.46), (0.40, 0.40, 0.42)]), 0.04)
    shade = cv.noise(30, 0.04)
    if rng.uniform() < 0.6:  # a path from the viewer to the door
        top_w, bot_w = rng.uniform(0.06, 0.12), rng.uniform(0.3, 0.6)
        bx = np.clip(target_x + rng.uniform(-0.2, 0.2), 0.2, 0.8)
        t = np.clip((cv.y - target_y) / max(1.0 - target_y, 1e-3), 0, 1)
        centre = target_x * (1 - t) + bx * t
        half = (top_w * (1 - t) + bot_w * t) / 2
        mask = (cv.y >= target_y) & (np.abs(cv.x - centre) <= half)
    else:  # a street across the foreground
        y0 = rng.uniform(max(horizon + 0.05, target_y), 0.9)
        mask = (cv.y >= y0) & (cv.y < y0 + rng.uniform(0.08, 0.16))
    cv.fill(mask, col, "road", shade)


def _building(cv: _Canvas, rng, cx: float, base: float, width: float, height: float, main: bool) -> tuple[float, float]:
    """Draw a wall with windows, maybe a door, and a roof or a dome; return the door's (x, bottom y)."""
    x0, x1, top = cx - width / 2, cx + width / 2, base - height
    brick = _jitter(rng, _pick(rng, _BRICK_COLORS), 0.05)
    course = rng.uniform(0.035, 0.05)  # brick course height, normalized
    row = np.floor((cv.y - top) / course)
    mortar = ((cv.y - top) / course - row) < 0.22
    brick_len = course * 2.2
    joint = (((cv.x - x0) / brick_len + 0.5 * (row % 2)) % 1.0) < 0.1
    tex = np.where(mortar | joint, 0.12, 0.0) + cv.noise(20, 0.04)
    light = rng.uniform(-0.12, 0.12) * (cv.x - cx) / max(width, 1e-3)
    wall = cv.rect(x0, top, x1, base)
    cv.fill(wall, brick, "brick", tex + light)

    # roof or dome (or, on side buildings, sometimes nothing)
    kind = rng.choice(["roof", "dome", "roof+dome"] if main else ["roof", "dome", "flat"], p=[0.45, 0.4, 0.15])
    if "roof" in kind:
        over = rng.uniform(0.01, 0.03)
        rh = rng.uniform(0.08, 0.2)
        t = (top - cv.y) / rh  # 0 at eaves, 1 at ridge
        half = (width / 2 + over) * (1 - t)
        mask = (cv.y <= top) & (t <= 1) & (np.abs(cv.x - cx) <= half)
        stripes = np.where(((cv.x - x0) / 0.03) % 1.0 < 0.2, -0.05, 0.0)
        cv.fill(mask, _jitter(rng, _pick(rng, _ROOF_COLORS), 0.04), "roof", stripes + cv.noise(12, 0.03))
        top_of_roof = top - rh
    else:
        top_of_roof = top
    if "dome" in kind:
        dw = width * rng.uniform(0.35, 0.75) / 2
        dcx = cx if kind == "dome" else cx + rng.choice([-1, 1]) * width * rng.uniform(0.0, 0.25)
        dbase = top if kind == "dome" else top_of_roof + rng.uniform(0.0, 0.05)
        if rng.uniform() < 0.5:  # a drum of wall under the dome
            dh = rng.uniform(0.03, 0.07)
            cv.fill(cv.rect(dcx - dw * 0.85, dbase - dh, dcx + dw * 0.85, dbase + 0.005), brick, "brick", tex)
            dbase -= dh
        dh = dw * rng.uniform(0.8, 1.3)
        mask = cv.ellipse(dcx, dbase, dw, dh) & (cv.y <= dbase)
        hl = -0.25 * np.clip((cv.x - dcx + dw * 0.4) / (2 * dw), 0, 1) + 0.08 * np.clip(1 - np.abs(cv.x - dcx + dw * 0.3) / (dw * 0.3), 0, 1)
        ribs = np.where(np.abs(((cv.x - dcx) / (dw / 3)) % 1.0 - 0.5) < 0.06, -0.06, 0.0)
        cv.fill(mask, _jitter(rng, _pick(rng, _DOME_COLORS), 0.05), "dome", hl + ribs)
        # a small lantern on top, part of the dome
        cv.fill(cv.rect(dcx - dw * 0.08, dbase - dh - dw * 0.3, dcx + dw * 0.08, dbase - dh + 0.005),
                _pick(rng, _DOME_COLORS), "dome")

    # door
    door_x = cx + rng.uniform(-0.2, 0.2) * width
    has_door = main or rng.uniform() < 0.5
    dw = dh = 0.0
    if has_door:
        dw = max(0.07, width * rng.uniform(0.14, 0.24)) / 2
        dh = max(0.13, height * rng.uniform(0.38, 0.6))
        door_x = float(np.clip(door_x, x0 + dw + 0.01, x1 - dw - 0.01))
        mask = cv.rect(door_x - dw, base - dh, door_x + dw, base)
        if rng.uniform() < 0.5:  # arched top
            mask &= (cv.y >= base - dh + dw) | cv.ellipse(door_x, base - dh + dw, dw, dw)
        planks = np.where(((cv.x - door_x) / (dw / 2)) % 1.0 < 0.12, -0.05, 0.0)
        cv.fill(mask, _jitter(rng, _pick(rng, _DOOR_COLORS), 0.04), "door", planks + 0.05 * (cv.y - base) / dh)

    # windows in a grid, away from the door
    ww = rng.uniform(0.045, 0.075) / 2
    wh = ww * rng.uniform(1.3, 2.0)
    glass = _jitter(rng, _pick(rng, [(0.15, 0.2, 0.3), (0.25, 0.35, 0.5), (0.6, 0.7, 0.8), (0.1, 0.1, 0.12)]), 0.04)
    cols = max(1, int(width / (ww * 2 * rng.uniform(2.2, 3.2))))
    rows_y = []
    y = top + wh + rng.uniform(0.03, 0.06)
    while y + wh < base - 0.03 and len(rows_y) < 3:
        rows_y.append(y)
        y += 2 * wh + rng.uniform(0.04, 0.08)
    arched = rng.uniform() < 0.4
    for wy in rows_y:
        for k in range(cols):
            wx = x0 + width * (k + 0.5) / cols
            if has_door and abs(wx - door_x) < dw + ww + 0.02 and wy + wh > base - dh - 0.03:
                continue
            mask = cv.rect(wx - ww, wy - wh, wx + ww, wy + wh)
            if arched:
                mask &= (cv.y >= wy - wh + ww) | cv.ellipse(wx, wy - wh + ww, ww, ww)
            frame = np.where((np.abs(cv.x - wx) < ww * 0.12) | (np.abs(cv.y - wy) < wh * 0.07), 0.25, 0.0)
            cv.fill(mask, glass, "window", frame + 0.1 * (wy - cv.y) / wh)
    return door_x, base


def _tree(cv: _Canvas, rng, x: float, base: float, r: float) -> None:
    trunk_h = r * rng.uniform(0.5, 1.0)
    tw = r * rng.uniform(0.12, 0.2)
    bark = _jitter(rng, (0.32, 0.22, 0.14), 0.05)
    cv.fill(cv.rect(x - tw, base - trunk_h - r * 0.5, x + tw, base), bark, "tree", cv.noise(30, 0.04))
    green = _jitter(rng, _pick(rng, [(0.16, 0.38, 0.14), (0.22, 0.45, 0.18), (0.12, 0.30, 0.15), (0.30, 0.45, 0.15)]), 0.04)
    cy = base - trunk_h - r
    if rng.uniform() < 0.3:  # conifer: a stack of triangles
        h = r * rng.uniform(2.4, 3.2)
        t = (cv.y - (base - trunk_h - h)) / h  # 0 at the tip, 1 at the bottom
        mask = (t >= 0) & (t <= 1) & (np.abs(cv.x - x) <= r * 0.8 * (0.15 + 0.85 * ((t * 3) % 1.0 * 0.4 + t * 0.6)))
    else:
        mask = cv.ellipse(x, cy, r * 0.8, r * 0.8)
        for _ in range(rng.integers(4, 8)):
            a = rng.uniform(0, 2 * np.pi)
            d = r * rng.uniform(0.3, 0.6)
            rr = r * rng.uniform(0.35, 0.55)
            mask |= cv.ellipse(x + d * np.cos(a), cy + d * np.sin(a) * 0.8, rr, rr * rng.uniform(0.8, 1.1))
    leaves = cv.noise(int(40 / max(r, 0.05) * 0.1) + 8, 0.08) + cv.noise(60, 0.05)
    shade = leaves - 0.12 * np.clip((cv.y - cy) / r, -1, 1) - 0.06 * np.clip((cv.x - x) / r, -1, 1)
    cv.fill(mask, green, "tree", shade)


def render_scene(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """One scene: (image uint8 (size, size, 3), labels uint8 (size, size))."""
    rng = np.random.default_rng([int(seed), 20261127])
    cv = _Canvas(size, rng)
    mood = rng.choice(["clear", "overcast", "golden"], p=[0.6, 0.2, 0.2])
    horizon = rng.uniform(0.5, 0.7)
    _sky(cv, rng, horizon, mood)
    _clouds(cv, rng, horizon, mood)
    if rng.uniform() < 0.35:
        _mountains(cv, rng, horizon)
    _ground(cv, rng, horizon)

    # buildings and trees share one depth order (farther = higher base = drawn first)
    n_build = 1 if rng.uniform() < 0.55 else 2
    objects = []
    main_w = rng.uniform(0.42, 0.78)
    main_cx = rng.uniform(0.3, 0.7)
    main_base = horizon + rng.uniform(0.02, 0.1)
    main_h = rng.uniform(0.25, min(0.46, main_base - 0.2))
    objects.append(("building", main_base, dict(cx=main_cx, base=main_base, width=main_w, height=main_h, main=True)))
    if n_build == 2:
        side = -1 if main_cx > 0.5 else 1
        w2 = rng.uniform(0.25, 0.45)
        cx2 = np.clip(main_cx + side * (main_w / 2 + w2 * rng.uniform(0.2, 0.5)), 0.05, 0.95)
        b2 = horizon + rng.uniform(0.0, 0.06)
        h2 = rng.uniform(0.15, min(0.35, b2 - 0.2))
        objects.append(("building", b2, dict(cx=cx2, base=b2, width=w2, height=h2, main=False)))
    n_trees = rng.choice([0, 1, 2, 2, 3, 3, 4])
    for _ in range(n_trees):
        x = rng.choice([rng.uniform(-0.05, 0.3), rng.uniform(0.7, 1.05), rng.uniform(0, 1)], p=[0.4, 0.4, 0.2])
        tb = horizon + rng.uniform(0.03, 0.3)
        r = rng.uniform(0.09, 0.18) * (0.8 + (tb - horizon))
        objects.append(("tree", tb, dict(x=x, base=tb, r=r)))
    road_first = rng.uniform() < 0.6
    if road_first:
        _road(cv, rng, horizon, main_cx, main_base)
    door = (main_cx, main_base)
    for kind, _, kw in sorted(objects, key=lambda o: o[1]):
        if kind == "building":
            d = _building(cv, rng, **kw)
            if kw["main"]:
                door = d
        else:
            _tree(cv, rng, **kw)
    if not road_first and rng.uniform() < 0.5:
        _road(cv, rng, horizon, door[0], door[1])

    # global light: a colour cast and brightness
    cast = rng.uniform(0.9, 1.1, 3).astype(np.float32) * rng.uniform(0.85, 1.1)
    cv.img *= cast
    return cv.finish(size)


def render_batch(seeds, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Scenes for many seeds: images (N, size, size, 3) uint8, labels (N, size, size) uint8."""
    pairs = [render_scene(int(s), size) for s in seeds]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def colorize(labels: np.ndarray) -> np.ndarray:
    """Label map (..., H, W) → RGB uint8 (..., H, W, 3) using PALETTE."""
    return PALETTE[labels]


def grid(images: np.ndarray, cols: int) -> np.ndarray:
    """Tile (N, H, W, 3) uint8 into one (rows·H, cols·W, 3) image."""
    n, h, w, c = images.shape
    rows = (n + cols - 1) // cols
    out = np.zeros((rows * h, cols * w, c), images.dtype)
    for i in range(n):
        r, k = divmod(i, cols)
        out[r * h : (r + 1) * h, k * w : (k + 1) * w] = images[i]
    return out
