"""The unit inspector: what each unit of the edit layer does, computed once per model.

    report = inspect_units(model, model.segmenter, config=InspectConfig(samples=500))
    report["units"][11]   # {"unit": 11, "label": "tree", "iou": 0.48, "q99": 5.1, "ious": {...},
                          #  "examples": [seed, ...], "brushes": [{"concept": "tree", "mode": "remove", ...}]}
    png = examples_strip(model, report, unit=11)          # top samples, the unit's heatmap outlined

Two passes over `samples` generated images, seeds `first_seed`… (so an example opens as a picture):
1. per unit, a streaming quantile of its activations, and each image's peak activation (the top
   examples); the segmenter's labels, pooled to `seg_size`, are kept;
2. IoU(unit > t, label = c) over the whole set at candidate quantile thresholds; each unit × class
   threshold is the one of best information quality ratio (as dissection does), the label is the
   class of best IoU there. Without a segmenter units stay unlabelled (q99 and examples only).
The causal effect comes from the model's concept table (the units a brush draws or removes with and
their learned coefficients). `progress_fn(stage, done, total)` reports; `checkpoint` resumes.
"""
from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from .dissect import segment_at
from ..paint.imaging import to_uint8
from .stats import RunningQuantile, ThresholdIoU

__all__ = ["InspectConfig", "inspect_units", "unit_brushes", "examples_strip", "units_sheet", "seed_latents"]

QUANTILES = (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995)


@dataclass
class InspectConfig:
    samples: int = 500
    batch: int = 25
    first_seed: int = 0  # images are seeds first_seed … first_seed + samples − 1
    seg_size: int = 32
    examples: int = 6  # top-activating samples kept per unit


def seed_latents(model, seeds) -> torch.Tensor:
    return torch.cat([model.z_for_seed(int(s)) for s in seeds])


def unit_brushes(table, unit: int) -> list[dict]:
    """Where the concept table uses this unit: per brush, its rank and coefficient (the causal effect)."""
    out = []
    for name in table.brushes:
        c = table.concepts[name]
        for mode, units, scores in (("draw", c.units, c.scores), ("remove", c.remove_units or c.units,
                                                                  c.remove_scores if c.remove_units else c.scores)):
            if mode == "remove" and c.remove_values:
                continue  # a fill removal sets every unit to a class mean: no unit of it is ranked
            if unit in units:
                i = units.index(unit)
                out.append({"concept": name, "mode": mode, "rank": i, "of": len(units), "ranking": c.ranking,
                            "score": round(float(scores[i]), 4) if i < len(scores) else None})
    return out


def inspect_units(model, segmenter=None, *, config: InspectConfig | None = None,
                  checkpoint: str | Path | None = None, progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    cfg = config or InspectConfig()
    C, n = model.channels, cfg.samples
    seeds = list(range(cfg.first_seed, cfg.first_seed + n))
    key = {"config": asdict(cfg), "segmenter": getattr(segmenter, "id", None), "channels": C}
    ckpt = Path(checkpoint) if checkpoint else None
    state = torch.load(ckpt, weights_only=True) if ckpt and ckpt.is_file() else None
    if state is None or state.get("key") != key:
        state = {"key": key, "stage": "sample", "done": 0}
    last = time.time()

    def save(force=False):
        nonlocal last
        if ckpt and (force or time.time() - last > 30):
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            torch.save(state, ckpt)
            last = time.time()

    rq = RunningQuantile(C, capacity=max(4096, n * model.layer_size ** 2 // 4))
    if "rq" in state:
        rq.load_state_dict(state["rq"])
    peaks = state.get("peaks", torch.zeros(n, C))
    labels = state.get("labels", torch.zeros(n, cfg.seg_size, cfg.seg_size, dtype=torch.uint8))
    while state["stage"] == "sample" and state["done"] < n:
        i = state["done"]
        z = seed_latents(model, seeds[i : i + cfg.batch])
        h = model.features(z)  # (B, C, g, g)
        rq.add(h.permute(1, 0, 2, 3).reshape(C, -1).cpu())
        peaks[i : i + len(z)] = h.amax(dim=(2, 3)).cpu()
        if segmenter is not None:
            labels[i : i + len(z)] = segment_at(segmenter, model.render(h), cfg.seg_size).to(torch.uint8)
        state.update(done=i + len(z), rq=rq.state_dict(), peaks=peaks, labels=labels)
        if progress_fn:
            progress_fn("sample", state["done"], n)
        save()
    if state["stage"] == "sample":
        state.update(stage="iou", done=0)
        save(force=True)
    thresholds = rq.quantiles(list(QUANTILES))  # (C, T)
    q99 = thresholds[:, QUANTILES.index(0.99)]
    names = list(segmenter.labels) if segmenter is not None else []
    acc = ThresholdIoU(thresholds, max(1, len(names)))
    if "iou" in state:
        acc.load_state_dict(state["iou"])
    while segmenter is not None and state["stage"] == "iou" and state["done"] < n:
        i = state["done"]
        h = model.features(seed_latents(model, seeds[i : i + cfg.batch])).cpu()
        up = F.interpolate(h, size=(cfg.seg_size, cfg.seg_size), mode="bilinear", align_corners=False)
        acc.add(up, labels[i : i + len(h)].long())
        state.update(done=i + len(h), iou=acc.state_dict())
        if progress_fn:
            progress_fn("iou", state["done"], n)
        save()
    state["stage"] = "done"
    save(force=True)

    table_q99 = model.table.q99
    top = peaks.argsort(dim=0, descending=True)[: cfg.examples]  # (k, C) sample indices
    units = []
    if names:
        iou, iqr = acc.iou(), acc.iqr()  # (C, T, K)
        best_t = iqr.argmax(dim=1)  # (C, K)
        best_iou = iou.gather(1, best_t[:, None]).squeeze(1)  # (C, K)
    for u in range(C):
        d = {"unit": u, "label": None, "iou": None, "q99": round(float(table_q99[u] if table_q99 else q99[u]), 4),
             "examples": [seeds[int(j)] for j in top[:, u]],
             "peaks": [round(float(peaks[int(j), u]), 3) for j in top[:, u]],
             "brushes": unit_brushes(model.table, u)}
        if names:
            k = int(best_iou[u].argmax())
            d.update(label=names[k], iou=round(float(best_iou[u, k]), 4),
                     threshold=round(float(thresholds[u, best_t[u, k]]), 4),
                     threshold_quantile=QUANTILES[int(best_t[u, k])],
                     ious={c: round(float(best_iou[u, j]), 4) for j, c in enumerate(names)})
        else:
            d["threshold"], d["threshold_quantile"] = round(float(q99[u]), 4), 0.99
        units.append(d)
    return {"model": model.id, "layer": model.edit_layer, "samples": n, "first_seed": cfg.first_seed,
            "segmenter": getattr(segmenter, "id", None), "labels": names,
            "method": ("label = class of best IoU(unit > t, segmentation = class) over all samples, t per unit × class "
                       "by information quality ratio among quantiles " + ", ".join(f"{q:g}" for q in QUANTILES))
            if names else "no segmenter: units are unlabelled",
            "units": units}


# ----------------------------------------------------------------------------- pictures
def _outlined(img: np.ndarray, on: np.ndarray, color=(255, 230, 0)) -> np.ndarray:
    """Dim what the unit does not fire on and draw the border of where it does."""
    out = img.astype(np.float32)
    out[~on] *= 0.45
    edge = on & ~(np.roll(on, 1, 0) & np.roll(on, -1, 0) & np.roll(on, 1, 1) & np.roll(on, -1, 1))
    out[edge] = color
    return out.clip(0, 255).astype(np.uint8)


def _heat_images(model, unit: int, seeds: list[int], threshold: float, size: int) -> list[np.ndarray]:
    h = model.features(seed_latents(model, seeds))
    imgs = to_uint8(model.render(h))  # (N, R, R, 3)
    act = F.interpolate(h[:, unit : unit + 1].float().cpu(), size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    out = []
    for img, a in zip(imgs, act):
        if img.shape[0] != size:
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.NEAREST))
        out.append(_outlined(img, (a > threshold).numpy()))
    return out


def examples_strip(model, report: dict, unit: int, *, count: int | None = None, size: int | None = None) -> bytes:
    """PNG: the unit's top samples side by side, each with where the unit fires above its threshold."""
    d = report["units"][unit]
    seeds = d["examples"][: count or len(d["examples"])]
    size = size or max(128, model.resolution)
    tiles = _heat_images(model, unit, seeds, d["threshold"], size)
    gap = 4
    strip = np.full((size, len(tiles) * (size + gap) - gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        strip[:, i * (size + gap) : i * (size + gap) + size] = t
    buf = io.BytesIO()
    Image.fromarray(strip).save(buf, "PNG")
    return buf.getvalue()


def units_sheet(model, report: dict, *, cols: int = 16, size: int = 96) -> Image.Image:
    """One tile per unit (its top sample, outlined) with its number and label: the whole layer at a glance."""
    C = len(report["units"])
    rows = (C + cols - 1) // cols
    sheet = Image.new("RGB", (cols * size, rows * (size + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for u, d in enumerate(report["units"]):
        tile = _heat_images(model, u, d["examples"][:1], d["threshold"], size)[0]
        x, y = (u % cols) * size, (u // cols) * (size + 14)
        sheet.paste(Image.fromarray(tile), (x, y + 14))
        label = f"{u} {d['label'] or ''} {d['iou']:.2f}" if d["iou"] is not None else str(u)
        draw.text((x + 2, y + 1), label, fill="black")
    return sheet
