"""Progressive GAN generator in the exact layout GANPaint used, plus a matching discriminator.

    G = Generator(GeneratorConfig(resolution=64, widths=(128, 128, 64, 32, 16)))
    img = G(torch.randn(4, 512))                  # (4, 3, 64, 64) in [-1, 1]
    h4 = G.features(z, upto="layer4")             # (4, 128, 8, 8), the painting layer
    img = G.render_from(h4, start="layer5")       # same image, rendered from the cache

Modules are `layer1 … layerN` then `output_{R}x{R}`; every block is
PixelNorm → (nearest ×2) → conv without bias → WScale (x·scale + b) → LeakyReLU(0.2),
so state_dict keys are `layerN.conv.weight`, `layerN.wscale.b` exactly as in the official checkpoints.

The network is plain PyTorch: the same code trains, adapts to photos and renders. The faster
inference-only route (WScale folded into the conv, upsampling as phase kernels) is an explicit
conversion, `ganpaint.gan.folding.fold(G)`, chosen by whoever renders.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GeneratorConfig",
    "Generator",
    "Discriminator",
    "PixelNorm",
    "WScale",
    "official_widths",
    "GBlock",
    "ToRGB",
    "block_reach",
    "conv_window",
]


def official_widths(resolution: int) -> tuple[int, ...]:
    """Channel widths per resolution (4 px up) of the official LSUN ProGAN models."""
    n = int(math.log2(resolution)) - 1
    table = {4: 512, 8: 512, 16: 512, 32: 256, 64: 128, 128: 64, 256: 32, 512: 16, 1024: 8}
    return tuple(table[4 * 2**i] for i in range(n))


@dataclass
class GeneratorConfig:
    resolution: int = 64
    # channel width per resolution level, starting at 4x4: len == log2(resolution) - 1
    widths: tuple[int, ...] = field(default=(128, 128, 64, 32, 16))
    z_dim: int = 512

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        levels = math.log2(self.resolution) - 1
        if self.resolution < 8 or levels != int(levels):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")
        if len(self.widths) != int(levels):
            raise ValueError(
                f"a {self.resolution}px generator needs {int(levels)} widths (4px up), got {len(self.widths)}"
            )

    @property
    def num_layers(self) -> int:
        return 2 * len(self.widths)

    @property
    def output_name(self) -> str:
        return f"output_{self.resolution}x{self.resolution}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    def layer_resolution(self, name: str) -> int:
        """Spatial size of a named layer's output (layer1/2 → 4, layer3/4 → 8, ...)."""
        if name == self.output_name:
            return self.resolution
        i = int(name.removeprefix("layer"))
        return 4 * 2 ** ((i - 1) // 2)

    def layer_channels(self, name: str) -> int:
        if name == self.output_name:
            return 3
        i = int(name.removeprefix("layer"))
        return self.widths[(i - 1) // 2]


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class WScale(nn.Module):
    """Equalized learning rate: y = x * scale + b, scale = gain / sqrt(fan_in) (not a state_dict entry)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, gain: float) -> None:
        super().__init__()
        self.scale = gain / math.sqrt(in_ch)
        self.b = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.b.view(1, -1, 1, 1)


Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (half-open) in a layer's pixels


def block_reach(box: Box, up: int, pad: int, out_size: int) -> Box:
    """The output window of a block (nearest ×`up`, then a conv with `pad`) that a change of the input
    inside `box` can reach: its upsampled footprint grown by the kernel, clipped to the image."""
    y0, y1, x0, x1 = box
    return max(y0 * up - pad, 0), min(y1 * up + pad, out_size), max(x0 * up - pad, 0), min(x1 * up + pad, out_size)


def conv_window(x: torch.Tensor, box: Box, *, up: int, pad: int, out_size: int,
                prepare: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The conv input that produces output `box` of "prepare, nearest ×up, conv with zero padding `pad`":
    the rows and columns of `x` it reads, prepared, upsampled, with zeros only where the window passes
    the true image border (the conv's own padding). Run the conv on it without padding."""
    y0, y1, x0, x1 = box
    cy0, cy1, cx0, cx1 = max(y0 - pad, 0), min(y1 + pad, out_size), max(x0 - pad, 0), min(x1 + pad, out_size)
    iy0, iy1, ix0, ix1 = cy0 // up, -(-cy1 // up), cx0 // up, -(-cx1 // up)
    t = prepare(x[:, :, iy0:iy1, ix0:ix1])
    if up > 1:
        t = F.interpolate(t, scale_factor=up, mode="nearest")
        t = t[:, :, cy0 - iy0 * up: cy1 - iy0 * up, cx0 - ix0 * up: cx1 - ix0 * up]
    return F.pad(t, (pad - (x0 - cx0), pad - (cx1 - x1), pad - (y0 - cy0), pad - (cy1 - y1)))


class GBlock(nn.Module):
    """PixelNorm → (nearest ×2) → conv (no bias) → WScale → LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, padding: int, upsample: bool) -> None:
        super().__init__()
        self.norm = PixelNorm()
        self.upsample = upsample
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, padding=padding, bias=False)
        self.wscale = WScale(in_ch, out_ch, kernel_size, gain=math.sqrt(2) / kernel_size)
        nn.init.normal_(self.conv.weight)
        if upsample and (kernel_size, padding) != (3, 1):
            raise ValueError("an upsampling block needs a 3×3 conv with padding 1")

    @property
    def up(self) -> int:
        return 2 if self.upsample else 1

    @property
    def pad(self) -> int:
        return self.conv.padding[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.leaky_relu(self.wscale(self.conv(x)), 0.2)

    def window(self, x: torch.Tensor, box: Box, out_size: int) -> torch.Tensor:
        """The output inside `box` (output pixels), from the full input `x`, reading only the rows it needs."""
        t = conv_window(x, box, up=self.up, pad=self.pad, out_size=out_size, prepare=self.norm)
        return F.leaky_relu(self.wscale(F.conv2d(t, self.conv.weight)), 0.2)


class ToRGB(nn.Module):
    """The output block: PixelNorm → 1×1 conv (no bias) → WScale with gain 1, no activation."""

    up, pad = 1, 0

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.norm = PixelNorm()
        self.conv = nn.Conv2d(in_ch, 3, 1, bias=False)
        self.wscale = WScale(in_ch, 3, 1, gain=1.0)
        nn.init.normal_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wscale(self.conv(self.norm(x)))

    def window(self, x: torch.Tensor, box: Box, out_size: int) -> torch.Tensor:
        y0, y1, x0, x1 = box
        return self.forward(x[:, :, y0:y1, x0:x1])


class Generator(nn.Module):
    """z (N, z_dim) or (N, z_dim, 1, 1) → image (N, 3, R, R), roughly in [-1, 1]."""

    def __init__(self, config: GeneratorConfig | None = None, *, blocks: Mapping[str, nn.Module] | None = None) -> None:
        """`blocks` (name → module, in order) replaces the freshly initialised layers (see folding.fold)."""
        super().__init__()
        self.config = config = config or GeneratorConfig()
        if blocks is not None:
            for name, block in blocks.items():
                self.add_module(name, block)
            return
        w = config.widths
        self.add_module("layer1", GBlock(config.z_dim, w[0], 4, padding=3, upsample=False))
        self.add_module("layer2", GBlock(w[0], w[0], 3, padding=1, upsample=False))
        for level in range(1, len(w)):
            n = 2 * level + 1
            self.add_module(f"layer{n}", GBlock(w[level - 1], w[level], 3, padding=1, upsample=True))
            self.add_module(f"layer{n + 1}", GBlock(w[level], w[level], 3, padding=1, upsample=False))
        self.add_module(config.output_name, ToRGB(w[-1]))

    @property
    def layer_names(self) -> list[str]:
        return [name for name, _ in self.named_children()]

    def _check_layer(self, name: str) -> int:
        names = self.layer_names
        if name not in names:
            raise KeyError(f"no layer {name!r}; layers are {', '.join(names)}")
        return names.index(name)

    @staticmethod
    def _as_map(z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]  # (N, Z) → (N, Z, 1, 1)
        if z.dim() != 4 or z.shape[2:] != (1, 1):
            raise ValueError(f"z must be (N, Z) or (N, Z, 1, 1), got {tuple(z.shape)}")
        return z

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self._as_map(z)
        for module in self.children():
            x = module(x)
        return x

    def features(self, z: torch.Tensor, upto: str = "layer4") -> torch.Tensor:
        """Run from z up to and including the named layer."""
        stop = self._check_layer(upto)
        x = self._as_map(z)
        for i, module in enumerate(self.children()):
            x = module(x)
            if i == stop:
                break
        return x

    def render_from(self, x: torch.Tensor, start: str = "layer5", stop: str | None = None) -> torch.Tensor:
        """Run from the named layer (inclusive) to the output (or up to `stop`, exclusive), given the
        previous layer's output."""
        first = self._check_layer(start)
        last = self._check_layer(stop) if stop is not None else len(self.layer_names)
        for i, module in enumerate(self.children()):
            if first <= i < last:
                x = module(x)
        return x

    def layer_after(self, name: str) -> str:
        names = self.layer_names
        i = self._check_layer(name)
        if i + 1 >= len(names):
            raise KeyError(f"{name!r} is the last layer")
        return names[i + 1]


# ----------------------------------------------------------------------------- discriminator


class EqConv2d(nn.Module):
    """Conv with equalized learning rate (weights N(0,1), scaled at run time)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, padding: int = 0, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.scale = gain / math.sqrt(in_ch * kernel_size * kernel_size)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class DBlock(nn.Module):
    """conv3×3 → lrelu → conv3×3 → lrelu → avgpool ×½."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = EqConv2d(in_ch, in_ch, 3, padding=1)
        self.conv2 = EqConv2d(in_ch, out_ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.leaky_relu(self.conv2(x), 0.2)
        return F.avg_pool2d(x, 2)


class Discriminator(nn.Module):
    """Mirror of the generator with one fromRGB per resolution, so it can train progressively.

    forward(img, alpha) accepts images at any level between 8 px and the full resolution; alpha in
    [0, 1] fades in the newest (highest-resolution) block as in Progressive GAN.
    """

    def __init__(self, resolution: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.resolution = resolution
        self.widths = tuple(widths)
        self.from_rgb = nn.ModuleDict(
            {str(4 * 2**i): EqConv2d(3, w, 1) for i, w in enumerate(self.widths)}
        )
        # blocks[str(r)] maps r → r/2, for r = 8 … resolution
        self.blocks = nn.ModuleDict(
            {str(4 * 2**i): DBlock(self.widths[i], self.widths[i - 1]) for i in range(1, len(self.widths))}
        )
        w0 = self.widths[0]
        self.final_conv = EqConv2d(w0 + 1, w0, 3, padding=1)
        self.final_dense = EqConv2d(w0, w0, 4)
        self.final_out = EqConv2d(w0, 1, 1, gain=1.0)

    @staticmethod
    def _stddev(x: torch.Tensor, group: int = 4) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(group, n)
        while n % g:
            g -= 1
        y = x.view(g, -1, c, h, w)
        y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # (N/g,)
        y = y.view(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def forward(self, img: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        r = img.shape[-1]
        x = F.leaky_relu(self.from_rgb[str(r)](img), 0.2)
        if r > 4:
            x = self.blocks[str(r)](x)
            if alpha < 1.0:
                skip = F.leaky_relu(self.from_rgb[str(r // 2)](F.avg_pool2d(img, 2)), 0.2)
                x = torch.lerp(skip, x, alpha)
            r //= 2
            while r > 4:
                x = self.blocks[str(r)](x)
                r //= 2
        x = F.leaky_relu(self.final_conv(self._stddev(x)), 0.2)
        x = F.leaky_relu(self.final_dense(x), 0.2)
        return self.final_out(x).flatten(1)  # (N, 1)
