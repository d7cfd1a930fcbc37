"""Measure a paintable model: brush success, interpretable units, Fréchet Segmentation Distance.

    report = evaluate(model, segmenter, config=EvalConfig(trials=200), pictures="docs/brushes")
    write_report(report, "models/scenes")      # evaluation.json + a MODEL_CARD.md section

Brush trials use the real edit engine (a mask stroke at the edit layer's grid, strength 1):
- draw (context): a region where the concept is absent and the scene allows it (regions.allowed_cells);
  the score is the share of the region's pixels the segmenter labels as the concept afterwards, and
  a trial succeeds when that share exceeds 60 %;
- draw (random): the same shapes anywhere the concept is absent ("where can you put a door?");
- remove: cells where the concept covers ≥ 30 %; the score is the drop of its pixels there.
FSD (Fréchet Segmentation Distance, as in GAN Dissection): Fréchet distance between Gaussians fitted
to per-image class fractions (read by the segmenter) of generated and world images, next to world vs
world for the same sample count, which is the floor that sample noise alone reaches.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import state_dict_sha256
from .dissect import BRUSH_ORDER, sample_latents
from .edit import Stroke, compose
from .regions import REGION_SHAPES, SUCCESS_SHARE, allowed_cells, cell_fractions, pick_region, present_cells
from .segmenter import Segmenter
from .stats import frechet_distance
from .world import HELDOUT_SEED_BASE

__all__ = ["EvalConfig", "evaluate", "brush_trials", "fsd_report", "write_report", "wilson_interval", "SUCCESS_SHARE"]

GOAL_DRAW, GOAL_REMOVE = 0.8, 0.7
FSD_WORLD_SEEDS = HELDOUT_SEED_BASE + 100_000  # two disjoint held-out sets start here


@dataclass
class EvalConfig:
    trials: int = 200  # per kind (draw, random draw, remove) for the palette's main brushes
    other_trials: int = 50  # for the other concepts
    batch: int = 25
    max_images: int = 3000  # grass is rarely absent where it may grow: it needs ~3000 images for 200 trials
    seed: int = 2  # latents for trials (dissection uses 1)
    fsd_samples: int = 1000
    strength: float = 1.0
    concepts: tuple[str, ...] | None = None  # None: every brush of the table


def _render(model, h: torch.Tensor, alpha=None, value=None) -> torch.Tensor:
    with torch.inference_mode():
        return model.render(h, alpha, value).cpu()


def _region_share(labels: torch.Tensor, masks: torch.Tensor, k: int) -> torch.Tensor:
    """Share of each mask's pixels labelled k: labels (T, H, W), masks (T, g, g) → (T,)."""
    up = F.interpolate(masks[:, None].float(), size=labels.shape[-2:], mode="nearest")[:, 0]
    return ((labels == k).float() * up).sum((1, 2)) / up.sum((1, 2)).clamp_min(1)


def _random_cells(own: torch.Tensor, shape: tuple[int, int], rng: np.random.Generator) -> torch.Tensor | None:
    return pick_region(own < 0.05, shape, rng)


def brush_trials(model, segmenter: Segmenter, *, config: EvalConfig | None = None,
                 progress_fn: Callable[[str, int, int], None] | None = None, keep_examples: bool = True) -> dict:
    """Draw/remove trials for each brush of the model's table; returns per-concept results (+ examples)."""
    cfg = config or EvalConfig()
    table, names = model.table, list(segmenter.labels)
    concepts = [c for c in table.brushes if c in names and (cfg.concepts is None or c in cfg.concepts)]
    want = {c: cfg.trials if c in BRUSH_ORDER else cfg.other_trials for c in concepts}
    res = {c: {"draw": [], "draw_before": [], "random": [], "remove_before": [], "remove_after": []} for c in concepts}
    examples: dict[str, dict] = {}
    rng = np.random.default_rng(cfg.seed)
    z_all = sample_latents(cfg.max_images, model.generator.config.z_dim, cfg.seed)
    g, C = model.layer_size, model.channels
    seen = 0
    for start in range(0, cfg.max_images, cfg.batch):
        if all(len(res[c]["draw"]) >= want[c] and len(res[c]["random"]) >= want[c]
               and len(res[c]["remove_before"]) >= want[c] for c in concepts):
            break
        z = z_all[start : start + cfg.batch]
        with torch.inference_mode():
            h = model.features(z)
        base = _render(model, h)
        labels = segmenter.segment(base).cpu()
        frac = cell_fractions(labels, len(names), g)
        seen += len(z)
        for c in concepts:
            k, r = names.index(c), res[c]
            shape = REGION_SHAPES.get(c, (2, 2))
            ok = allowed_cells(frac, c, names)
            own = frac[:, k]
            present = present_cells(frac, c, names)
            jobs = []  # (kind, image index, mask)
            for i in range(len(z)):
                if len(r["draw"]) + sum(j[0] == "draw" for j in jobs) < want[c]:
                    m = pick_region(ok[i], shape, rng)
                    if m is not None:
                        jobs.append(("draw", i, m))
                if len(r["random"]) + sum(j[0] == "random" for j in jobs) < want[c]:
                    m = _random_cells(own[i], shape, rng)
                    if m is not None:
                        jobs.append(("random", i, m))
                if len(r["remove_before"]) + sum(j[0] == "remove" for j in jobs) < want[c] and present[i].any():
                    jobs.append(("remove", i, present[i]))
            if not jobs:
                continue
            edits = [compose([Stroke(mode="remove" if kind == "remove" else "draw", concept=c, strength=cfg.strength,
                                     mask=m.numpy())], table, C, g) for kind, _, m in jobs]
            alpha = torch.stack([e[0] for e in edits])
            value = torch.stack([e[1] for e in edits])
            idx = torch.tensor([i for _, i, _ in jobs])
            masks = torch.stack([m for _, _, m in jobs])
            after = _render(model, h[idx], alpha, value)
            lab_after = segmenter.segment(after).cpu()
            share_after = _region_share(lab_after, masks, k)
            share_before = _region_share(labels[idx], masks, k)
            for t, (kind, i, m) in enumerate(jobs):
                if kind == "draw":
                    r["draw"].append(float(share_after[t]))
                    r["draw_before"].append(float(share_before[t]))
                elif kind == "random":
                    r["random"].append(float(share_after[t]))
                else:
                    r["remove_before"].append(float(share_before[t]))
                    r["remove_after"].append(float(share_after[t]))
                if keep_examples and kind in ("draw", "remove") and (c, kind) not in examples:
                    examples[(c, kind)] = {"before": base[i], "after": after[t], "mask": m}
        if progress_fn:
            progress_fn("trials", seen, cfg.max_images)
    out = {}
    for c in concepts:
        r = res[c]
        draw, rand = np.array(r["draw"]), np.array(r["random"])
        rb, ra = np.array(r["remove_before"]), np.array(r["remove_after"])
        out[c] = {
            "draw": _draw_summary(draw, np.array(r["draw_before"])),
            "draw_random": _draw_summary(rand, None),
            "remove": {
                "trials": len(rb),
                "mean_drop": round(float(np.mean(1 - ra / np.maximum(rb, 1e-9))), 4) if len(rb) else None,
                "pooled_drop": round(float(1 - ra.sum() / max(rb.sum(), 1e-9)), 4) if len(rb) else None,
                "share_before": round(float(rb.mean()), 4) if len(rb) else None,
                "share_after": round(float(ra.mean()), 4) if len(rb) else None,
            },
        }
        if c in BRUSH_ORDER:
            out[c]["goals_met"] = {
                "draw": bool(out[c]["draw"]["success_rate"] is not None and out[c]["draw"]["success_rate"] >= GOAL_DRAW),
                "remove": bool(out[c]["remove"]["mean_drop"] is not None and out[c]["remove"]["mean_drop"] >= GOAL_REMOVE),
            }
    return {"concepts": out, "images": seen, "examples": examples}


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95 % confidence interval of a success rate (Wilson score): 159 of 200 → (0.734, 0.845)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def _draw_summary(after: np.ndarray, before: np.ndarray | None) -> dict:
    if not len(after):
        return {"trials": 0, "mean_share": None, "success_rate": None}
    wins = int((after > SUCCESS_SHARE).sum())
    d = {"trials": len(after), "mean_share": round(float(after.mean()), 4),
         "success_rate": round(wins / len(after), 4),
         "success_ci95": [round(v, 4) for v in wilson_interval(wins, len(after))]}
    if before is not None:
        d["share_before"] = round(float(before.mean()), 4)
    return d


def _class_fractions(labels: torch.Tensor, k: int) -> np.ndarray:
    """(N, H, W) → (N, K) per-image pixel fraction of each class."""
    counts = F.one_hot(labels.long(), k).sum((1, 2)).float()
    return (counts / counts.sum(1, keepdim=True)).numpy()


def fsd_report(model, segmenter: Segmenter, *, samples: int = 1000, seed: int = 2, batch: int = 50,
               progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    """FSD generated-vs-world and world-vs-world, plus each class's mean pixel share in each set.

    World scenes are rendered at the generator's resolution, so both sets lose the same detail."""
    from .world import render_batch

    names, K = list(segmenter.labels), len(segmenter.labels)
    z = sample_latents(samples, model.generator.config.z_dim, seed)
    gen, w1, w2 = [], [], []
    for i in range(0, samples, batch):
        with torch.inference_mode():
            img = model.render_generator(z[i : i + batch].to(model.device)).cpu()
        gen.append(_class_fractions(segmenter.segment(img).cpu(), K))
        for out, base in ((w1, FSD_WORLD_SEEDS), (w2, FSD_WORLD_SEEDS + 50_000)):
            imgs, _ = render_batch(range(base + i, base + min(i + batch, samples)), model.resolution)
            x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            out.append(_class_fractions(segmenter.segment(x).cpu(), K))
        if progress_fn:
            progress_fn("fsd", min(i + batch, samples), samples)
    gen, w1, w2 = np.concatenate(gen), np.concatenate(w1), np.concatenate(w2)
    mg, mw = gen.mean(0), w1.mean(0)
    classes = {}
    for j, c in enumerate(names):
        ratio = float(mg[j] / mw[j]) if mw[j] > 0 else None
        classes[c] = {"generated": round(float(mg[j]), 4), "world": round(float(mw[j]), 4),
                      "ratio": round(ratio, 3) if ratio is not None else None,
                      "within_25pct": bool(ratio is not None and 0.75 <= ratio <= 1.25),
                      "dropped": bool(mw[j] > 0.001 and mg[j] < 0.1 * mw[j])}
    return {"samples": samples, "fsd_generated_vs_world": round(frechet_distance(gen, w1), 4),
            "fsd_world_vs_world": round(frechet_distance(w2, w1), 4), "classes": classes,
            "classes_dropped": [c for c, v in classes.items() if v["dropped"]],
            "classes_outside_25pct": [c for c, v in classes.items() if not v["within_25pct"] and mw[names.index(c)] > 0.001]}


def evaluate(model, segmenter: Segmenter, *, config: EvalConfig | None = None, pictures: str | os.PathLike | None = None,
             progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    cfg = config or EvalConfig()
    t0 = time.time()
    trials = brush_trials(model, segmenter, config=cfg, progress_fn=progress_fn, keep_examples=pictures is not None)
    t1 = time.time()
    fsd = None
    if cfg.fsd_samples:
        fsd = fsd_report(model, segmenter, samples=cfg.fsd_samples, seed=cfg.seed, progress_fn=progress_fn)
    t2 = time.time()
    written = save_pictures(trials.pop("examples"), pictures) if pictures is not None else []
    interp = model.table.meta.get("interpretable", {})
    sha = state_dict_sha256(model.generator)
    return {
        "model": model.id, "generator_sha256": sha, "resolution": model.resolution, "segmenter": segmenter.id,
        "concept_table": {k: model.table.meta.get(k) for k in ("method", "samples", "generator_sha256", "segmenter")},
        "table_matches_generator": model.table.meta.get("generator_sha256") == sha,
        "config": asdict(cfg), "success_share": SUCCESS_SHARE,
        "goals": {"draw_success_rate": GOAL_DRAW, "remove_mean_drop": GOAL_REMOVE},
        "brushes": trials["concepts"], "trial_images": trials["images"],
        "interpretable_units": {"layer": model.edit_layer, "units": interp.get("units"), "of": model.channels,
                                "fraction": interp.get("fraction"), "iou_threshold": interp.get("threshold"),
                                "at_fixed_q99_threshold": interp.get("q99_threshold_units")},
        "fsd": fsd, "pictures": written,
        "timing_s": {"trials": round(t1 - t0, 1), "fsd": round(t2 - t1, 1)},
    }


def _outline(img: np.ndarray, mask: torch.Tensor, color=(255, 0, 255)) -> np.ndarray:
    """Draw the border of a layer-grid mask onto an (H, W, 3) uint8 image."""
    m = F.interpolate(mask[None, None].float(), size=img.shape[:2], mode="nearest")[0, 0].bool().numpy()
    edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
    out = img.copy()
    out[edge] = color
    return out


def save_pictures(examples: dict, folder: str | os.PathLike, scale: int | None = None) -> list[str]:
    """docs/brushes/<concept>.png: [before | after draw] [before | after remove], regions outlined.

    Pixels are repeated `scale` times (default: enough for 256 px tall panels, at least 2)."""
    from PIL import Image

    from .imaging import to_uint8

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for c in BRUSH_ORDER:
        panels = []
        for kind in ("draw", "remove"):
            ex = examples.get((c, kind))
            if ex is None:
                continue
            for key in ("before", "after"):
                panels.append(_outline(to_uint8(ex[key]), ex["mask"]))
        if not panels:
            continue
        h = panels[0].shape[0]
        scale = scale or max(2, 256 // h)
        gap = np.full((h, 4, 3), 255, np.uint8)
        row = np.concatenate([p for pair in zip(panels, [gap] * len(panels)) for p in pair][:-1], 1)
        im = Image.fromarray(row).resize((row.shape[1] * scale, h * scale), Image.NEAREST)
        path = folder / f"{c}.png"
        im.save(path)
        written.append(str(path))
    return written


def write_report(report: dict, folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write evaluation.json and the MODEL_CARD.md section between the evaluation markers."""
    folder = Path(folder)
    json_path = folder / "evaluation.json"
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    card = folder / "MODEL_CARD.md"
    section = render_card_section(report)
    text = card.read_text() if card.exists() else ""
    start, end = "<!-- evaluation:start -->", "<!-- evaluation:end -->"
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + section + "\n"
    card.write_text(text)
    return json_path, card


def _pct(v) -> str:
    """79.5 % stays 79.5 % (next to an 80 % goal, rounding would misreport it); 86.0 % reads 86 %."""
    return "–" if v is None else f"{100 * v:.1f}".removesuffix(".0") + " %"


def _success(d: dict) -> str:
    if d.get("success_rate") is None:
        return "–"
    lo, hi = d.get("success_ci95") or wilson_interval(round(d["success_rate"] * d["trials"]), d["trials"])
    return f"{_pct(d['success_rate'])} ({100 * lo:.0f}–{100 * hi:.0f})"


def render_card_section(r: dict) -> str:
    lines = ["<!-- evaluation:start -->", "### Measured by `ganpaint evaluate`", ""]
    lines.append(f"Generator sha256 `{r['generator_sha256'][:16]}…` ({r['resolution']} px), segmenter `{r['segmenter']}`, "
                 f"concept table: {r['concept_table'].get('method') or 'none'}"
                 + ("" if r["table_matches_generator"] else " — **table was computed for another generator**") + ".")
    lines += ["", f"Brushes (strength 1, mask strokes at the edit layer's grid; a draw succeeds when > "
              f"{SUCCESS_SHARE:.0%} of the region is labelled as the concept; goals: draw ≥ {GOAL_DRAW:.0%} success, "
              f"remove ≥ {GOAL_REMOVE:.0%} drop):", "",
              "| brush | draw trials | draw share | draw success (95 % CI) | random-region success | remove trials | remove drop | goals |",
              "|---|---|---|---|---|---|---|---|"]
    for c, b in r["brushes"].items():
        goals = b.get("goals_met")
        g = "–" if goals is None else " / ".join(f"{k} {'✓' if goals[k] else '✗'}" for k in ("draw", "remove"))
        d, rnd, rm = b["draw"], b["draw_random"], b["remove"]
        lines.append(f"| {c} | {d['trials']} | {_pct(d['mean_share'])} | {_success(d)} | "
                     f"{_pct(rnd['success_rate'])} | {rm['trials']} | {_pct(rm['mean_drop'])} | {g} |")
    iu = r["interpretable_units"]
    if iu.get("units") is not None:
        lines += ["", f"Interpretable {iu['layer']} units (IoU > {iu['iou_threshold']} with some class, at the unit×class "
                  f"threshold of best information quality ratio): {iu['units']} of {iu['of']} "
                  f"({_pct(iu['fraction'])}); with a fixed q99 threshold: {iu['at_fixed_q99_threshold']}."]
    f = r.get("fsd")
    if f:
        lines += ["", f"Fréchet Segmentation Distance over {f['samples']} images: generated vs world "
                  f"**{f['fsd_generated_vs_world']:.4f}**, world vs world {f['fsd_world_vs_world']:.4f}. "
                  f"Classes dropped: {', '.join(f['classes_dropped']) or 'none'}; outside ±25 %: "
                  f"{', '.join(f['classes_outside_25pct']) or 'none'}.", "",
                  "| class | world share | generated share | ratio |", "|---|---|---|---|"]
        for c, v in f["classes"].items():
            ratio = "–" if v["ratio"] is None else f"{v['ratio']:.2f}"
            lines.append(f"| {c} | {100 * v['world']:.1f} % | {100 * v['generated']:.1f} % | {ratio} |")
    if r.get("pictures"):
        lines += ["", "Before/after pictures (draw, then remove; regions outlined): "
                  + ", ".join(f"[{Path(p).stem}](../../docs/brushes/{Path(p).name})" for p in r["pictures"])]
    lines.append("<!-- evaluation:end -->")
    return "\n".join(lines)
