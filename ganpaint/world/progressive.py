"""The growing network of progressive GAN training and its schedule (what resolution, what fade-in).

    cfg = TrainConfig(resolution=64, widths=(128, 128, 64, 32, 16))
    r, alpha = cfg.phase(images=50_000)                  # resolution and fade-in after that many images
    G = ProgressiveGenerator(cfg.generator_config())
    img = G(z, r, alpha)                                 # (B, 3, r, r), blending in the new level
    plain = G.export(r)                                  # a Generator with the official module layout

Intermediate resolutions use trainer-only toRGB layers; export() keeps only what a plain Generator of
that resolution has.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..gan.networks import Generator, GeneratorConfig, ToRGB

__all__ = ["TrainConfig", "ProgressiveGenerator"]


@dataclass
class TrainConfig:
    resolution: int = 128
    widths: tuple[int, ...] = (128, 128, 64, 32, 16, 8)
    z_dim: int = 512
    batch: int = 32
    lr: float = 0.0015
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 0.1
    r1_every: int = 16
    ema_halflife_images: int = 10_000
    ema_rampup: float = 0.05
    start_resolution: int = 8
    # images per phase: each new resolution fades in over fade_images then trains stably for stable_images
    fade_images: int = 40_000
    stable_images: int = 40_000
    pool_size: int = 4096
    pool_refresh: int = 4  # new world scenes rendered into the pool per iteration
    min_pool_resolution: int = 32  # world scenes are rendered at max(phase, this) and average-pooled
    seed: int = 0

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
        self.betas = tuple(self.betas)
        GeneratorConfig(self.resolution, self.widths, self.z_dim)  # validates

    def generator_config(self) -> GeneratorConfig:
        return GeneratorConfig(self.resolution, self.widths, self.z_dim)

    def growth_start(self, r: int) -> int:
        """Images seen when resolution r starts fading in (r > start_resolution)."""
        levels = int(math.log2(r // self.start_resolution))
        return self.stable_images + (levels - 1) * (self.fade_images + self.stable_images)

    def phase(self, images: int) -> tuple[int, float]:
        """(resolution, fade-in alpha) after `images` images have been seen."""
        r = self.start_resolution
        left = images - self.stable_images
        while r < self.resolution and left >= 0:
            r *= 2
            if left < self.fade_images:
                return r, left / self.fade_images
            left -= self.fade_images + self.stable_images
        return r, 1.0


class ProgressiveGenerator(nn.Module):
    """A Generator plus toRGB heads for the lower resolutions, used while growing."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.g = Generator(config)
        self.to_rgb = nn.ModuleDict(
            {str(4 * 2**i): ToRGB(w) for i, w in enumerate(config.widths[:-1]) if i >= 1}
        )

    def head(self, r: int) -> nn.Module:
        return getattr(self.g, self.g.config.output_name) if r == self.g.config.resolution else self.to_rgb[str(r)]

    def forward(self, z: torch.Tensor, r: int, alpha: float = 1.0) -> torch.Tensor:
        level = int(math.log2(r)) - 2
        last = 2 * level + 2  # last layer at resolution r
        x = z[:, :, None, None]
        prev = None
        for i in range(1, last + 1):
            x = getattr(self.g, f"layer{i}")(x)
            if i == last - 2:
                prev = x
        img = self.head(r)(x)
        if alpha < 1.0 and prev is not None:
            low = F.interpolate(self.head(r // 2)(prev), scale_factor=2, mode="nearest")
            img = torch.lerp(low, img, alpha)
        return img

    def export(self, r: int) -> Generator:
        """A plain Generator at resolution r sharing these weights' values (copied)."""
        cfg = self.g.config
        level = int(math.log2(r)) - 1
        sub = Generator(GeneratorConfig(r, cfg.widths[:level], cfg.z_dim))
        state = {k: v for k, v in self.g.state_dict().items() if k.startswith("layer") and int(k.split(".")[0][5:]) <= 2 * level}
        for k, v in self.head(r).state_dict().items():
            state[f"{sub.config.output_name}.{k}"] = v
        sub.load_state_dict(state)
        return sub
