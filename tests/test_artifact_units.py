import numpy as np
import torch

from fakes import unit_image_model
from planted import blue_artifact_score
from ganpaint.dissect.artifact_units import (
    ArtifactConfig, artifact_set, rank_artifact_units, removal_edit, removal_report,
)

SMALL = ArtifactConfig(samples=24, batch=12)


def test_ranking_puts_the_planted_artifact_unit_first_and_flags_only_it():
    r = rank_artifact_units(unit_image_model(), blue_artifact_score, config=SMALL)
    assert r["units"][0]["unit"] == 2 and r["units"][0]["realism_gain"] > 0
    assert artifact_set(r) == [2] and r["ranked_by"] == "realism_gain"
    assert [u["unit"] for u in r["units"] if u["artifact"]] == [2]


def test_ranking_resumes_from_saved_state():
    saved = {}
    first = rank_artifact_units(unit_image_model(), blue_artifact_score, config=SMALL, save_fn=saved.update)
    calls = []
    again = rank_artifact_units(unit_image_model(), blue_artifact_score, config=SMALL, state=saved,
                                progress_fn=lambda *a: calls.append(a))
    assert calls == [] and again == first


def test_removal_edit_switches_units_off_everywhere():
    a, v = removal_edit(4, 2, [1, 3])
    assert torch.equal(a[:, 0, 0], torch.tensor([0.0, 1, 0, 1])) and v.abs().sum() == 0


def test_removal_report_compares_artifacts_with_random_units():
    r = removal_report(unit_image_model(), blue_artifact_score, None, [2], samples=24, random_draws=2)
    assert r["artifacts_removed"]["realism"] > r["random_removed"]["realism"]
    assert r["artifacts_removed"]["realism"] > r["before"]["realism"]
    assert len(r["random_removed"]["draws"]) == 2 and all(d["units"] != [2] for d in r["random_removed"]["draws"])
    assert np.isclose(r["random_removed"]["realism"], np.mean([d["realism"] for d in r["random_removed"]["draws"]]), atol=1e-4)
