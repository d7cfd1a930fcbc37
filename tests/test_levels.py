from fakes import RedIsUnreal, RedTreeSegmenter, unit_image_model

from ganpaint.dissect.levels import MIN_REALISM_TRIALS, _worst_kind, pick, apply_levels, choose_levels


def rows(*triples):
    return [{"factor": f, "trials": 50, "success": s, "realism_sd": r} for f, s, r in triples]


def test_a_level_that_buys_success_with_realism_is_rejected():
    # ×1 draws best but costs 0.9 sd of realism: beyond the margin, so ×0.5 (inside it) wins
    assert pick(rows((0.5, 0.80, -0.4), (1.0, 0.95, -0.9)), margin_sd=0.5)["factor"] == 0.5
    # inside the margin the most successful wins; near-ties go to the more realistic
    assert pick(rows((0.5, 0.80, -0.1), (0.7, 0.90, -0.3), (1.0, 0.91, -0.45)), margin_sd=0.5)["factor"] == 0.7
    # none inside: the most realistic of those that still draw about as well as the best
    assert pick(rows((0.3, 0.40, -0.6), (0.5, 0.88, -0.9), (1.0, 0.90, -1.2)), margin_sd=0.5)["factor"] == 0.5


def test_choose_levels_measures_every_factor_and_apply_scales_the_values():
    model = unit_image_model(tree_units=(0,), level=3.0)
    rec = choose_levels(model, RedTreeSegmenter(), RedIsUnreal(), factors=(0.3, 1.0), trials=10, concepts=("tree",))
    r = {row["factor"]: row for row in rec["candidates"]["tree"]}
    assert set(r) == {0.3, 1.0} and all(row["trials"] == 20 for row in r.values())
    # a value of 0.9 (×0.3) barely lifts the red unit from -1.5: fewer trees drawn, and less red (more 'realistic')
    assert r[0.3]["success"] < r[1.0]["success"] and r[0.3]["realism_sd"] > r[1.0]["realism_sd"]
    assert model.table.concepts["tree"].levels == [3.0]  # the model's own table is untouched
    table = apply_levels(model.table, {**rec, "chosen": {"tree": 0.5}})
    assert table.concepts["tree"].value_scale == 0.5 and table.meta["realism_levels"]["chosen"] == {"tree": 0.5}


def test_a_choice_is_held_to_its_worst_kind_of_stroke():
    enough = MIN_REALISM_TRIALS
    # cell-aligned draws cost 1.2 sd, freehand ones 0.4: the mean (0.8) would pass a 1 sd margin, the brush does not
    realism = {"draw": {"trials": enough, "delta_sd": -1.2}, "draw_freehand": {"trials": enough, "delta_sd": -0.4}}
    assert _worst_kind(realism)[0] == -1.2
    # a kind with too few trials to decide alone only counts through the weighted mean
    few = {"draw": {"trials": 2, "delta_sd": -2.0}, "draw_freehand": {"trials": enough, "delta_sd": -0.4}}
    assert _worst_kind(few)[0] == -0.4
    rare = {"draw": {"trials": 2, "delta_sd": -2.0}, "draw_freehand": {"trials": 2, "delta_sd": -0.4}}
    assert _worst_kind(rare)[0] == -1.2
    assert _worst_kind({"draw": {"trials": 0, "delta_sd": None}})[0] is None


def test_a_realism_difference_within_its_standard_error_does_not_decide_a_choice():
    # ×0.7 is 0.035 sd beyond the margin with a standard error of 0.08: not told apart from ×0.25, which is
    # just inside and draws far less; the more successful one is kept
    rows = [{"factor": 0.25, "trials": 100, "success": 0.68, "realism_sd": -0.994, "realism_se": 0.08},
            {"factor": 0.7, "trials": 100, "success": 0.84, "realism_sd": -1.035, "realism_se": 0.08}]
    assert pick(rows, margin_sd=1.0)["factor"] == 0.7
    # clearly beyond (by more than its standard error): rejected as before
    rows[1]["realism_sd"] = -1.2
    assert pick(rows, margin_sd=1.0)["factor"] == 0.25
    # the worst kind carries its own standard error
    realism = {"draw": {"trials": 50, "delta_sd": -1.1, "delta_se_sd": 0.09},
               "draw_freehand": {"trials": 50, "delta_sd": -0.5, "delta_se_sd": 0.05}}
    assert _worst_kind(realism) == (-1.1, 0.09)
