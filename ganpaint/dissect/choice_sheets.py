"""Contact sheets for choosing a concept's draw brush by eye, on the latents the choice is measured on.

    choice_sheets(model, ranking_segmenter, {"learned": model.table, "mean×8": table8}, ["brick"], "docs/brushes/choice")

One sheet per concept: a column per trial (8 cell-aligned regions, then 8 freehand strokes, placed by the
context rules as the choice's trials are, on dissection latents held out from the means), a row per
candidate brush under the unedited picture. The ranking segmenter reads colour; these sheets are where a
person sees whether a brush draws the concept or only its colour.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..paint.edit import Stroke, compose
from ..paint.footprint import reach_map
from ..paint.imaging import to_uint8
from .dissect import sample_latents
from .levels import CALIB_FIRST
from .regions import REGION_SHAPES, allowed_cells, cell_fractions, pick_region
from .trials import FREEHAND_RADIUS, concept_rng, freehand_points

__all__ = ["choice_sheets", "PER_KIND"]

PER_KIND = 8  # trials of each kind (cell-aligned, freehand) on a sheet


def _jobs(ok: torch.Tensor, concept: str, rng: np.random.Generator) -> list[tuple[int, dict]]:
    cells, free = [], []
    for i in range(len(ok)):
        if len(cells) < PER_KIND and (m := pick_region(ok[i], REGION_SHAPES.get(concept, (2, 2)), rng)) is not None:
            cells.append((i, {"mask": m.numpy()}))
        elif len(free) < PER_KIND and (pts := freehand_points(ok[i], rng)) is not None:
            free.append((i, {"points": pts, "radius": FREEHAND_RADIUS}))
    return cells + free


@torch.inference_mode()
def choice_sheets(model, segmenter, tables: dict, concepts, folder: str | os.PathLike, *, images: int = 60,
                  seed: int = 11) -> list[str]:
    """Write <folder>/<concept>.png for each concept; rows: unedited, then each of `tables` (name → table)."""
    from PIL import Image, ImageDraw

    names = list(segmenter.labels)
    z = sample_latents(CALIB_FIRST + images, model.generator.config.z_dim, 1)[CALIB_FIRST:]
    h = model.features(z)
    base = model.render(h).cpu()
    frac = cell_fractions(segmenter.segment(base).cpu(), len(names), model.layer_size)
    R, g, C = model.resolution, model.layer_size, model.channels
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for c in concepts:
        jobs = _jobs(allowed_cells(frac, c, names), c, concept_rng(seed, c))
        if not jobs:
            continue
        sheet = Image.new("RGB", (len(jobs) * R, (1 + len(tables)) * R), "white")
        for col, (i, where) in enumerate(jobs):
            sheet.paste(Image.fromarray(to_uint8(base[i])), (col * R, 0))
            for row, table in enumerate(tables.values(), 1):
                stroke = Stroke(concept=c, **where)
                a, v = compose([stroke], table, C, g)
                img = model.render(h[i : i + 1], a[None], v[None], reach=reach_map([stroke], R),
                                   unedited=base[i : i + 1])[0].cpu()
                sheet.paste(Image.fromarray(to_uint8(img)), (col * R, row * R))
        if R >= 64:  # room for the row's name in its top-left corner
            draw = ImageDraw.Draw(sheet)
            for row, name in enumerate(tables, 1):
                draw.text((3, row * R + 3), name, fill=(255, 255, 255))
        path = folder / f"{c}.png"
        sheet.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)  # a few hundred kB each
        written.append(str(path))
    return written
