"""Train the judge segmenter on world seeds no other network of the model was trained or ranked on.

    cfg = JudgeTrainConfig(minutes=12)
    net, record = train_judge(cfg, progress_fn=print)
    info = export_judge(net, "models/scenes/judge.safetensors", record=record,
                        ranking=load_segmenter("models/scenes/segmenter.safetensors"), generator=G)

Seeds: the ranking segmenter trained on world seeds 0–2999, the GAN's pool on 0 … ~4.2 M, the held-out
metrics of both segmenters use 10⁹ … 10⁹+999; the judge trains on JUDGE_SEEDS (2·10⁷ on). The
augmentation is what makes a render look like a generator output: blur or down/up-sampling, JPEG,
Gaussian noise, colour jitter (brightness, contrast, saturation, channel cast).
"""
from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .judge import JudgeConfig, JudgeNet, JudgeSegmenter, load_judge, save_judge
from .segmenter_train import evaluate_segmenter
from ..world.world import CLASSES, render_batch

__all__ = ["JudgeTrainConfig", "train_judge", "augment", "export_judge", "agreement", "JUDGE_SEEDS"]

JUDGE_SEEDS = 20_000_000


@dataclass
class JudgeTrainConfig:
    scenes: int = 3000
    first_seed: int = JUDGE_SEEDS
    steps: int = 2000
    minutes: float | None = None  # stop earlier when the time is up (the cosine schedule follows the clock then)
    batch: int = 16
    crop: int = 64
    full_fraction: float = 0.25  # the last quarter sees whole images (context: doors low, domes on top)
    full_batch: int = 8
    lr: float = 3e-3
    augment_p: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        from ..world.world import HELDOUT_SEED_BASE

        if self.first_seed < 3000 or self.first_seed + self.scenes > HELDOUT_SEED_BASE:
            raise ValueError("judge seeds must avoid the ranking segmenter's (0–2999) and the held-out range")


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    from PIL import Image

    arr = ((x.permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return torch.from_numpy(out.copy()).permute(2, 0, 1).float().div(127.5).sub(1.0)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(math.ceil(2 * sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[0]
    x = F.conv2d(F.pad(x[None], (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return x[0]


def augment(x: torch.Tensor, gen: torch.Generator, p: float = 0.8) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] → the same, each image degraded like a GAN output with probability p."""
    def u(a: float, b: float) -> float:
        return a + (b - a) * float(torch.rand((), generator=gen))

    out = x.clone()
    h, w = x.shape[-2:]
    for i in range(len(x)):
        if float(torch.rand((), generator=gen)) >= p:
            continue
        y = out[i]
        kind = int(torch.randint(0, 3, (), generator=gen))
        if kind == 0:
            y = _blur(y, u(0.4, 1.5))
        elif kind == 1:
            f = u(1.5, 6.0)
            small = F.interpolate(y[None], size=(max(4, int(h / f)), max(4, int(w / f))), mode="bilinear",
                                  antialias=True, align_corners=False)
            y = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0]
        # colour: brightness, contrast, saturation, per-channel cast
        mean = y.mean()
        y = (y - mean) * u(0.75, 1.25) + mean + u(-0.15, 0.15)
        grey = y.mean(0, keepdim=True)
        y = grey + (y - grey) * u(0.6, 1.4)
        y = y * (1 + 0.12 * (torch.rand(3, 1, 1, generator=gen) - 0.5))
        if float(torch.rand((), generator=gen)) < 0.5:
            y = y + u(0.0, 0.06) * torch.randn(y.shape, generator=gen)
        if float(torch.rand((), generator=gen)) < 0.4:
            y = _jpeg(y, int(u(25, 90)))
        out[i] = y.clamp(-1, 1)
    return out


def _render(cfg: JudgeTrainConfig, size: int, progress_fn) -> tuple[torch.Tensor, torch.Tensor]:
    imgs, labs = [], []
    for i in range(0, cfg.scenes, 100):
        a, b = render_batch(range(cfg.first_seed + i, cfg.first_seed + min(i + 100, cfg.scenes)), size)
        imgs.append(a)
        labs.append(b)
        if progress_fn:
            progress_fn({"stage": "render", "done": min(i + 100, cfg.scenes), "total": cfg.scenes})
    x = torch.from_numpy(np.concatenate(imgs)).permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(np.concatenate(labs)).long()


def train_judge(cfg: JudgeTrainConfig, *, net_config: JudgeConfig | None = None,
                progress_fn: Callable[[dict], None] | None = None) -> tuple[JudgeNet, dict]:
    """Train a judge from scratch; returns (net in eval mode, a record of what was done)."""
    torch.manual_seed(cfg.seed)
    net = JudgeNet(net_config or JudgeConfig())
    size = net.config.size
    images, labels = _render(cfg, size, progress_fn)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(cfg.seed)
    net.train()
    t0, step = time.monotonic(), 0
    limit = cfg.minutes * 60 if cfg.minutes else None

    def progress_now() -> float:
        by_step = step / cfg.steps
        return max(by_step, (time.monotonic() - t0) / limit) if limit else by_step

    while progress_now() < 1.0:
        frac = progress_now()
        for g in opt.param_groups:
            g["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * frac))
        full = frac >= 1 - cfg.full_fraction
        n = cfg.full_batch if full else cfg.batch
        idx = torch.randint(0, len(images), (n,), generator=gen)
        x = images[idx].float().div(127.5).sub(1.0)
        y = labels[idx]
        if not full:
            i, j = (int(v) for v in torch.randint(0, size - cfg.crop + 1, (2,), generator=gen))
            x, y = x[..., i : i + cfg.crop, j : j + cfg.crop], y[..., i : i + cfg.crop, j : j + cfg.crop]
        if float(torch.rand((), generator=gen)) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        x = augment(x, gen, cfg.augment_p)
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if progress_fn and step % 20 == 0:
            acc = (logits.argmax(1) == y).float().mean().item()
            progress_fn({"stage": "train", "step": step, "loss": round(loss.item(), 4), "acc": round(acc, 4),
                         "full": full, "elapsed_s": round(time.monotonic() - t0, 1)})
    net.eval()
    record = {**asdict(cfg), "steps_done": step, "train_wall_clock_s": round(time.monotonic() - t0, 1),
              "train_seeds": [cfg.first_seed, cfg.first_seed + cfg.scenes - 1]}
    return net, record


@torch.no_grad()
def agreement(a, b, generator, *, count: int = 500, seed: int = 4242, batch: int = 50) -> float:
    """Pixel agreement of two segmenters on `count` unedited generated images (fresh latents)."""
    z = torch.randn(count, generator.config.z_dim, generator=torch.Generator().manual_seed(seed))
    same = total = 0
    remap = torch.tensor([b.labels.index(c) for c in a.labels])
    for i in range(0, count, batch):
        img = generator(z[i : i + batch])
        la, lb = remap[a.segment(img).cpu()], b.segment(img).cpu()
        same += int((la == lb).sum())
        total += la.numel()
    return same / max(total, 1)


def export_judge(net: JudgeNet, path, *, record: dict, ranking=None, generator=None, eval_count: int = 1000,
                 agreement_count: int = 500) -> dict:
    """Save the judge and measure it: held-out renders (as the ranking segmenter is measured) and agreement
    with the ranking segmenter on unedited generated images. The metrics travel in the file's provenance."""
    from pathlib import Path

    path = Path(path)
    save_judge(net, path, provenance={"training": record})
    judge = load_judge(path.parent) if path.name == "judge.safetensors" else None
    if judge is None:
        from ..gan.artifacts import load_artifact
        art = load_artifact(path)
        judge = JudgeSegmenter(net, art.id)
    metrics = {"heldout": evaluate_segmenter(judge, count=eval_count)}
    if ranking is not None and generator is not None:
        metrics["agreement_with_ranking_on_generated"] = {
            "images": agreement_count, "pixel_agreement": round(agreement(judge, ranking, generator, count=agreement_count), 4),
            "ranking_segmenter": ranking.id}
    params = sum(p.numel() for p in net.parameters())
    provenance = {"training": record, "metrics": metrics, "parameters": params,
                  "architecture": "dilated residual net at 1/4 resolution + pyramid pooling (no encoder-decoder skips)"}
    ident = save_judge(net, path, provenance=provenance)
    return {"id": ident, "file": path.name, "bytes": path.stat().st_size, "parameters": params,
            "labels": list(CLASSES), **metrics, "training": record}
