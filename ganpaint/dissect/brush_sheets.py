"""Contact sheets of brush trials: what a person sees, 16 consecutive (unpicked) trials per sheet.

    save_sheets(examples, "docs/brushes")   # examples from trials.brush_trials: {(concept, kind): [trial, ...]}

docs/brushes/<concept>.png shows the cell-aligned draw trials, <concept>-freehand.png the freehand round
strokes, <concept>-remove.png the removals of every cell showing the concept, <concept>-remove-freehand.png
round strokes erasing part of it: each trial as a pair [before, region outlined | after],
four pairs a row, in the order the evaluation ran them.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .dissect import BRUSH_ORDER

__all__ = ["save_sheets", "outline", "SHEET_COLS"]

SHEET_COLS = 4
SUFFIX = {"draw": "", "freehand": "-freehand", "remove": "-remove", "remove_freehand": "-remove-freehand"}


def outline(img: np.ndarray, mask: np.ndarray, color=(255, 0, 255)) -> np.ndarray:
    """The border of a pixel mask (H, W) drawn onto an (H, W, 3) uint8 image."""
    m = np.asarray(mask, bool)
    edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
    out = img.copy()
    out[edge] = color
    return out


def _sheet(trials: list[dict], scale: int) -> np.ndarray:
    h, w = trials[0]["before"].shape[:2]
    gap, pair_gap = 2, 10
    pair_w = 2 * w + gap
    rows = -(-len(trials) // SHEET_COLS)
    sheet = np.full((rows * (h + pair_gap) - pair_gap, SHEET_COLS * (pair_w + pair_gap) - pair_gap, 3), 255, np.uint8)
    for n, t in enumerate(trials):
        y, x = (n // SHEET_COLS) * (h + pair_gap), (n % SHEET_COLS) * (pair_w + pair_gap)
        sheet[y : y + h, x : x + w] = outline(t["before"], np.asarray(t["mask"]))
        sheet[y : y + h, x + w + gap : x + pair_w] = t["after"]
    return sheet.repeat(scale, 0).repeat(scale, 1) if scale > 1 else sheet


def save_sheets(examples: dict, folder: str | os.PathLike, scale: int | None = None) -> list[str]:
    """Write one sheet per brush and kind; pixels are repeated `scale` times (default: 128 px panels at least)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for c in BRUSH_ORDER:
        for kind, suffix in SUFFIX.items():
            trials = examples.get((c, kind))
            if not trials:
                continue
            s = scale or max(1, 128 // trials[0]["before"].shape[0])
            path = folder / f"{c}{suffix}.png"
            # an adaptive 256-colour palette keeps 21 sheets at a few MB in git; the generator's 128 px output loses nothing visible
            Image.fromarray(_sheet(trials, s)).quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
            written.append(str(path))
    return written
