"""Artifact units: units whose removal everywhere makes images more realistic (GAN Dissection §4.3).

    D = realism_for(model)                                   # discriminator score fn, or None
    ranking = rank_artifact_units(model, D, segmenter=model.segmenter)
    ranking["units"][0]        # {"unit": 7, "realism_gain": 0.31, "fsd_gain": 0.02, "artifact": True}
    alpha, value = removal_edit(model.channels, model.layer_size, artifact_set(ranking))
    report = removal_report(model, D, segmenter, artifact_set(ranking), samples=1000)   # vs random units

Each unit is switched off at every cell of the edit layer for the same `samples` generated images;
`realism_gain` is the mean change of the discriminator's score (higher = more realistic), and
`fsd_gain` the drop of the Fréchet Segmentation Distance to reference images (per-image class shares:
removing an artifact should not make scenes less plausible). Units rank by realism gain; without a
discriminator, by FSD gain alone (the method says which). A unit is flagged as an artifact when its
gain is positive and an outlier: more than `z_threshold` standard deviations above the layer's mean,
at most `max_share` of the units.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from ..paint.edit import apply_edit
from .omissions import class_fractions, reference_batches
from .stats import frechet_distance

__all__ = ["ArtifactConfig", "rank_artifact_units", "artifact_set", "removal_edit", "removal_report", "realism_for"]

ScoreFn = Callable[[torch.Tensor], torch.Tensor]  # images (N, 3, R, R) in [-1, 1] → (N,) higher = more realistic


@dataclass
class ArtifactConfig:
    samples: int = 100
    batch: int = 50
    first_seed: int = 20_000  # images no other analysis uses
    z_threshold: float = 2.0
    max_share: float = 0.08


def realism_for(model) -> ScoreFn | None:
    """The model's discriminator as a score function (ganpaint.dissect.realism), or None where it has none."""
    try:
        from .realism import load_discriminator, realism_scores
    except ImportError:
        return None
    folder = getattr(model, "folder", None)
    D = load_discriminator(folder) if folder is not None else None
    if D is None:
        return None
    return lambda images: realism_scores(D, images)


def removal_edit(channels: int, size: int, units) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha, value), each (C, size, size): the units switched off at every cell."""
    alpha = torch.zeros(channels, size, size)
    alpha[list(units)] = 1.0
    return alpha, torch.zeros(channels, size, size)


def _latents(model, first: int, n: int) -> torch.Tensor:
    return torch.cat([model.z_for_seed(s) for s in range(first, first + n)])


@torch.inference_mode()
def _measure(model, h: torch.Tensor, units, score_fn: ScoreFn | None, segmenter, batch: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(realism scores (N,), class fractions (N, K)) of the images with `units` switched off everywhere."""
    a, v = removal_edit(model.channels, model.layer_size, units)
    scores, fracs = [], []
    for i in range(0, len(h), batch):
        x = apply_edit(h[i : i + batch], a.to(h.device), v.to(h.device)) if len(units) else h[i : i + batch]
        img = model.render(x)
        if score_fn is not None:
            scores.append(score_fn(img).float().cpu().numpy())
        if segmenter is not None:
            fracs.append(class_fractions(segmenter.segment(img).cpu(), len(segmenter.labels)))
    return (np.concatenate(scores) if scores else None), (np.concatenate(fracs) if fracs else None)


def _reference(model, segmenter, n: int, folder) -> np.ndarray:
    return np.concatenate([class_fractions(segmenter.segment(x).cpu(), len(segmenter.labels))
                           for x in reference_batches(model.resolution, n, folder=folder)])


def rank_artifact_units(model, score_fn: ScoreFn | None, *, segmenter=None, reference: str | None = None,
                        config: ArtifactConfig | None = None, state: dict | None = None,
                        save_fn: Callable[[dict], None] | None = None,
                        progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    """Rank every unit of the edit layer; `state` (a dict saved by `save_fn` after each unit) resumes."""
    cfg = config or ArtifactConfig()
    if score_fn is None and segmenter is None:
        raise ValueError("ranking artifact units needs a discriminator or a segmenter")
    key = {**asdict(cfg), "realism": score_fn is not None, "segmenter": getattr(segmenter, "id", None), "reference": reference}
    state = state if state and state.get("key") == key else {"key": key, "units": {}}
    h = model.features(_latents(model, cfg.first_seed, cfg.samples))
    ref = _reference(model, segmenter, cfg.samples, reference) if segmenter is not None else None
    base_s, base_f = _measure(model, h, [], score_fn, segmenter, cfg.batch)
    base_fsd = frechet_distance(base_f, ref) if ref is not None else None
    last = time.time()
    for u in range(model.channels):
        if str(u) in state["units"]:
            continue
        s, f = _measure(model, h, [u], score_fn, segmenter, cfg.batch)
        state["units"][str(u)] = {
            "realism_gain": float(s.mean() - base_s.mean()) if s is not None else None,
            "fsd_gain": float(base_fsd - frechet_distance(f, ref)) if f is not None else None}
        if progress_fn:
            progress_fn("units", len(state["units"]), model.channels)
        if save_fn and time.time() - last > 20:
            save_fn(state)
            last = time.time()
    if save_fn:
        save_fn(state)
    by = "realism_gain" if score_fn is not None else "fsd_gain"
    gains = np.array([state["units"][str(u)][by] for u in range(model.channels)])
    z = (gains - gains.mean()) / (gains.std() + 1e-12)
    order = [int(u) for u in np.argsort(-gains, kind="stable")]
    cap = max(1, int(cfg.max_share * model.channels))
    flagged = [u for u in order if gains[u] > 0 and z[u] > cfg.z_threshold][:cap]
    units = [{"unit": u, "rank": i, "score": round(float(gains[u]), 5), "z": round(float(z[u]), 3),
              "realism_gain": _r(state["units"][str(u)]["realism_gain"]), "fsd_gain": _r(state["units"][str(u)]["fsd_gain"]),
              "artifact": u in flagged} for i, u in enumerate(order)]
    method = (("discriminator realism gain when the unit is switched off everywhere" if by == "realism_gain"
               else "Fréchet Segmentation Distance drop when the unit is switched off everywhere (no discriminator)")
              + f"; {cfg.samples} images (seeds {cfg.first_seed}…); flagged: gain > 0 and > {cfg.z_threshold:g} "
              f"standard deviations above the layer's mean, at most {cap} units")
    return {"model": model.id, "method": method, "ranked_by": by, "samples": cfg.samples,
            "base": {"realism": _r(float(base_s.mean()) if base_s is not None else None), "fsd": _r(base_fsd)},
            "artifacts": flagged, "units": units}


def _r(v, nd: int = 5):
    return None if v is None else round(float(v), nd)


def artifact_set(ranking: dict | None) -> list[int]:
    return list(ranking.get("artifacts", [])) if ranking else []


def removal_report(model, score_fn: ScoreFn | None, segmenter, units: list[int], *, samples: int = 1000,
                   random_draws: int = 3, seed: int = 0, first_seed: int = 30_000, batch: int = 50,
                   reference: str | None = None, progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    """Realism and FSD of `samples` images as they are, with `units` removed, and with as many random
    units removed (mean over `random_draws` draws from the other units)."""
    k = len(units)
    h = model.features(_latents(model, first_seed, samples))
    ref = _reference(model, segmenter, samples, reference) if segmenter is not None else None
    rng = np.random.default_rng(seed)
    others = [u for u in range(model.channels) if u not in set(units)]
    sets = [("none", []), ("artifacts", list(units))] + [
        (f"random{i}", [int(u) for u in rng.choice(others, k, replace=False)]) for i in range(random_draws)]
    rows = {}
    for j, (name, us) in enumerate(sets):
        s, f = _measure(model, h, us, score_fn, segmenter, batch)
        rows[name] = {"units": us, "realism": _r(s.mean()) if s is not None else None,
                      "fsd": _r(frechet_distance(f, ref)) if f is not None else None}
        if progress_fn:
            progress_fn("report", j + 1, len(sets))
    rnd = [rows[f"random{i}"] for i in range(random_draws)]
    mean = lambda key: _r(np.mean([r[key] for r in rnd])) if rnd and rnd[0][key] is not None else None  # noqa: E731
    return {"samples": samples, "k": k, "before": rows["none"], "artifacts_removed": rows["artifacts"],
            "random_removed": {"realism": mean("realism"), "fsd": mean("fsd"), "draws": rnd}}
