"""Measure a paintable model: brush success under an independent judge, realism, interpretable units, FSD.

    report = evaluate(model, segmenter, judge=judge, discriminator=D, config=EvalConfig(trials=200),
                      pictures="docs/brushes")
    write_report(report, "models/scenes")      # evaluation.json + a MODEL_CARD.md section

The trials themselves (draw in context, freehand round strokes, random regions, remove) are in
`ganpaint.trials`. The headline grader is the judge (`ganpaint.judge`): the ranking segmenter chose the
units and learned their values, so its own verdict is reported beside the judge's, never instead of it.
Realism: per brush, the discriminator's score change from the unedited to the edited image, in units of
the unedited images' standard deviation; an edit is within the margin when it lowers the mean score by
at most REALISM_MARGIN_SD of them.
FSD (Fréchet Segmentation Distance, as in GAN Dissection): Fréchet distance between Gaussians fitted
to per-image class fractions (read by the headline grader) of generated and world images, next to world vs
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

from ..gan.checkpoint import state_dict_sha256
from .dissect import BRUSH_ORDER, sample_latents
from .regions import SUCCESS_SHARE
from ..segmenters.segmenter import Segmenter
from .trials import REMOVE_DROP
from .trials import brush_trials as run_trials
from .stats import frechet_distance
from ..world.world import HELDOUT_SEED_BASE

__all__ = ["EvalConfig", "evaluate", "brush_trials", "fsd_report", "write_report", "wilson_interval", "SUCCESS_SHARE",
           "REALISM_MARGIN_SD"]

GOAL_DRAW, GOAL_REMOVE = 0.8, 0.7
SEEN_SHARE = 0.05  # a removal region counts for a grader's mean drop only if it saw this much of the concept there
# An edit may lower the mean realism score by at most one standard deviation of unedited images' scores:
# pasting, in the same cells, what the generator drew in another picture (the trials' "swap" baseline)
# already costs about half of one under the shipped discriminator, whatever the cells then show.
REALISM_MARGIN_SD = 1.0
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
    kinds: tuple[str, ...] = ("draw", "freehand", "random", "remove", "remove_freehand")  # see ganpaint.trials
    first_image: int = 0  # trials use latents first_image … first_image + max_images - 1 of `seed`


def brush_trials(model, segmenter: Segmenter, *, judge: Segmenter | None = None, discriminator=None,
                 config: EvalConfig | None = None, progress_fn: Callable[[str, int, int], None] | None = None,
                 keep_examples: bool = True) -> dict:
    """Draw/remove trials for each brush of the model's table, summarized per concept (+ examples).

    With a judge, every number at the top of a summary is the judge's and the ranking segmenter's sits
    beside it under "ranking"; without one, the ranking segmenter is the only grader."""
    cfg = config or EvalConfig()
    raw = run_trials(model, segmenter, judge=judge, discriminator=discriminator, config=cfg,
                     progress_fn=progress_fn, keep_examples=keep_examples)
    head, sd = raw["headline"], raw["realism_sd"]
    out = {}
    for c, rec in raw["concepts"].items():
        b = {"draw": _draw_summary(rec.get("draw", []), head), "draw_random": _draw_summary(rec.get("random", []), head),
             "remove": _remove_summary(rec.get("remove", []), head)}
        if "freehand" in rec:
            b["draw_freehand"] = _draw_summary(rec["freehand"], head)
        if "remove_freehand" in rec:
            b["remove_freehand"] = _remove_summary(rec["remove_freehand"], head)
        if head != "ranking":
            for key, kind in (("draw", "draw"), ("draw_random", "random"), ("draw_freehand", "freehand")):
                if key in b:
                    b[key]["ranking"] = _draw_summary(rec.get(kind, []), "ranking", short=True)
            for key in ("remove", "remove_freehand"):
                if key in b:
                    b[key]["ranking"] = _remove_summary(rec.get(key, []), "ranking", short=True)
        if sd:
            b["realism"] = {key: _realism_summary(rec[kind], sd) for key, kind in
                            (("draw", "draw"), ("draw_freehand", "freehand"), ("remove", "remove"),
                             ("remove_freehand", "remove_freehand")) if kind in rec}
        if c in BRUSH_ORDER:
            b["goals_met"] = _goals(b)
        out[c] = b
    return {"concepts": out, "images": raw["images"], "examples": raw["examples"], "graded_by": raw["graded_by"],
            "headline": head, "realism_sd": None if sd is None else round(sd, 4)}


def _goals(b: dict) -> dict:
    def rate(d):
        return d.get("success_rate") if d else None

    def removes(rm):
        return rm["mean_drop"] is not None and rm["mean_drop"] >= GOAL_REMOVE and \
            (rm.get("success_rate") is None or rm["success_rate"] >= GOAL_REMOVE)

    goals = {"draw": rate(b["draw"]) is not None and rate(b["draw"]) >= GOAL_DRAW, "remove": removes(b["remove"])}
    if "draw_freehand" in b:
        goals["freehand"] = rate(b["draw_freehand"]) is not None and rate(b["draw_freehand"]) >= GOAL_DRAW
    if "remove_freehand" in b:
        goals["remove_freehand"] = removes(b["remove_freehand"])
    if "realism" in b:
        goals["realism"] = all(v["within_margin"] for v in b["realism"].values() if v["trials"])
    return {k: bool(v) for k, v in goals.items()}


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95 % confidence interval of a success rate (Wilson score): 159 of 200 → (0.734, 0.845)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def _draw_summary(recs: list[dict], grader: str, short: bool = False) -> dict:
    if not recs:
        return {"trials": 0, "mean_share": None, "success_rate": None}
    before = np.array([r[grader][0] for r in recs])
    after = np.array([r[grader][1] for r in recs])
    wins = int((after > SUCCESS_SHARE).sum())
    d = {"trials": len(after), "mean_share": round(float(after.mean()), 4), "success_rate": round(wins / len(after), 4),
         "success_ci95": [round(v, 4) for v in wilson_interval(wins, len(after))]}
    if not short:
        d["share_before"] = round(float(before.mean()), 4)
        over: dict[str, list[int]] = {}  # what the region showed before → [trials, successes]
        for r, a in zip(recs, after):
            if "over" in r:
                n = over.setdefault(r["over"], [0, 0])
                n[0] += 1
                n[1] += int(a > SUCCESS_SHARE)
        if over:
            d["by_before"] = {k: {"trials": n, "success_rate": round(w / n, 4)}
                              for k, (n, w) in sorted(over.items(), key=lambda kv: -kv[1][0])}
    return d


def _remove_summary(recs: list[dict], grader: str, short: bool = False) -> dict:
    if not recs:
        return {"trials": 0, "mean_drop": None, "pooled_drop": None, "share_before": None, "share_after": None}
    rb = np.array([r[grader][0] for r in recs])
    ra = np.array([r[grader][1] for r in recs])
    drop = 1 - ra / np.maximum(rb, 1e-9)
    # regions are placed where the headline grader sees the concept; a grader that hardly sees it there
    # has no drop to measure (1 - after/≈0 would swamp the mean), so its mean covers the regions it saw
    seen = rb >= SEEN_SHARE
    d = {"trials": len(rb), "mean_drop": round(float(drop[seen].mean()), 4) if seen.any() else None,
         "pooled_drop": round(float(1 - ra.sum() / max(rb.sum(), 1e-9)), 4),
         "share_before": round(float(rb.mean()), 4), "share_after": round(float(ra.mean()), 4)}
    if not seen.all():
        d["mean_drop_over"] = int(seen.sum())
    if not short and "plausible" in recs[0]:
        wins = int(sum(bool(r["plausible"]) and dr >= REMOVE_DROP for r, dr in zip(recs, drop)))
        d["success_rate"] = round(wins / len(recs), 4)  # dropped enough AND became a plausible class
        d["success_ci95"] = [round(v, 4) for v in wilson_interval(wins, len(recs))]
        d["plausible_rate"] = round(float(np.mean([r["plausible"] for r in recs])), 4)
        if "majority_plausible" in recs[0]:  # the stricter rule: one plausible class covers half the region
            strict = int(sum(bool(r["majority_plausible"]) and dr >= REMOVE_DROP for r, dr in zip(recs, drop)))
            d["success_rate_one_class"] = round(strict / len(recs), 4)
        counts: dict[str, int] = {}
        for r in recs:
            counts[r["majority"]] = counts.get(r["majority"], 0) + 1
        d["becomes"] = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    return d


def _realism_summary(recs: list[dict], sd: float) -> dict:
    """Mean change of the discriminator's score, also in units of the unedited images' spread (sd)."""
    deltas = np.array([r["realism"] for r in recs if "realism" in r])
    if not len(deltas):
        return {"trials": 0, "mean_delta": None, "delta_sd": None, "within_margin": True}
    mean = float(deltas.mean())
    se = float(deltas.std(ddof=1)) / np.sqrt(len(deltas)) if len(deltas) > 1 else 0.0
    out = {"trials": len(deltas), "mean_delta": round(mean, 4), "delta_sd": round(mean / sd, 3),
           "delta_se_sd": round(se / sd, 3),  # standard error of that mean, in the same units
           "lower_share": round(float((deltas < 0).mean()), 4), "within_margin": bool(mean / sd >= -REALISM_MARGIN_SD)}
    swap = np.array([r["swap_realism"] for r in recs if "swap_realism" in r])
    if len(swap):  # the same cells given another picture's features: what pasting alone costs
        out["swap_delta_sd"] = round(float(swap.mean()) / sd, 3)
    return out


def _class_fractions(labels: torch.Tensor, k: int) -> np.ndarray:
    """(N, H, W) → (N, K) per-image pixel fraction of each class."""
    counts = F.one_hot(labels.long(), k).sum((1, 2)).float()
    return (counts / counts.sum(1, keepdim=True)).numpy()


def fsd_report(model, segmenter: Segmenter, *, samples: int = 1000, seed: int = 2, batch: int = 50,
               progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    """FSD generated-vs-world and world-vs-world, plus each class's mean pixel share in each set.

    World scenes are rendered at the generator's resolution, so both sets lose the same detail."""
    from ..world.world import render_batch

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


def evaluate(model, segmenter: Segmenter, *, judge: Segmenter | None = None, discriminator=None,
             config: EvalConfig | None = None, pictures: str | os.PathLike | None = None,
             progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    """Everything `ganpaint evaluate` reports; `pictures`: a folder for the brushes' contact sheets."""
    from .brush_sheets import save_sheets

    cfg = config or EvalConfig()
    t0 = time.time()
    trials = brush_trials(model, segmenter, judge=judge, discriminator=discriminator, config=cfg,
                          progress_fn=progress_fn, keep_examples=pictures is not None)
    t1 = time.time()
    fsd = None
    if cfg.fsd_samples:
        fsd = fsd_report(model, judge or segmenter, samples=cfg.fsd_samples, seed=cfg.seed, progress_fn=progress_fn)
    t2 = time.time()
    written = save_sheets(trials.pop("examples"), pictures) if pictures is not None else []
    interp = model.table.meta.get("interpretable", {})
    sha = state_dict_sha256(model.generator)
    realism = None
    if discriminator is not None:
        realism = {"discriminator": getattr(discriminator, "id", "discriminator"), "unedited_sd": trials["realism_sd"],
                   "margin_sd": REALISM_MARGIN_SD,
                   "heldout_auc_real_vs_generated": getattr(discriminator, "provenance", {}).get("heldout_auc_after")}
    return {
        "model": model.id, "generator_sha256": sha, "resolution": model.resolution, "segmenter": segmenter.id,
        "judge": judge.id if judge is not None else None, "graded_by": trials["graded_by"],
        "headline": trials["headline"], "realism": realism,
        "concept_table": {k: model.table.meta.get(k) for k in ("method", "samples", "generator_sha256", "segmenter")},
        "table_matches_generator": model.table.meta.get("generator_sha256") == sha,
        "config": asdict(cfg), "success_share": SUCCESS_SHARE, "remove_drop": REMOVE_DROP,
        "goals": {"draw_success_rate": GOAL_DRAW, "remove_mean_drop": GOAL_REMOVE, "remove_success_rate": GOAL_REMOVE,
                  "realism_margin_sd": REALISM_MARGIN_SD},
        "brushes": trials["concepts"], "trial_images": trials["images"],
        "interpretable_units": {"layer": model.edit_layer, "units": interp.get("units"), "of": model.channels,
                                "fraction": interp.get("fraction"), "iou_threshold": interp.get("threshold"),
                                "at_fixed_q99_threshold": interp.get("q99_threshold_units")},
        "fsd": fsd, "fsd_segmenter": (judge or segmenter).id if fsd else None, "pictures": written,
        "timing_s": {"trials": round(t1 - t0, 1), "fsd": round(t2 - t1, 1)},
    }


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


def _by(d: dict | None) -> str:
    return "–" if not d or d.get("success_rate") is None else _pct(d["success_rate"])


def _realism_cell(b: dict, key: str) -> str:
    v = (b.get("realism") or {}).get(key)
    if not v or v["delta_sd"] is None:
        return "–"
    return f"{v['delta_sd']:+.2f}" + ("" if v["within_margin"] else " ✗")


def _over_lines(brushes: dict, grader: str) -> list[str]:
    """A table of what each brush's draws were painted over (the region's majority class before) and how often
    they succeeded there: the three commonest per kind."""
    def cell(x):
        by = (x or {}).get("by_before") or {}
        return ", ".join(f"{k} {_pct(v['success_rate'])} of {v['trials']}" for k, v in list(by.items())[:3]) or "–"

    rows = [f"| {c} | {cell(b['draw'])} | {cell(b.get('draw_freehand'))} |" for c, b in brushes.items()
            if c in BRUSH_ORDER and b["draw"].get("by_before")]
    if not rows:
        return []
    return ["", f"What the draws were painted over (the region's majority class before the edit, as {grader} read "
                "it) and how often they succeeded there, the three commonest:", "",
            "| brush | draw, cell | draw, freehand |", "|---|---|---|", *rows]


def render_card_section(r: dict) -> str:
    judged = r.get("judge") is not None
    lines = ["<!-- evaluation:start -->", "### Measured by `ganpaint evaluate`", ""]
    lines.append(f"Generator sha256 `{r['generator_sha256'][:16]}…` ({r['resolution']} px), ranking segmenter "
                 f"`{r['segmenter']}`" + (f", judge `{r['judge']}`" if judged else "")
                 + f", concept table: {r['concept_table'].get('method') or 'none'}"
                 + ("" if r["table_matches_generator"] else " — **table was computed for another generator**") + ".")
    grader = "the judge" if judged else "the ranking segmenter"
    lines += ["", f"Brushes (strength 1). Every success rate is {grader}'s"
              + (" (the ranking segmenter's, which chose the units and learned their values, in brackets)" if judged else "")
              + f"; 95 % Wilson intervals. A draw succeeds when > {SUCCESS_SHARE:.0%} of the painted region reads as "
              f"the concept: *cell* = a rectangle of edit-layer cells where the context allows the concept, *freehand* = "
              f"a round stroke of the page's default size where the context allows it, *random* = a rectangle anywhere. "
              f"A removal (*remove*: every cell showing the concept; *freehand*: a round stroke of the same size over "
              f"it) succeeds when the concept's pixels there drop by ≥ {r.get('remove_drop', 0.7):.0%} and the "
              f"region becomes plausible (≥ 60 % of its pixels read as classes that occur around the region or are on "
              f"the concept's context list). Realism: mean change of the discriminator's score from the unedited to "
              f"the edited image, in standard deviations of unedited images' scores; margin "
              f"−{(r.get('goals') or {}).get('realism_margin_sd', 0.5)} (✗ = beyond); *swap* = the same cells given all "
              f"edit-layer features of another generated picture, what pasting alone costs under this discriminator. Goals: draw ≥ {GOAL_DRAW:.0%}, "
              f"remove ≥ {GOAL_REMOVE:.0%} (mean drop and success).", "",
              "| brush | draw, cell | draw, freehand | random region | remove: mean drop | remove: success | "
              "becomes | remove, freehand: success | realism Δ draw / freehand / remove / remove freehand | swap | goals |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c, b in r["brushes"].items():
        if not b["draw"]["trials"] and not b["remove"]["trials"]:
            continue  # a concept this run did not try (e.g. --other-trials 0)
        goals = b.get("goals_met")
        g = "–" if goals is None else " ".join(f"{k} {'✓' if v else '✗'}" for k, v in goals.items())
        d, fh, rnd, rm = b["draw"], b.get("draw_freehand"), b["draw_random"], b["remove"]

        def cell(x):
            if not x:
                return "–"
            return _success(x) + (f" [{_by(x.get('ranking'))}]" if judged else "")

        drop = _pct(rm["mean_drop"]) + (f" [{_pct((rm.get('ranking') or {}).get('mean_drop'))}]" if judged else "")
        becomes = ", ".join(f"{k} {v}" for k, v in list((rm.get("becomes") or {}).items())[:3]) or "–"
        rs = " / ".join(_realism_cell(b, k) for k in ("draw", "draw_freehand", "remove", "remove_freehand"))
        erase = b.get("remove_freehand")
        erased = f"{_success(erase)}, drop {_pct(erase['mean_drop'])}" if erase and erase.get("success_rate") is not None else "–"
        sw = ((b.get("realism") or {}).get("draw") or {}).get("swap_delta_sd")
        lines.append(f"| {c} | {cell(d)} | {cell(fh)} | {_by(rnd)} | {drop} | "
                     f"{_success(rm) if rm.get('success_rate') is not None else '–'} | {becomes} | {erased} | {rs} | "
                     f"{'–' if sw is None else f'{sw:+.2f}'} | {g} |")
    lines += _over_lines(r["brushes"], grader)
    re_ = r.get("realism")
    if re_:
        lines += ["", f"Discriminator `{re_['discriminator']}`: unedited generated images' scores have standard deviation "
                  f"{re_['unedited_sd']}; it tells held-out world renders from generated images with ROC AUC "
                  f"{re_.get('heldout_auc_real_vs_generated')} (0.5 = chance)."]
    iu = r["interpretable_units"]
    if iu.get("units") is not None:
        lines += ["", f"Interpretable {iu['layer']} units (IoU > {iu['iou_threshold']} with some class, at the unit×class "
                  f"threshold of best information quality ratio): {iu['units']} of {iu['of']} "
                  f"({_pct(iu['fraction'])}); with a fixed q99 threshold: {iu['at_fixed_q99_threshold']}."]
    f = r.get("fsd")
    if f:
        lines += ["", f"Fréchet Segmentation Distance over {f['samples']} images (classes read by `{r.get('fsd_segmenter')}`): "
                  f"generated vs world **{f['fsd_generated_vs_world']:.4f}**, world vs world {f['fsd_world_vs_world']:.4f}. "
                  f"Classes dropped: {', '.join(f['classes_dropped']) or 'none'}; outside ±25 %: "
                  f"{', '.join(f['classes_outside_25pct']) or 'none'}.", "",
                  "| class | world share | generated share | ratio |", "|---|---|---|---|"]
        for c, v in f["classes"].items():
            ratio = "–" if v["ratio"] is None else f"{v['ratio']:.2f}"
            lines.append(f"| {c} | {100 * v['world']:.1f} % | {100 * v['generated']:.1f} % | {ratio} |")
    if r.get("pictures"):
        lines += ["", "Contact sheets of 16 consecutive trials each (not picked; before with the region outlined, then after): "
                  + ", ".join(f"[{Path(p).stem}](../../docs/brushes/{Path(p).name})" for p in r["pictures"])]
    lines.append("<!-- evaluation:end -->")
    return "\n".join(lines)
