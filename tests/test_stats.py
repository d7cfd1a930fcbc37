import numpy as np
import pytest
import torch

from ganpaint.dissect.stats import ConfusionMatrix, RunningQuantile, ThresholdIoU, frechet_distance


def test_running_quantile_is_exact_while_small():
    rq = RunningQuantile(channels=2, capacity=64)
    rq.add(torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 30.0, 40.0, 50.0]]))
    rq.add(torch.tensor([[6.0, 7.0, 8.0, 9.0, 10.0], [60.0, 70.0, 80.0, 90.0, 100.0]]))
    q = rq.quantiles([0.0, 0.5, 1.0])
    # linear interpolation between order statistics: the median of 1…10 is 5.5
    assert q.tolist() == [[1.0, 5.5, 10.0], [10.0, 55.0, 100.0]]


def test_running_quantile_compacts_and_stays_accurate():
    gen = torch.Generator().manual_seed(0)
    rq = RunningQuantile(channels=3, capacity=256, seed=1)
    data = torch.rand(3, 50_000, generator=gen) * torch.tensor([[1.0], [10.0], [100.0]])
    for chunk in data.split(1000, dim=1):
        rq.add(chunk)
    assert len(rq.levels) > 3  # it really compacted (memory stays bounded)
    assert sum(lv.shape[1] for lv in rq.levels) < 4 * 256 * len(rq.levels)
    q = rq.quantiles([0.5, 0.99])
    exact = torch.quantile(data, torch.tensor([0.5, 0.99]), dim=1).T
    scale = torch.tensor([[1.0], [10.0], [100.0]])
    assert torch.allclose(q / scale, exact / scale, atol=0.01)


def test_running_quantile_state_round_trip():
    rq = RunningQuantile(channels=1, capacity=8)
    rq.add(torch.arange(40.0)[None])
    rq2 = RunningQuantile(channels=1, capacity=8)
    rq2.load_state_dict(rq.state_dict())
    rq.add(torch.arange(40.0, 60.0)[None])
    rq2.add(torch.arange(40.0, 60.0)[None])
    assert torch.equal(rq.quantiles([0.3, 0.9]), rq2.quantiles([0.3, 0.9]))


def test_threshold_iou_hand_computed():
    acts = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    labels = torch.tensor([[[0, 1], [1, 1]]])
    acc = ThresholdIoU(torch.tensor([[0.5, 2.5, 3.5]]), num_classes=2)
    acc.add(acts, labels)
    iou = acc.iou()  # (1, 3, 2)
    # t=0.5: all on → class 1: 3/4, class 0: 1/4; t=2.5: bottom row on → 2/3 and 0; t=3.5: one pixel → 1/3 and 0
    expected = torch.tensor([[[1 / 4, 3 / 4], [0.0, 2 / 3], [0.0, 1 / 3]]])
    assert torch.allclose(iou, expected)


def test_threshold_iou_sums_over_the_set_not_per_image():
    acc = ThresholdIoU(torch.tensor([[0.0]]), num_classes=2)
    acc.add(torch.tensor([[[[1.0, -1.0]]]]), torch.tensor([[[1, 0]]]))  # hit
    acc.add(torch.tensor([[[[1.0, 1.0]]]]), torch.tensor([[[0, 0]]]))  # two false positives
    # class 1: intersection 1, unit on 3 pixels, class 1 on 1 pixel → 1 / (3 + 1 - 1)
    assert acc.iou()[0, 0, 1].item() == pytest.approx(1 / 3)


def test_threshold_iou_ignores_out_of_range_labels():
    acc = ThresholdIoU(torch.tensor([[0.0]]), num_classes=2)
    acc.add(torch.tensor([[[[1.0, 1.0]]]]), torch.tensor([[[1, 255]]]))
    assert acc.iou()[0, 0, 1].item() == pytest.approx(1.0)


def test_confusion_matrix_accuracy_and_iou():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
    assert cm.accuracy() == 0.75
    assert cm.iou() == [1.0, 0.5, 0.5]


def test_frechet_distance_hand_computed():
    x = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])  # mean 0, cov (2/3)·I
    y = 2 * x + np.array([3.0, 0.0])  # mean (3, 0), cov (8/3)·I
    # ‖μ‖² + Σ_i (√a − √b)² = 9 + 2·(√(2/3) − 2√(2/3))² = 9 + 4/3
    assert frechet_distance(x, y) == pytest.approx(9 + 4 / 3, abs=1e-9)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_threshold_iou_with_unsorted_thresholds_and_many_units():
    gen = torch.Generator().manual_seed(0)
    acts = torch.randn(3, 4, 5, 6, generator=gen)
    labels = torch.randint(0, 3, (3, 5, 6), generator=gen)
    thr = torch.tensor([[0.5, -0.2, 1.0]] * 4) + torch.arange(4.0)[:, None] * 0.1
    acc = ThresholdIoU(thr, num_classes=3)
    acc.add(acts, labels)
    for u in range(4):
        for j in range(3):
            on = acts[:, u] > thr[u, j]
            for k in range(3):
                cls = labels == k
                expected = (on & cls).sum() / (on | cls).sum()
                assert acc.iou()[u, j, k].item() == pytest.approx(expected.item())


def test_iqr_is_one_for_identical_masks_and_zero_for_independent_ones():
    labels = torch.tensor([[[0, 0, 1, 1]]])
    acc = ThresholdIoU(torch.tensor([[0.5]]), num_classes=2)
    acc.add(torch.tensor([[[[0.0, 0.0, 1.0, 1.0]]]]), labels)  # on exactly where class 1
    assert acc.iqr()[0, 0, 1].item() == pytest.approx(1.0)
    ind = ThresholdIoU(torch.tensor([[0.5]]), num_classes=2)
    ind.add(torch.tensor([[[[0.0, 1.0, 0.0, 1.0]]]]), labels)  # on half of each class: independent
    assert ind.iqr()[0, 0, 1].item() == pytest.approx(0.0, abs=1e-6)
    assert ind.iou()[0, 0, 1].item() == pytest.approx(1 / 3)  # IoU is not zero by chance; IQR is
