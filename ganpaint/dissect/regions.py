"""Where a concept can go: context rules on the edit layer's grid, for causal ranking and evaluation.

    frac = cell_fractions(labels, num_classes=11, grid=8)         # (N, K, 8, 8) label shares per cell
    ok = allowed_cells(frac, "door", labels=CLASSES)               # (N, 8, 8) bool: walls without a door
    region = pick_region(ok[0], REGION_SHAPES["door"], rng)        # (8, 8) bool or None
    present = present_cells(frac, "door", labels=CLASSES)         # (N, 8, 8) bool: cells that show doors

A painted concept only appears where the scene gives it context (a door needs a wall, a dome a
building top, a cloud sky), so draw trials happen in regions the rules allow and where the concept
is absent; remove trials happen where it is present.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..world.world import CLASSES

__all__ = ["cell_fractions", "allowed_cells", "present_cells", "pick_region", "REGION_SHAPES", "BUILDING", "SUCCESS_SHARE",
           "WORLD_BANDS", "GROUND", "band_rows", "context_cells"]

BUILDING = ("brick", "door", "window", "roof", "dome")
# (rows, cols) of a draw region in layer cells: roughly the concept's own shape on an 8×8 grid
REGION_SHAPES: dict[str, tuple[int, int]] = {
    "door": (2, 1), "window": (1, 1), "dome": (2, 2), "roof": (1, 3), "cloud": (1, 2), "tree": (2, 2),
    "grass": (2, 2), "sky": (2, 2), "brick": (2, 2), "road": (1, 2), "mountain": (1, 2),
}
# Where the world puts each concept (models of the procedural world only: a segmenter whose labels are the
# world's classes; other models keep the generic rules): rows of the image, as (top, bottom) fractions of its height, in which
# the concept covers ≥ 30 % of a cell at least a quarter as often as in its most common row (world label
# maps, not a segmenter: tests/test_regions_world.py recounts them). A brush drawn outside its band paints
# what the generator never learned to draw there (a tree crown in the foreground, a brick wall in the sky).
WORLD_BANDS: dict[str, tuple[float, float]] = {
    "tree": (0.25, 0.75), "brick": (0.25, 0.75), "door": (0.375, 0.75), "window": (0.25, 0.625),
    "dome": (0.0, 0.375), "roof": (0.125, 0.375), "sky": (0.0, 0.5), "cloud": (0.0, 0.375),
    "grass": (0.5, 1.0), "road": (0.625, 1.0), "mountain": (0.375, 0.625),
}
GROUND = ("grass", "road")
SUCCESS_SHARE = 0.6  # a draw succeeds when the concept covers more than this share of the painted region
ABSENT_MAX = 0.05  # a cell hosts a draw trial only if the concept covers less than this share of it


def cell_fractions(labels: torch.Tensor, num_classes: int, grid: int) -> torch.Tensor:
    """(N, H, W) label maps → (N, K, grid, grid) share of each class in each cell."""
    onehot = F.one_hot(labels.long().clamp(0, num_classes - 1), num_classes).permute(0, 3, 1, 2).float()
    return F.adaptive_avg_pool2d(onehot, grid)


def _share(frac: torch.Tensor, names: Sequence[str], labels: Sequence[str]) -> torch.Tensor:
    idx = [labels.index(n) for n in names if n in labels]
    return frac[:, idx].sum(1) if idx else torch.zeros_like(frac[:, 0])


def _below(x: torch.Tensor, rows: int) -> torch.Tensor:
    """For each cell: the max of x over the `rows` cells directly below it (0 past the bottom)."""
    out = torch.zeros_like(x)
    for r in range(1, rows + 1):
        out[:, :-r] = torch.maximum(out[:, :-r], x[:, r:])
    return out


def _below_horizon(ground: torch.Tensor) -> torch.Tensor:
    """(N, g, g) ground shares → (N, g, g) bool: cells at or below the scene's horizon row, the first row in
    which some cell is at least half ground. The world's ground is everything below one level horizon line
    (world.py: `_ground`); trees and buildings stand in front of it and rise above it."""
    n, g, _ = ground.shape
    rows = torch.arange(g)
    has = ground.amax(2) >= 0.5  # (N, g)
    horizon = torch.where(has, rows.view(1, g), torch.full_like(has, g, dtype=torch.long)).amin(1)  # (N,)
    return (rows.view(1, g, 1) >= horizon.view(n, 1, 1)).expand(n, g, g)


def band_rows(concept: str, grid: int) -> torch.Tensor:
    """(grid,) bool: the rows whose centre lies in the concept's WORLD_BANDS band (all rows if it has none)."""
    top, bottom = WORLD_BANDS.get(concept, (0.0, 1.0))
    centre = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid
    return (centre >= top) & (centre < bottom)


def context_cells(frac: torch.Tensor, concept: str, labels: Sequence[str]) -> torch.Tensor:
    """(N, K, g, g) shares → (N, g, g) cells where the scene gives `concept` its context: doors and windows
    on walls, domes and roofs on buildings, clouds in the sky, nothing new inside a building; for the
    world's models also as the world does it: in the concept's band of rows, doors reaching the ground,
    trees and walls standing on it, grass and road below the horizon."""
    n, _, g, _ = frac.shape
    labels = list(labels)
    world = labels == list(CLASSES)
    building = _share(frac, BUILDING, labels)
    skyish = _share(frac, ("sky", "cloud"), labels)
    ground = _share(frac, GROUND, labels)
    rows = torch.arange(g).view(1, g, 1).expand(n, g, g)
    if concept in ("door", "window"):
        ok = _share(frac, ["brick"], labels) >= 0.5
        if concept == "door" and world:  # a door reaches the wall's foot: ground at most two cells below
            ok = ok & (_below(ground, 2) >= 0.3)
    elif concept in ("dome", "roof"):
        ok = (skyish >= 0.5) & (_below(building, 2) >= 0.3)
    elif concept == "cloud":
        ok = _share(frac, ["sky"], labels) >= 0.7
    elif concept == "mountain":
        ok = (skyish >= 0.5) & (_below(1 - skyish, 1) >= 0.3) & (building < 0.1)
    elif concept in ("grass", "road"):
        ok = (rows >= g // 2) & (building < 0.2)
        if world:  # on the ground: not over a tree crown or wall that rises above the horizon
            ok = ok & _below_horizon(ground)
    elif concept == "sky":  # above the horizon, around the buildings, not through them
        ok = (rows < g // 2) & (building < 0.2)
    elif concept in ("tree", "brick") and world:  # a crown on a trunk, a wall: standing on the ground
        ok = (building < 0.2) & (_below(ground, 3) >= 0.3)
    elif concept == "tree":  # trees grow from the ground: not on buildings, not high up in the sky
        ok = (building < 0.2) & (rows >= (3 * g) // 8)
    else:  # anything else: wherever no building stands
        ok = building < 0.2
    return ok & band_rows(concept, g).view(1, g, 1) if world else ok


def allowed_cells(frac: torch.Tensor, concept: str, labels: Sequence[str]) -> torch.Tensor:
    """(N, K, g, g) shares → (N, g, g) cells where drawing `concept` makes sense (context_cells) and it is absent."""
    own = _share(frac, [concept], list(labels))
    return context_cells(frac, concept, labels) & (own < ABSENT_MAX)


def present_cells(frac: torch.Tensor, concept: str, labels: Sequence[str], min_share: float = 0.3) -> torch.Tensor:
    """(N, g, g) cells where `concept` covers at least `min_share`."""
    return _share(frac, [concept], list(labels)) >= min_share


def pick_region(ok: torch.Tensor, shape: tuple[int, int], rng: np.random.Generator) -> torch.Tensor | None:
    """A random rows×cols rectangle of cells that are all allowed, as a (g, g) bool mask; None if none fits."""
    h, w = shape
    g0, g1 = ok.shape
    fits = F.avg_pool2d(ok.float()[None, None], (h, w), stride=1)[0, 0] >= 1 - 1e-6  # (g0-h+1, g1-w+1)
    where = fits.nonzero()
    if len(where) == 0:
        return None
    i, j = (int(v) for v in where[rng.integers(len(where))])
    region = torch.zeros(g0, g1, dtype=torch.bool)
    region[i : i + h, j : j + w] = True
    return region
