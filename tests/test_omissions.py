import numpy as np
import torch
from PIL import Image

from fakes import RedTreeSegmenter, unit_image_model
from planted import never_tree_model
from ganpaint.dissect.omissions import class_fractions, model_omissions, photo_omissions


def _reference_folder(folder, rows=(4, 12), n=12, every=1):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.zeros((16, 16, 3), np.uint8)
        if i % every == 0:
            img[: rng.integers(*rows), :, 0] = 255  # a red (tree) band on top, the rest dark (sky)
        Image.fromarray(img).save(folder / f"{i}.png")
    return folder


def test_class_fractions_per_image():
    lab = torch.tensor([[[0, 1], [1, 1]], [[0, 0], [0, 0]]])
    assert np.allclose(class_fractions(lab, 2), [[0.25, 0.75], [1.0, 0.0]])


def test_omissions_find_the_class_the_model_never_draws(tmp_path):
    folder = _reference_folder(tmp_path / "big")
    r = model_omissions(never_tree_model(), RedTreeSegmenter(), samples=6, folder=folder, batch=3)
    assert r["dropped"] == ["tree"] and r["classes"]["tree"]["generated"] == 0 and r["classes"]["tree"]["reference"] > 0.2
    assert r["classes"]["sky"]["ratio"] > 1 and r["fsd"] > r["fsd_baseline"]
    # the unit-image model draws trees on about 1.4 % of its pixels: against a 1.6 % reference, nothing is dropped
    ok = model_omissions(unit_image_model(), RedTreeSegmenter(), samples=20,
                         folder=_reference_folder(tmp_path / "small", (1, 2), 40, every=4))
    assert ok["dropped"] == [] and 0.5 < ok["classes"]["tree"]["ratio"] < 2


def test_photo_omissions_list_what_the_reconstruction_leaves_out():
    photo = -torch.ones(3, 16, 16)
    photo[0, :8] = 1.0  # the top half is a tree
    recon = -torch.ones(3, 16, 16)
    recon[0, :1] = 1.0  # the reconstruction keeps one row of it
    r = photo_omissions(RedTreeSegmenter(), photo, recon)
    assert r["missing"] == ["tree"] and r["classes"]["tree"]["photo"] == 0.5
    assert r["classes"]["tree"]["survives"] == 0.125


def test_photo_fit_report_is_served_in_the_same_shape(monkeypatch):
    import sys
    import types

    fit = types.ModuleType("ganpaint.photo.photo_fit")
    fit.photo_omissions = lambda seg, x, y: {  # the photo pipeline's report, as it defines it
        "labels": ["sky", "tree"], "photo": {"sky": 0.5, "tree": 0.5}, "reconstruction": {"sky": 0.9, "tree": 0.1},
        "omitted": [{"class": "tree", "photo": 0.5, "reconstruction": 0.1}], "missing_share": 0.4}
    monkeypatch.setitem(sys.modules, "ganpaint.photo.photo_fit", fit)
    r = photo_omissions(RedTreeSegmenter(), -torch.ones(3, 4, 4), -torch.ones(3, 4, 4))
    assert r["missing"] == ["tree"] and r["classes"]["tree"] == {"photo": 0.5, "reconstruction": 0.1, "survives": 0.2}
    assert r["missing_share"] == 0.4  # its own fields stay
