"""Planted models for the dissection explorer: the right answers are built in.

- `context_model()`: unit 0 is the tree unit, but a tree appears only where unit 1 (the "ground") is
  on, so placement must find exactly the ground cells;
- `never_tree_model()`: unit 0 is pushed so far down that the model never draws a tree;
- `blue_artifact_score`: a stand-in discriminator that calls bright blue pixels unrealistic, so
  unit 2 (the image's blue channel) is the planted artifact unit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fakes import UnitImageGenerator, unit_image_model


class ContextTreeGenerator(UnitImageGenerator):
    def render_from(self, x: torch.Tensor, start: str = "output") -> torch.Tensor:
        ground = (x[:, 1:2] > 0).float()
        red = x[:, 0:1] * ground - 1.0 * (1 - ground)  # no tree where there is no ground
        rgb = torch.cat([red, x[:, 1:3]], 1)
        return F.interpolate(rgb, scale_factor=2, mode="nearest").tanh()


class NeverTreeGenerator(UnitImageGenerator):
    def features(self, z: torch.Tensor, upto: str = "layer4") -> torch.Tensor:
        h = super().features(z, upto)
        h[:, 0] = -100.0
        return h


def context_model():
    m = unit_image_model()
    m.generator = ContextTreeGenerator()
    return m


def never_tree_model():
    m = unit_image_model()
    m.generator = NeverTreeGenerator()
    return m


def blue_artifact_score(images: torch.Tensor) -> torch.Tensor:
    return -(images[:, 2] > 0.5).float().mean(dim=(1, 2))
