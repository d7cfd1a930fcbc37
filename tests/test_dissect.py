import numpy as np
import pytest
import torch
from fakes import RedTreeSegmenter, unit_image_model

from ganpaint.dissect.dissect import BRUSH_ORDER, DissectConfig, brush_order, dissect, segment_at
from ganpaint.paint.model import PaintModel
from ganpaint.segmenters.segmenter import NetSegmenter, UNet, UNetConfig
from ganpaint.world.world import CLASSES

torch.set_num_threads(1)
SMALL = dict(samples=60, batch=20, seg_size=16, ace_images=30, ace_steps=8, ace_batch=10, ace_lr=0.2, top=4,
             draw_rankings=((None, None, 1.0),), ace_restarts=1, level_steps=0)


class NoGradSegmenter:
    """A plug-in segmenter without gradients: ranking falls back to IoU."""

    labels, id = RedTreeSegmenter.labels, "no-grad"

    def segment(self, images):
        return RedTreeSegmenter().segment(images)


def test_finds_the_planted_tree_unit_by_iou_and_by_causal_effect():
    m = unit_image_model()
    table = dissect(m, RedTreeSegmenter(), config=DissectConfig(**SMALL))
    tree = table.concepts["tree"]
    assert tree.ranking == "ace" and tree.units[0] == 0
    assert table.meta["iou"]["tree"]["units"][0] == 0
    assert table.meta["iou"]["tree"]["scores"][0] > 0.8  # the unit's map is the tree mask up to the threshold
    # with a best-quantile threshold the planted unit is found; the other units are noise
    assert table.meta["interpretable"]["best_concept"][0] == "tree"
    assert table.meta["ace"]["tree"]["objective"]["last"][0] > table.meta["ace"]["tree"]["objective"]["first"][0]
    assert table.layer == "layer4" and table.num_units == 8 and len(table.q99) == 8
    assert tree.levels == [table.q99[u] for u in tree.units]
    assert table.brushes == ["tree", "sky"]
    assert table.meta["samples"] == 60 and table.meta["segmenter"] == "red-tree-test"
    assert len(table.meta["generator_sha256"]) == 64


def test_q99_levels_are_the_units_99th_percentile():
    m = unit_image_model()
    table = dissect(m, RedTreeSegmenter(), config=DissectConfig(**{**SMALL, "ace_steps": 0}))
    z = torch.randn(60, 512, generator=torch.Generator().manual_seed(1))
    h = m.generator.features(z)
    exact = torch.quantile(h.permute(1, 0, 2, 3).reshape(8, -1), 0.99, dim=1)
    # 60·64 values per unit: a little more than the compactor's exact range, so allow rank error
    assert torch.allclose(torch.tensor(table.q99), exact, atol=0.1)
    assert table.concepts["tree"].ranking == "iou"


def test_segmenter_without_gradients_ranks_by_iou():
    table = dissect(unit_image_model(), NoGradSegmenter(), config=DissectConfig(**SMALL))
    assert table.concepts["tree"].ranking == "iou" and table.concepts["tree"].units[0] == 0


def test_resumes_from_its_checkpoint(tmp_path):
    cfg = DissectConfig(**SMALL)
    full = dissect(unit_image_model(), RedTreeSegmenter(), config=cfg)

    class Stop(Exception):
        pass

    def interrupt(stage, done, total):
        if stage == "iou" and done >= 40:
            raise Stop

    ckpt = tmp_path / "d.pt"
    with pytest.raises(Stop):
        dissect(unit_image_model(), RedTreeSegmenter(), config=cfg, checkpoint=ckpt, checkpoint_every_s=0,
                progress_fn=interrupt)
    assert ckpt.exists()
    stages = []
    resumed = dissect(unit_image_model(), RedTreeSegmenter(), config=cfg, checkpoint=ckpt,
                      progress_fn=lambda s, d, t: stages.append((s, d)))
    assert stages[0] == ("iou", 40)  # picked up after the last checkpoint (iou at 20), no re-sampling
    a, b = full.to_dict(), resumed.to_dict()
    a["meta"].pop("timing_s"), b["meta"].pop("timing_s")
    assert a == b


def test_checkpoint_of_another_config_is_not_reused(tmp_path):
    ckpt = tmp_path / "d.pt"
    dissect(unit_image_model(), RedTreeSegmenter(), config=DissectConfig(**{**SMALL, "ace_steps": 0}), checkpoint=ckpt)
    stages = []
    dissect(unit_image_model(), RedTreeSegmenter(), config=DissectConfig(**{**SMALL, "ace_steps": 0, "samples": 40}),
            checkpoint=ckpt, progress_fn=lambda s, d, t: stages.append(s))
    assert "sample" in stages


def test_runs_on_a_real_tiny_generator_and_segmenter():
    m = PaintModel.random(resolution=16, widths=(32, 32, 16), seed=0)
    torch.manual_seed(0)
    seg = NetSegmenter(UNet(UNetConfig(CLASSES, widths=(4, 8), size=16)), "tiny-unet")
    table = dissect(m, seg, config=DissectConfig(samples=20, batch=10, seg_size=16, ace_images=6, ace_steps=1, ace_batch=6))
    assert table.num_units == 32 and set(table.brushes) == set(seg.labels)
    assert table.brushes[: len(BRUSH_ORDER)] == list(BRUSH_ORDER)
    assert all(8 <= len(c.units) == len(set(c.units)) <= 32 for c in table.concepts.values())
    PaintModel(m.id, m.generator, table)  # the table fits the model


def test_brush_order_puts_the_palette_first():
    assert brush_order(["sky", "road", "tree", "dome"]) == ["tree", "sky", "dome", "road"]


def test_segment_at_pools_labels_by_majority():
    class Fixed:
        labels = ["a", "b"]

        def segment(self, images):
            out = torch.zeros(1, 4, 4, dtype=torch.long)
            out[0, :3, :2] = 1  # top-left 2×2 block: all b; bottom-left: half b
            return out

    assert segment_at(Fixed(), torch.zeros(1, 3, 4, 4), 2).tolist() == [[[1, 0], [0, 0]]]
    assert segment_at(Fixed(), torch.zeros(1, 3, 4, 4), 8).shape == (1, 8, 8)


def test_shipped_churchoutdoor_table_holds_the_original_demo_brushes():
    from pathlib import Path

    from ganpaint.paint.concepts import ConceptTable

    t = ConceptTable.load(Path(__file__).parent.parent / "models/churchoutdoor/concepts.json")
    assert t.num_units == 512 and t.brushes == list(BRUSH_ORDER)
    assert t.concepts["tree"].units[:3] == [119, 125, 157] and t.concepts["tree"].levels[6] == 76.16
    assert t.concepts["dome"].units[-1] == 430 and t.concepts["dome"].levels[-1] == 6.29
    assert [t.concepts[c].ranking for c in BRUSH_ORDER] == ["ace"] * 3 + ["iou"] * 4
    assert all(len(c.units) == 15 for c in t.concepts.values())
    assert t.brush("tree", 4 / 15)[0] == [119, 125, 157, 195]  # strength "low" of the original demo
    assert "418" in t.meta["outliers"]


def test_context_rules_put_doors_on_walls_and_domes_on_buildings():
    from ganpaint.dissect.regions import allowed_cells, cell_fractions, pick_region
    from ganpaint.world.world import CLASSES

    lab = torch.zeros(1, 8, 8, dtype=torch.long)  # sky everywhere …
    lab[0, 4:, :] = CLASSES.index("grass")  # … grass below the horizon …
    lab[0, 2:6, 2:5] = CLASSES.index("brick")  # … and a wall in the middle
    frac = cell_fractions(lab, len(CLASSES), 8)
    door = allowed_cells(frac, "door", CLASSES)[0]
    assert door.nonzero().tolist() == [[r, c] for r in (4, 5) for c in range(2, 5)]  # on the wall, reaching the grass
    dome = allowed_cells(frac, "dome", CLASSES)[0]
    assert dome.nonzero().tolist() == [[0, 2], [0, 3], [0, 4], [1, 2], [1, 3], [1, 4]]  # just above the wall
    tree = allowed_cells(frac, "tree", CLASSES)[0]
    assert not tree[:2].any() and not tree[2:6, 2:5].any() and not tree[6:].any()  # no crowns in the foreground
    assert tree[2:6, :2].all() and tree[2:6, 5:].all()  # beside the wall, standing on the grass
    rng = np.random.default_rng(0)
    region = pick_region(dome, (2, 2), rng)
    assert region.sum() == 4 and (region <= dome).all()
    assert pick_region(dome, (3, 1), rng) is None  # no 3-row space above the wall


def test_draw_level_scale_is_chosen_by_insertion_success():
    """A scale of 0 inserts nothing (the fake's tree unit must be positive): calibration must pick 1."""
    m = unit_image_model()
    table = dissect(m, RedTreeSegmenter(), config=DissectConfig(**{**SMALL, "value_scales": (0.0, 1.0), "extra_scales": ()}))
    cal = table.meta["calibration"]["tree"]
    zero = [t for t in cal["trials"].values() if t["scale"] == 0.0]
    one = [t for t in cal["trials"].values() if t["scale"] == 1.0]
    assert zero and one and max(t["share"] for t in zero) < 0.05 < min(t["share"] for t in one if t["units"] >= 1)
    tree = table.concepts["tree"]
    assert tree.value_scale == 1.0 and cal["scale"] == 1.0
    assert len(tree.units) == cal["units"] and tree.units[0] == 0  # the unit that draws trees is in the brush
    units, levels = table.brush("tree")
    assert levels == [v * tree.value_scale for v in tree.levels]
    plain = dissect(m, RedTreeSegmenter(), config=DissectConfig(**{**SMALL, "value_scales": (1.0,)}))
    assert plain.concepts["tree"].value_scale == 1.0 and "tree" not in plain.meta["calibration"]


def test_unit_count_is_chosen_by_insertion_success():
    """Only unit 0 draws trees; units the ranking puts after it can only add noise. With unit counts
    (1, 4) on offer and scale 1, one unit must do at least as well: calibration must not prefer more."""
    m = unit_image_model()
    cfg = DissectConfig(**{**SMALL, "value_scales": (1.0, 2.0), "unit_counts": (1, 4), "min_units": 4})
    table = dissect(m, RedTreeSegmenter(), config=cfg)
    cal = table.meta["calibration"]["tree"]
    counts = {t["units"] for t in cal["trials"].values()}
    assert counts == {1, 4}  # the α-kept count (min_units 4) and 1
    assert cal["units"] == 1 and table.concepts["tree"].units == [0]



def test_calibration_chooses_among_draw_rankings_of_several_levels():
    """Two draw rankings (at q99 and at 2 × q99, the second on fewer samples and steps), each run twice on
    other trial regions: calibration scores all four, and the brush is the best trial's ranking prefix
    at its scale."""
    from ganpaint.dissect.dissect import pick_trial

    m = unit_image_model()
    cfg = DissectConfig(**{**SMALL, "value_scales": (1.0, 2.0), "draw_rankings": ((None, None, 1.0), (20, 4, 2.0)),
                           "ace_restarts": 2})
    table = dissect(m, RedTreeSegmenter(), config=cfg)
    assert table.meta["ace"]["tree@2x"]["images"] > 0 and table.meta["ace"]["tree"]["images"] > 0
    cal = table.meta["calibration"]["tree"]
    assert {t["ranking"] for t in cal["trials"].values()} == {"tree", "tree#1", "tree@2x", "tree@2x#1",
                                                               "tree~mean", "tree@2x~mean"}
    assert table.meta["ace"]["tree~mean"]["objective"] == {"mean_of": ["tree", "tree#1"]}
    assert any(name.startswith("@2x:") for name in cal["trials"]) and any(name.startswith("@2x#1:") for name in cal["trials"])
    assert table.meta["ace"]["tree#1"]["images"] == table.meta["ace"]["tree"]["images"]
    best = pick_trial(cal["trials"].values())
    assert (cal["ranking"], cal["units"], cal["scale"]) == (best["ranking"], best["units"], best["scale"])
    tree = table.concepts["tree"]
    assert tree.value_scale == cal["scale"] and len(tree.units) == cal["units"] and tree.units[0] == 0
    assert "1×q99 and at 2×q99, 2 runs each" in table.meta["method"]
    with pytest.raises(ValueError):
        DissectConfig(draw_rankings=((None, None, 0.0),))
    with pytest.raises(ValueError):
        DissectConfig(draw_rankings=((None, None, 1.0), (300, 200, 6.0), (96, 80, 6.0)))

def test_mean_ranking_averages_the_restarts_coefficients():
    from ganpaint.dissect.dissect import _mean_rankings

    runs = [("", 10, 5, 1.0, 0), ("#1", 10, 5, 1.0, 1), ("@6x", 10, 5, 6.0, 0)]
    ace = {"door": {"alpha": torch.tensor([1.0, 0.0, 0.5, 0.0]), "gradient": [0.0, 3.0, 0.0, 1.0], "images": 4},
           "door#1": {"alpha": torch.tensor([0.0, 0.2, 0.5, 0.0]), "gradient": [0.0, 1.0, 0.0, 2.0], "images": 5},
           "door@6x": {"alpha": torch.tensor([0.0, 1.0, 0.0, 0.0]), "gradient": [0.0] * 4, "images": 4}}
    out = _mean_rankings(ace, "door", runs, tie=torch.tensor([0.0, 0.0, 0.0, 9.0]))
    assert list(out) == ["door~mean"]  # @6x has one run: nothing to average
    m = out["door~mean"]
    assert torch.allclose(m["alpha"], torch.tensor([0.5, 0.1, 0.5, 0.0]))
    # units 0 and 2 tie on α (0.5) and on gradient (0): tie-break keeps index order via `tie` (both 0) → stable
    assert m["order"][:2] == [0, 2] and m["order"][2:] == [1, 3]  # gradient 2.0 vs 1.5 after α 0.1 vs 0.0
    assert m["images"] == 9
    ace["door#1"]["images"] = 0  # a run without trial images is not averaged
    assert _mean_rankings(ace, "door", runs, tie=torch.zeros(4)) == {}


def test_scale_search_goes_past_the_grid_when_the_best_is_at_its_edge():
    """Scales 0 and 0.01 insert (almost) nothing: the best sits at the grid's largest scale, so the extra
    scales are tried in turn, and one that draws the fake's trees is chosen."""
    m = unit_image_model()
    cfg = DissectConfig(**{**SMALL, "value_scales": (0.0, 0.01), "extra_scales": (1.0, 2.0, 4.0, 8.0, 16.0)})
    table = dissect(m, RedTreeSegmenter(), config=cfg)
    cal = table.meta["calibration"]["tree"]
    scales = {t["scale"] for t in cal["trials"].values()}
    assert {0.0, 0.01, 1.0} <= scales and cal["scale"] >= 1.0 and cal["success"] > 0.5
    # the share saturates at 4 (8 does no better, so the search stops there: 16 is never tried)
    assert 16.0 not in scales and cal["scale"] == 4.0
    assert table.concepts["tree"].value_scale == cal["scale"]


def test_learned_values_are_kept_only_when_they_draw_better():
    """Scales 0.001 and 0.002 insert almost nothing: the learned values must grow until trees appear, and
    win on the calibration samples; with a scale that already draws, learning is not needed."""
    m = unit_image_model()
    cfg = DissectConfig(**{**SMALL, "value_scales": (0.001, 0.002), "extra_scales": (), "level_steps": 60,
                           "level_lr": 0.3})
    table = dissect(m, RedTreeSegmenter(), config=cfg)
    info = table.meta["learned_values"]["tree"]
    tree = table.concepts["tree"]
    assert info["kept"] and info["after"]["success"] > info["before"]["success"] + 0.5
    assert info["inserted_share"]["last"][-1] > info["inserted_share"]["first"][0]
    assert tree.values and len(tree.values) == len(tree.units) and tree.values[0] > 0.002 * table.q99[0] * 10
    units, levels = table.brush("tree")
    assert levels == tree.values  # the learned values replace levels × value_scale
    assert tree.levels == [table.q99[u] for u in tree.units]  # levels stay the units' q99
    assert "per-unit draw values optimized" in table.meta["method"]
    again = type(table).from_dict(table.to_dict())
    assert again.concepts["tree"].values == tree.values
    # scales that draw well already: the learned values must beat them by a margin to be kept
    plain = dissect(m, RedTreeSegmenter(), config=DissectConfig(**{**SMALL, "value_scales": (1.0, 4.0),
                                                                 "extra_scales": (), "level_steps": 5}))
    p = plain.meta["learned_values"]["tree"]
    assert p["before"] == {"success": 1.0, "share": 1.0} and p["train_regions"] > 0
    assert not p["kept"] and plain.concepts["tree"].values == [] and "values" not in plain.to_dict()["concepts"]["tree"]


def test_remove_brush_gets_its_own_ablation_ranking():
    m = unit_image_model()
    table = dissect(m, RedTreeSegmenter(), config=DissectConfig(**SMALL))
    tree = table.concepts["tree"]
    assert tree.remove_units[0] == 0 and len(tree.remove_units) == 4
    first, last = (table.meta["ace_remove"]["tree"]["objective"][k] for k in ("first", "last"))
    assert first[0] == 0 and last[1] < first[1]  # no insertion term; the tree share where ablated falls
    assert table.brush("tree", 1.0, "remove")[0] == tree.remove_units
    off = dissect(m, RedTreeSegmenter(), config=DissectConfig(**{**SMALL, "remove_ranking": False}))
    assert off.concepts["tree"].remove_units == [] and off.meta["ace_remove"] == {}


def test_pick_trial_prefers_success_then_share_then_the_gentlest_edit():
    from ganpaint.dissect.dissect import pick_trial

    def t(n, s, success, share):
        return {"units": n, "scale": s, "success": success, "share": share}

    assert pick_trial([t(8, 1.0, 0.5, 0.6), t(8, 2.0, 0.9, 0.7), t(8, 3.0, 0.905, 0.72)]) == t(8, 3.0, 0.905, 0.72)
    assert pick_trial([t(8, 2.0, 0.9, 0.7), t(8, 3.0, 0.905, 0.705)]) == t(8, 2.0, 0.9, 0.7)  # gentlest near the best
    assert pick_trial([t(32, 2.0, 0.8, 0.7), t(16, 2.0, 0.8, 0.7)]) == t(16, 2.0, 0.8, 0.7)  # fewer units
    assert pick_trial([t(8, 1.0, 0.2, 0.9), t(8, 4.0, 0.8, 0.5)], tolerance=0.0) == t(8, 4.0, 0.8, 0.5)


def test_causal_brush_keeps_the_units_whose_coefficient_reached_the_bar():
    from ganpaint.dissect.dissect import _kept

    cfg = DissectConfig(top=5, keep_alpha=0.5, min_units=2)
    entry = {"alpha": torch.tensor([0.9, 0.0, 0.6, 0.7, 0.1, 0.55, 0.52, 0.8]), "order": [0, 7, 3, 2, 5, 6, 4, 1]}
    assert _kept(entry, cfg) == [0, 7, 3, 2, 5]  # six reached 0.5; capped at top
    entry["alpha"] = torch.zeros(8)
    assert _kept(entry, cfg) == [0, 7]  # none did: the minimum



@pytest.mark.parametrize("stop_in", ["ace", "calibrate", "levels"])
def test_every_stage_resumes_to_the_same_table(tmp_path, stop_in):
    cfg = DissectConfig(**{**SMALL, "samples": 80, "value_scales": (1.0, 2.0), "extra_scales": (), "unit_counts": (1, 2),
                           "min_units": 2, "calib_images": 40, "calib_min_regions": 5, "level_steps": 3})
    full = dissect(unit_image_model(), RedTreeSegmenter(), config=cfg)

    class Stop(Exception):
        pass

    def interrupt(stage, done, total):
        if stage == stop_in:
            raise Stop

    ckpt = tmp_path / "d.pt"
    with pytest.raises(Stop):
        dissect(unit_image_model(), RedTreeSegmenter(), config=cfg, checkpoint=ckpt, checkpoint_every_s=0,
                progress_fn=interrupt)
    assert torch.load(ckpt, weights_only=True)["stage"] == stop_in
    stages = []
    resumed = dissect(unit_image_model(), RedTreeSegmenter(), config=cfg, checkpoint=ckpt,
                      progress_fn=lambda s, d, t: stages.append(s))
    assert stages[0] == stop_in and "sample" not in stages  # earlier stages are not run again
    a, b = full.to_dict(), resumed.to_dict()
    a["meta"].pop("timing_s"), b["meta"].pop("timing_s")
    assert a == b and a["meta"]["calibration"] and a["meta"]["learned_values"]
