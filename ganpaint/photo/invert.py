"""The photo encoder: image → layer4 activations of a given generator.

    E = load_encoder("models/scenes/encoder.safetensors", generator=model.generator)
    h4 = E(x)                                     # x (N, 3, R, R) in [-1, 1] → (N, C, 8, 8)
    img = model.render(h4)                        # a first reconstruction, refined by ganpaint.photo.adapt

The encoder is a plain strided conv net (one stride-2 stage per octave from R down to 8×8, then
residual blocks at 8×8 and a 1×1 head), so it fits any generator whose edit layer is 8×8. Its
training (generator samples and renders of the procedural world) lives in ganpaint.world.encoder_train.
The exported file stores its config and the sha256 of the generator it was trained against.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..gan.artifacts import ArtifactError, load_artifact, save_artifact
from ..gan.networks import Generator

__all__ = ["EncoderConfig", "Encoder", "EncoderError", "FeatureNet", "load_encoder", "save_encoder", "find_encoder",
           "perceptual_distance", "psnr"]


class EncoderError(ValueError):
    """An encoder file that cannot be used with this generator; the message says why."""


@dataclass
class EncoderConfig:
    resolution: int = 128  # input size (the generator's resolution)
    out_channels: int = 128  # edit-layer units
    out_size: int = 8  # edit-layer spatial size
    base: int = 16  # channels at full resolution; doubles per octave up to `top`
    top: int = 128
    blocks: int = 1  # residual blocks at out_size

    def __post_init__(self) -> None:
        octaves = math.log2(self.resolution / self.out_size)
        if octaves != int(octaves) or octaves < 0:
            raise ValueError(f"resolution {self.resolution} is not a power-of-two multiple of {self.out_size}")


class _Res(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.leaky_relu(self.c1(F.leaky_relu(x, 0.2)), 0.2))


class Encoder(nn.Module):
    """(N, 3, R, R) in [-1, 1] → (N, C, 8, 8) predicted edit-layer activations."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = c = config
        octaves = int(math.log2(c.resolution // c.out_size))
        layers: list[nn.Module] = [nn.Conv2d(3, c.base, 3, padding=1), nn.LeakyReLU(0.2)]
        ch = c.base
        for _ in range(octaves):
            nxt = min(ch * 2, c.top)
            layers += [nn.Conv2d(ch, nxt, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                       nn.Conv2d(nxt, nxt, 3, padding=1), nn.LeakyReLU(0.2)]
            ch = nxt
        if ch != c.top:
            layers += [nn.Conv2d(ch, c.top, 1)]
        layers += [_Res(c.top) for _ in range(c.blocks)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c.top, c.out_channels, 1)
        self.meta: dict = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.config.resolution or x.shape[-2] != self.config.resolution:
            x = F.interpolate(x, size=(self.config.resolution,) * 2, mode="area")
        h = self.head(F.leaky_relu(self.body(x), 0.2))  # (N, C, 8, 8)
        # layer4 outputs come from a LeakyReLU(0.2): keep predictions in that range
        return F.leaky_relu(h, 0.2)


class FeatureNet(nn.Module):
    """A small fixed random conv net (seeded, nothing to download or ship) for a perceptual loss.

    Random conv features respond to edges and textures at three scales; comparing them penalizes
    blur and misplaced structure that a pixel L1 alone tolerates.
    """

    def __init__(self, seed: int = 0, widths: tuple[int, ...] = (8, 16, 32)) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList()
        c = 3
        for w in widths:
            conv = nn.Conv2d(c, w, 3, padding=1, bias=False)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2.0 / (c * 9)))
            self.convs.append(conv)
            c = w
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, conv in enumerate(self.convs):
            if i:
                x = F.avg_pool2d(x, 2)
            x = F.relu(conv(x))
            feats.append(x)
        return feats


def perceptual_distance(fnet: FeatureNet, a: torch.Tensor, b: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between feature maps (b may be precomputed features), one scalar."""
    fb = b if isinstance(b, list) else fnet(b)
    return sum((x - y).abs().mean() for x, y in zip(fnet(a), fb)) / len(fb)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two images in [-1, 1] (compared on the 0…1 scale after clamping)."""
    mse = ((a.clamp(-1, 1) - b.clamp(-1, 1)) / 2).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


# ----------------------------------------------------------------------------- files
def save_encoder(E: Encoder, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write the encoder as an artifact (kind "encoder", its config, `meta` as provenance)."""
    # float16 on disk halves the file; an initializer loses nothing that matters
    save_artifact(path, E.state_dict(), kind="encoder", config=asdict(E.config), provenance=meta or E.meta, half=True)
    return Path(path)


def load_encoder(path: str | os.PathLike, generator: Generator | None = None, edit_layer: str = "layer4") -> Encoder:
    """Read an encoder file; with `generator`, check that its output fits that generator's edit layer."""
    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"no encoder file at {path}")
    try:
        art = load_artifact(path, kind="encoder")
        E = Encoder(EncoderConfig(**art.config))
        E.load_state_dict(art.tensors)
    except (ArtifactError, TypeError, ValueError, RuntimeError) as e:  # any failure means "not an encoder"
        raise EncoderError(f"{path.name} is not a ganpaint encoder ({str(e).splitlines()[0][:200]})") from None
    E.meta = art.provenance
    if generator is not None:
        cfg = generator.config
        want = (cfg.resolution, cfg.layer_channels(edit_layer), cfg.layer_resolution(edit_layer))
        have = (E.config.resolution, E.config.out_channels, E.config.out_size)
        if want != have:
            raise EncoderError(f"encoder {path.name} maps {have[0]}px images to {have[1]}×{have[2]}² but the "
                               f"generator needs {want[0]}px → {want[1]}×{want[2]}²; retrain it (ganpaint train-encoder)")
    return E.eval().requires_grad_(False)


def find_encoder(folder: str | os.PathLike | None, generator: Generator, info: dict | None = None) -> Encoder | None:
    """The encoder shipped in a model folder (`encoder.safetensors` or model.json's "encoder"), or None."""
    if folder is None:
        return None
    path = Path(folder) / (info or {}).get("encoder", "encoder.safetensors")
    return load_encoder(path, generator) if path.is_file() else None
