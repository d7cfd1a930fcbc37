"""Dissection: which units of the edit layer draw which concept, ranked by IoU and by causal effect.

    table = dissect(model, segmenter, config=DissectConfig(samples=1000), checkpoint="runs/dissect/scenes.pt")
    table.save("models/scenes/concepts.json")

Six named stages over `samples` generated images (`STAGES`), each resumable from the checkpoint:
1. sample: layer activations → streaming per-unit quantiles; the segmenter's labels, pooled to
   `seg_size`, are kept (a few MB) so stage 2 only reruns the cheap layers up to the edit layer.
2. iou: each unit's map is upsampled (bilinear, pixel-centre aligned) to the label size and
   thresholded at several candidate quantiles; IoU(unit, concept) is summed over the whole set. Each
   unit×concept threshold is the candidate with the best information quality ratio (chance-corrected,
   as the original CLI), and IoU is read there. (A fixed q99 threshold caps the IoU of big concepts
   such as sky at mask share / concept share; that count is reported too, for comparison.)
3. ace: per concept, a per-unit coefficient α ∈ [0, 1] is optimized so that inserting the units
   (x ← x·(1−α·m) + α·m·level) in regions where the concept is absent but context allows it makes the
   segmenter see it, and ablating them (x ← x·(1−α·m)) where it is present removes it, with an L1
   penalty on α (GAN Dissection's ACE ranking). Brushes are the units with the largest α.
   The draw ranking is optimized at each of `draw_rankings`' levels (q99, and q99 × 6 on more samples:
   units that draw a concept only when pushed hard rank differently from those that do at q99), and
   `ace_restarts` times at each on other random trial regions: the optimization is sensitive to them
   (two runs that differed only in float rounding shared 23–32 of their top 32 units).
4. ace_remove: a second ranking optimizes ablation alone (where the concept is present): the remove
   brush's units.
5. calibrate: each draw brush's ranking (one per level), unit count (a prefix of that ranking) and
   level (q99 × a scale) are chosen together by insertion success on samples no ranking saw.
6. levels: each calibrated draw brush's per-unit values are optimized for insertion (from q99 × its
   scale) and kept where they draw better on the calibration samples.
Then the concept table is built from what the stages produced (`_table`).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..gan.checkpoint import state_dict_sha256
from ..paint.concepts import Concept, ConceptTable
from .regions import REGION_SHAPES, SUCCESS_SHARE, allowed_cells, cell_fractions, pick_region, present_cells
from ..segmenters.segmenter import Segmenter
from .stats import RunningQuantile, ThresholdIoU
from .dissect_brushes import (  # noqa: F401 (pick_trial, _kept, _mean_rankings: also imported from here)
    _ace_alpha, _calib_regions, _calibrate, _draw_runs, _insert_shares, _kept, _learn_values, _mean_rankings,
    _success, _trial_regions, pick_trial, segment_at)

__all__ = ["DissectConfig", "dissect", "BRUSH_ORDER", "brush_order", "pick_trial", "sample_latents", "segment_at"]

BRUSH_ORDER = ("tree", "grass", "door", "sky", "cloud", "brick", "dome")
INTERPRETABLE_IOU = 0.05
MIN_IQR = 0.01


@dataclass
class DissectConfig:
    samples: int = 1000
    batch: int = 25
    seed: int = 1
    seg_size: int = 64
    quantiles: tuple[float, ...] = (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995)
    top: int = 48  # at most this many ranked units per concept (the IoU ranking keeps exactly this many)
    keep_alpha: float = 0.5  # a causal ranking keeps the units whose coefficient reached this …
    min_units: int = 8  # … but at least this many
    ace_images: int = 96  # first samples used for the causal rankings (unless draw_rankings says otherwise)
    ace_steps: int = 80  # 0: rank by IoU only
    # the draw rankings, each (samples, steps, insertion level as a multiple of q99); None: ace_images /
    # ace_steps. Calibration chooses among them per concept (dome draws better ranked at 6 × q99, door at q99)
    draw_rankings: tuple[tuple[int | None, int | None, float], ...] = ((None, None, 1.0), (300, 200, 6.0))
    # each draw ranking is optimized this many times on other random trial regions (the ranking is
    # sensitive to them: top-32 sets of two runs share 23–32 units); calibration chooses among them all
    ace_restarts: int = 2
    ace_batch: int = 8
    ace_lr: float = 0.1
    ace_sparsity: float = 0.002  # L1 weight on α (per unit)
    # each draw brush's level (q99 × a scale) and unit count are chosen by insertion success on the
    # `calib_images` samples after the ACE images (the evaluation uses other latents); value_scales
    # (1.0,) keeps plain q99 and the α-kept units
    value_scales: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
    # tried in turn, while each does better, for a ranking whose best trial sits at the largest value_scale
    # (door's success still rose at 6 × q99)
    extra_scales: tuple[float, ...] = (8.0, 12.0)
    # with several restarts, one more ranking per level: α averaged over the restarts ("<name>~mean")
    mean_rankings: bool = True
    unit_counts: tuple[int, ...] = (8, 16, 24, 32, 40, 48)  # tried beside the α-kept count (capped at `top`)
    calib_images: int = 300
    calib_min_regions: int = 100  # a concept with room in few images (grass) is calibrated on more of them
    # then each calibrated draw brush's per-unit values are optimized (from q99 × its scale) for insertion on
    # the ranking samples, and kept when they draw better on the calibration samples; 0 steps: off
    level_steps: int = 100
    level_lr: float = 0.05  # Adam on log values
    remove_ranking: bool = True  # rank units for the remove brush by ablation alone
    draw_objective: str = "insert"  # "insert": the draw ranking rewards insertion only; "both": ablation too

    def __post_init__(self) -> None:
        self.quantiles = tuple(self.quantiles)
        self.value_scales = tuple(self.value_scales)
        self.extra_scales = tuple(self.extra_scales)
        self.unit_counts = tuple(self.unit_counts)
        self.draw_rankings = tuple(tuple(r) for r in self.draw_rankings)
        if not self.draw_rankings or any(len(r) != 3 or r[2] <= 0 for r in self.draw_rankings):
            raise ValueError("draw_rankings must be (samples, steps, level > 0) triples")
        if len({r[2] for r in self.draw_rankings[1:]}) < len(self.draw_rankings) - 1:
            raise ValueError("draw_rankings after the first need distinct levels (they are stored by level)")
        if self.ace_restarts < 1:
            raise ValueError("ace_restarts must be at least 1")
        if 0.99 not in self.quantiles:
            raise ValueError("quantiles must include 0.99 (the draw level and the reference threshold)")
        if self.draw_objective not in ("both", "insert"):
            raise ValueError("draw_objective must be 'both' or 'insert'")


def brush_order(labels: list[str]) -> list[str]:
    return [c for c in BRUSH_ORDER if c in labels] + [c for c in labels if c not in BRUSH_ORDER]


def sample_latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


STAGES = ("sample", "iou", "ace", "ace_remove", "calibrate", "levels")  # in order; then "done"


class _Checkpoint:
    """The resumable state of one dissection: the stage that runs (`state["stage"]`), how far it got, and
    what each stage produced. Saved atomically at most every `every_s` (and at each stage's end); a file
    computed for another model, segmenter, layer or config is ignored."""

    def __init__(self, path: str | os.PathLike | None, key: dict, every_s: float) -> None:
        self.path, self.every_s = (Path(path) if path else None), every_s
        state = None
        if self.path is not None and self.path.exists():
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            if state.get("key") != key:
                state = None  # computed for another model/segmenter/config: start over
        self.state = state or {"key": key, "stage": STAGES[0], "done": 0, "times": {}}
        self._last = time.time()

    def due(self, stage: str) -> bool:
        return self.state["stage"] == stage

    def save(self, force: bool = False) -> None:
        if self.path is None or not (force or time.time() - self._last > self.every_s):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save(self.state, tmp)
        os.replace(tmp, self.path)
        self._last = time.time()

    def finish(self, stage: str, started: float) -> None:
        """`stage` is done: add its time, move on to the next one, save."""
        times = self.state["times"]
        times[f"{stage}_s"] = times.get(f"{stage}_s", 0) + time.time() - started
        i = STAGES.index(stage)
        self.state.update(stage=STAGES[i + 1] if i + 1 < len(STAGES) else "done", done=0)
        self.save(force=True)


class _Dissection:
    """One dissection run, stage by stage (the module docstring says what each stage does). Each stage
    method runs only while its stage is due, and otherwise returns what the checkpoint holds."""

    def __init__(self, model, segmenter: Segmenter, cfg: DissectConfig, ckpt: _Checkpoint,
                 progress_fn: Callable[[str, int, int], None] | None) -> None:
        self.G, self.layer, self.segmenter, self.cfg, self.ckpt = model.generator, model.edit_layer, segmenter, cfg, ckpt
        self.state = ckpt.state
        self.device = next(self.G.parameters()).device
        self.nxt = self.G.layer_after(self.layer)
        self.C, self.g = model.channels, model.layer_size
        self.names = list(segmenter.labels)
        self.order = brush_order(self.names)
        self.z_all = sample_latents(cfg.samples, self.G.config.z_dim, cfg.seed)
        self.progress = progress_fn or (lambda stage, done, total: None)

    def _batches(self, stage: str):
        """(first index, latents) of the batches this stage has not done yet; records each as done."""
        cfg, state = self.cfg, self.state
        while state["done"] < cfg.samples:
            i = state["done"]
            z = self.z_all[i: i + cfg.batch].to(self.device)
            yield i, z
            state["done"] = i + len(z)
            self.progress(stage, state["done"], cfg.samples)
            self.ckpt.save()

    def sample(self) -> tuple[RunningQuantile, torch.Tensor]:
        """Stage sample: streaming per-unit quantiles of the layer, and the segmenter's pooled labels."""
        cfg, state = self.cfg, self.state
        rq = RunningQuantile(self.C, capacity=max(4096, 2 * cfg.samples * self.g * self.g // 64))
        if "rq" in state:
            rq.load_state_dict(state["rq"])
        labels = state.get("labels", torch.zeros(cfg.samples, cfg.seg_size, cfg.seg_size, dtype=torch.uint8))
        if self.ckpt.due("sample"):
            t0 = time.time()
            for i, z in self._batches("sample"):
                with torch.inference_mode():
                    h = self.G.features(z, upto=self.layer)  # (B, C, g, g)
                    img = self.G.render_from(h, start=self.nxt)
                rq.add(h.permute(1, 0, 2, 3).reshape(self.C, -1).cpu())
                labels[i: i + len(z)] = segment_at(self.segmenter, img, cfg.seg_size).to(torch.uint8)
                state["rq"], state["labels"] = rq.state_dict(), labels
            self.ckpt.finish("sample", t0)
        return rq, labels

    def iou(self, thresholds: torch.Tensor, labels: torch.Tensor) -> ThresholdIoU:
        """Stage iou: IoU per unit × threshold × concept, summed over the whole set."""
        cfg, state = self.cfg, self.state
        acc = ThresholdIoU(thresholds, len(self.names))
        if "iou" in state:
            acc.load_state_dict(state["iou"])
        if self.ckpt.due("iou"):
            t0 = time.time()
            for i, z in self._batches("iou"):
                with torch.inference_mode():
                    h = self.G.features(z, upto=self.layer).cpu()
                up = F.interpolate(h, size=(cfg.seg_size, cfg.seg_size), mode="bilinear", align_corners=False)
                acc.add(up, labels[i: i + len(z)].long())
                state["iou"] = acc.state_dict()
            self.ckpt.finish("iou", t0)
        return acc

    def rank(self, stage: str, runs: list, terms: tuple[str, ...], enabled: bool, q99: torch.Tensor,
             labels: torch.Tensor, tie: torch.Tensor) -> dict:
        """Stages ace (draw rankings) and ace_remove (the remove brush's): per concept and run, the units'
        causal coefficients; one checkpoint per finished run."""
        cfg = self.cfg
        store = self.state.setdefault(stage, {})
        if self.ckpt.due(stage):
            t0 = time.time()
            if self.can_rank and enabled:
                for ci, concept in enumerate(self.order):
                    k = self.names.index(concept)
                    for suffix, n_img, steps, level, restart in runs:
                        if concept + suffix not in store:
                            store[concept + suffix] = _ace_alpha(
                                self.G, self.layer, self.nxt, self.segmenter, self.z_all[:n_img],
                                labels[:n_img].long(), q99 * level, k, self.names, self.g, cfg, tie=tie[:, k],
                                terms=terms, steps=steps, restart=restart)
                            self.ckpt.save(force=True)
                    self.progress(stage, ci + 1, len(self.order))
            self.ckpt.finish(stage, t0)
        return store

    @property
    def can_rank(self) -> bool:
        return self.cfg.ace_steps > 0 and callable(getattr(self.segmenter, "logits", None))

    def calibrate(self, ace: dict, draw_runs: list, lo: int, q99: torch.Tensor, labels: torch.Tensor,
                  tie: torch.Tensor) -> dict:
        """Stage calibrate: per draw brush, the ranking, unit count and level that insert best on samples
        no ranking saw (adds the α-averaged rankings to `ace`)."""
        cfg = self.cfg
        calib = self.state.setdefault("scale", {})  # per concept: the chosen unit count and scale, every trial
        if self.ckpt.due("calibrate"):
            t0 = time.time()
            for ci, concept in enumerate(self.order):
                if concept in calib or concept not in ace or len(cfg.value_scales) < 2 and len(draw_runs) < 2:
                    continue
                k = self.names.index(concept)
                names = [concept + sfx for sfx, *_ in draw_runs]
                if cfg.mean_rankings:
                    means = _mean_rankings(ace, concept, draw_runs, tie[:, k])
                    ace.update(means)
                    names += list(means)
                rankings = {n: (ace[n]["order"], len(_kept(ace[n], cfg))) for n in names if n in ace}
                calib[concept] = _calibrate(self.G, self.layer, self.nxt, self.segmenter, self.z_all, labels, lo,
                                            q99, rankings, k, self.names, self.g, cfg)
                self.progress("calibrate", ci + 1, len(self.order))
                self.ckpt.save(force=True)
            self.ckpt.finish("calibrate", t0)
        return calib

    def learn_levels(self, ace: dict, calib: dict, n_ace: int, lo: int, q99: torch.Tensor,
                     labels: torch.Tensor) -> dict:
        """Stage levels: each calibrated draw brush's per-unit values, optimized for insertion and kept
        where they draw better on the calibration samples."""
        cfg = self.cfg
        learned = self.state.setdefault("levels", {})
        if self.ckpt.due("levels"):
            t0 = time.time()
            if cfg.level_steps > 0 and self.can_rank:
                for ci, concept in enumerate(self.order):
                    trial = calib.get(concept)
                    if concept in learned or not trial or not trial.get("trials"):
                        continue
                    k = self.names.index(concept)
                    units = ace[trial["ranking"]]["order"][: trial["units"]]
                    learned[concept] = _learn_values(self.G, self.layer, self.nxt, self.segmenter, self.z_all, labels,
                                                     n_ace, lo, q99, units, trial, k, self.names, self.g, cfg)
                    self.progress("levels", ci + 1, len(self.order))
                    self.ckpt.save(force=True)
            self.ckpt.finish("levels", t0)
        return learned


def dissect(model, segmenter: Segmenter, *, config: DissectConfig | None = None,
            checkpoint: str | os.PathLike | None = None, checkpoint_every_s: float = 60.0,
            progress_fn: Callable[[str, int, int], None] | None = None) -> ConceptTable:
    """Dissect `model.edit_layer` of a PaintModel-like object (generator, edit_layer, channels, layer_size):
    the stages of the module docstring, resumable from `checkpoint`, then the concept table."""
    cfg = config or DissectConfig()
    sha = state_dict_sha256(model.generator)
    key = {"config": asdict(cfg), "generator_sha256": sha, "segmenter": segmenter.id, "layer": model.edit_layer}
    run = _Dissection(model, segmenter, cfg, _Checkpoint(checkpoint, key, checkpoint_every_s), progress_fn)

    rq, labels = run.sample()
    thresholds = rq.quantiles(list(cfg.quantiles))  # (C, T)
    q99 = thresholds[:, list(cfg.quantiles).index(0.99)]
    acc = run.iou(thresholds, labels)
    iou, iqr = acc.iou(), acc.iqr()  # (C, T, K) each
    best_t = iqr.argmax(dim=1)  # (C, K): threshold by information quality ratio, as the original CLI
    best_iou = iou.gather(1, best_t[:, None]).squeeze(1)

    draw_runs = _draw_runs(cfg)
    remove_runs = [("", min(cfg.ace_images, cfg.samples), cfg.ace_steps, 1.0, 0)]
    draw_terms = ("insert", "ablate") if cfg.draw_objective == "both" else ("insert",)
    ace = run.rank("ace", draw_runs, draw_terms, True, q99, labels, best_iou)
    ace_rm = run.rank("ace_remove", remove_runs, ("ablate",), cfg.remove_ranking, q99, labels, best_iou)

    n_ace = max(r[1] for r in draw_runs + remove_runs)  # the ranking samples; calibration starts after them
    lo = n_ace if cfg.samples - n_ace >= cfg.calib_images // 2 else 0  # too few samples: reuse the ACE images
    calib = run.calibrate(ace, draw_runs, lo, q99, labels, best_iou)
    learned = run.learn_levels(ace, calib, n_ace, lo, q99, labels)
    return _table(run, sha, q99, iou, iqr, best_t, ace, ace_rm, calib, learned)


def _table(run: _Dissection, sha: str, q99: torch.Tensor, iou: torch.Tensor, iqr: torch.Tensor, best_t: torch.Tensor,
           ace: dict, ace_rm: dict, calib: dict, learned: dict) -> ConceptTable:
    """The concept table from every stage's results, with what was done and measured in its meta."""
    cfg, names, C = run.cfg, run.names, run.C
    best_iou = iou.gather(1, best_t[:, None]).squeeze(1)
    best_iqr = iqr.gather(1, best_t[:, None]).squeeze(1)
    q99_iou = iou[:, list(cfg.quantiles).index(0.99)]  # (C, K)
    concepts, iou_meta = {}, {}
    for concept in run.order:
        k = names.index(concept)
        by_iou = best_iou[:, k].argsort(descending=True)[: cfg.top].tolist()
        iou_meta[concept] = {
            "units": by_iou, "scores": [round(float(best_iou[u, k]), 4) for u in by_iou],
            "quantiles": [cfg.quantiles[int(best_t[u, k])] for u in by_iou],
            "iqr": [round(float(best_iqr[u, k]), 4) for u in by_iou],
        }
        trial = calib.get(concept, {})
        if concept in ace:
            entry = ace[trial.get("ranking", concept)]
            units = entry["order"][: trial["units"]] if trial.get("units") else _kept(entry, cfg)
            scores, ranking = [round(float(entry["alpha"][u]), 4) for u in units], "ace"
        else:
            units, scores, ranking = by_iou, iou_meta[concept]["scores"], "iou"
        scale = trial.get("scale", 1.0)
        rm_units, rm_scores = [], []
        if concept in ace_rm and ace_rm[concept]["images"]:
            rm_units = _kept(ace_rm[concept], cfg)
            rm_scores = [round(float(ace_rm[concept]["alpha"][u]), 4) for u in rm_units]
        values = learned[concept]["values"] if learned.get(concept, {}).get("kept") else []
        concepts[concept] = Concept(concept, units, [round(float(q99[u]), 4) for u in units], scores, ranking, scale,
                                    rm_units, rm_scores, values)
    unit_best = best_iou.max(dim=1)
    # a loose threshold on a big class (sky) reaches IoU 0.05 by chance; IQR > 0.01 rules chance out
    meaningful = (best_iou > INTERPRETABLE_IOU) & (best_iqr > MIN_IQR)
    interpretable = int(meaningful.any(dim=1).sum())
    meta = {
        "generator_sha256": sha, "segmenter": run.segmenter.id, "seed": cfg.seed, "samples": cfg.samples,
        "method": ("ace: L1-regularized unit coefficients optimized for insertion (at "
                   + " and at ".join(f"{lv:g}×q99" for *_, lv in cfg.draw_rankings)
                   + (f", {cfg.ace_restarts} runs each" if cfg.ace_restarts > 1 else "") + ") where absent (context-allowed "
                   + ("regions) and ablation where present" if cfg.draw_objective == "both" else "regions)")
                   + "; per brush, ranking, unit count and level chosen by insertion success on held-out samples"
                   + ("; then per-unit draw values optimized for insertion, kept where they draw better on those samples"
                      if cfg.level_steps > 0 else "")
                   + ("; remove brushes: the same optimized for ablation alone" if cfg.remove_ranking else "")
                   + "; iou at each unit×concept threshold of best information quality ratio")
        if run.can_rank else "iou at each unit×concept threshold of best information quality ratio",
        "seg_size": cfg.seg_size, "threshold_quantiles": list(cfg.quantiles),
        "interpretable": {
            "threshold": INTERPRETABLE_IOU, "min_iqr": MIN_IQR, "units": interpretable, "fraction": round(interpretable / C, 4),
            "q99_threshold_units": int((q99_iou.max(dim=1).values > INTERPRETABLE_IOU).sum()),
            "any_threshold_units": int((iou.amax(dim=(1, 2)) > INTERPRETABLE_IOU).sum()),
            "best_concept": [names[int(k)] for k in unit_best.indices],
            "best_iou": [round(float(v), 4) for v in unit_best.values],
        },
        "iou": iou_meta,
        "ace": {c: {k: v for k, v in a.items() if k not in ("alpha", "order", "gradient")} for c, a in ace.items()},
        "ace_remove": {c: {k: v for k, v in a.items() if k not in ("alpha", "order", "gradient")} for c, a in ace_rm.items()},
        "calibration": calib,
        "learned_values": {c: {k: v for k, v in d.items() if k != "values"} for c, d in learned.items()},
        "timing_s": {k: round(v, 1) for k, v in run.state["times"].items()},
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
    }
    return ConceptTable(run.layer, C, concepts, run.order, [round(float(v), 4) for v in q99], meta)
