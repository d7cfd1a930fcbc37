"""The SegFormer plugin, offline, on a tiny randomly initialised SegformerConfig (an optional extra)."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

transformers = pytest.importorskip("transformers")

from ganpaint.paint.concepts import ConceptTable  # noqa: E402
from ganpaint.dissect.dissect import DissectConfig, dissect  # noqa: E402
from ganpaint.paint.edit import Stroke, compose  # noqa: E402
from ganpaint.paint.model import PaintModel  # noqa: E402
from ganpaint.segmenters.segmenter import Segmenter, SegmenterError  # noqa: E402
from ganpaint.segmenters import get_segmenter, plugin_names  # noqa: E402
from ganpaint.segmenters.segformer import SegformerSegmenter  # noqa: E402

LABELS = ["wall", "building", "sky", "tree", "grass"]  # a few ADE20K names
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]




@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    cfg = transformers.SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3],
        strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2], decoder_hidden_size=16,
        num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)},
    )
    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    model = transformers.SegformerForSemanticSegmentation(cfg)
    torch.set_num_threads(n)
    folder = tmp_path_factory.mktemp("segformer-tiny")
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"height": 48, "width": 48}, "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": MEAN, "image_std": STD, "image_processor_type": "SegformerImageProcessor",
    }))
    return folder


def test_loads_from_a_local_folder_as_a_segmenter(tiny_folder):
    seg = SegformerSegmenter.from_pretrained(tiny_folder, local_files_only=True)
    assert isinstance(seg, Segmenter)
    assert seg.labels == LABELS and seg.size == (48, 48)
    assert seg.id.startswith("segformer:" + tiny_folder.name + "-") and len(seg.id.rsplit("-", 1)[1]) == 8
    assert get_segmenter(f"segformer:{tiny_folder}").id == seg.id  # same weights, same id
    assert {"segformer", "unet"} <= set(plugin_names())


def test_segment_follows_the_preprocessor_config(tiny_folder):
    seg = SegformerSegmenter.from_pretrained(tiny_folder, local_files_only=True)
    images = torch.rand(3, 3, 40, 40, generator=torch.Generator().manual_seed(1)) * 2 - 1
    labels = seg.segment(images)
    assert labels.shape == (3, 40, 40) and labels.dtype == torch.long
    # the same thing done by hand: [0, 1] pixels, resized to 48, normalized, logits back to 40
    model = transformers.SegformerForSemanticSegmentation.from_pretrained(tiny_folder).eval()
    x = F.interpolate((images + 1) / 2, size=(48, 48), mode="bilinear", align_corners=False)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = F.interpolate(model(pixel_values=x).logits, size=(40, 40), mode="bilinear", align_corners=False)
    assert torch.equal(labels, logits.argmax(1))
    assert torch.equal(seg.segment(images[:1]), labels[:1])  # batching changes nothing


def test_logits_are_differentiable_for_causal_ranking(tiny_folder):
    seg = SegformerSegmenter.from_pretrained(tiny_folder, local_files_only=True)
    images = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_(True)
    seg.logits(images)[:, 3].mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_dissects_a_model_without_concept_table(tiny_folder):
    m = PaintModel.random(resolution=16, widths=(32, 32, 16), z_dim=32, seed=2)
    m = PaintModel("plain", m.generator, ConceptTable.empty("layer4", 32))  # like a pulled checkpoint
    seg = get_segmenter(f"segformer:{tiny_folder}")
    table = dissect(m, seg, config=DissectConfig(samples=8, batch=4, seg_size=16, ace_steps=0, top=5))
    assert table.meta["segmenter"] == seg.id
    assert set(table.brushes) == set(LABELS) and all(len(c.units) == 5 for c in table.concepts.values())
    painted = PaintModel("plain", m.generator, table)
    alpha, value = compose([Stroke.from_dict({"concept": "tree", "points": [[0.5, 0.5]]})], table, 32, 8)
    h = painted.features(painted.z_for_seed(1))
    assert (painted.render(h, alpha, value) - painted.render(h)).abs().max() > 1e-3


def test_clear_errors(tmp_path):
    with pytest.raises(SegmenterError, match="cannot load SegFormer"):
        SegformerSegmenter.from_pretrained(tmp_path / "missing", local_files_only=True)
    with pytest.raises(SegmenterError, match="NAME:ARGUMENT"):
        get_segmenter("nonsense")
