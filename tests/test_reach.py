"""The reach: a rendered edit is shown only within its stroke grown by REACH_GROW, feathered over REACH_FEATHER."""
import numpy as np
import pytest
import torch
from fakes import unit_image_model
from geometry import distance_beyond

from ganpaint.paint.edit import Stroke, compose
from ganpaint.paint.footprint import REACH_FEATHER, REACH_GROW, reach_map

R = 64


def _wavy(n: int, radius: float) -> Stroke:
    t = np.linspace(0, 1, n)
    return Stroke(concept="tree", radius=radius,
                  points=tuple((0.1 + 0.8 * x, 0.5 + 0.3 * np.sin(6 * x)) for x in t))


@pytest.mark.parametrize("stroke", [_wavy(3, 0.05), _wavy(300, 0.02),
                                    Stroke(concept="tree", points=((0.5, 0.5),), radius=0.0)])
def test_reach_is_the_stroke_grown_then_feathered(stroke):
    n = 128
    w = reach_map([stroke], n).numpy()
    d = distance_beyond([stroke], (n, n), 0, 0, n)  # pixels beyond the stroke's own shape
    assert w.min() >= 0 and w.max() <= 1
    assert (w[d <= REACH_GROW * n - 1e-6] == 1).all()  # the stroke and its grown margin: all of the edit
    assert (w[d > (REACH_GROW + REACH_FEATHER) * n + 1e-6] == 0).all()  # beyond the feather: none of it
    ramp = (d > REACH_GROW * n + 0.05) & (d < (REACH_GROW + REACH_FEATHER) * n - 0.05)
    assert ramp.any() and ((w[ramp] > 0) & (w[ramp] < 1)).all()


def test_mask_strokes_reach_their_cells_and_the_margin():
    mask = np.zeros((8, 8), bool)
    mask[2:4, 3:5] = True  # two by two cells
    w = reach_map([Stroke(concept="tree", mask=mask)], R)
    assert (w[16:32, 24:40] == 1).all()
    grown = round(REACH_GROW * R)
    assert (w[16 - grown + 1 : 32 + grown - 1, 24 - grown + 1 : 40 + grown - 1] > 0).all()
    out = round((REACH_GROW + REACH_FEATHER) * R) + 2
    assert w[: 16 - out].sum() == 0 and w[32 + out :].sum() == 0 and w[:, : 24 - out].sum() == 0


def test_reach_of_several_strokes_is_their_union():
    a, b = _wavy(5, 0.03), Stroke(concept="tree", points=((0.2, 0.8),), radius=0.04)
    assert torch.equal(reach_map([a, b], R), torch.maximum(reach_map([a], R), reach_map([b], R)))


def test_painted_picture_keeps_every_pixel_beyond_the_reach():
    m = unit_image_model(tree_units=(0,))
    h = m.features(torch.randn(2, m.generator.config.z_dim, generator=torch.Generator().manual_seed(0)))
    stroke = Stroke(concept="tree", points=((0.4, 0.45), (0.5, 0.5)), radius=0.03)
    with torch.inference_mode():
        unedited = m.render(h)
        everywhere = m.render(h, *compose([stroke], m.table, m.channels, m.layer_size))
        shown = m.paint(h, [stroke])
    r = m.resolution
    reach = reach_map([stroke], r)
    beyond, inside = reach == 0, reach == 1
    changed_everywhere = (everywhere - unedited).abs().amax(1) > 1e-4
    changed = (shown - unedited).abs().amax(1) > 1e-4
    assert changed_everywhere[:, beyond].any()  # the generator's edit spreads past the stroke …
    assert torch.equal(shown[:, :, beyond], unedited[:, :, beyond])  # … the picture does not show it there
    assert torch.equal(shown[:, :, inside], everywhere[:, :, inside])  # and shows all of it within
    assert changed[:, inside].any()
