"""How well a model can represent a photo: per-class omissions and a plain-language verdict.

    om = photo_omissions(segmenter, photo_image, reconstruction)   # class shares: photo vs reconstruction
    om["omitted"]        # [{"class": "sky", "photo": 0.31, "reconstruction": 0.04}, ...] biggest loss first
    fit = fit_summary(psnr_model=21.3, omissions=om)
    fit["level"], fit["hint"]   # "poor", "This photo is far from what the model can draw ..."

The reconstruction to judge is the adapted generator's own drawing *before* the fine offset: the
offset copies a photo's details into any generator, so a PSNR after it says little about whether the
model can draw the scene (even a photo of a cat comes back almost exactly from a model of buildings).
The thresholds are set from what held-out world renders and real photos reach before the offset
(`benchmarks/adaptation.py` measures both).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["photo_omissions", "fit_summary", "GOOD_PSNR", "POOR_PSNR", "OMITTED_SHARE"]

GOOD_PSNR = 25.0  # dB before the fine offset: nearly every held-out world render reaches it
POOR_PSNR = 22.0  # below every held-out world render
OMITTED_SHARE = 0.05  # a class counts when it covers at least this share of the photo ...
OMITTED_RATIO = 0.5  # ... and the reconstruction keeps less than this fraction of it


def _as_batch(img) -> torch.Tensor:
    """(H, W, 3) uint8, (3, H, W) or (1, 3, H, W) in [-1, 1] → (1, 3, H, W) float in [-1, 1]."""
    if isinstance(img, np.ndarray):
        assert img.ndim == 3 and img.shape[2] == 3, img.shape
        return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
    t = img.detach().float()
    return t[None] if t.dim() == 3 else t


def photo_omissions(segmenter, photo_image, reconstruction) -> dict:
    """Per-class pixel share in the photo and in its reconstruction, as the segmenter reads them.

    Both images at the same size (the model's square): uint8 (H, W, 3) or tensors in [-1, 1].
    Returns {"segmenter", "labels", "photo": {class: share}, "reconstruction": {class: share},
    "omitted": [...], "missing_share"}; "omitted" lists the classes the reconstruction loses
    (≥ 5 % of the photo, less than half of it kept), biggest loss first; "missing_share" is the share
    of the photo's pixels whose class the reconstruction does not show anywhere near as much.
    """
    x, y = _as_batch(photo_image), _as_batch(reconstruction)
    if x.shape != y.shape:
        raise ValueError(f"the photo {tuple(x.shape)} and its reconstruction {tuple(y.shape)} differ in size")
    with torch.inference_mode():  # segmenters move inputs to their own device (ganpaint.segmenters.segmenter)
        labels = segmenter.segment(torch.cat([x, y])).cpu()
    names = list(segmenter.labels)
    k = len(names)
    shares = [torch.bincount(lab.flatten().long().clamp(0, k - 1), minlength=k).float() / lab.numel() for lab in labels]
    p, r = (s.numpy() for s in shares)
    omitted = [{"class": names[i], "photo": round(float(p[i]), 4), "reconstruction": round(float(r[i]), 4)}
               for i in np.argsort(-(p - r)) if p[i] >= OMITTED_SHARE and r[i] < OMITTED_RATIO * p[i]]
    return {
        "segmenter": getattr(segmenter, "id", None),
        "labels": names,
        "photo": {n: round(float(v), 4) for n, v in zip(names, p)},
        "reconstruction": {n: round(float(v), 4) for n, v in zip(names, r)},
        "omitted": omitted,
        "missing_share": round(float(np.maximum(p - r, 0).sum()), 4),
    }


def fit_summary(psnr_model: float | None, omissions: dict | None = None) -> dict:
    """{"level": "good" | "rough" | "poor", "psnr_model", "hint": words for a person, or None when good}."""
    lost = [o["class"] for o in (omissions or {}).get("omitted", [])]
    if psnr_model is None:
        level = "rough" if lost else "good"
    else:
        level = "good" if psnr_model >= GOOD_PSNR else "rough" if psnr_model >= POOR_PSNR else "poor"
    if lost and level == "good":
        level = "rough"
    hint = None
    if level == "poor":
        hint = ("This photo is far from the scenes this model can draw: it matches only roughly, "
                "and painted concepts may look out of place.")
    elif level == "rough":
        hint = "The model can draw this photo only roughly, so edits may not blend in well."
    if lost:
        hint = f"{hint} It cannot draw the photo's {_words(lost)} well."
    return {"level": level, "psnr_model": None if psnr_model is None else round(float(psnr_model), 2), "hint": hint,
            "omitted": lost}


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
