"""Hand-made stand-ins whose right answers are known: a generator whose 'image' is three of its
layer4 units, and a segmenter that calls a pixel 'tree' when the image's red channel is positive.
So unit 0 *is* the tree unit: dissection must find it, its brush must draw and remove trees."""
from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from ganpaint.paint.concepts import Concept, ConceptTable
from ganpaint.paint.model import PaintModel


class UnitImageGenerator(nn.Module):
    """layer4 = z viewed as (C, 8, 8) (unit 0 shifted down so trees are rare); image = units 0…2, ×2 up."""

    def __init__(self, channels: int = 8, size: int = 8) -> None:
        super().__init__()
        self.c, self.s = channels, size
        self.dummy = nn.Parameter(torch.zeros(1), requires_grad=False)  # gives the module a device and a hash
        self.config = SimpleNamespace(z_dim=channels * size * size, resolution=2 * size,
                                      layer_channels=lambda name: channels, layer_resolution=lambda name: size)

    def layer_after(self, name: str) -> str:
        return "output"

    def features(self, z: torch.Tensor, upto: str = "layer4") -> torch.Tensor:
        h = z.reshape(-1, self.c, self.s, self.s).clone()
        h[:, 0] -= 1.5
        return h

    def render_from(self, x: torch.Tensor, start: str = "output") -> torch.Tensor:
        return F.interpolate(x[:, :3], scale_factor=2, mode="bilinear", align_corners=False).tanh()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.render_from(self.features(z))


class RedTreeSegmenter:
    """'tree' where the red channel is positive, else 'sky' (differentiable logits too)."""

    labels = ["sky", "tree"]
    id = "red-tree-test"

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        r = images[:, 0]
        return torch.stack([-10 * r, 10 * r], 1)

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits(images).argmax(1)


class RedIsUnreal(nn.Module):
    """A 'discriminator' whose realism score falls as the image gets redder (as drawn trees make it)."""

    resolution = 16

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.id = "red-is-unreal"

    def forward(self, x):
        return -x[:, 0].mean((1, 2))[:, None] * 10


def unit_image_model(tree_units=(0,), level: float = 3.0) -> PaintModel:
    G = UnitImageGenerator()
    table = ConceptTable("layer4", 8, {"tree": Concept("tree", list(tree_units), [level] * len(tree_units))},
                         ["tree"], [level] * 8, {"interpretable": {"units": 1, "fraction": 0.125, "threshold": 0.05,
                                                                  "q99_threshold_units": 1}})
    return PaintModel("units", G, table, "layer4", "unit-image test model")
