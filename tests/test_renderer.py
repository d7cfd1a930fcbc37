"""Region rendering must give the full render's image, recomputing only the reachable window."""
from __future__ import annotations

import pytest
import torch

from ganpaint.paint.edit import Stroke, compose
from ganpaint.paint.model import PaintModel
from ganpaint.gan.renderer import RegionRenderer, choose_dtype, encoded_error, half_precision_error




@pytest.fixture(scope="module")
def model() -> PaintModel:
    return PaintModel.random(resolution=32, widths=(32, 32, 16, 8), z_dim=32, seed=3)


def edited(m: PaintModel, h: torch.Tensor, strokes: list[dict]) -> torch.Tensor:
    alpha, value = compose([Stroke.from_dict(s) for s in strokes], m.table, m.channels, m.layer_size)
    return h * (1 - alpha) + value * alpha


def full(m: PaintModel, h: torch.Tensor) -> torch.Tensor:
    return m.generator.render_from(h, start=m.next_layer)


@pytest.mark.parametrize("point", [[0.5, 0.5], [0.02, 0.97], [0.99, 0.01]])  # middle and both corners (padding)
def test_matches_full_render_and_leaves_the_rest(model, point):
    h = model.features(torch.randn(2, 32, generator=torch.Generator().manual_seed(0)))
    r = RegionRenderer(model.generator, start=model.next_layer)
    first = r.render(h)
    torch.testing.assert_close(first, full(model, h))

    h2 = edited(model, h, [{"concept": "tree", "points": [point], "radius": 0.05}])
    img = r.render(h2)
    torch.testing.assert_close(img, full(model, h2), atol=1e-5, rtol=1e-5)
    y0, y1, x0, x1 = r.last_box
    assert (y1 - y0) * (x1 - x0) < 0.6 * 32 * 32  # really a region, not the frame
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[y0:y1, x0:x1] = False
    assert torch.equal(img[..., outside], first[..., outside])  # reused, bit for bit
    assert (img - first)[..., y0:y1, x0:x1].abs().max() > 1e-3


def test_sequences_of_edits_stay_exact(model):
    gen = torch.Generator().manual_seed(1)
    h = model.features(torch.randn(1, 32, generator=gen))
    r = RegionRenderer(model.generator, start=model.next_layer)
    r.render(h)
    strokes = []
    for step in range(6):  # a growing drag, then an undo back to the start
        strokes = [{"units": [1, 2, 3, 4], "points": [[0.1 + 0.12 * step, 0.3], [0.2 + 0.12 * step, 0.6]]}]
        cur = edited(model, h, strokes)
        torch.testing.assert_close(r.render(cur), full(model, cur), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(r.render(h), full(model, h), atol=1e-5, rtol=1e-5)
    assert r.render(h.clone()) is not None and r.last_box is None  # nothing changed: nothing recomputed


def test_new_batch_shape_renders_in_full(model):
    r = RegionRenderer(model.generator, start=model.next_layer)
    r.render(model.features(torch.randn(1, 32)))
    h = model.features(torch.randn(3, 32))
    torch.testing.assert_close(r.render(h), full(model, h))
    assert r.last_box == (0, 32, 0, 32)


def test_half_precision_is_cuda_only_and_measured(model):
    h = model.features(torch.randn(2, 32))
    assert choose_dtype(model.generator, h, device="cpu") == (torch.float32, 0.0)
    assert encoded_error(torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 2 / 255)) == pytest.approx(1 / 255)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        err = half_precision_error(model.generator, h, device=device)
    except RuntimeError as e:  # a CPU build without float16 convs
        pytest.skip(f"no float16 conv on {device}: {e}")
    assert 0 < err < 0.05  # float16 differs from float32, but only slightly
