"""Fast edit frames: re-render only the part of the image that an edit can reach.

    r = RegionRenderer(fold(model.generator), start="layer5")   # or the plain generator
    img = r.render(h)            # first frame: full render from the edited layer4 (N, C, 8, 8)
    img = r.render(h2)           # next frames: only the region that depends on the changed cells
    r.last_box                   # (y0, y1, x0, x1) in output pixels that were recomputed, or None

    dtype, err = choose_dtype(G, h, device="cuda")   # float16 where it stays within 1/255 of float32

Every block after the edit layer is local: PixelNorm mixes channels of one pixel, nearest
upsampling copies, a 3×3 conv reads one pixel of neighbours. So a change in some layer4 cells only
reaches a predictable window of each later layer. The renderer keeps every layer's activations of
the previous frame and, per layer, recomputes just that window from the previous layer's (already
updated) activations, with the conv's zero padding reproduced at the true image border only. A
stroke of the default radius changes 1–4 of the 64 layer4 cells, so most of a 256 px frame is
reused. Memory: all activations of one frame (≈32 MB for a 256 px official model at batch 1).
"""
from __future__ import annotations

import torch

from .networks import Box, Generator, block_reach

__all__ = ["RegionRenderer", "choose_dtype", "half_precision_error", "encoded_error"]


def _changed_box(new: torch.Tensor, old: torch.Tensor) -> Box | None:
    """Bounding box of the cells where any channel of any batch item differs."""
    diff = (new != old).any(dim=0).any(dim=0)  # (H, W)
    if not bool(diff.any()):
        return None
    rows = torch.nonzero(diff.any(dim=1)).flatten()
    cols = torch.nonzero(diff.any(dim=0)).flatten()
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


class RegionRenderer:
    """Renders `generator` from `start` on, recomputing only what changed since the previous frame."""

    def __init__(self, generator: Generator, start: str = "layer5") -> None:
        names = generator.layer_names
        first = names.index(start)
        self.blocks = [getattr(generator, n) for n in names[first:]]
        for b in self.blocks:
            if not callable(getattr(b, "window", None)):
                raise TypeError(f"cannot render {type(b).__name__} by region")
        cfg = generator.config
        self.sizes = [cfg.layer_resolution(n) for n in names[first:]]
        self._acts: list[torch.Tensor] | None = None  # [input of block 0, output of block 0, …]
        self.last_box: Box | None = None

    def reset(self) -> None:
        """Forget the previous frame (the next render is a full one)."""
        self._acts = None

    @torch.inference_mode()
    def render(self, h: torch.Tensor) -> torch.Tensor:
        """Image (N, 3, R, R) for edited activations `h` (N, C, h, w); only changed regions are recomputed."""
        acts = self._acts
        if acts is None or acts[0].shape != h.shape or acts[0].dtype != h.dtype or acts[0].device != h.device:
            acts = [h.clone()]
            for b in self.blocks:
                acts.append(b(acts[-1]))
            self._acts = acts
            self.last_box = (0, self.sizes[-1], 0, self.sizes[-1])
            return acts[-1].clone()
        box = _changed_box(h, acts[0])
        if box is None:
            self.last_box = None
            return acts[-1].clone()
        acts[0].copy_(h)
        for i, block in enumerate(self.blocks):
            box = block_reach(box, block.up, block.pad, self.sizes[i])
            acts[i + 1][:, :, box[0]:box[1], box[2]:box[3]] = block.window(acts[i], box, self.sizes[i])
        self.last_box = box
        return acts[-1].clone()


def encoded_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference between two images in [-1, 1] after encoding to [0, 1] (1/255 = one level)."""
    return float((((a.float() + 1) / 2).clamp(0, 1) - ((b.float() + 1) / 2).clamp(0, 1)).abs().max())


@torch.inference_mode()
def half_precision_error(generator: Generator, h: torch.Tensor, *, start: str = "layer5", device="cuda") -> float:
    """Max encoded difference between float16 and float32 renders of `h` on `device` (inf on overflow)."""
    import copy

    device = torch.device(device)
    G32 = copy.deepcopy(generator).to(device).float()
    G16 = copy.deepcopy(generator).to(device).half()
    h = h.to(device)
    ref = G32.render_from(h.float(), start=start)
    out = G16.render_from(h.half(), start=start)
    if not torch.isfinite(out).all():  # PixelNorm squares activations: large edits can overflow float16
        return float("inf")
    return encoded_error(out, ref)


def choose_dtype(generator: Generator, h: torch.Tensor, *, start: str = "layer5", device="cuda",
                 tol: float = 1 / 255) -> tuple[torch.dtype, float]:
    """float16 on CUDA when rendering `h` (sample edit-layer activations) stays within `tol` of float32.

    CPU half convs are slower than float32, so on CPU this is always float32. Returns (dtype, error).
    The caller then renders with `copy.deepcopy(generator).half()` and `h.half()`."""
    if torch.device(device).type != "cuda":
        return torch.float32, 0.0
    err = half_precision_error(generator, h, start=start, device=device)
    return (torch.float16 if err <= tol else torch.float32), err
