"""Fill removals: a removed region painted with the mean of a class that may stand there, chosen like levels."""
import json

import torch
from fakes import RedIsUnreal, RedTreeSegmenter, unit_image_model

from ganpaint.dissect.fills import apply_fills, choose_fills, fill_classes, prefer, with_fill
from ganpaint.dissect.mean_brushes import MeanLevels, concept_means
from ganpaint.paint.concepts import Concept, ConceptTable
from ganpaint.paint.edit import Stroke, compose


def _table() -> ConceptTable:
    tree = Concept("tree", [0], [3.0], remove_units=[0, 1], remove_scores=[1.0, 0.5])
    return ConceptTable("layer4", 8, {"tree": tree}, ["tree"], [1.0] * 8)


def test_a_fill_removal_sets_every_unit_to_the_fill_and_survives_json():
    sky = MeanLevels([-2.0, 0.5, 0, 0, 0, 0, 0, 0.25], list(range(8)), [1.0] * 8, 10)
    table = with_fill(_table(), "tree", sky, "sky", 2.0)
    again = ConceptTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again.concepts["tree"].remove_fill == "sky"
    units, values = again.brush("tree", strength=0.3, mode="remove")
    assert units == list(range(8)) and values == [-4.0, 1.0, 0, 0, 0, 0, 0, 0.5]  # every unit, at any strength
    assert again.is_mean("tree", "remove") and not again.is_mean("tree")  # strength is its opacity; draw unchanged
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[2:4, 2:4] = True
    alpha, value = compose([Stroke(mode="remove", concept="tree", strength=0.5, mask=mask.numpy())], again, 8, 8)
    assert torch.all(alpha[:, 2:4, 2:4] == 0.5) and alpha[:, 0, 0].sum() == 0
    assert torch.allclose(value[:, 2, 2], torch.tensor(values)) and value[:, 0, 0].abs().sum() == 0
    # without a fill, a removal switches its units off (value 0), custom-unit removals too
    plain = compose([Stroke(mode="remove", concept="tree", mask=mask.numpy())], _table(), 8, 8)
    custom = compose([Stroke(mode="remove", units=[3, 4], mask=mask.numpy())], _table(), 8, 8)
    assert plain[1].abs().sum() == 0 and custom[1].abs().sum() == 0 and custom[0][3, 2, 2] == 1


def test_a_table_with_fill_values_that_do_not_match_its_units_is_refused():
    d = _table().to_dict()
    d["concepts"]["tree"]["remove_values"] = [0.0]
    try:
        ConceptTable.from_dict(d)
    except ValueError as e:
        assert "remove values" in str(e)
    else:
        raise AssertionError("accepted")


def test_choose_fills_measures_each_candidate_and_keeps_switching_off_when_no_fill_removes_better():
    model = unit_image_model()
    seg = RedTreeSegmenter()
    means = concept_means(model, seg, images=100, batch=25, concepts=["sky"])
    assert fill_classes("tree", means) == ["sky"]  # tree's context list, where a mean exists
    rec = choose_fills(model, seg, RedIsUnreal(), means, trials=20, concepts=("tree",))
    rows = rec["candidates"]["tree"]
    assert [(r["fill"], r["scale"]) for r in rows] == [(None, None), ("sky", 1.0)]
    assert all(r["trials"] == 20 for r in rows)
    off, sky = rows
    # both remove the trees (switching the red unit off leaves red at 0, read as sky here); the fill is less
    # red, which this discriminator prefers, but it removes no better: switching off stays
    assert off["success"] > 0.9 and sky["success"] > 0.9 and sky["realism_sd"] > off["realism_sd"]
    assert rec["chosen"]["tree"] == {"fill": None, "scale": None}
    table = apply_fills(model.table, rec, means)
    assert table.concepts["tree"].remove_values == [] and table.meta["fills"]["chosen"] == rec["chosen"]
    forced = apply_fills(model.table, {**rec, "chosen": {"tree": {"fill": "sky", "scale": 1.0}}}, means)
    assert forced.concepts["tree"].remove_fill == "sky" and model.table.concepts["tree"].remove_values == []


def _row(fill, success, realism):
    return {"fill": fill, "scale": None if fill is None else 1.0, "trials": 50, "success": success, "realism_sd": realism}


def test_a_fill_replaces_switching_off_only_where_it_removes_clearly_better_and_looks_no_worse():
    # sky: every fill removes more, but looks worse than the smear of switching off
    own = _row(None, 0.88, -1.68)
    assert prefer(own, [_row("roof", 1.0, -2.54), _row("mountain", 0.02, -1.83)]) is own
    # dome: a cloud fill removes clearly better, as realistic within the noise
    own = {**_row(None, 0.68, -0.56), "realism_se": 0.05}
    cloud = {**_row("cloud", 0.88, -0.58), "realism_se": 0.05}
    assert prefer(own, [_row("sky", 0.66, -0.34), cloud]) is cloud
    # tree: a wall where the tree was removes a little better, but costs far more realism than switching off
    own = {**_row(None, 0.94, -0.35), "realism_se": 0.05}
    assert prefer(own, [{**_row("brick", 0.98, -1.01), "realism_se": 0.08}]) is own
    # grass: a fill that looks better but never removes anything is no better
    own = _row(None, 0.94, -1.64)
    assert prefer(own, [_row("road", 0.0, -0.96)]) is own
