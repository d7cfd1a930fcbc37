"""Mean brushes: every unit at its mean level where the concept is; strength is opacity; chosen like levels."""
import numpy as np
import pytest
import torch
from fakes import RedIsUnreal, RedTreeSegmenter, unit_image_model

from ganpaint.dissect.mean_brushes import apply_brushes, choose_brushes, concept_means, mean_concept
from ganpaint.paint.concepts import Concept, ConceptTable
from ganpaint.paint.edit import Stroke, compose


def test_the_planted_tree_unit_leads_the_mean_and_the_other_units_stay_at_their_usual_level():
    model = unit_image_model()
    means = concept_means(model, RedTreeSegmenter(), images=400, batch=50)
    tree = means["tree"]
    assert tree.order[0] == 0 and tree.cells > 0  # unit 0 *is* the image's red channel: trees are where it is high
    assert tree.levels[0] > 0  # red > 0 is what the segmenter calls tree (the unit's usual level is −1.5)
    # units 3… never reach the image: their mean over tree cells is their usual mean (z ~ N(0, 1))
    assert all(abs(tree.levels[u]) < 0.3 for u in range(3, 8))
    assert tree.scores[0] == max(tree.scores) and tree.scores == sorted(tree.scores, reverse=True)


def test_a_mean_brush_sets_every_unit_and_its_strength_is_opacity():
    base = Concept("tree", [0], [3.0], remove_units=[0, 1], remove_scores=[1.0, 0.5])
    levels = [2.0, -1.0, 0.5, 0.0, 0.1, 0.2, 0.3, 0.4]
    from ganpaint.dissect.mean_brushes import MeanLevels
    c = mean_concept(base, MeanLevels(levels, [0, 1, 2, 7, 6, 5, 4, 3], [5, 4, 3, 2, 1, 1, 1, 0], 10))
    table = ConceptTable("layer4", 8, {"tree": c}, ["tree"])
    assert table.is_mean("tree") and not table.is_mean("tree", "remove")
    units, values = table.brush("tree", strength=0.25)
    assert sorted(units) == list(range(8)) and dict(zip(units, values)) == dict(enumerate(levels))  # all, at any strength
    assert table.brush("tree", 1.0, "remove")[0] == [0, 1]  # removal keeps the learned remove units
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[2:4, 2:4] = True
    full = compose([Stroke(concept="tree", mask=mask.numpy())], table, 8, 8)
    quarter = compose([Stroke(concept="tree", strength=0.25, mask=mask.numpy())], table, 8, 8)
    assert torch.all(full[0][:, 2:4, 2:4] == 1) and torch.allclose(quarter[0], full[0] * 0.25)
    assert torch.allclose(quarter[1], full[1])  # the same levels, a quarter as opaque
    assert torch.allclose(full[1][:, 2, 2], torch.tensor(levels))


def test_choose_brushes_measures_both_and_apply_writes_the_kept_one():
    model = unit_image_model(tree_units=(0,), level=0.3)  # a learned brush too weak to lift unit 0 out of -1.5
    means = concept_means(model, RedTreeSegmenter(), images=100, batch=25)
    rec = choose_brushes(model, RedTreeSegmenter(), RedIsUnreal(), means, trials=10, concepts=("tree",),
                         scales=(1.0, 4.0), margin_sd=100.0)
    learned, mean1, mean4 = rec["candidates"]["tree"]
    assert learned["brush"] == "learned" and mean1["brush"] == mean4["brush"] == "mean"
    assert learned["trials"] == mean1["trials"] == mean4["trials"] == 20
    assert mean4["success"] > learned["success"] and rec["chosen"]["tree"]["brush"] == "mean"
    assert not model.table.is_mean("tree")  # the model's own table is untouched
    table = apply_brushes(model.table, rec, means)
    scale = rec["chosen"]["tree"]["scale"]
    assert table.is_mean("tree") and table.concepts["tree"].value_scale == scale
    assert ConceptTable.from_dict(table.to_dict()).is_mean("tree")  # survives concepts.json
    # a person's choice overrides the measured one, and the record keeps both
    eye = choose_brushes(model, RedTreeSegmenter(), RedIsUnreal(), means, trials=10, concepts=("tree",), scales=(1.0,),
                         margin_sd=100.0, by_eye={"tree": {"brush": "learned", "why": "looked at the sheets"}})
    assert eye["chosen"]["tree"]["by"] == "eye" and eye["chosen"]["tree"]["measured"]["brush"] == "mean"
    assert not apply_brushes(model.table, eye, means).is_mean("tree")


def test_choice_sheets_show_every_candidate_on_the_same_trials(tmp_path):
    from PIL import Image

    from ganpaint.dissect.choice_sheets import PER_KIND, choice_sheets
    from ganpaint.dissect.mean_brushes import with_means

    model = unit_image_model()
    means = concept_means(model, RedTreeSegmenter(), images=100, batch=25)
    tables = {"learned": model.table, "mean x1": with_means(model.table, means, ["tree"])}
    [path] = choice_sheets(model, RedTreeSegmenter(), tables, ["tree"], tmp_path, images=40)
    im = np.asarray(Image.open(path).convert("RGB"))
    R = model.resolution
    assert im.shape[0] == 3 * R and 0 < im.shape[1] // R <= 2 * PER_KIND  # unedited + one row per candidate
    assert not np.array_equal(im[R : 2 * R], im[2 * R :])  # the two brushes draw differently on the same trials
