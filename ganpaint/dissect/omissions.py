"""What a model cannot generate: class shares of its images against real ones, and of a photo
against its reconstruction.

    report = model_omissions(model, segmenter, samples=500)               # vs the procedural world
    report = model_omissions(model, segmenter, folder="photos/")          # vs your own images
    report["dropped"]      # classes the reference shows that the model (almost) never draws
    photo = photo_omissions(segmenter, photo.tensor(), reconstruction)    # one photo: what did not survive

Per image, the share of pixels of each class; FSD is the Fréchet distance between Gaussians fitted to
those per-image vectors (generated vs reference), reported with its baseline: the distance between
two disjoint reference sets of the same size, i.e. what sampling noise alone gives.
A class is *dropped* when the reference has it (mean share ≥ 0.1 %) and the model draws less than a
quarter of that share; *overdrawn* when the model draws more than twice the reference share.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image

from .stats import frechet_distance

__all__ = ["class_fractions", "model_omissions", "photo_omissions", "reference_batches", "DROP_RATIO", "OVERDRAW_RATIO"]

DROP_RATIO = 0.25
OVERDRAW_RATIO = 2.0
MIN_SHARE = 0.001
WORLD_SEEDS = 7_300_000  # world scenes used as the reference (disjoint from training's seeds)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def class_fractions(labels: torch.Tensor, k: int) -> np.ndarray:
    """(N, H, W) labels → (N, K) per-image pixel share of each class."""
    n = len(labels)
    flat = labels.reshape(n, -1).long().clamp(0, k - 1)
    counts = torch.zeros(n, k).scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float32))
    return (counts / counts.sum(1, keepdim=True)).numpy()


def _folder_images(folder: Path, size: int) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder} has no PNG, JPEG or WebP images")
    return files


def _load_square(path: Path, size: int) -> np.ndarray:
    im = Image.open(path).convert("RGB")
    side = min(im.size)
    x0, y0 = (im.width - side) // 2, (im.height - side) // 2
    return np.asarray(im.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR))


def reference_batches(size: int, count: int, *, folder: str | Path | None = None, offset: int = 0,
                      batch: int = 50) -> Iterator[torch.Tensor]:
    """Reference images (B, 3, size, size) in [-1, 1]: world scenes from seed WORLD_SEEDS + offset, or
    a folder's images (centre-cropped) from index offset."""
    if folder is not None:
        files = _folder_images(Path(folder), size)[offset : offset + count]
        chunks = [np.stack([_load_square(f, size) for f in files[i : i + batch]]) for i in range(0, len(files), batch)]
    else:
        from ..world.world import render_batch

        chunks = (render_batch(range(WORLD_SEEDS + offset + i, WORLD_SEEDS + offset + min(i + batch, count)), size)[0]
                  for i in range(0, count, batch))
    for arr in chunks:
        yield torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _fractions_of(segmenter, batches, k: int) -> np.ndarray:
    out = [class_fractions(segmenter.segment(x).cpu(), k) for x in batches]
    return np.concatenate(out) if out else np.zeros((0, k))


def model_omissions(model, segmenter, *, samples: int = 500, folder: str | Path | None = None, batch: int = 50,
                    first_seed: int = 0, progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    """Per-class share in `samples` generated images (seeds first_seed…) vs as many reference images."""
    names, k, R = list(segmenter.labels), len(segmenter.labels), model.resolution
    if folder is not None:
        have = len(_folder_images(Path(folder), R))
        samples = min(samples, have // 2) if have >= 4 else samples
        if have < 4:
            raise ValueError(f"{folder} needs at least 4 images (it has {have})")
    gen = []
    for i in range(first_seed, first_seed + samples, batch):
        seeds = range(i, min(i + batch, first_seed + samples))
        z = torch.cat([model.z_for_seed(s) for s in seeds])
        gen.append(class_fractions(segmenter.segment(model.render(model.features(z))).cpu(), k))
        if progress_fn:
            progress_fn("generated", i + len(seeds) - first_seed, samples)
    gen = np.concatenate(gen)
    ref = _fractions_of(segmenter, reference_batches(R, samples, folder=folder, batch=batch), k)
    if progress_fn:
        progress_fn("reference", samples, samples)
    ref2 = _fractions_of(segmenter, reference_batches(R, samples, folder=folder, offset=samples, batch=batch), k)
    n = min(len(ref), len(ref2))
    mg, mr = gen.mean(0), ref.mean(0)
    classes = {}
    for j, c in enumerate(names):
        ratio = float(mg[j] / mr[j]) if mr[j] > 0 else None
        classes[c] = {"generated": round(float(mg[j]), 4), "reference": round(float(mr[j]), 4),
                      "ratio": round(ratio, 3) if ratio is not None else None}
    dropped = [c for j, c in enumerate(names) if mr[j] >= MIN_SHARE and mg[j] < DROP_RATIO * mr[j]]
    over = [c for j, c in enumerate(names) if mg[j] >= MIN_SHARE and mg[j] > OVERDRAW_RATIO * max(mr[j], MIN_SHARE / 2)]
    return {"model": model.id, "segmenter": getattr(segmenter, "id", None), "samples": samples,
            "reference": str(folder) if folder is not None else "world",
            "fsd": round(frechet_distance(gen, ref), 6),
            "fsd_baseline": round(frechet_distance(ref2[:n], ref[:n]), 6) if n >= 2 else None,
            "classes": classes, "dropped": dropped, "overdrawn": over,
            "rule": f"dropped: reference share ≥ {MIN_SHARE:g} and generated < {DROP_RATIO:g}× it; "
                    f"overdrawn: generated > {OVERDRAW_RATIO:g}× the reference share"}


def _from_fit(r: dict) -> dict:
    """photo_fit's report ({"photo": {c: share}, "reconstruction": {...}, "omitted": [{"class", ...}]})
    with this module's keys added, so callers read one shape whichever computed it."""
    photo, recon = r.get("photo", {}), r.get("reconstruction", {})
    classes = {c: {"photo": p, "reconstruction": recon.get(c, 0.0),
                   "survives": round(recon.get(c, 0.0) / p, 3) if p > 0 else None}
               for c, p in photo.items() if p >= MIN_SHARE or recon.get(c, 0.0) >= MIN_SHARE}
    return {**r, "classes": classes, "missing": [o["class"] for o in r.get("omitted", [])]}


def photo_omissions(segmenter, photo_image: torch.Tensor, reconstruction: torch.Tensor) -> dict:
    """Classes the segmenter finds in a photo and how much of each survives in its reconstruction.

    Both (1, 3, H, W) or (3, H, W) in [-1, 1] at the same size. `survives` = reconstruction share / photo share;
    `missing` lists classes covering ≥ 1 % of the photo of which less than a quarter survives."""
    try:  # the photo pipeline's own version, where it exists, is the one to serve
        from ..photo.photo_fit import photo_omissions as fitted
    except ImportError:
        fitted = None
    if fitted is not None:
        return _from_fit(fitted(segmenter, photo_image, reconstruction))
    x = torch.stack([photo_image.reshape(-1, *photo_image.shape[-3:])[0], reconstruction.reshape(-1, *reconstruction.shape[-3:])[0]])
    names, k = list(segmenter.labels), len(segmenter.labels)
    fr = class_fractions(segmenter.segment(x).cpu(), k)
    classes, missing = {}, []
    for j, c in enumerate(names):
        if fr[0, j] < 0.001 and fr[1, j] < 0.001:
            continue
        survives = float(fr[1, j] / fr[0, j]) if fr[0, j] > 0 else None
        classes[c] = {"photo": round(float(fr[0, j]), 4), "reconstruction": round(float(fr[1, j]), 4),
                      "survives": round(survives, 3) if survives is not None else None}
        if fr[0, j] >= 0.01 and fr[1, j] < DROP_RATIO * fr[0, j]:
            missing.append(c)
    return {"classes": classes, "missing": missing}
