import base64
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganpaint.paint.concepts import Concept, ConceptTable
from ganpaint.paint.edit import (Stroke, StrokeError, apply_edit, compose, coverage_alpha, over, stroke_edit,
                           stroke_mask)


def _table(channels: int = 8) -> ConceptTable:
    q99 = [float(10 + u) for u in range(channels)]
    concepts = {
        "tree": Concept("tree", [3, 1, 6, 0], [13.0, 11.0, 16.0, 10.0], ranking="ace"),
        "door": Concept("door", [2, 5], [12.0, 15.0]),
    }
    return ConceptTable("layer4", channels, concepts, ["tree", "door"], q99)


def _png_data_url(arr: np.ndarray, mode: str = "L") -> str:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _cells(mask: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(r), int(c)) for r, c in mask.nonzero()}


def test_point_stroke_covers_mostly_its_cell():
    # x=0.30 → column 2 (0.25–0.375), y=0.70 → row 5 (0.625–0.75); radius 0.06 pokes 0.01 into
    # column 1 and row 6
    s = Stroke.from_dict({"concept": "tree", "points": [[0.30, 0.70]], "radius": 0.06})
    cov = stroke_mask(s, 8)
    assert _cells(cov) == {(5, 2), (5, 1), (6, 2)}
    assert max(cov[5, 1], cov[6, 2]) < 0.1 < 0.5 < cov[5, 2] < 1
    # the covered area is the disc's: π·0.06² of the image, in units of one cell (1/64 of it)
    assert cov.sum().item() == pytest.approx(math.pi * 0.06**2 * 64, rel=0.05)


def test_zero_radius_point_still_paints_its_cell():
    s = Stroke.from_dict({"concept": "tree", "points": [[0.99, 0.01]], "radius": 0.0})
    assert _cells(stroke_mask(s, 8)) == {(0, 7)}


def test_line_stroke_covers_the_row_it_crosses():
    s = Stroke.from_dict({"concept": "tree", "points": [[0.1, 0.45], [0.9, 0.45]], "radius": 0.01})
    assert _cells(stroke_mask(s, 8)) == {(3, c) for c in range(8)}


def test_wide_radius_reaches_neighbouring_cells():
    # the centre of cell (4, 4) is 0.5625; radius 0.1 reaches fine cells in rows/cols 3…5 (not 2 or 6)
    s = Stroke.from_dict({"concept": "tree", "points": [[0.5625, 0.5625]], "radius": 0.1})
    cells = _cells(stroke_mask(s, 8))
    assert {(4, 4), (3, 4), (5, 4), (4, 3), (4, 5)} <= cells
    assert all(2 < r < 6 and 2 < c < 6 for r, c in cells)


@pytest.mark.parametrize("w,h", [(100, 100), (200, 64), (32, 32), (800, 400)])
def test_png_mask_of_any_size_maps_to_the_same_cells(w, h):
    arr = np.full((h, w), 255, np.uint8)
    arr[h // 4 : 3 * h // 4, : w // 2] = 0  # dark = painted: left half, middle two quarters of the height
    s = Stroke.from_dict({"concept": "tree", "mask": _png_data_url(arr)})
    assert _cells(stroke_mask(s, 8)) == {(r, c) for r in range(2, 6) for c in range(4)}


def test_png_mask_alpha_channel_wins_over_darkness():
    rgba = np.zeros((16, 16, 4), np.uint8)  # black everywhere, but transparent …
    rgba[:8, 8:, 3] = 255  # … except the top-right quarter
    s = Stroke.from_dict({"concept": "tree", "mask": _png_data_url(rgba, "RGBA")})
    assert _cells(stroke_mask(s, 8)) == {(r, c) for r in range(4) for c in range(4, 8)}


def test_draw_uses_top_units_at_their_levels_by_strength():
    t = _table()
    s = Stroke.from_dict({"concept": "tree", "strength": 0.5, "points": [[0.30, 0.70]], "radius": 0.0})
    alpha, value = stroke_edit(s, t, channels=8, size=8)
    assert alpha.shape == value.shape == (8, 8, 8)
    on = {int(u) for u in alpha.sum((1, 2)).nonzero()}
    assert on == {3, 1}  # strength 0.5 of 4 ranked units → the best 2
    assert value[3, 5, 2] == 13.0 and value[1, 5, 2] == 11.0
    # a zero-radius dab covers one fine cell of the 4×4 in its layer cell
    a = coverage_alpha(torch.tensor(1 / 16)).item()
    assert alpha[:, 5, 2].sum() == pytest.approx(2 * a) and alpha.sum() == pytest.approx(2 * a)


def test_custom_units_use_q99_levels():
    t = _table()
    s = Stroke.from_dict({"units": [7, 4], "points": [[0.30, 0.70]], "radius": 0.0})
    alpha, value = stroke_edit(s, t, channels=8, size=8)
    assert value[7, 5, 2] == 17.0 and value[4, 5, 2] == 14.0


def test_unknown_unit_and_concept_are_readable_errors():
    t = _table()
    with pytest.raises(StrokeError, match="unit 9 does not exist"):
        stroke_edit(Stroke.from_dict({"units": [9], "points": [[0.5, 0.5]]}), t, 8, 8)
    with pytest.raises(StrokeError, match="unknown concept 'dome'"):
        stroke_edit(Stroke.from_dict({"concept": "dome", "points": [[0.5, 0.5]]}), t, 8, 8)


def test_remove_zeroes_exactly_the_selected_units_inside_the_mask():
    t = _table()
    gen = torch.Generator().manual_seed(0)
    h = torch.rand(2, 8, 8, 8, generator=gen) + 0.5  # strictly positive everywhere
    mask = np.zeros((8, 8), bool)
    mask[1:3, 4:7] = True
    s = Stroke(mode="remove", concept="door", mask=mask)
    alpha, value = compose([s], t, channels=8, size=8)
    out = apply_edit(h, alpha, value)
    m = torch.from_numpy(mask)
    for u in range(8):
        if u in (2, 5):
            assert (out[:, u][:, m] == 0).all()
            assert torch.equal(out[:, u][:, ~m], h[:, u][:, ~m])
        else:
            assert torch.equal(out[:, u], h[:, u])


def test_later_stroke_wins_where_strokes_overlap():
    t = _table()
    a = np.zeros((8, 8), bool)
    a[:, :5] = True  # columns 0…4
    b = np.zeros((8, 8), bool)
    b[:, 3:] = True  # columns 3…7: overlap in columns 3 and 4
    draw = Stroke(mode="draw", units=(2, 5), mask=a)
    remove = Stroke(mode="remove", units=(5, 6), mask=b)
    alpha, value = compose([draw, remove], t, channels=8, size=8)
    h = torch.ones(1, 8, 8, 8)
    out = apply_edit(h, alpha, value)[0]
    assert (out[5, :, 3:5] == 0).all()  # removed last: wins in the overlap
    assert (out[5, :, :3] == 15.0).all() and (out[5, :, 5:] == 0).all()
    assert (out[2, :, :5] == 12.0).all() and (out[2, :, 5:] == 1).all()
    assert (out[6, :, 3:] == 0).all() and (out[6, :, :3] == 1).all()
    # the other order: the draw wins in the overlap
    alpha, value = compose([remove, draw], t, channels=8, size=8)
    out = apply_edit(h, alpha, value)[0]
    assert (out[5, :, 3:5] == 15.0).all()


def test_over_is_alpha_compositing():
    acc = (torch.tensor([0.5]), torch.tensor([4.0]))
    new = (torch.tensor([0.5]), torch.tensor([8.0]))
    a, v = over(acc, new)
    # a' = 1 − 0.5·0.5 = 0.75; v' = (4·0.5·0.5 + 8·0.5) / 0.75 = 6.666…
    assert a.item() == pytest.approx(0.75)
    assert v.item() == pytest.approx((4 * 0.25 + 8 * 0.5) / 0.75)
    # applying the composite equals applying the two edits one after the other
    x = torch.tensor([1.0])
    once = apply_edit(x, a, v)
    twice = apply_edit(apply_edit(x, *acc), *new)
    assert once.item() == pytest.approx(twice.item())


def test_remove_uses_the_ablation_ranked_units_when_the_table_has_them():
    t = _table()
    t.concepts["door"].remove_units = [7, 4, 2]
    t.concepts["door"].remove_scores = [0.9, 0.5, 0.1]
    mask = np.zeros((8, 8), bool)
    mask[0:2, 0:2] = True
    alpha, value = stroke_edit(Stroke(mode="remove", concept="door", mask=mask), t, channels=8, size=8)
    assert [u for u in range(8) if alpha[u].any()] == [2, 4, 7]
    assert not value.any()
    alpha, _ = stroke_edit(Stroke(mode="remove", concept="door", mask=mask, strength=0.5), t, channels=8, size=8)
    assert [u for u in range(8) if alpha[u].any()] == [4, 7]  # the best-ranked half (round(1.5) = 2)
    alpha, value = stroke_edit(Stroke(mode="draw", concept="door", mask=mask), t, channels=8, size=8)
    assert [u for u in range(8) if alpha[u].any()] == [2, 5]  # drawing keeps the draw ranking
    again = ConceptTable.from_dict(t.to_dict())
    assert again.concepts["door"].remove_units == [7, 4, 2]
    assert "remove_units" not in again.to_dict()["concepts"]["tree"]


def test_learned_values_replace_levels_times_scale_and_survive_the_json():
    t = _table()
    door = t.concepts["door"]
    door.value_scale = 3.0
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:4] = True
    _, value = stroke_edit(Stroke(concept="door", mask=mask), t, channels=8, size=8)
    assert [value[u, 2, 2].item() for u in door.units] == pytest.approx([v * 3.0 for v in door.levels])
    door.values = [11.0 + i for i in range(len(door.units))]
    _, value = stroke_edit(Stroke(concept="door", mask=mask), t, channels=8, size=8)
    assert [value[u, 2, 2].item() for u in door.units] == pytest.approx(door.values)
    assert not value[:, 0, 0].any()  # still only inside the stroke
    again = ConceptTable.from_dict(t.to_dict())
    assert again.concepts["door"].values == door.values and again.brush("door")[1] == door.values
    assert "values" not in again.to_dict()["concepts"]["tree"]
    bad = t.to_dict()
    bad["concepts"]["door"]["values"] = [1.0]
    with pytest.raises(ValueError, match="values"):
        ConceptTable.from_dict(bad)


# ----------------------------------------------------------------------------- soft alpha
def _dab(radius: float, x: float = 0.55, y: float = 0.45) -> Stroke:
    return Stroke.from_dict({"concept": "door", "points": [[x, y]], "radius": radius})


def test_soft_alpha_grows_with_the_area_the_stroke_covers():
    t = _table()
    radii = [0.0, 0.01, 0.02, 0.04, 0.06, 0.1, 0.15]
    sums, peaks = [], []
    for r in radii:
        alpha, _ = stroke_edit(_dab(r), t, channels=8, size=8)
        cov = stroke_mask(_dab(r), 8)
        assert torch.equal(alpha[2], coverage_alpha(cov))  # each cell's alpha follows its coverage
        sums.append(cov.sum().item())
        peaks.append(cov.max().item())
        assert 0 < alpha[2].max() <= 1
    # a dab never covers less than its own fine cell (1/16 of a layer cell), so radius 0 and 0.01 (a
    # disc smaller than that fine cell) edit the same; from there on the edit grows with the radius
    assert sums[0] == sums[1] == peaks[0] == 1 / 16
    assert all(a < b for a, b in zip(sums[1:], sums[2:])), sums
    assert all(a <= b for a, b in zip(peaks, peaks[1:])), peaks
    assert peaks[-1] == 1.0  # radius 0.15 covers a whole cell
    # above the smallest radii the total coverage tracks the disc's area (in cells; the one-fine-cell
    # anti-aliasing ramp overestimates a little at small radii)
    for r, total in zip(radii[3:], sums[3:]):
        assert total == pytest.approx(math.pi * r * r * 64, rel=0.1), r


def test_thin_line_edits_its_cells_by_the_share_it_covers():
    s = Stroke.from_dict({"concept": "tree", "points": [[0.0, 0.4375], [1.0, 0.4375]], "radius": 0.02})
    cov = stroke_mask(s, 8)  # a band 0.04 high through the middle of row 3 (0.375–0.5): 0.04 / 0.125 of each cell
    assert _cells(cov) == {(3, c) for c in range(8)}
    # (the end cells also count each end point's own fine cell in full)
    assert cov[3, 1:7].tolist() == pytest.approx([0.32] * 6, abs=0.01)
    assert 0.32 < cov[3, 0] == cov[3, 7] < 0.36


def test_cell_aligned_masks_edit_exactly_as_a_hard_mask():
    t = _table()
    mask = np.zeros((8, 8), bool)
    mask[2:5, 1:3] = True
    alpha, value = stroke_edit(Stroke(concept="door", mask=mask), t, channels=8, size=8)
    m = torch.from_numpy(mask).float()
    for u, level in zip([2, 5], [12.0, 15.0]):
        assert torch.equal(alpha[u], m) and torch.equal(value[u], level * m)
    big = np.zeros((64, 64), bool)  # the same cells, at a finer resolution
    big[16:40, 8:24] = True
    assert torch.equal(stroke_edit(Stroke(concept="door", mask=big), t, channels=8, size=8)[0], alpha)


def test_partly_covered_mask_cell_gets_its_share_and_the_full_value():
    t = _table()
    mask = np.zeros((32, 32), bool)  # the fine grid: the left half of cell (0, 0), all of cell (0, 1)
    mask[0:4, 0:2] = True
    mask[0:4, 4:8] = True
    alpha, value = stroke_edit(Stroke(concept="door", mask=mask), t, channels=8, size=8)
    half = coverage_alpha(torch.tensor(0.5)).item()
    assert alpha[2, 0, 0] == half and alpha[2, 0, 1] == 1.0 and alpha[2].sum() == pytest.approx(1 + half)
    assert 0.5 <= half < 1.0  # alpha rises with coverage, at least linearly
    assert value[2, 0, 0] == 12.0 and value[2, 0, 1] == 12.0  # un-premultiplied: the full level
    h = torch.zeros(1, 8, 8, 8)
    out = apply_edit(h, alpha, value)[0]
    assert out[2, 0, 0] == pytest.approx(12.0 * half) and out[2, 0, 1] == 12.0 and out[2, 0, 2] == 0.0


def test_coverage_alpha_curve_keeps_its_ends():
    cov = torch.tensor([0.0, 0.25, 1.0])
    assert torch.equal(coverage_alpha(cov, 1.0), cov)
    assert coverage_alpha(cov, 0.5).tolist() == [0.0, 0.5, 1.0]


SHIPPED = Path(__file__).parent.parent / "models" / "scenes"


@pytest.mark.slow
def test_small_dab_changes_fewer_pixels_than_a_large_one_on_the_shipped_model():
    if not (SHIPPED / "concepts.json").exists():
        pytest.skip("models/scenes is not trained yet")
    from ganpaint.paint.model import PaintModel

    model = PaintModel.load(SHIPPED)
    h = model.features(torch.cat([model.z_for_seed(s) for s in (104, 425, 816)]))
    base = model.render(h)
    # dabs at layer-cell centres: both radii stay inside one cell, which a hard cell mask edits alike
    spots = [(2.5 / 8, 5.5 / 8), (5.5 / 8, 6.5 / 8), (4.5 / 8, 3.5 / 8)]
    changed = {}
    for r in (0.02, 0.06):
        strokes = [Stroke.from_dict({"concept": c, "points": [list(p)], "radius": r}) for p in spots
                   for c in ("tree", "cloud")]
        after = torch.cat([model.paint(h, [s]) for s in strokes])  # as the app shows it: within the reach
        diff = (after - base.repeat(len(strokes), 1, 1, 1)).abs().amax(1) * 127.5  # in 8-bit levels
        changed[r] = (diff > 32).float().mean((1, 2))  # per trial: share of pixels changed by more than 32/255
    assert (changed[0.02] <= changed[0.06]).all()
    assert changed[0.02].mean() < 0.6 * changed[0.06].mean()
    assert changed[0.06].mean() > 0.01  # the large dab does edit the picture


def test_a_removal_switches_its_units_off_in_every_cell_it_touches():
    """A draw's alpha follows the stroke's coverage; a removal's is whole in each touched cell, or the
    generator draws the concept back from the part left on (the picture changes only within the reach)."""
    t = _table()
    dab = {"concept": "door", "points": [[0.51, 0.52]], "radius": 0.04}  # over a cell corner
    draw, _ = stroke_edit(Stroke.from_dict(dab), t, channels=8, size=8)
    remove, value = stroke_edit(Stroke.from_dict({**dab, "mode": "remove"}), t, channels=8, size=8)
    touched = draw[2] > 0
    assert 1 < int(touched.sum()) <= 4 and float(draw[2][touched].min()) < 1  # partly covered cells
    assert torch.equal(remove[2], touched.float()) and torch.equal(remove[5], touched.float())
    assert not value.any()
    half, _ = stroke_edit(Stroke.from_dict({**dab, "mode": "remove", "strength": 0.5}), t, channels=8, size=8)
    assert set(half[half > 0].unique().tolist()) <= {1.0}  # strength picks units, never a partial switch-off
