"""Segmenters: images → per-pixel concept labels. Any object with this interface can be plugged in.

    seg = load_segmenter("models/scenes/segmenter.safetensors")
    labels = seg.segment(images)          # images (N, 3, H, W) in [-1, 1] → (N, H, W) int64 indices
    seg.labels                            # ["sky", "cloud", ...], index → concept name

The shipped segmenter is a small U-Net trained on renders of the procedural world (exact labels),
at 128 px. `segment()` accepts any image size: the input is resized to the net's native size and the
class scores are resized back before the argmax, so low-resolution generator outputs work too.
Training and held-out evaluation live in `ganpaint.dissect.segmenter_train`.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from ..gan.artifacts import load_artifact_as, save_artifact

__all__ = ["Segmenter", "UNetConfig", "UNet", "NetSegmenter", "load_segmenter", "save_segmenter", "SegmenterError"]


class SegmenterError(ValueError):
    """A segmenter file that cannot be loaded; the message says why."""


@runtime_checkable
class Segmenter(Protocol):
    labels: list[str]
    id: str

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] → (N, H, W) long label indices into `labels`."""
        ...


@dataclass
class UNetConfig:
    labels: tuple[str, ...]  # index → concept name; the trainer's (the segmenter does not know the world)
    widths: tuple[int, ...] = (8, 16, 32, 64, 96)  # per level, full resolution first
    size: int = 128  # native input size (pixels per side); must be divisible by 2**(levels-1)

    def __post_init__(self) -> None:
        self.labels, self.widths = tuple(self.labels), tuple(self.widths)
        if self.size % 2 ** (len(self.widths) - 1):
            raise ValueError(f"size {self.size} is not divisible by {2 ** (len(self.widths) - 1)}")


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder (max-pool between levels) → decoder (nearest up + skip concat) → 1×1 class head."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        self.enc = nn.ModuleList()
        c = 3
        for x in w:
            self.enc.append(_block(c, x))
            c = x
        self.dec = nn.ModuleList()
        for x in reversed(w[:-1]):
            self.dec.append(_block(c + x, x))
            c = x
        self.head = nn.Conv2d(c, len(config.labels), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) → (N, K, H, W) logits
        skips = []
        for i, enc in enumerate(self.enc):
            if i:
                x = F.max_pool2d(x, 2)
            x = enc(x)
            skips.append(x)
        for i, dec in enumerate(self.dec):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = dec(torch.cat([x, skips[-2 - i]], 1))
        return self.head(x)


def resize(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize, antialiased when shrinking (so a large photo is not aliased)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[-2:]) == size:
        return images
    shrink = images.shape[-2] > size[0] or images.shape[-1] > size[1]
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=shrink)


@dataclass
class NetSegmenter:
    """A U-Net segmenter; implements the Segmenter protocol."""

    net: UNet
    id: str = "unet"
    labels: list[str] = field(default_factory=list)
    batch: int = 64

    def __post_init__(self) -> None:
        self.labels = list(self.labels or self.net.config.labels)
        self.net.eval().requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.inference_mode()
    def scores(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] → (N, K, H, W) class logits at the input's size."""
        assert images.dim() == 4 and images.shape[1] == 3, f"expected (N, 3, H, W), got {tuple(images.shape)}"
        out = []
        for i in range(0, len(images), self.batch):
            x = images[i : i + self.batch].to(self.device, torch.float32)
            logits = self.net(resize(x, self.net.config.size))
            out.append(resize(logits, tuple(images.shape[-2:])))
        return torch.cat(out)

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.scores(images).argmax(1).to(images.device)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable class logits at the input's size (for causal unit ranking by gradient)."""
        return resize(self.net(resize(images, self.net.config.size)), tuple(images.shape[-2:]))

    def to(self, device: str | torch.device) -> "NetSegmenter":
        self.net.to(device)
        return self


KIND = "unet-segmenter"  # artifact kind; ids read "unet-" + the first 8 hex digits of the file's sha256


def save_segmenter(net: UNet, path: str | os.PathLike, *, half: bool = True, extra: dict | None = None) -> str:
    """Write weights (float16 by default: the file stays well under 2 MB) + config as an artifact; return its id."""
    cfg = asdict(net.config)
    cfg["labels"], cfg["widths"] = list(cfg["labels"]), list(cfg["widths"])
    return save_artifact(path, net.state_dict(), kind=KIND, config=cfg, provenance=extra, half=half)


def load_segmenter(path: str | os.PathLike, device: str | torch.device = "cpu") -> NetSegmenter:
    """Load a segmenter file written by `save_segmenter` (its id is "unet-" + the first 8 hex of its sha256)."""
    path = Path(path)
    if not path.is_file():
        raise SegmenterError(f"no segmenter file at {path}")
    art = load_artifact_as(path, KIND, SegmenterError, "{name} is not a ganpaint segmenter ({reason})")
    net = UNet(UNetConfig(**art.config))
    try:
        net.load_state_dict(art.tensors)
    except RuntimeError as e:
        raise SegmenterError(f"{path.name} does not match its own config: {str(e)[:200]}") from None
    return NetSegmenter(net.to(device), art.id)
