"""Brush trials on generated images, graded by segmenters that did not choose the brushes, and by realism.

    r = brush_trials(model, ranking_segmenter, judge=judge, discriminator=D, config=EvalConfig(trials=200))
    r["concepts"]["tree"]["draw"]["success_rate"]            # under the judge (the headline)
    r["concepts"]["tree"]["draw"]["ranking"]["success_rate"] # under the segmenter that ranked the units

Kinds of trial, each with the real edit engine at strength 1:
- draw: a cell-aligned rectangle (regions.REGION_SHAPES) where the context allows the concept and it is absent;
- freehand: a round stroke as a person paints it (FREEHAND_POINTS points, the UI's default radius), placed so
  that every cell it touches is allowed; scored on the stroke's own pixel footprint;
- random: a rectangle anywhere the concept is absent;
- remove_freehand: a round stroke of the same size over the concept (every cell it touches shows ≥ 30 % of it),
  as a person erases part of something; scored like a removal, on the stroke's own pixels;
- remove: all cells where the concept covers ≥ 30 %. It succeeds when the concept's pixels there drop by
  REMOVE_DROP and the region becomes *plausible*: at least PLAUSIBLE_SHARE of its pixels read as classes
  that may stand there, i.e. not the concept and either occurring (≥ RING_SHARE) in the cells around the
  region in the unedited image or on the concept's CONTEXT list. (The earlier, stricter rule, one such class
  covering PLAUSIBLE_MAJORITY of the region, is reported beside it: a tree removed from in front of a wall
  and from the grass at its foot rightly leaves both.)
A draw succeeds when more than SUCCESS_SHARE of its region reads as the concept; each draw records what
its region showed before (`over`: the majority class), so a summary can say what a brush draws over. Placement and the
headline use the judge when there is one. Realism: the discriminator's score of each edited image minus
that of its unedited image. Every edit is rendered as the app shows it: within its stroke's reach
(ganpaint.paint.footprint.reach_map).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .dissect import BRUSH_ORDER, sample_latents
from .realism import realism_scores
from ..paint.edit import Stroke, compose, stroke_mask
from ..paint.footprint import reach_map
from ..paint.imaging import to_uint8
from .regions import REGION_SHAPES, SUCCESS_SHARE, allowed_cells, cell_fractions, pick_region, present_cells

__all__ = ["brush_trials", "concept_rng", "FREEHAND_KINDS", "REMOVALS", "freehand_points", "plausible_classes", "plausible_share", "CONTEXT", "FREEHAND_RADIUS", "FREEHAND_POINTS",
           "REMOVE_DROP", "PLAUSIBLE_SHARE", "PLAUSIBLE_MAJORITY", "RING_SHARE", "KINDS", "SHEET_TRIALS"]

FREEHAND_RADIUS = 0.06  # the page's default brush size
FREEHAND_POINTS = 4
FREEHAND_STEP = 0.03  # between points: a short drag
REMOVE_DROP = 0.7
PLAUSIBLE_SHARE = 0.6  # a removal region must read as plausible classes over at least this share of its pixels
PLAUSIBLE_MAJORITY = 0.5  # the stricter earlier rule, still reported: one plausible class covers half of it
RING_SHARE = 0.1
SHEET_TRIALS = 16  # consecutive trials of each kind kept for the contact sheets
KINDS = ("draw", "freehand", "random", "remove", "remove_freehand")
FREEHAND_KINDS = ("freehand", "remove_freehand")
REMOVALS = ("remove", "remove_freehand")
# what may stand where the concept was, beyond what its surroundings show
CONTEXT: dict[str, tuple[str, ...]] = {
    "sky": ("mountain", "tree", "brick", "roof", "dome"),
    "cloud": ("sky",),
    "tree": ("grass", "road", "sky", "brick", "mountain"),
    "grass": ("road", "tree"),
    "road": ("grass",),
    "door": ("brick", "window"),
    "window": ("brick",),
    "brick": ("sky", "tree", "grass", "mountain"),
    "roof": ("sky", "brick", "dome"),
    "dome": ("sky", "roof", "cloud"),
    "mountain": ("sky", "grass", "cloud"),
}


def freehand_points(ok: torch.Tensor, rng: np.random.Generator, *, tries: int = 12) -> tuple | None:
    """A short round stroke (points in [0, 1]²) all of whose touched cells are allowed in `ok` (g, g); or None."""
    g = ok.shape[-1]
    cells = ok.nonzero()
    if len(cells) == 0:
        return None
    for _ in range(tries):
        i, j = (int(v) for v in cells[rng.integers(len(cells))])
        x, y = (j + rng.uniform(0.2, 0.8)) / g, (i + rng.uniform(0.2, 0.8)) / g
        angle = rng.uniform(0, 2 * np.pi)
        dx, dy = FREEHAND_STEP * np.cos(angle), FREEHAND_STEP * np.sin(angle)
        pts = tuple((float(np.clip(x + k * dx, 0, 1)), float(np.clip(y + k * dy, 0, 1))) for k in range(FREEHAND_POINTS))
        touched = stroke_mask(Stroke(points=pts, radius=FREEHAND_RADIUS, concept="x"), g) > 0
        if bool(ok[touched].all()):
            return pts
    return None


def concept_rng(seed: int, concept: str) -> np.random.Generator:
    """The random stream of one concept's trials: it depends on the seed and the concept's name only, so
    that changing one brush (its rule, its trials, which brushes run) leaves every other brush's trials as
    they were."""
    return np.random.default_rng([seed, *concept.encode()])


def _footprint(pts: tuple, size: int) -> torch.Tensor:
    """(size, size) {0, 1}: the pixels a round stroke covers, as a person sees it."""
    return stroke_mask(Stroke(points=pts, radius=FREEHAND_RADIUS, concept="x"), size, oversample=1)


def plausible_classes(frac: torch.Tensor, region: torch.Tensor, concept: str, names: list[str]) -> set[str]:
    """Classes that may replace `concept` in `region` (g, g): those around it in the unedited image's cell
    shares `frac` (K, g, g), plus the concept's CONTEXT list."""
    grown = F.max_pool2d(region[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0
    ring = grown & ~region
    out = set(CONTEXT.get(concept, ()))
    if ring.any():
        shares = frac[:, ring].mean(1)
        out |= {names[k] for k in range(len(names)) if float(shares[k]) >= RING_SHARE}
    out.discard(concept)
    return out & set(names)


def plausible_share(labels: torch.Tensor, mask: torch.Tensor, classes: set[str], names: list[str]) -> float:
    """Share of the pixels in `mask` (H, W) whose label in `labels` (H, W) is one of `classes`."""
    inside = labels[mask > 0]
    if not len(inside):
        return 0.0
    idx = torch.tensor([names.index(n) for n in sorted(classes)], dtype=torch.long)
    return float(torch.isin(inside, idx).float().mean())


def _share(labels: torch.Tensor, masks: torch.Tensor, k: int) -> torch.Tensor:
    """Share of each mask's pixels labelled k: labels (T, H, W), masks (T, H, W) → (T,)."""
    return ((labels == k).float() * masks).sum((1, 2)) / masks.sum((1, 2)).clamp_min(1)


def _majority(labels: torch.Tensor, mask: torch.Tensor, num: int) -> tuple[int, float]:
    counts = torch.bincount(labels[mask > 0].flatten(), minlength=num).float()
    k = int(counts.argmax())
    return k, float(counts[k] / counts.sum().clamp_min(1))


def _swap_realism(model, discriminator, h: torch.Tensor, jobs: list, d0: torch.Tensor, base: torch.Tensor,
                  reach: torch.Tensor) -> dict[int, float]:
    """The realism baseline of the cell-aligned draws: the discriminator's change when the same cells get all
    edit-layer features of the next picture of the batch, i.e. content the generator made itself, pasted in
    place and shown where the draw is shown. It shows how much any pasted region costs under this
    discriminator, whatever it contains."""
    rows = [(t, i, region) for t, (kind, i, _, region) in enumerate(jobs) if kind == "draw"]
    if not rows or len(h) < 2:
        return {}
    a = torch.stack([r.float() for _, _, r in rows])[:, None].expand(-1, h.shape[1], -1, -1)
    donors = h[torch.tensor([(i + 1) % len(h) for _, i, _ in rows])]
    own = torch.tensor([i for _, i, _ in rows])
    with torch.inference_mode():
        pasted = model.render(h[own], a, donors, reach=reach[torch.tensor([t for t, _, _ in rows])],
                              unedited=base[own]).cpu()
    d = realism_scores(discriminator, pasted)
    return {t: float(d[n] - d0[i]) for n, (t, i, _) in enumerate(rows)}


def brush_trials(model, segmenter, *, judge=None, discriminator=None, config,
                 progress_fn: Callable[[str, int, int], None] | None = None, keep_examples: bool = True) -> dict:
    """Run the trials of every brush; returns {"concepts": raw per-trial records, "images", "examples", "graded_by"}."""
    cfg = config
    graders = {"judge": judge, "ranking": segmenter} if judge is not None else {"ranking": segmenter}
    head = next(iter(graders))
    names = {g: list(s.labels) for g, s in graders.items()}
    table = model.table
    concepts = [c for c in table.brushes if all(c in n for n in names.values())
                and (cfg.concepts is None or c in cfg.concepts)]
    want = {c: cfg.trials if c in BRUSH_ORDER else cfg.other_trials for c in concepts}
    kinds = [k for k in KINDS if k in cfg.kinds]
    rec = {c: {k: [] for k in kinds} for c in concepts}
    examples: dict[tuple[str, str], list] = {}
    rngs = {c: concept_rng(cfg.seed, c) for c in concepts}
    # the freehand removals draw from a stream of their own, so that adding them left the other kinds' trials
    erase_rngs = {c: concept_rng(cfg.seed, f"{c} remove_freehand") for c in concepts}
    z_all = sample_latents(cfg.first_image + cfg.max_images, model.generator.config.z_dim, cfg.seed)[cfg.first_image :]
    g, C, R = model.layer_size, model.channels, model.resolution
    seen, base_scores = 0, []
    for start in range(0, cfg.max_images, cfg.batch):
        if all(len(rec[c][k]) >= want[c] for c in concepts for k in kinds):
            break
        z = z_all[start : start + cfg.batch]
        with torch.inference_mode():
            h = model.features(z)
            base = model.render(h).cpu()
        labels = {gr: s.segment(base).cpu() for gr, s in graders.items()}
        frac = cell_fractions(labels[head], len(names[head]), g)
        d0 = realism_scores(discriminator, base) if discriminator is not None else None
        if d0 is not None:
            base_scores.append(d0)
        seen += len(z)
        for c in concepts:
            k_head, rng = names[head].index(c), rngs[c]
            ok = allowed_cells(frac, c, names[head])
            own = frac[:, k_head]
            present = present_cells(frac, c, names[head])
            jobs = []  # (kind, image index, stroke, pixel mask, cell region)
            count = {k: len(rec[c][k]) for k in kinds}
            for i in range(len(z)):
                def room(kind):
                    return kind in count and count[kind] < want[c]
                shape = REGION_SHAPES.get(c, (2, 2))
                if room("draw") and (m := pick_region(ok[i], shape, rng)) is not None:
                    jobs.append(("draw", i, Stroke(concept=c, strength=cfg.strength, mask=m.numpy()), m))
                if room("freehand") and (pts := freehand_points(ok[i], rng)) is not None:
                    jobs.append(("freehand", i, Stroke(concept=c, strength=cfg.strength, points=pts,
                                                       radius=FREEHAND_RADIUS), pts))
                if room("random") and (m := pick_region(own[i] < 0.05, shape, rng)) is not None:
                    jobs.append(("random", i, Stroke(concept=c, strength=cfg.strength, mask=m.numpy()), m))
                if room("remove") and present[i].any():
                    jobs.append(("remove", i, Stroke(mode="remove", concept=c, strength=cfg.strength,
                                                     mask=present[i].numpy()), present[i]))
                if room("remove_freehand") and (pts := freehand_points(present[i], erase_rngs[c])) is not None:
                    jobs.append(("remove_freehand", i, Stroke(mode="remove", concept=c, strength=cfg.strength,
                                                              points=pts, radius=FREEHAND_RADIUS), pts))
                for kind in kinds:
                    count[kind] = len(rec[c][kind]) + sum(j[0] == kind for j in jobs)
            if not jobs:
                continue
            edits = [compose([s], table, C, g) for _, _, s, _ in jobs]
            alpha, value = torch.stack([e[0] for e in edits]), torch.stack([e[1] for e in edits])
            reach = torch.stack([reach_map([s], R) for _, _, s, _ in jobs])
            idx = torch.tensor([i for _, i, _, _ in jobs])
            masks = torch.stack([_footprint(r, R) if kind in FREEHAND_KINDS else
                                 F.interpolate(r[None, None].float(), size=(R, R), mode="nearest")[0, 0]
                                 for kind, _, _, r in jobs])
            with torch.inference_mode():
                after = model.render(h[idx], alpha, value, reach=reach, unedited=base[idx]).cpu()
            d1 = realism_scores(discriminator, after) if discriminator is not None else None
            swap = _swap_realism(model, discriminator, h, jobs, d0, base, reach) if d1 is not None else {}
            shares = {}
            for gr, s in graders.items():
                lab = s.segment(after).cpu()
                kk = names[gr].index(c)
                shares[gr] = (_share(labels[gr][idx], masks, kk), _share(lab, masks, kk))
                if gr == head:
                    lab_head = lab
            for t, (kind, i, _, region) in enumerate(jobs):
                r = {gr: (float(b[t]), float(a[t])) for gr, (b, a) in shares.items()}
                if d1 is not None:
                    r["realism"] = float(d1[t] - d0[i])
                if t in swap:
                    r["swap_realism"] = swap[t]
                if kind not in REMOVALS:  # what the painted region showed before (head grader's majority)
                    r["over"] = names[head][_majority(labels[head][i], masks[t], len(names[head]))[0]]
                else:
                    maj, maj_share = _majority(lab_head[t], masks[t], len(names[head]))
                    cells = region if kind == "remove" else F.adaptive_max_pool2d(masks[t][None, None], g)[0, 0] > 0
                    ok_classes = plausible_classes(frac[i], cells, c, names[head])
                    r["majority"], r["majority_share"] = names[head][maj], maj_share
                    r["plausible_share"] = plausible_share(lab_head[t], masks[t], ok_classes, names[head])
                    # a region may become several plausible classes (wall behind a tree, grass at its foot):
                    # together they must cover most of it; scattered implausible labels (noise) fail
                    r["plausible"] = r["plausible_share"] >= PLAUSIBLE_SHARE
                    r["majority_plausible"] = bool(names[head][maj] in ok_classes and maj_share >= PLAUSIBLE_MAJORITY)
                rec[c][kind].append(r)
                ex = examples.setdefault((c, kind), [])
                if keep_examples and len(ex) < SHEET_TRIALS:
                    ex.append({"before": to_uint8(base[i]), "after": to_uint8(after[t]), "mask": masks[t] > 0,
                               "share": r[head][1]})
        if progress_fn:
            progress_fn("trials", seen, cfg.max_images)
    sd = float(torch.cat(base_scores).std()) if base_scores else None
    return {"concepts": rec, "images": seen, "examples": examples, "graded_by": {gr: s.id for gr, s in graders.items()},
            "headline": head, "realism_sd": sd}
