"""The judge: a second world segmenter that only grades brushes, never ranks units or learns values.

    judge = load_judge("models/scenes")          # None when the model ships none
    labels = judge.segment(images)               # (N, 3, H, W) in [-1, 1] → (N, H, W) long
    judge.labels, judge.id                       # ["sky", ...], "judge-1a2b3c4d"

Dissection optimizes unit rankings and per-unit values against the ranking segmenter (a U-Net), so
that segmenter's verdict on the brushes is partly the optimizer's own target. The judge is built to
disagree with it where it is fooled: a different architecture (a dilated residual net at 1/4
resolution with pyramid pooling, no encoder–decoder skips, so it sees context rather than texture
detail), trained on other world seeds with augmentation that mimics GAN output (blur, down/up-sampling,
JPEG, noise, colour jitter). Training lives in `ganpaint.dissect.judge_train`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..gan.artifacts import ArtifactError, load_artifact, save_artifact
from ..segmenters.segmenter import NetSegmenter
from ..world.world import CLASSES

__all__ = ["JudgeConfig", "JudgeNet", "JudgeSegmenter", "load_judge", "save_judge", "JUDGE_FILE", "KIND"]

JUDGE_FILE = "judge.safetensors"
KIND = "judge-segmenter"


@dataclass
class JudgeConfig:
    labels: tuple[str, ...] = CLASSES
    stem: tuple[int, int] = (24, 48)  # two stride-2 convs: features at 1/4 of the input
    width: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 1)  # one residual block each
    pool_sizes: tuple[int, ...] = (1, 2, 4, 8)  # pyramid pooling bins
    size: int = 128  # native input size

    def __post_init__(self) -> None:
        self.labels, self.stem = tuple(self.labels), tuple(self.stem)
        self.dilations, self.pool_sizes = tuple(self.dilations), tuple(self.pool_sizes)
        if self.size % 4:
            raise ValueError(f"size {self.size} is not divisible by 4")

    def to_dict(self) -> dict:
        return {"labels": list(self.labels), "stem": list(self.stem), "width": self.width,
                "dilations": list(self.dilations), "pool_sizes": list(self.pool_sizes), "size": self.size}


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding=dilation * (k // 2), dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Residual(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.a = _conv_bn(width, width, dilation=dilation)
        self.b = nn.Sequential(nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation, bias=False),
                               nn.BatchNorm2d(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


class JudgeNet(nn.Module):
    """stem (÷4) → dilated residual blocks → pyramid pooling → 1×1 head → bilinear ×4."""

    def __init__(self, config: JudgeConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or JudgeConfig()
        s0, s1 = cfg.stem
        self.stem = nn.Sequential(_conv_bn(3, s0, stride=2), _conv_bn(s0, s1, stride=2), _conv_bn(s1, cfg.width))
        self.body = nn.Sequential(*[_Residual(cfg.width, d) for d in cfg.dilations])
        branch = max(8, cfg.width // len(cfg.pool_sizes))
        self.pools = nn.ModuleList(_conv_bn(cfg.width, branch, k=1) for _ in cfg.pool_sizes)
        self.fuse = _conv_bn(cfg.width + branch * len(cfg.pool_sizes), cfg.width)
        self.head = nn.Conv2d(cfg.width, len(cfg.labels), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) → (N, K, H, W) logits
        size = x.shape[-2:]
        f = self.body(self.stem(x))  # (N, width, H/4, W/4)
        parts = [f]
        for bins, conv in zip(self.config.pool_sizes, self.pools):
            p = conv(F.adaptive_avg_pool2d(f, bins))
            parts.append(F.interpolate(p, size=f.shape[-2:], mode="bilinear", align_corners=False))
        out = self.head(self.fuse(torch.cat(parts, 1)))
        return F.interpolate(out, size=size, mode="bilinear", align_corners=False)


@dataclass
class JudgeSegmenter(NetSegmenter):
    """The judge as a Segmenter (labels, id, segment): the ranking segmenter's batching and resizing
    around a network of another design."""

    net: JudgeNet
    id: str = "judge"
    provenance: dict = field(default_factory=dict)


def save_judge(net: JudgeNet, path: str | os.PathLike, *, provenance: dict | None = None) -> str:
    """Write the judge in float16 with its config; return its id."""
    return save_artifact(path, net.state_dict(), kind=KIND, config=net.config.to_dict(),
                         provenance=provenance or {}, half=True)


def load_judge(model_dir: str | os.PathLike, device: str | torch.device = "cpu") -> JudgeSegmenter | None:
    """The model folder's judge, or None when it has none (`ArtifactError` when the file is broken)."""
    path = Path(model_dir) / JUDGE_FILE
    if not path.is_file():
        return None
    art = load_artifact(path, kind=KIND)
    try:
        net = JudgeNet(JudgeConfig(**art.config))
        net.load_state_dict(art.tensors)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ArtifactError(f"{path.name} does not fit a judge network: {str(e)[:200]}") from None
    return JudgeSegmenter(net.to(device), art.id, provenance=art.provenance)
