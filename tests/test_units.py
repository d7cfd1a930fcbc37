import io

import numpy as np
from PIL import Image

from fakes import RedTreeSegmenter, unit_image_model
from ganpaint.dissect.units import InspectConfig, examples_strip, inspect_units, units_sheet, unit_brushes

SMALL = InspectConfig(samples=60, batch=20, seg_size=16, examples=4)


def test_inspector_labels_the_planted_tree_unit_and_ranks_examples_by_activation():
    m = unit_image_model()
    r = inspect_units(m, RedTreeSegmenter(), config=SMALL)
    u0 = r["units"][0]
    assert u0["label"] == "tree" and u0["iou"] > 0.5
    assert all(r["units"][u]["ious"]["tree"] < u0["iou"] / 2 for u in range(1, 8))
    assert u0["peaks"] == sorted(u0["peaks"], reverse=True) and len(u0["examples"]) == 4
    # the first example is the seed whose unit-0 map peaks highest among all samples
    from ganpaint.dissect.units import seed_latents
    peaks = m.features(seed_latents(m, range(60)))[:, 0].amax(dim=(1, 2))
    assert u0["examples"][0] == int(peaks.argmax())
    assert u0["brushes"] == [{"concept": "tree", "mode": "draw", "rank": 0, "of": 1, "ranking": "iou", "score": None},
                             {"concept": "tree", "mode": "remove", "rank": 0, "of": 1, "ranking": "iou", "score": None}]


def test_inspector_without_a_segmenter_leaves_units_unlabelled():
    r = inspect_units(unit_image_model(), None, config=SMALL)
    assert r["labels"] == [] and all(u["label"] is None and u["iou"] is None for u in r["units"])
    assert all(len(u["examples"]) == 4 for u in r["units"])


def test_inspector_resumes_from_its_checkpoint(tmp_path):
    m, seg = unit_image_model(), RedTreeSegmenter()
    ckpt = tmp_path / "units.pt"
    stages = []
    full = inspect_units(m, seg, config=SMALL, checkpoint=ckpt)
    again = inspect_units(m, seg, config=SMALL, checkpoint=ckpt, progress_fn=lambda *a: stages.append(a))
    assert stages == [] and again == full  # finished work is not redone


def test_examples_strip_outlines_where_the_unit_fires():
    m = unit_image_model()
    r = inspect_units(m, RedTreeSegmenter(), config=SMALL)
    im = np.asarray(Image.open(io.BytesIO(examples_strip(m, r, 0, size=32))))
    assert im.shape == (32, 4 * 32 + 3 * 4, 3)
    assert ((im == (255, 230, 0)).all(-1)).sum() > 0  # outline colour present
    sheet = units_sheet(m, r, cols=4, size=32)
    assert sheet.size == (4 * 32, 2 * (32 + 14))


def test_unit_brushes_reports_remove_ranking_separately():
    m = unit_image_model()
    c = m.table.concepts["tree"]
    c.remove_units, c.remove_scores = [5], [0.9]
    assert {(b["mode"], b["score"]) for b in unit_brushes(m.table, 5)} == {("remove", 0.9)}
