import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ganpaint.segmenters.segmenter import (
    NetSegmenter, Segmenter, SegmenterError, UNet, UNetConfig, load_segmenter, save_segmenter,
)
from ganpaint.dissect.segmenter_train import SegmenterTrainer, SegTrainConfig, evaluate_segmenter
from ganpaint.world.world import HELDOUT_SEED_BASE
from ganpaint.world.world import CLASSES, render_batch

torch.set_num_threads(1)
SHIPPED = Path(__file__).parent.parent / "models" / "scenes" / "segmenter.safetensors"
TINY = dict(widths=(4, 8), size=32, train_scenes=6, steps=4, full_fraction=0.5, batch=4, full_batch=2, crop=16)


def _tiny_net(seed: int = 0) -> UNet:
    torch.manual_seed(seed)
    return UNet(UNetConfig(CLASSES, widths=(4, 8, 8), size=32))


@pytest.mark.parametrize("h,w", [(32, 32), (8, 8), (37, 50), (128, 128)])
def test_segment_accepts_any_size(h, w):
    seg = NetSegmenter(_tiny_net(), "t")
    out = seg.segment(torch.rand(2, 3, h, w) * 2 - 1)
    assert out.shape == (2, h, w) and out.dtype == torch.long
    assert 0 <= int(out.min()) and int(out.max()) < len(CLASSES)
    assert isinstance(seg, Segmenter) and seg.labels == list(CLASSES)


def test_logits_are_differentiable_and_match_segment():
    seg = NetSegmenter(_tiny_net(), "t")
    x = (torch.rand(1, 3, 24, 24) * 2 - 1).requires_grad_(True)
    logits = seg.logits(x)
    logits[:, 3].mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(logits.argmax(1), seg.segment(x.detach()))


def test_save_load_round_trip(tmp_path):
    net = _tiny_net()
    net.eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    path = tmp_path / "seg.safetensors"
    seg_id = save_segmenter(net, path, half=False)
    loaded = load_segmenter(path)
    assert loaded.id == seg_id and seg_id.startswith("unet-")
    assert torch.equal(loaded.segment(x), NetSegmenter(net).segment(x))
    save_segmenter(net, tmp_path / "half.safetensors")  # float16 file: same labels almost everywhere
    agree = (load_segmenter(tmp_path / "half.safetensors").segment(x) == loaded.segment(x)).float().mean()
    assert agree > 0.99


def test_default_architecture_fits_in_well_under_two_megabytes(tmp_path):
    path = tmp_path / "seg.safetensors"
    save_segmenter(UNet(UNetConfig(CLASSES)), path)
    assert path.stat().st_size < 1_000_000


def test_load_refuses_files_that_are_not_segmenters(tmp_path):
    with pytest.raises(SegmenterError, match="no segmenter file"):
        load_segmenter(tmp_path / "missing.safetensors")
    other = tmp_path / "gen.safetensors"
    save_file({"layer1.conv.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(SegmenterError, match="not a ganpaint segmenter"):
        load_segmenter(other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(SegmenterError, match="not a valid safetensors"):
        load_segmenter(junk)


def test_training_resumes_bit_exactly(tmp_path):
    a = SegmenterTrainer(SegTrainConfig(**TINY), tmp_path / "a")
    a.train()
    b = SegmenterTrainer(SegTrainConfig(**TINY), tmp_path / "b")
    b.train(time_limit_s=0)  # stops (and checkpoints) after one step
    assert b.step == 1
    b = SegmenterTrainer(None, tmp_path / "b")
    b.train()
    assert a.done and b.done
    for k, v in a.net.state_dict().items():
        assert torch.equal(v, b.net.state_dict()[k]), k


def test_training_never_sees_held_out_seeds():
    with pytest.raises(ValueError, match="held-out"):
        SegTrainConfig(train_scenes=HELDOUT_SEED_BASE + 1)


def test_held_out_metrics_hand_checked():
    class AllSky:
        labels, id = list(CLASSES), "all-sky"

        def segment(self, images):
            return torch.zeros(images.shape[0], *images.shape[-2:], dtype=torch.long)

    m = evaluate_segmenter(AllSky(), count=4, size=32, batch=2)
    _, labs = render_batch(range(HELDOUT_SEED_BASE, HELDOUT_SEED_BASE + 4), 32)
    sky = float((labs == 0).mean())
    assert m["pixel_accuracy"] == pytest.approx(sky, abs=1e-5)
    assert m["iou"]["sky"] == pytest.approx(sky, abs=1e-5)  # union = every pixel
    assert m["iou"]["tree"] == 0.0 and m["renders"] == 4


@pytest.mark.slow
def test_shipped_segmenter_is_accurate_on_held_out_renders():
    if not SHIPPED.exists():
        pytest.skip("models/scenes/segmenter.safetensors not trained yet (ganpaint train-segmenter)")
    seg = load_segmenter(SHIPPED)
    assert SHIPPED.stat().st_size < 2_000_000
    info = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert info["id"] == seg.id and info["heldout"]["renders"] >= 1000
    seeds = range(HELDOUT_SEED_BASE + 5000, HELDOUT_SEED_BASE + 5016)
    imgs, labs = render_batch(seeds, 128)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    acc = (seg.segment(x).numpy() == labs).mean()
    assert acc > 0.9
    # a 32-px version of the same scenes (what a growing generator produces) still segments sensibly
    small = torch.nn.functional.interpolate(x, size=32, mode="area")
    acc_small = (seg.segment(small).numpy() == render_batch(seeds, 32)[1]).mean()
    assert acc_small > 0.75
    assert np.isfinite(info["heldout"]["pixel_accuracy"])
