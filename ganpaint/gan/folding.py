"""The fast inference route of a generator, as an explicit conversion: `fold(G)`.

    R = fold(model.generator)                 # inference only: buffers, no parameters, no gradients
    img = R.render_from(h, start="layer5")    # the same function as G.render_from, other float rounding
    R2 = fold(adapted_view, share=R)          # a photo's generator: blocks it shares with G are reused

Each block's WScale factor and bias are folded into its conv, and "nearest ×2 then 3×3 conv" runs as
one 3×3 conv at the low resolution whose 4·out channels are the four output phases (each phase reads
a 2×2 neighbourhood of the low-resolution input), put in place by a pixel shuffle: no upsampled
tensor is made. The result differs from the plain network by float rounding only (≈3e-5);
`benchmarks/render.py` measures both routes.

On a CPU a batch's high-resolution activations overflow the cache, so a folded generator runs the
layers below `split_resolution` batched and the rest `chunk` images at a time
(`benchmarks/concurrency.py`). A folded generator is a snapshot: fold again after changing G.
"""
from __future__ import annotations

import copy
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from .networks import Box, GBlock, Generator, PixelNorm, ToRGB

__all__ = ["fold", "FoldedBlock", "FoldedGenerator", "CPU_CHUNK", "CPU_SPLIT_RESOLUTION"]

CPU_CHUNK = 2  # images per pass through the high-resolution layers on a CPU
CPU_SPLIT_RESOLUTION = 64  # layers at or above this resolution run in chunks on a CPU


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


class FoldedBlock(nn.Module):
    """A GBlock or ToRGB with WScale folded into its conv (and phase kernels for upsampling blocks)."""

    def __init__(self, block: GBlock | ToRGB) -> None:
        super().__init__()
        self.norm = PixelNorm()
        self.up, self.pad = block.up, block.pad
        self.activation = isinstance(block, GBlock)
        self.source = weakref.ref(block)  # which block this is a snapshot of (fold(…, share=…) reuses it)
        with torch.no_grad():
            weight = block.conv.weight.detach() * block.wscale.scale
            bias = block.wscale.b.detach()
            if self.up > 1:
                weight, bias = _phase_kernels(weight), bias.repeat_interleave(4)
            self.register_buffer("weight", weight.contiguous())
            self.register_buffer("bias", bias.clone())

    def _conv(self, x: torch.Tensor, padding: int) -> torch.Tensor:
        x = F.conv2d(x, self.weight, self.bias, padding=padding)
        if self.up > 1:
            x = F.pixel_shuffle(x, 2)
        return F.leaky_relu_(x, 0.2) if self.activation else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv(self.norm(x), self.pad)

    def window(self, x: torch.Tensor, box: Box, out_size: int) -> torch.Tensor:
        """The output inside `box` (output pixels), from the full input `x`, reading only the rows it needs:
        the folded conv runs at the input resolution on the window plus its kernel's margin, zeros only
        beyond the true image border."""
        y0, y1, x0, x1 = box
        u, p = self.up, self.pad
        r0, r1, c0, c1 = y0 // u, -(-y1 // u), x0 // u, -(-x1 // u)  # conv outputs at the input resolution
        height, width = x.shape[-2:]
        iy0, iy1, ix0, ix1 = r0 - p, r1 + p, c0 - p, c1 + p
        t = self.norm(x[:, :, max(iy0, 0):min(iy1, height), max(ix0, 0):min(ix1, width)])
        t = F.pad(t, (max(-ix0, 0), max(ix1 - width, 0), max(-iy0, 0), max(iy1 - height, 0)))
        t = self._conv(t, 0)
        return t[:, :, y0 - u * r0: y1 - u * r0, x0 - u * c0: x1 - u * c0]


def _fold_module(module: nn.Module, shared: dict[int, FoldedBlock]) -> nn.Module:
    """GBlock/ToRGB → FoldedBlock anywhere inside `module` (e.g. a photo's offset layer wraps one);
    containers are copied with their children replaced, everything else is kept as it is."""
    if isinstance(module, (GBlock, ToRGB)):
        return shared.get(id(module)) or FoldedBlock(module)
    children = dict(module.named_children())
    if not children:
        return module
    folded = {name: _fold_module(child, shared) for name, child in children.items()}
    if all(folded[n] is children[n] for n in children):
        return module
    out = copy.copy(module)  # new __dict__ with its own module table, the original stays as it is
    out._modules = dict(module._modules)
    out._modules.update(folded)
    return out


class FoldedGenerator(Generator):
    """A generator whose blocks are folded (see the module docstring); inference only."""

    def __init__(self, G: Generator, *, share: "FoldedGenerator | None" = None, chunk: int | None = CPU_CHUNK,
                 split_resolution: int = CPU_SPLIT_RESOLUTION) -> None:
        shared: dict[int, FoldedBlock] = {}
        if share is not None:
            for block in share.modules():
                if isinstance(block, FoldedBlock) and block.source() is not None:
                    shared[id(block.source())] = block
        super().__init__(G.config, blocks={name: _fold_module(m, shared) for name, m in G.named_children()})
        self.chunk, self.split_resolution = chunk, split_resolution
        self.requires_grad_(False)

    def _split_layer(self, start: str, stop: str | None) -> str | None:
        """The first layer after `start` (not the output) that runs in chunks, if any."""
        names = self.layer_names
        last = min(self._check_layer(stop) if stop is not None else len(names), len(names) - 1)
        for name in names[self._check_layer(start) + 1: last]:
            if self.config.layer_resolution(name) >= self.split_resolution:
                return name
        return None

    def render_from(self, x: torch.Tensor, start: str = "layer5", stop: str | None = None) -> torch.Tensor:
        chunk = self.chunk
        split = self._split_layer(start, stop) if chunk and x.device.type == "cpu" and len(x) > chunk else None
        run = super().render_from
        if split is None:
            return run(x, start, stop)
        x = run(x, start, split)
        return torch.cat([run(x[i: i + chunk], split, stop) for i in range(0, len(x), chunk)])


def fold(G: Generator, *, share: FoldedGenerator | None = None, chunk: int | None = CPU_CHUNK) -> Generator:
    """G's fast inference route (module docstring). `share`: a folded generator whose blocks are reused
    where G has the very same block (a photo's generator shares all but a few layers with the model's).
    `chunk=None` renders batches whole. Anything but a Generator has nothing to fold and comes back as is."""
    if isinstance(G, FoldedGenerator) or not isinstance(G, Generator):
        return G
    return FoldedGenerator(G, share=share, chunk=chunk)
