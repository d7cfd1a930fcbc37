"""Placement: where on the current picture can a concept go? ("a door goes on a wall, not in the sky")

    result = placement_map(model, segmenter, h, "door")      # h: (1, C, g, g) edit-layer activations
    result.grid        # (g, g): share of the cell's pixels the segmenter reads as a door after
                       #         inserting the door brush's units in that cell alone
    result.before      # (g, g): the same share without the insertion
    png = heatmap_png(result.grid, size=128)                  # RGBA overlay for the page

One batched render: the g × g insertions (one per edit-layer cell, on top of the picture's own
edits) go through the layers after the edit layer together, then through the segmenter together.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .edit import apply_edit

__all__ = ["Placement", "placement_map", "cell_insertions", "heatmap_png", "heatmap_data_url"]


@dataclass
class Placement:
    concept: str
    grid: np.ndarray  # (g, g) in [0, 1]
    before: np.ndarray  # (g, g) in [0, 1]
    units: list[int]

    def to_dict(self) -> dict:
        return {"concept": self.concept, "units": self.units,
                "grid": [[round(float(v), 4) for v in row] for row in self.grid],
                "before": [[round(float(v), 4) for v in row] for row in self.before]}


def cell_insertions(channels: int, size: int, units: list[int], levels: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha, value), each (size², C, size, size): insertion k switches the units on in cell k only."""
    n = size * size
    alpha = torch.zeros(n, channels, size, size)
    value = torch.zeros(n, channels, size, size)
    k = torch.arange(n)
    idx = torch.tensor(units, dtype=torch.long)
    lv = torch.tensor(levels, dtype=torch.float32)
    for u, v in zip(idx.tolist(), lv.tolist()):
        alpha[k, u, k // size, k % size] = 1.0
        value[k, u, k // size, k % size] = v
    return alpha, value


def _cell_shares(labels: torch.Tensor, k: int, size: int) -> torch.Tensor:
    """(N, H, W) labels → (N, size, size) share of class k in each cell's block of pixels."""
    hit = (labels == k).float()[:, None]
    return F.adaptive_avg_pool2d(hit, size)[:, 0]


@torch.inference_mode()
def placement_map(model, segmenter, h: torch.Tensor, concept: str, *, alpha: torch.Tensor | None = None,
                  value: torch.Tensor | None = None, strength: float = 1.0, generator=None) -> Placement:
    """h (1, C, g, g) with the picture's own edits (alpha, value) → where inserting `concept` draws it."""
    if concept not in segmenter.labels:
        raise KeyError(concept)
    units, levels = model.table.brush(concept, strength, "draw")
    g, C = model.layer_size, model.channels
    if alpha is not None:
        h = apply_edit(h, alpha.to(h.device), value.to(h.device))
    a, v = cell_insertions(C, g, units, levels)
    a = a * model.table.opacity(concept, strength, "draw")
    batch = apply_edit(h.expand(g * g, -1, -1, -1), a.to(h.device), v.to(h.device))  # (g², C, g, g)
    images = model.render(torch.cat([h, batch]), generator=generator)  # (1 + g², 3, R, R); a photo's own G
    k = list(segmenter.labels).index(concept)
    before = _cell_shares(segmenter.segment(images[:1]).cpu(), k, g)[0]
    own = _own_cell_shares(segmenter, images[1:], k, g)
    return Placement(concept, own.numpy(), before.numpy(), list(units))


def _own_cell_shares(segmenter, images: torch.Tensor, k: int, g: int, reach: int = 2) -> torch.Tensor:
    """(g, g): for insertion y·g + x, the share of class k in cell (y, x) of its own image.

    A U-Net segmenter at its native scale reads only a window of ±`reach` cells around each cell (an
    insertion changes little beyond that, and the window costs a fraction of the whole image); any
    other segmenter reads whole images."""
    n, _, R, _ = images.shape
    px = R // g
    net = getattr(segmenter, "net", None)
    levels = len(getattr(getattr(net, "config", None), "widths", ())) or 1
    windowed = net is not None and net.config.size == R and all(
        (c * px) % 2 ** (levels - 1) == 0 for c in range(reach + 1, 2 * reach + 2))
    out = torch.zeros(g, g)
    if not windowed:
        shares = _cell_shares(segmenter.segment(images).cpu(), k, g)
        idx = torch.arange(n)
        return shares[idx, idx // g, idx % g].reshape(g, g)
    groups: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}
    for y in range(g):
        for x in range(g):
            y0, y1, x0, x1 = max(0, y - reach), min(g, y + reach + 1), max(0, x - reach), min(g, x + reach + 1)
            groups.setdefault((y1 - y0, x1 - x0), []).append((y, x, y0, x0))
    dev = next(net.parameters()).device
    for (rows, cols), cells in groups.items():
        crops = torch.stack([images[y * g + x, :, y0 * px : (y0 + rows) * px, x0 * px : (x0 + cols) * px]
                             for y, x, y0, x0 in cells])
        labels = net(crops.to(dev, torch.float32)).argmax(1).cpu()  # (B, rows·px, cols·px)
        for lab, (y, x, y0, x0) in zip(labels, cells):
            cy, cx = (y - y0) * px, (x - x0) * px
            out[y, x] = (lab[cy : cy + px, cx : cx + px] == k).float().mean()
    return out


def heatmap_png(grid: np.ndarray, size: int) -> bytes:
    """RGBA overlay (size × size): transparent where the concept cannot go, warm and opaque where it can."""
    g = np.clip(np.asarray(grid, np.float32), 0, 1)
    r = (255 * np.clip(1.5 * g, 0, 1)).astype(np.uint8)
    gr = (255 * np.clip(1.5 * g - 0.5, 0, 1)).astype(np.uint8)
    b = (80 * (1 - g)).astype(np.uint8)
    a = (20 + 130 * g).astype(np.uint8)  # the picture stays readable under the map
    rgba = np.stack([r, gr, b, a], -1)
    im = Image.fromarray(rgba, "RGBA").resize((size, size), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def heatmap_data_url(grid: np.ndarray, size: int) -> str:
    return "data:image/png;base64," + base64.b64encode(heatmap_png(grid, size)).decode("ascii")
