import json
from pathlib import Path

import pytest
import torch

from ganpaint.gan.artifacts import ArtifactError, save_artifact
from ganpaint.dissect.judge import JudgeConfig, JudgeNet, JudgeSegmenter, load_judge, save_judge
from ganpaint.dissect.judge_train import JUDGE_SEEDS, JudgeTrainConfig, augment, train_judge
from ganpaint.segmenters.segmenter import Segmenter, load_segmenter

torch.set_num_threads(1)
SHIPPED = Path(__file__).resolve().parents[1] / "models" / "scenes"
TINY = JudgeConfig(stem=(4, 8), width=8, dilations=(1, 2), pool_sizes=(1, 2), size=32)


def test_the_judge_segments_any_size_into_its_labels():
    judge = JudgeSegmenter(JudgeNet(TINY), "judge-test")
    assert isinstance(judge, Segmenter)
    out = judge.segment(torch.rand(3, 3, 48, 40) * 2 - 1)
    assert out.shape == (3, 48, 40) and out.dtype == torch.long and int(out.max()) < len(judge.labels) == 11


def test_save_and_load_round_trip(tmp_path):
    assert load_judge(tmp_path) is None
    net = JudgeNet(TINY).eval()
    ident = save_judge(net, tmp_path / "judge.safetensors", provenance={"training": {"seeds": [1, 2]}})
    judge = load_judge(tmp_path)
    assert judge.id == ident and ident.startswith("judge-") and judge.provenance["training"]["seeds"] == [1, 2]
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        want = net(x)
    assert torch.allclose(judge.scores(x), want, atol=0.05)  # float16 on disk


def test_a_broken_or_foreign_file_is_refused(tmp_path):
    save_artifact(tmp_path / "judge.safetensors", {"w": torch.zeros(2)}, kind="discriminator")
    with pytest.raises(ArtifactError, match="not a 'judge-segmenter'"):
        load_judge(tmp_path)
    save_artifact(tmp_path / "judge.safetensors", {"w": torch.zeros(2)}, kind="judge-segmenter", config=TINY.to_dict())
    with pytest.raises(ArtifactError, match="does not fit"):
        load_judge(tmp_path)


def test_augmentation_degrades_like_a_generator_but_keeps_the_range():
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    g = torch.Generator().manual_seed(0)
    y = augment(x, g, p=1.0)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert all(not torch.allclose(a, b) for a, b in zip(x, y))
    assert torch.equal(augment(x, g, p=0.0), x)


def test_judge_seeds_avoid_the_ranking_segmenters_and_the_held_out_ones():
    with pytest.raises(ValueError):
        JudgeTrainConfig(first_seed=0)
    with pytest.raises(ValueError):
        JudgeTrainConfig(first_seed=999_999_999)


def test_a_few_steps_of_training_learn_the_sky():
    cfg = JudgeTrainConfig(scenes=24, steps=40, batch=8, crop=32, full_batch=4, lr=1e-2, augment_p=0.3)
    net, record = train_judge(cfg, net_config=TINY)
    assert record["steps_done"] == 40 and record["train_seeds"] == [JUDGE_SEEDS, JUDGE_SEEDS + 23]
    from ganpaint.world.world import render_batch

    imgs, labs = render_batch(range(1_000_000_000, 1_000_000_008), 32)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
    pred = JudgeSegmenter(net).segment(x)
    sky = torch.from_numpy(labs) == 0
    assert (pred[sky] == 0).float().mean() > 0.6  # sky is the easy class: the net is learning


@pytest.mark.slow
def test_the_shipped_judge_is_not_the_ranking_segmenter():
    judge = load_judge(SHIPPED)
    ranking = load_segmenter(SHIPPED / "segmenter.safetensors")
    assert judge is not None, "models/scenes/judge.safetensors is missing: run `ganpaint train-judge`"
    assert judge.id != ranking.id and judge.id.startswith("judge-") and ranking.id.startswith("unet-")
    assert type(judge.net) is not type(ranking.net)
    jw = {tuple(v.shape): v for v in judge.net.state_dict().values() if v.dim() == 4}
    for v in ranking.net.state_dict().values():  # no convolution of one is a copy of the other's
        if v.dim() == 4 and tuple(v.shape) in jw:
            assert not torch.allclose(v, jw[tuple(v.shape)])
    train = judge.provenance["training"]["train_seeds"]
    ranked = json.loads((SHIPPED / "segmenter.json").read_text())["training"]["train_seeds"]
    assert train[0] > ranked[1] and train[1] < 1_000_000_000  # other world seeds, below the held-out ones
    from ganpaint.dissect.segmenter_train import evaluate_segmenter

    assert evaluate_segmenter(judge, count=40, first_seed=1_000_000_500)["pixel_accuracy"] > 0.9
