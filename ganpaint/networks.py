"""Progressive GAN generator in the exact layout GANPaint used, plus a matching discriminator.

    G = Generator(GeneratorConfig(resolution=64, widths=(128, 128, 64, 32, 16)))
    img = G(torch.randn(4, 512))                  # (4, 3, 64, 64) in [-1, 1]
    h4 = G.features(z, upto="layer4")             # (4, 128, 8, 8), the painting layer
    img = G.render_from(h4, start="layer5")       # same image, rendered from the cache

Modules are `layer1 … layerN` then `output_{R}x{R}`; every block is
PixelNorm → (nearest ×2) → conv without bias → WScale (x·scale + b) → LeakyReLU(0.2),
so state_dict keys are `layerN.conv.weight`, `layerN.wscale.b` exactly as in the official checkpoints.

Inference on a CPU (no gradients, float32) takes a faster, equivalent route (`FAST_CPU_INFERENCE`):
the WScale factor and bias are folded into the conv, and "nearest ×2 then 3×3 conv" runs as one 3×3
conv at the low resolution whose 4·out channels are the four output phases (each phase reads a 2×2
neighbourhood of the low-resolution input), put in place by a pixel shuffle. Same function, other
rounding (≈3e-5); no upsampled tensor is made. Measured (`benchmarks/render.py`, one thread, layer5 →
output): the 128 px embedded model 3.7 → 3.4 ms per image alone, 3.8 → 2.3 ms per image in a batch of 4;
the official 256 px shape 115 → 108 ms alone. Batches gain most: the low-resolution convs are small.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

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


FAST_CPU_INFERENCE = True  # the folded route of the module docstring for no-grad float32 CPU calls


def _fast(x: torch.Tensor) -> bool:
    return FAST_CPU_INFERENCE and not torch.is_grad_enabled() and x.device.type == "cpu" and x.dtype == torch.float32


def _phase_kernels(w: torch.Tensor) -> torch.Tensor:
    """3×3 kernels (O, I, 3, 3) applied after nearest ×2 upsampling → (4·O, I, 3, 3) kernels applied before
    it: output channel 4·o + 2·a + c is output phase (row a, column c) of channel o (pixel_shuffle order).
    Phase a = 0 reads input rows i−1 (kernel row 0) and i (rows 1+2); a = 1 reads i (rows 0+1) and i+1 (row 2)."""
    out, inp = w.shape[:2]
    k = w.new_zeros(out, 4, inp, 3, 3)
    merge = {0: ((0,), (1, 2)), 1: ((0, 1), (2,))}  # phase → kernel taps summed into its two input rows/cols
    for a in (0, 1):
        for c in (0, 1):
            for i, rows in enumerate(merge[a]):
                for j, cols in enumerate(merge[c]):
                    k[:, 2 * a + c, :, a + i, c + j] = w[:, :, list(rows)][:, :, :, list(cols)].sum((2, 3))
    return k.reshape(out * 4, inp, 3, 3)


class _Folded:
    """A block's conv weights with the WScale factor folded in (and phase kernels for upsampling blocks),
    recomputed whenever the parameters change (their version counters move on every in-place update).
    One tuple, swapped whole: render threads sharing a block never see half an update."""

    def __init__(self) -> None:
        self.state: tuple | None = None  # (key, weight, bias)

    def get(self, conv: nn.Conv2d, wscale: "WScale", upsample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        w, b = conv.weight, wscale.b
        if w.is_inference() or b.is_inference():  # made in inference mode: no version counter, no cache
            return self._fold(w, b, wscale.scale, upsample)
        key = (w.data_ptr(), w._version, b.data_ptr(), b._version, w.device, wscale.scale)
        state = self.state
        if state is None or state[0] != key:
            state = self.state = (key, *self._fold(w, b, wscale.scale, upsample))
        return state[1], state[2]

    @staticmethod
    def _fold(w: torch.Tensor, b: torch.Tensor, scale: float, upsample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            weight = w.detach() * scale
            weight = _phase_kernels(weight).contiguous() if upsample else weight.contiguous()
            bias = b.detach().repeat_interleave(4) if upsample else b.detach().clone()
        return weight, bias


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
        self._folded = _Folded()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if _fast(x):
            w, b = self._folded.get(self.conv, self.wscale, self.upsample)
            if self.upsample:
                return F.leaky_relu_(F.pixel_shuffle(F.conv2d(x, w, b, padding=1), 2), 0.2)
            return F.leaky_relu_(F.conv2d(x, w, b, padding=self.conv.padding), 0.2)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.leaky_relu(self.wscale(self.conv(x)), 0.2)


class ToRGB(nn.Module):
    """The output block: PixelNorm → 1×1 conv (no bias) → WScale with gain 1, no activation."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.norm = PixelNorm()
        self.conv = nn.Conv2d(in_ch, 3, 1, bias=False)
        self.wscale = WScale(in_ch, 3, 1, gain=1.0)
        nn.init.normal_(self.conv.weight)
        self._folded = _Folded()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if _fast(x):
            return F.conv2d(x, *self._folded.get(self.conv, self.wscale, False))
        return self.wscale(self.conv(x))


class Generator(nn.Module):
    """z (N, z_dim) or (N, z_dim, 1, 1) → image (N, 3, R, R), roughly in [-1, 1]."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig()
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
