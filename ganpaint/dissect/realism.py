"""How realistic does an image look? The GAN's own discriminator, shipped beside the model, says.

    D = load_discriminator("models/scenes")            # None when the model ships none
    s = realism_scores(D, images)                      # images (N, 3, R, R) in [-1, 1] → (N,), higher = more real
    auc = separation(realism_scores(D, real), realism_scores(D, fake))   # 0.5 = chance, 1 = perfect

The training discriminator scores a batch, not an image: its minibatch-stddev feature mixes the
statistics of groups of four images into every score, so an edited image would score differently
depending on its neighbours. The shipped one is fine-tuned with groups of one (the feature becomes a
constant it learns to ignore), which makes each image's score its own. `finetune_discriminator` is
that fine-tuning: non-saturating loss with lazy R1 against a frozen generator, on world renders.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..gan.artifacts import ArtifactError, load_artifact, save_artifact
from ..gan.checkpoint import DISCRIMINATOR_FILE, DISCRIMINATOR_KIND
from ..gan.networks import Discriminator as _TrainingDiscriminator

__all__ = ["Discriminator", "load_discriminator", "save_discriminator", "realism_scores", "separation",
           "finetune_discriminator", "world_reals", "DISCRIMINATOR_FILE", "KIND"]

KIND = DISCRIMINATOR_KIND


class Discriminator(_TrainingDiscriminator):
    """The training discriminator with minibatch-stddev groups of `group` images (1: per-image scores)."""

    def __init__(self, resolution: int, widths: tuple[int, ...], group: int = 1) -> None:
        super().__init__(resolution, widths)
        self.group = group

    def _stddev(self, x: torch.Tensor) -> torch.Tensor:  # shadows the parent's staticmethod
        return _TrainingDiscriminator._stddev(x, group=self.group)


def load_discriminator(model_dir: str | os.PathLike, device: str | torch.device = "cpu") -> Discriminator | None:
    """The model folder's discriminator, or None when it has none (`ArtifactError` when it is broken)."""
    path = Path(model_dir) / DISCRIMINATOR_FILE
    if not path.is_file():
        return None
    art = load_artifact(path, kind=KIND)
    cfg = art.config
    try:
        D = Discriminator(int(cfg["resolution"]), tuple(cfg["widths"]), int(cfg.get("group", 1)))
        D.load_state_dict(art.tensors)
    except (KeyError, TypeError, RuntimeError) as e:
        raise ArtifactError(f"{path.name} does not fit a discriminator: {e}") from None
    D.id = art.id
    D.provenance = art.provenance
    return D.to(device).eval().requires_grad_(False)


def save_discriminator(D: Discriminator, path: str | os.PathLike, *, provenance: dict | None = None) -> str:
    """Write D in float16 with its config (the low-resolution input layers are tiny and kept for strict loading)."""
    keep = D.state_dict()
    config = {"resolution": D.resolution, "widths": list(D.widths), "group": D.group}
    return save_artifact(path, keep, kind=KIND, config=config, provenance=provenance or {}, half=True)


@torch.no_grad()
def realism_scores(D: Discriminator, images: torch.Tensor, *, chunk: int = 32) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] → (N,) discriminator logits; images are resized to D's resolution first."""
    assert images.dim() == 4 and images.shape[1] == 3, images.shape
    r = D.resolution
    dev = next(D.parameters()).device
    out = []
    for i in range(0, len(images), chunk):
        x = images[i : i + chunk].to(dev, torch.float32)
        if x.shape[-2:] != (r, r):
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=True)
        out.append(D(x).flatten().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def separation(real: torch.Tensor, fake: torch.Tensor) -> float:
    """ROC AUC of telling real from fake by score: the chance that a random real outscores a random fake."""
    real, fake = real.double().flatten(), fake.double().flatten()
    both = torch.cat([real, fake])
    ranks = torch.empty_like(both)
    order = both.argsort()
    ranks[order] = torch.arange(1, len(both) + 1, dtype=torch.float64)
    # average ranks over ties so identical scores count half
    vals, inv, counts = torch.unique(both, return_inverse=True, return_counts=True)
    if len(vals) < len(both):
        sums = torch.zeros(len(vals), dtype=torch.float64).index_add_(0, inv, ranks)
        ranks = (sums / counts)[inv]
    n1, n0 = len(real), len(fake)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def finetune_discriminator(D: Discriminator, G: torch.nn.Module, real: torch.Tensor, *, steps: int,
                           batch: int = 32, lr: float = 5e-4, r1_gamma: float = 0.1, r1_every: int = 16,
                           seed: int = 0, time_limit_s: float | None = None,
                           progress_fn: Callable[[dict], None] | None = None) -> dict:
    """Train D (in place) against the frozen generator G on `real` (uint8 (M, 3, R, R) world renders).

    Returns {"steps", "images", "wall_s"}. G is never changed; fakes come from fresh normal z.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.0, 0.99), eps=1e-8)
    G = G.eval().requires_grad_(False)
    D.train().requires_grad_(True)
    t0, step = time.monotonic(), 0
    z_dim = G.config.z_dim
    while step < steps and (time_limit_s is None or time.monotonic() - t0 < time_limit_s):
        idx = torch.randint(0, len(real), (batch,), generator=gen)
        x_real = real[idx].float().div_(127.5).sub_(1.0)
        with torch.no_grad():
            x_fake = G(torch.randn(batch, z_dim, generator=gen))
        do_r1 = step % r1_every == 0
        x_real.requires_grad_(do_r1)
        d_real, d_fake = D(x_real), D(x_fake)
        loss = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
        report = loss.detach().item()
        if do_r1:
            (grad,) = torch.autograd.grad(d_real.sum(), x_real, create_graph=True)
            loss = loss + grad.pow(2).sum(dim=(1, 2, 3)).mean() * (r1_gamma / 2 * r1_every)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if progress_fn:
            progress_fn({"step": step, "loss": report})
    D.eval().requires_grad_(False)
    return {"steps": step, "images": step * batch, "wall_s": round(time.monotonic() - t0, 1)}


def world_reals(seeds, resolution: int) -> torch.Tensor:
    """World renders as uint8 (N, 3, R, R), the discriminator's real data."""
    from ..world.world import render_batch

    imgs, _ = render_batch(list(seeds), resolution)
    return torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))
