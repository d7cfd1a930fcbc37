"""Train the world segmenter (resumable) and measure it on held-out renders.

    cfg = SegTrainConfig(steps=800)
    seg_train = SegmenterTrainer(cfg, run_dir="runs/segmenter")   # resumes runs/segmenter/checkpoint.pt
    seg_train.train(time_limit_s=600, progress_fn=print)
    metrics = evaluate_segmenter(load_segmenter(path), count=1000)  # pixel accuracy + per-class IoU

Training scenes are world seeds 0 … train_scenes-1, rendered once at 128 px and cached in the run
folder; held-out evaluation uses seeds from `ganpaint.world.world.HELDOUT_SEED_BASE` up, never trained on.
Most steps see random 64-px crops (4× cheaper on CPU); the last steps see whole images so the net
also learns the global context (doors low on walls, domes on top). Half of the inputs are degraded
(downsampled to 16–64 px and back) so low-resolution generator outputs segment sensibly too.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..segmenters.segmenter import Segmenter, UNet, UNetConfig, load_segmenter, save_segmenter
from .stats import ConfusionMatrix
from ..world.training import train_loop
from ..world.world import CLASSES, HELDOUT_SEED_BASE, render_batch

__all__ = ["SegTrainConfig", "SegmenterTrainer", "evaluate_segmenter", "HELDOUT_SEGMENTER_SEEDS"]

HELDOUT_SEGMENTER_SEEDS = HELDOUT_SEED_BASE  # first held-out seed used for segmenter metrics


@dataclass
class SegTrainConfig:
    widths: tuple[int, ...] = (8, 16, 32, 64, 96)
    size: int = 128
    train_scenes: int = 3000
    steps: int = 800
    full_fraction: float = 0.15  # the last steps use whole images instead of crops
    batch: int = 16
    full_batch: int = 12
    crop: int = 64
    lr: float = 3e-3
    degrade_p: float = 0.5
    class_balance: float = 0.0  # loss weight ∝ frequency^-this (0: plain cross-entropy), for rare classes
    seed: int = 0

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
        if self.train_scenes + 0 > HELDOUT_SEED_BASE:
            raise ValueError("train_scenes would reach the held-out seeds")


def _degrade(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """Blur half the batch like a low-resolution generator output upsampled to the net's size."""
    n, _, h, w = x.shape
    out = x.clone()
    for i in range(n):
        if torch.rand((), generator=gen) >= p:
            continue
        f = int(2 ** torch.randint(1, 4, (), generator=gen))  # ÷2, ÷4, ÷8
        small = F.interpolate(x[i : i + 1], size=(h // f, w // f), mode="bilinear", antialias=True, align_corners=False)
        out[i] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0]
    # colour cast + noise: generated images are never quite as clean as renders
    cast = 1 + 0.08 * (torch.rand(n, 3, 1, 1, generator=gen) - 0.5)
    return (out * cast + 0.03 * torch.randn(out.shape, generator=gen)).clamp(-1, 1)


class SegmenterTrainer:
    def __init__(self, config: SegTrainConfig | None = None, run_dir: str | os.PathLike = "runs/segmenter") -> None:
        self.run_dir = Path(run_dir)
        self.ckpt_path = self.run_dir / "checkpoint.pt"
        state = torch.load(self.ckpt_path, map_location="cpu", weights_only=True) if self.ckpt_path.exists() else None
        if state is not None:
            config = SegTrainConfig(**state["config"])
        self.config = cfg = config or SegTrainConfig()
        torch.manual_seed(cfg.seed)
        self.net = UNet(UNetConfig(CLASSES, cfg.widths, cfg.size))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.wall_s = 0.0
        if state is not None:
            self.net.load_state_dict(state["net"])
            self.opt.load_state_dict(state["opt"])
            self.gen.set_state(state["rng"])
            self.step, self.wall_s = state["step"], state["wall_s"]
        self.images: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None

    def save(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        cfg = asdict(self.config)
        cfg["widths"] = list(cfg["widths"])
        state = {"config": cfg, "net": self.net.state_dict(), "opt": self.opt.state_dict(),
                 "rng": self.gen.get_state(), "step": self.step, "wall_s": self.wall_s}
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.ckpt_path)

    def load_data(self, progress_fn: Callable[[str], None] | None = None) -> None:
        """Render (or read the cached) training scenes."""
        cfg = self.config
        cache = self.run_dir / f"scenes_{cfg.train_scenes}_{cfg.size}.npz"
        if cache.exists():
            d = np.load(cache)
            imgs, labs = d["images"], d["labels"]
        else:
            chunks = []
            for i in range(0, cfg.train_scenes, 100):
                chunks.append(render_batch(range(i, min(i + 100, cfg.train_scenes)), cfg.size))
                if progress_fn:
                    progress_fn(f"rendering training scenes {min(i + 100, cfg.train_scenes)}/{cfg.train_scenes}")
            imgs = np.concatenate([c[0] for c in chunks])
            labs = np.concatenate([c[1] for c in chunks])
            self.run_dir.mkdir(parents=True, exist_ok=True)
            np.savez(cache, images=imgs, labels=labs)
        self.images = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()  # (N, 3, S, S) uint8
        self.labels = torch.from_numpy(labs).long()  # (N, S, S)

    def class_weights(self) -> torch.Tensor | None:
        if not self.config.class_balance:
            return None
        if getattr(self, "_weights", None) is None:
            freq = torch.bincount(self.labels.reshape(-1), minlength=len(CLASSES)).float().clamp_min(1)
            w = (freq / freq.sum()) ** -self.config.class_balance
            self._weights = w / (w * freq / freq.sum()).sum()  # mean weight over pixels stays 1
        return self._weights

    def lr_at(self, step: int) -> float:
        return self.config.lr * 0.5 * (1 + math.cos(math.pi * min(step / self.config.steps, 1.0)))

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        full = self.step >= cfg.steps * (1 - cfg.full_fraction)
        n = cfg.full_batch if full else cfg.batch
        idx = torch.randint(0, len(self.images), (n,), generator=self.gen)
        x = self.images[idx].float().div(127.5).sub(1.0)
        y = self.labels[idx]
        if not full:
            s = cfg.size - cfg.crop
            i, j = (int(v) for v in torch.randint(0, s + 1, (2,), generator=self.gen))
            x = x[..., i : i + cfg.crop, j : j + cfg.crop]
            y = y[..., i : i + cfg.crop, j : j + cfg.crop]
        if torch.rand((), generator=self.gen) < 0.5:  # the world is left-right symmetric
            x, y = x.flip(-1), y.flip(-1)
        return _degrade(x, self.gen, cfg.degrade_p), y

    def iteration(self) -> dict:
        """One step: cosine learning rate, a batch, cross-entropy; returns the loss and pixel accuracy."""
        for g in self.opt.param_groups:
            g["lr"] = self.lr_at(self.step)
        x, y = self.batch()
        logits = self.net(x)
        loss = F.cross_entropy(logits, y, weight=self.class_weights())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        return {"step": self.step, "loss": loss.item(), "acc": (logits.argmax(1) == y).float().mean().item()}

    def train(self, *, time_limit_s: float | None = None, checkpoint_every_s: float = 120.0,
              progress_fn: Callable[[dict], None] | None = None, abort_fn: Callable[[], bool] | None = None) -> str:
        """Train until `config.steps` or another stop condition (training.train_loop); return which one."""
        if self.images is None:
            self.load_data()
        self.net.train()
        try:
            return train_loop(self, time_limit_s=time_limit_s, done=lambda: self.done,
                              checkpoint_every_s=checkpoint_every_s, progress_fn=progress_fn, abort_fn=abort_fn)
        finally:
            self.net.eval()

    @property
    def done(self) -> bool:
        return self.step >= self.config.steps

    def export(self, path: str | os.PathLike, *, eval_count: int = 1000,
               progress_fn: Callable[[str], None] | None = None) -> dict:
        """Write the weights and `<stem>.json` with held-out metrics; return the metrics."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg = asdict(self.config)
        cfg["widths"] = list(cfg["widths"])
        seg_id = save_segmenter(self.net, path, extra={"train": cfg, "steps": self.step})
        seg = load_segmenter(path)  # reload: the metrics are those of the float16 file
        assert seg.id == seg_id
        metrics = evaluate_segmenter(seg, count=eval_count, size=self.config.size, progress_fn=progress_fn)
        info = {
            "id": seg.id, "file": path.name, "bytes": path.stat().st_size,
            "parameters": sum(p.numel() for p in seg.net.parameters()), "architecture": "U-Net",
            "config": {"widths": list(self.config.widths), "size": self.config.size, "labels": list(CLASSES)},
            "training": {**cfg, "steps_done": self.step, "train_wall_clock_s": round(self.wall_s, 1),
                         "train_seeds": [0, self.config.train_scenes - 1]},
            "heldout": metrics,
        }
        path.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
        return info


def evaluate_segmenter(seg: Segmenter, *, count: int = 1000, size: int = 128, first_seed: int = HELDOUT_SEGMENTER_SEEDS,
                       batch: int = 50, progress_fn: Callable[[str], None] | None = None) -> dict:
    """Pixel accuracy and per-class IoU on `count` held-out world renders."""
    cm = ConfusionMatrix(len(seg.labels))
    index = {c: i for i, c in enumerate(CLASSES)}
    remap = torch.tensor([seg.labels.index(c) if c in seg.labels else -1 for c in CLASSES])
    for i in range(0, count, batch):
        seeds = range(first_seed + i, first_seed + min(i + batch, count))
        imgs, labs = render_batch(seeds, size)
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        pred = seg.segment(x)
        cm.update(pred, remap[torch.from_numpy(labs).long()])
        if progress_fn:
            progress_fn(f"evaluating {min(i + batch, count)}/{count}")
    iou = cm.iou()
    return {
        "renders": count, "size": size, "seeds": [first_seed, first_seed + count - 1],
        "pixel_accuracy": round(cm.accuracy(), 5),
        "mean_iou": round(float(np.nanmean([iou[seg.labels.index(c)] for c in CLASSES if c in index])), 5),
        "iou": {c: round(iou[seg.labels.index(c)], 5) for c in CLASSES if c in seg.labels},
    }
