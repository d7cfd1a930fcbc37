import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import RedTreeSegmenter, unit_image_model
from PIL import Image

from ganpaint.evaluate import EvalConfig, brush_trials, evaluate, fsd_report, wilson_interval, write_report
from ganpaint.model import PaintModel

torch.set_num_threads(1)
CFG = EvalConfig(trials=30, other_trials=10, batch=10, max_images=60, fsd_samples=0)


def test_the_right_unit_draws_and_removes_trees():
    r = brush_trials(unit_image_model(tree_units=(0,)), RedTreeSegmenter(), config=CFG)
    tree = r["concepts"]["tree"]
    assert tree["draw"]["trials"] == 30 and tree["remove"]["trials"] == 30 and tree["draw_random"]["trials"] == 30
    assert tree["draw"]["share_before"] < 0.05  # trials start where the concept is absent
    assert tree["draw"]["success_rate"] == 1.0 and tree["draw"]["mean_share"] > 0.95
    assert tree["remove"]["mean_drop"] > 0.95  # unit 0 at 0 → red 0 inside (bilinear bleed at the border only)
    assert tree["goals_met"] == {"draw": True, "remove": True}


def test_a_wrong_unit_fails_the_same_trials():
    r = brush_trials(unit_image_model(tree_units=(5,)), RedTreeSegmenter(), config=CFG)
    tree = r["concepts"]["tree"]
    assert tree["draw"]["success_rate"] == 0.0 and tree["draw"]["mean_share"] < 0.1
    assert abs(tree["remove"]["mean_drop"]) < 0.05
    assert tree["goals_met"] == {"draw": False, "remove": False}


def test_fsd_report_compares_against_world_renders():
    f = fsd_report(unit_image_model(), RedTreeSegmenter(), samples=12, batch=6)
    assert set(f["classes"]) == {"sky", "tree"}
    for v in f["classes"].values():
        assert 0 <= v["generated"] <= 1 and 0 <= v["world"] <= 1
    assert f["fsd_world_vs_world"] >= 0 and f["fsd_generated_vs_world"] >= 0
    # the unit-image model is mostly 'sky' under this segmenter; the red-ish world is not: far apart
    assert f["fsd_generated_vs_world"] > f["fsd_world_vs_world"]


def test_evaluate_writes_json_card_section_and_pictures(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MODEL_CARD.md").write_text("# Card\n\nintro\n\n<!-- evaluation:start -->\nold\n<!-- evaluation:end -->\n\ntail\n")
    report = evaluate(unit_image_model(), RedTreeSegmenter(), config=CFG, pictures=tmp_path / "pics")
    json_path, card = write_report(report, folder)
    data = json.loads(json_path.read_text())
    assert data["brushes"]["tree"]["draw"]["success_rate"] == 1.0
    assert data["interpretable_units"]["fraction"] == 0.125
    text = card.read_text()
    assert text.startswith("# Card\n\nintro\n\n<!-- evaluation:start -->") and text.endswith("<!-- evaluation:end -->\n\ntail\n")
    assert "\nold\n" not in text and "| tree | 30 |" in text
    with Image.open(tmp_path / "pics" / "tree.png") as pic:
        size = pic.size
    assert size == (16 * (4 * 16 + 3 * 4), 16 * 16)  # before/after draw, before/after remove, 256 px tall
    # a card without markers gets the section appended
    (folder / "MODEL_CARD.md").write_text("# Card\n")
    write_report(report, folder)
    assert (folder / "MODEL_CARD.md").read_text().startswith("# Card\n\n<!-- evaluation:start -->")


def test_success_rates_come_with_a_wilson_interval_and_are_not_rounded_up_to_a_goal(tmp_path):
    lo, hi = wilson_interval(159, 200)  # by hand: centre (0.795 + 1.96²/400) / (1 + 1.96²/200) = 0.7894
    assert lo == pytest.approx(0.7337, abs=1e-4) and hi == pytest.approx(0.8451, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    report = evaluate(unit_image_model(), RedTreeSegmenter(), config=CFG)
    report["brushes"]["tree"]["draw"].update(success_rate=0.795, trials=200)
    del report["brushes"]["tree"]["draw"]["success_ci95"]  # a report written before the interval existed
    folder = tmp_path / "model"
    folder.mkdir()
    _, card = write_report(report, folder)
    assert "| 79.5 % (73–85) |" in card.read_text()


def test_outlines_show_the_painted_region(tmp_path):
    report = evaluate(unit_image_model(), RedTreeSegmenter(), config=CFG, pictures=tmp_path)
    with Image.open(report["pictures"][0]) as im:
        arr = np.asarray(im)
    assert ((arr == [255, 0, 255]).all(-1)).any()


@pytest.mark.slow
def test_shipped_tree_brush_draws_and_removes_trees():
    root = Path(__file__).parent.parent / "models" / "scenes"
    if not (root / "concepts.json").exists():
        pytest.skip("models/scenes/concepts.json is absent: run `ganpaint dissect --model scenes` first")
    model = PaintModel.load(root)
    assert model.segmenter is not None, "models/scenes/segmenter.safetensors is missing"
    for name in ("tree", "grass", "door", "sky", "cloud", "brick", "dome"):  # removal has its own ranking
        assert model.table.concepts[name].remove_units, name
    cfg = EvalConfig(trials=12, other_trials=0, batch=12, max_images=48, fsd_samples=0, concepts=("tree",))
    tree = brush_trials(model, model.segmenter, config=cfg, keep_examples=False)["concepts"]["tree"]
    assert tree["draw"]["trials"] >= 6 and tree["remove"]["trials"] >= 6
    # painting trees where there were none raises the segmenter's tree share in the region …
    assert tree["draw"]["mean_share"] > tree["draw"]["share_before"] + 0.03
    # … and removing them where they were lowers it
    assert tree["remove"]["share_after"] < 0.8 * tree["remove"]["share_before"]
