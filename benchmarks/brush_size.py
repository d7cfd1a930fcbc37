"""How much of the picture does a single dab change, against the brush radius? (the shipped model)

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/brush_size.py --sheet docs/brush_size.png   # ~5 min

Dabs (one-point strokes, strength 1) of every brush at each radius, on `--images` latents (seed 3,
not the dissection's or the evaluation's) at `--spots` uniformly random positions per image and
brush: nothing is picked. Per radius and alpha rule it reports
  changed_px   share of pixels whose colour moves by more than --threshold/255 in any channel
  cells        share of layer4 cells the dab touches (alpha > 0)
  alpha_area   the dab's alpha summed over cells, in cells / 64 (what a brush actually switches)
  disc         the dab's own area, π·r², for scale
Alpha rules: `hard` is the first engine (any touched cell edited fully, from a max-pooled footprint);
`linear` the second (alpha = the cell's coverage, the generator's whole response shown); `soft` is
ganpaint.paint.edit as shipped (alpha = coverage**ALPHA_GAMMA, shown within the stroke's reach,
ganpaint.paint.footprint.reach_map); a number g is the alternative alpha = coverage**g, unclipped; `half-cell` places the soft edit on the 16 × 16 grid that layer5's conv reads
after its nearest upsample (same units, half-cell precision; not shipped: a second render path). `--context` adds, with the ranking segmenter (the instrument the units were chosen with, not an
independent judge; `--context-judge`, on by default, repeats it placed and read by the judge for the hard,
linear and soft rules), dabs centred in cells where the scene allows the concept: the share of the disc
the concept then covers (`inside`) and the concept pixels gained anywhere per disc pixel (`spread`).
Writes benchmarks/results/brush_size.json and prints the tables.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ganpaint.dissect.dissect import BRUSH_ORDER, sample_latents  # noqa: E402
from ganpaint.dissect.judge import load_judge  # noqa: E402
from ganpaint.paint.edit import ALPHA_GAMMA, OVERSAMPLE, Stroke, _points_mask, apply_edit, stroke_edit  # noqa: E402
from ganpaint.paint.footprint import reach_map  # noqa: E402
from ganpaint.paint.imaging import to_uint8  # noqa: E402
from ganpaint.paint.model import PaintModel  # noqa: E402
from ganpaint.dissect.regions import allowed_cells, cell_fractions  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "brush_size.json"
RADII = (0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.10, 0.15)


def dab_edit(model: PaintModel, concept: str, xy: tuple[float, float], radius: float,
             rule: str | float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(alpha, value, reach) of one dab under an alpha rule: "hard", "linear", "soft" (as shipped: the only
    one shown within its reach) or a gamma; reach None: the generator's whole response is shown."""
    stroke = Stroke.from_dict({"concept": concept, "points": [list(xy)], "radius": radius})
    alpha, value = stroke_edit(stroke, model.table, model.channels, model.layer_size)
    if rule == "soft":
        return alpha, value, reach_map([stroke], model.resolution)
    return (*_unclipped_edit(model, stroke, alpha, value, radius, rule), None)


def _unclipped_edit(model: PaintModel, stroke: Stroke, alpha: torch.Tensor, value: torch.Tensor, radius: float,
                    rule: str | float) -> tuple[torch.Tensor, torch.Tensor]:
    concept = stroke.concept
    if rule == "linear":  # the engine before the reach: alpha = coverage
        return alpha.pow(1.0 / ALPHA_GAMMA), value
    if rule == "hard":
        # the old footprint: fine cells whose centre lies within the radius (the anti-aliased ramp's
        # 0.5 level), max-pooled; its alpha is 1 wherever it reaches
        fine = _points_mask(stroke.points, radius, model.layer_size * OVERSAMPLE) >= 0.5
        cells = F.adaptive_max_pool2d(torch.from_numpy(fine).float()[None, None], model.layer_size)[0, 0]
        units, levels = model.table.brush(concept, stroke.strength, stroke.mode)
        a, v = torch.zeros_like(alpha), torch.zeros_like(value)
        a[units] = cells
        v[units] = torch.tensor(levels, dtype=torch.float32)[:, None, None] * cells
        return a, v
    if rule == "half-cell":
        # the same units placed on the 2× finer grid that layer5's conv reads (see render_half_cell)
        n = model.layer_size * OVERSAMPLE
        cov = F.avg_pool2d(torch.from_numpy(_points_mask(stroke.points, radius, n))[None, None], OVERSAMPLE // 2)[0, 0]
        units, levels = model.table.brush(concept, stroke.strength, stroke.mode)
        a = torch.zeros(model.channels, *cov.shape)
        v = torch.zeros_like(a)
        a[units] = cov.clamp(0, 1)
        v[units] = torch.tensor(levels, dtype=torch.float32)[:, None, None] * (cov > 0)
        return a, v
    return alpha.pow(float(rule) / ALPHA_GAMMA), value  # coverage**rule from coverage**ALPHA_GAMMA


def render_half_cell(model: PaintModel, h: torch.Tensor, alpha: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Render with the edit applied after the next block's nearest ×2 upsample (alpha/value at 2× the
    edit layer's size). A cell-aligned edit renders the same image as the shipped path."""
    G = model.generator
    block = getattr(G, model.next_layer)
    assert block.upsample and alpha.shape[-1] == 2 * h.shape[-1]
    x = apply_edit(F.interpolate(h, scale_factor=2, mode="nearest"), alpha, value)
    x = F.leaky_relu(block.wscale(block.conv(block.norm(x))), 0.2)
    return G.render_from(x, start=G.layer_after(model.next_layer))


def disc_masks(xy: torch.Tensor, radius: float, size: int) -> torch.Tensor:
    """(T, size, size) bool: pixels whose centre is within `radius` (at least half a pixel) of each xy."""
    c = (torch.arange(size) + 0.5) / size
    dx = c[None, None, :] - xy[:, 0, None, None]
    dy = c[None, :, None] - xy[:, 1, None, None]
    return dx * dx + dy * dy <= max(radius, 0.5 / size) ** 2


def _render(model: PaintModel, h: torch.Tensor, edits: list[tuple], unedited: torch.Tensor, batch: int = 64):
    out = []
    for i in range(0, len(h), batch):
        part = edits[i : i + batch]
        alpha = torch.stack([e[0] for e in part])
        value = torch.stack([e[1] for e in part])
        if alpha.shape[-1] == h.shape[-1]:
            reach = torch.stack([e[2] for e in part]) if part[0][2] is not None else None
            out.append(model.render(h[i : i + batch], alpha, value, reach=reach, unedited=unedited[i : i + batch]))
        else:
            out.append(render_half_cell(model, h[i : i + batch], alpha, value))
    return torch.cat(out)


def size_trials(model: PaintModel, h: torch.Tensor, base: torch.Tensor, rules: list, *, spots: int,
                threshold: int, rng: np.random.Generator) -> dict:
    """Unpicked dabs: uniform positions on every image, every brush. Returns per rule and radius means."""
    concepts = [c for c in BRUSH_ORDER if c in model.table.concepts]
    trials = [(i, c, tuple(float(v) for v in rng.uniform(0.03, 0.97, 2)))
              for i in range(len(h)) for c in concepts for _ in range(spots)]
    idx = torch.tensor([t[0] for t in trials])
    g2 = model.layer_size ** 2
    out: dict = {}
    for rule in rules:
        rows = {}
        for r in RADII:
            edits = [dab_edit(model, c, xy, r, rule) for _, c, xy in trials]
            after = _render(model, h[idx], edits, base[idx])
            diff = (after - base[idx]).abs().amax(1) * 127.5  # in 8-bit levels
            alpha = torch.stack([e[0].amax(0) for e in edits])  # (T, g, g): every brush unit gets the same
            alpha = F.avg_pool2d(alpha[:, None], alpha.shape[-1] // model.layer_size)[:, 0]  # half-cell: per cell
            rows[f"{r:.2f}"] = {
                "changed_px": float((diff > threshold).float().mean()),
                "cells": float((alpha > 0).float().sum((1, 2)).mean() / g2),
                "alpha_area": float(alpha.sum((1, 2)).mean() / g2),
                "disc": math.pi * r * r,
                "mean_abs_change": float(diff.mean()),
            }
        out[str(rule)] = rows
    return {"trials_per_radius": len(trials), "concepts": concepts, "rules": out}


def context_trials(model: PaintModel, h: torch.Tensor, base: torch.Tensor, rules: list, *, spots: int,
                   rng: np.random.Generator, seg=None) -> dict:
    """Dabs centred at a random point of a random context-allowed cell, placed and read by `seg` (default the
    ranking segmenter)."""
    seg = seg or model.segmenter
    names = list(seg.labels)
    g, R = model.layer_size, model.resolution
    labels = seg.segment(base).cpu()
    frac = cell_fractions(labels, len(names), g)
    concepts = [c for c in BRUSH_ORDER if c in model.table.concepts and c in names]
    trials = []
    for c in concepts:
        ok = allowed_cells(frac, c, names)
        for i in range(len(h)):
            where = ok[i].nonzero()
            for _ in range(min(spots, len(where))):
                row, col = (int(v) for v in where[rng.integers(len(where))])
                trials.append((i, c, ((col + rng.uniform(0.2, 0.8)) / g, (row + rng.uniform(0.2, 0.8)) / g)))
    idx = torch.tensor([t[0] for t in trials])
    k = torch.tensor([names.index(c) for _, c, _ in trials])
    xy = torch.tensor([t[2] for t in trials])
    before = (labels[idx] == k[:, None, None])
    out: dict = {}
    for rule in rules:
        rows = {}
        for r in RADII:
            edits = [dab_edit(model, c, p, r, rule) for _, c, p in trials]
            lab = seg.segment(_render(model, h[idx], edits, base[idx])).cpu()
            now = lab == k[:, None, None]
            disc = disc_masks(xy, r, R)
            inside = (now & disc).sum((1, 2)).float() / disc.sum((1, 2)).float()
            gained = (now & ~before).sum((1, 2)).float() - (before & ~now).sum((1, 2)).float()
            rows[f"{r:.2f}"] = {
                "inside": float(inside.mean()),
                "inside_success": float((inside > 0.6).float().mean()),
                "spread": float((gained / disc.sum((1, 2)).float()).mean()),
                "gained_px": float(gained.mean() / (R * R)),
            }
        out[str(rule)] = rows
    return {"trials_per_radius": len(trials), "concepts": concepts, "rules": out}


def contact_sheet(model: PaintModel, path: Path, *, seeds=(104, 425, 816), concepts=("tree", "cloud", "door"),
                  radii=(0.02, 0.04, 0.06, 0.10, 0.15), rule: str | float = "soft", scale: int = 1,
                  rng: np.random.Generator) -> None:
    """Rows: seed × concept, the dab centred in a random context-allowed cell; columns: before, the old
    engine at the smallest radius, then `rule` at each radius. A magenta ring marks the dab."""
    from PIL import Image, ImageDraw

    seg, names, g = model.segmenter, list(model.segmenter.labels), model.layer_size
    h = model.features(torch.cat([model.z_for_seed(s) for s in seeds]))
    base = model.render(h)
    frac = cell_fractions(seg.segment(base).cpu(), len(names), g)
    cols = [("before", None, None), ("hard", radii[0], "hard")] + [(str(rule), r, rule) for r in radii]
    R, pad = model.resolution, 4
    tile = R * scale
    sheet = Image.new("RGB", (len(cols) * (tile + pad) + pad, len(seeds) * len(concepts) * (tile + pad) + pad + 14),
                      "white")
    draw = ImageDraw.Draw(sheet)
    for j, (name, r, _) in enumerate(cols):
        draw.text((pad + j * (tile + pad) + 4, 2), name if r is None else f"{name} r={r:.2f}", fill="black")
    row = 0
    for i in range(len(seeds)):
        for c in concepts:
            where = allowed_cells(frac, c, names)[i].nonzero()
            if len(where) == 0:
                where = torch.tensor([[g // 2, g // 2]])
            cy, cx = (int(v) for v in where[rng.integers(len(where))])
            xy = ((cx + rng.uniform(0.2, 0.8)) / g, (cy + rng.uniform(0.2, 0.8)) / g)
            for j, (_, r, rule) in enumerate(cols):
                img = base[i : i + 1] if rule is None else _render(model, h[i : i + 1], [dab_edit(model, c, xy, r, rule)], base[i : i + 1])
                im = Image.fromarray(to_uint8(img)[0]).resize((tile, tile), Image.Resampling.NEAREST)
                if r is not None:
                    px, py, pr = xy[0] * tile, xy[1] * tile, max(r * tile, 1.5)
                    ImageDraw.Draw(im).ellipse((px - pr, py - pr, px + pr, py + pr), outline=(255, 0, 255))
                sheet.paste(im, (pad + j * (tile + pad), 14 + pad + row * (tile + pad)))
            label, at = f"{seeds[i]} {c}", (pad + 3, 14 + pad + row * (tile + pad) + 2)
            draw.rectangle(draw.textbbox(at, label), fill="black")
            draw.text(at, label, fill=(255, 255, 0))
            row += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def _table(rows: dict, keys: list[str], fmt: str = "{:.3f}") -> str:
    lines = ["radius  " + "  ".join(f"{k:>12}" for k in keys)]
    for r, row in rows.items():
        lines.append(f"{r:>6}  " + "  ".join(f"{fmt.format(row[k]):>12}" for k in keys))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(ROOT / "models" / "scenes"))
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--spots", type=int, default=2, help="dabs per image and brush (default 2)")
    p.add_argument("--threshold", type=int, default=16, help="a pixel changed: any channel moved > this/255")
    p.add_argument("--gammas", default="", help="alternative alpha curves to compare (coverage**gamma, unclipped)")
    p.add_argument("--half-cell", action=argparse.BooleanOptionalAction, default=False,
                   help="also try the edit on layer5's 2× finer input grid (a second render path)")
    p.add_argument("--context", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--context-judge", action=argparse.BooleanOptionalAction, default=True,
                   help="also place and read the context dabs with the model's judge segmenter (hard and soft)")
    p.add_argument("--sheet", default=None, help="also write a contact sheet PNG here")
    p.add_argument("--sheet-rule", default="soft", help="alpha rule of the sheet: soft (as shipped) or a gamma")
    p.add_argument("--sheet-only", action="store_true", help="only write the contact sheet")
    p.add_argument("--sheet-scale", type=int, default=1, help="pixels per model pixel on the sheet")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model = PaintModel.load(args.model)
    rules: list = ["hard", "linear", "soft"] + [float(g) for g in args.gammas.split(",") if g] + ["half-cell"] * args.half_cell
    t0 = time.perf_counter()
    h = model.features(sample_latents(args.images, model.generator.config.z_dim, 3))
    sheet_rule = args.sheet_rule if args.sheet_rule in ("soft", "linear", "hard", "half-cell") else float(args.sheet_rule)

    def sheet() -> None:
        contact_sheet(model, Path(args.sheet or "brush_size.png"), rule=sheet_rule, scale=args.sheet_scale,
                      rng=np.random.default_rng(2))

    if args.sheet_only:
        with torch.inference_mode():
            sheet()
        return {}
    with torch.inference_mode():
        base = model.render(h)
        result = {
            "benchmark": "brush_size", "model": model.id, "alpha_gamma": ALPHA_GAMMA, "images": args.images,
            "latent_seed": 3, "threshold": args.threshold,
            "size": size_trials(model, h, base, rules, spots=args.spots, threshold=args.threshold,
                                rng=np.random.default_rng(0)),
        }
        if args.context and model.segmenter is not None:
            result["context"] = context_trials(model, h, base, rules, spots=args.spots, rng=np.random.default_rng(1))
            judge = load_judge(model.folder) if args.context_judge else None
            if judge is not None:  # the same dabs' kind, placed and read by the segmenter nothing was chosen with
                result["context_judge"] = context_trials(model, h, base, ["hard", "linear", "soft"], spots=args.spots,
                                                         rng=np.random.default_rng(1), seg=judge)
        if args.sheet:
            sheet()
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    for rule, rows in result["size"]["rules"].items():
        print(f"\n[{rule}] single dab, {result['size']['trials_per_radius']} dabs per radius "
              f"(changed = a channel moved > {args.threshold}/255)")
        print(_table(rows, ["disc", "changed_px", "cells", "alpha_area", "mean_abs_change"]))
    for key, who in (("context", "the ranking segmenter"), ("context_judge", "the judge")):
        for rule, rows in result.get(key, {}).get("rules", {}).items():
            print(f"\n[{rule}] context dabs read by {who}, {result[key]['trials_per_radius']} per radius")
            print(_table(rows, ["inside", "inside_success", "spread", "gained_px"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {args.out} ({result['wall_s']} s)")
    return result


if __name__ == "__main__":
    main()
