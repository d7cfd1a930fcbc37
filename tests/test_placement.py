import io

import numpy as np
import torch
from PIL import Image

from fakes import RedTreeSegmenter
from planted import context_model
from ganpaint.paint.placement import cell_insertions, heatmap_png, placement_map


def test_cell_insertions_switch_units_on_in_one_cell_each():
    a, v = cell_insertions(4, 3, [1, 3], [2.0, 5.0])
    assert a.shape == (9, 4, 3, 3)
    assert torch.equal(a.sum(dim=(2, 3))[:, [1, 3]], torch.ones(9, 2)) and a[:, [0, 2]].sum() == 0
    assert a[4, 1, 1, 1] == 1 and v[4, 3, 1, 1] == 5.0 and v[5, 3, 1, 2] == 5.0


def test_placement_finds_the_planted_context():
    m = context_model()
    z = m.z_for_seed(3)
    h = m.features(z)
    p = placement_map(m, RedTreeSegmenter(), h, "tree")
    ground = (h[0, 1] > 0).numpy()
    assert p.grid.shape == (8, 8) and ground.any() and (~ground).any()
    assert p.grid[ground].mean() > 0.9 and p.grid[~ground].max() == 0.0
    # the picture's own edits count: with the ground switched off everywhere, nothing can go anywhere
    alpha = torch.zeros(8, 8, 8)
    alpha[1] = 1.0
    assert placement_map(m, RedTreeSegmenter(), h, "tree", alpha=alpha, value=torch.zeros(8, 8, 8)).grid.max() == 0


def test_heatmap_is_an_rgba_overlay_at_the_requested_size():
    im = Image.open(io.BytesIO(heatmap_png(np.array([[0.0, 1.0], [0.5, 0.0]]), 8)))
    arr = np.asarray(im)
    assert im.mode == "RGBA" and arr.shape == (8, 8, 4)
    assert arr[0, 4, 3] > arr[0, 0, 3]  # more opaque where the concept can go
