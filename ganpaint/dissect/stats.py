"""Running statistics fed batch by batch: quantiles, IoU counts, confusion matrices, Fréchet distance.

    rq = RunningQuantile(channels=128)
    rq.add(acts.permute(1, 0, 2, 3).reshape(128, -1))     # (C, samples) per batch
    q99 = rq.quantiles([0.99])[:, 0]                        # (C,)

    iou = ThresholdIoU(thresholds=t, num_classes=11)        # t: (C, T) candidate thresholds per unit
    iou.add(acts_up, labels)                                 # (N, C, H, W) activations at label size, (N, H, W)
    iou.iou()                                                # (C, T, K) IoU for every unit/threshold/class

All state is plain tensors (`state_dict()` / `load_state_dict()`), so long jobs can checkpoint it.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["RunningQuantile", "ThresholdIoU", "ConfusionMatrix", "frechet_distance"]


class RunningQuantile:
    """Per-channel streaming quantiles with bounded memory (a KLL-style compactor hierarchy).

    Level i holds values that each stand for 2**i originals. While fewer than `capacity` values have
    been seen per channel the answer is exact; afterwards a full level is sorted and every other value
    (random offset) is promoted, which keeps the rank error around 1/capacity.
    """

    def __init__(self, channels: int, capacity: int = 4096, seed: int = 0) -> None:
        self.channels, self.capacity = channels, capacity
        self.levels: list[torch.Tensor] = [torch.empty(channels, 0)]
        self.count = 0
        self.gen = torch.Generator().manual_seed(seed)

    def add(self, x: torch.Tensor) -> None:
        """x: (C, n) new values per channel."""
        assert x.dim() == 2 and x.shape[0] == self.channels, f"expected ({self.channels}, n), got {tuple(x.shape)}"
        self.count += x.shape[1]
        self.levels[0] = torch.cat([self.levels[0], x.detach().float().cpu()], 1)
        i = 0
        while i < len(self.levels):
            if self.levels[i].shape[1] >= 2 * self.capacity:
                v = self.levels[i].sort(dim=1).values
                off = int(torch.randint(0, 2, (), generator=self.gen))
                promoted = v[:, off::2]
                if i + 1 == len(self.levels):
                    self.levels.append(torch.empty(self.channels, 0))
                self.levels[i + 1] = torch.cat([self.levels[i + 1], promoted], 1)
                self.levels[i] = torch.empty(self.channels, 0)
            i += 1

    def quantiles(self, qs) -> torch.Tensor:
        """(C, len(qs)) quantiles; linear interpolation between order statistics when exact."""
        qs = torch.as_tensor(qs, dtype=torch.float32)
        if self.count == 0:
            raise ValueError("no values were added")
        if len(self.levels) == 1:  # exact, like torch.quantile(..., interpolation="linear")
            return torch.quantile(self.levels[0], qs, dim=1).T.contiguous()
        vals = torch.cat(self.levels, 1)
        wts = torch.cat([torch.full((lv.shape[1],), 2.0**i) for i, lv in enumerate(self.levels)])
        order = vals.argsort(dim=1)
        v = vals.gather(1, order)
        cw = wts[order].cumsum(1)  # (C, m)
        # rank of the value that answers q: the first whose cumulative weight reaches q·total (midpoint rule)
        target = qs[None, :] * cw[:, -1:]  # (C, Q)
        idx = torch.searchsorted(cw - wts[order] / 2, target).clamp(0, v.shape[1] - 1)
        return v.gather(1, idx)

    def state_dict(self) -> dict:
        return {"levels": list(self.levels), "count": self.count, "capacity": self.capacity, "rng": self.gen.get_state()}

    def load_state_dict(self, d: dict) -> None:
        self.levels, self.count, self.capacity = list(d["levels"]), int(d["count"]), int(d["capacity"])
        self.gen.set_state(d["rng"])


class ThresholdIoU:
    """Counts for IoU(unit > threshold, label == class) over a whole data set, for many thresholds.

    For each unit u, candidate threshold t and class k it accumulates |on ∧ k| (intersection),
    |on| per (u, t) and |k| per class; IoU = I / (|on| + |k| − I), summed over all images (not averaged).
    """

    def __init__(self, thresholds: torch.Tensor, num_classes: int) -> None:
        assert thresholds.dim() == 2, "thresholds must be (C, T)"
        self.thresholds = thresholds.float()
        c, t = thresholds.shape
        self.num_classes = num_classes
        self.inter = torch.zeros(c, t, num_classes, dtype=torch.float64)
        self.on = torch.zeros(c, t, dtype=torch.float64)
        self.label = torch.zeros(num_classes, dtype=torch.float64)
        self.total = torch.zeros((), dtype=torch.float64)

    def add(self, acts: torch.Tensor, labels: torch.Tensor) -> None:
        """acts (N, C, H, W) at the label map's size; labels (N, H, W) long in [0, K) (other values ignored)."""
        n, c, h, w = acts.shape
        assert labels.shape == (n, h, w), f"labels {tuple(labels.shape)} do not match acts {tuple(acts.shape)}"
        t, k = self.thresholds.shape[1], self.num_classes
        lab = labels.reshape(-1)
        valid = (lab >= 0) & (lab < k)
        lab = lab[valid]
        self.label += torch.bincount(lab, minlength=k).double()
        self.total += float(valid.sum())
        a = acts.float().permute(1, 0, 2, 3).reshape(c, -1)[:, valid]  # (C, P)
        # bin = how many of the unit's thresholds lie strictly below the value: value > t_j ⇔ j < bin.
        # One histogram over (unit, bin, class) replaces a (C, T, P) comparison tensor.
        thr = self.thresholds.sort(dim=1).values.contiguous()
        bins = torch.searchsorted(thr, a.contiguous(), right=False)  # (C, P) in [0, T]
        idx = (torch.arange(c)[:, None] * (t + 1) + bins) * k + lab[None, :]
        hist = torch.bincount(idx.reshape(-1), minlength=c * (t + 1) * k).reshape(c, t + 1, k).double()
        above = hist.flip(1).cumsum(1).flip(1)[:, 1:]  # (C, T, K): counts with bin > j
        order = self.thresholds.argsort(dim=1).argsort(dim=1)  # back to the caller's threshold order
        above = above.gather(1, order[:, :, None].expand(c, t, k))
        self.inter += above
        self.on += above.sum(-1)

    def iou(self) -> torch.Tensor:
        """(C, T, K) IoU; 0 where the union is empty."""
        union = self.on[:, :, None] + self.label[None, None, :] - self.inter
        return torch.where(union > 0, self.inter / union.clamp_min(1e-12), torch.zeros_like(union)).float()

    def iqr(self) -> torch.Tensor:
        """(C, T, K) information quality ratio of (unit on) vs (class present): mutual information / joint
        entropy; 0 for independent, 1 for identical masks. Unlike IoU it does not reward a loose threshold
        on a big class by chance, so it picks each unit×class threshold."""
        n = self.total.clamp_min(1)
        n11 = self.inter
        n10 = self.on[:, :, None] - n11
        n01 = self.label[None, None, :] - n11
        n00 = n - n11 - n10 - n01
        p = torch.stack([n11, n10, n01, n00]) / n  # (4, C, T, K)
        pa = torch.stack([p[0] + p[1], p[0] + p[1], p[2] + p[3], p[2] + p[3]])  # unit on / off
        pb = torch.stack([p[0] + p[2], p[1] + p[3], p[0] + p[2], p[1] + p[3]])  # class present / absent
        logp = torch.where(p > 0, p.clamp_min(1e-30).log(), torch.zeros_like(p))
        mi = (p * (logp - torch.where(p > 0, (pa * pb).clamp_min(1e-30).log(), torch.zeros_like(p)))).sum(0)
        h = -(p * logp).sum(0)
        return torch.where(h > 0, mi / h.clamp_min(1e-30), torch.zeros_like(h)).float()

    def state_dict(self) -> dict:
        return {"thresholds": self.thresholds, "inter": self.inter, "on": self.on, "label": self.label, "total": self.total}

    def load_state_dict(self, d: dict) -> None:
        self.thresholds, self.inter, self.on, self.label = d["thresholds"], d["inter"], d["on"], d["label"]
        self.total = d["total"]


class ConfusionMatrix:
    """K×K counts of (true, predicted) labels; pixel accuracy and per-class IoU."""

    def __init__(self, num_classes: int) -> None:
        self.k = num_classes
        self.counts = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: torch.Tensor, true: torch.Tensor) -> None:
        ok = (true >= 0) & (true < self.k)
        idx = true[ok].long() * self.k + pred[ok].long().to(true.device)
        self.counts += torch.bincount(idx.cpu(), minlength=self.k * self.k).reshape(self.k, self.k)

    def accuracy(self) -> float:
        return float(self.counts.diag().sum() / self.counts.sum().clamp_min(1))

    def iou(self) -> list[float]:
        """Per-class IoU = TP / (TP + FP + FN); NaN for a class absent from both truth and prediction."""
        tp = self.counts.diag().double()
        union = self.counts.sum(0).double() + self.counts.sum(1).double() - tp
        return [float(t / u) if u > 0 else float("nan") for t, u in zip(tp, union)]


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of x (n, d) and y (m, d).

    ‖μx − μy‖² + tr(Σx + Σy − 2 (Σx Σy)^½), with tr((Σx Σy)^½) = tr((Σx^½ Σy Σx^½)^½), which stays
    symmetric (so no complex square roots and no scipy).
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    assert x.ndim == 2 and y.ndim == 2 and x.shape[1] == y.shape[1], "expected (n, d) and (m, d) arrays"
    mx, my = x.mean(0), y.mean(0)
    cx, cy = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    s = _sqrtm_psd(cx)
    covmean_trace = np.trace(_sqrtm_psd(s @ cy @ s))
    return float(((mx - my) ** 2).sum() + np.trace(cx) + np.trace(cy) - 2 * covmean_trace)
