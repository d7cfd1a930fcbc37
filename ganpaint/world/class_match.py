"""Class-share matching: a generator loss term that pulls each class's pixel share towards the world's.

A GAN can under-generate a rare class (here: mountains, half a percent of the world's pixels) without
the discriminator minding much. This term watches both shares through a frozen segmenter and nudges
the generator only for the classes it under- or over-generates:

    shares  s_real, s_fake  = mean (sharpened) softmax class probability per pixel, as slow running means
    target  L = Σ_c (log s_fake,c − log s_real,c)²

Only the current fake batch carries gradient; its contribution to the running mean is what the
surrogate `Σ_c sg[∂L/∂s_fake,c] · batch_share_c` differentiates, so the push on a class grows with its
long-run log-ratio (clamped) and is zero for a class whose share already matches. With
`reference="ema"` the shares measured are those of the trainer's EMA generator (what gets exported):
the raw generator's class shares swing from batch to batch and its weight average can draw a rare
class less often than any of the states it averages, so the push continues until the EMA's shares match.
The discriminator stays in charge of realism; the term only changes how often the generator draws each class.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ClassShareMatcher:
    segmenter: object  # NetSegmenter: .logits(images) differentiable, .labels
    weight: float = 1.0
    real_halflife_images: int = 20_000
    fake_halflife_images: int = 3_000
    reference: str = "fake"  # what the fake running mean measures: "fake" or "ema" (the trainer's EMA generator)
    max_log_ratio: float = 1.0
    sharpness: float = 2.0  # logits × this before the softmax: soft shares then track the argmax shares
    floor: float = 1e-4  # shares below this count as this (a class absent from both sides gets no push)
    # running means as bias-corrected decayed sums: value = sum / weight (the first batches are not over-trusted)
    real_sum: torch.Tensor | None = None
    real_w: float = 0.0
    fake_sum: torch.Tensor | None = None
    fake_w: float = 0.0
    images: int = 0
    labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.labels = list(self.segmenter.labels)

    def _shares(self, logits: torch.Tensor) -> torch.Tensor:
        return (logits.float() * self.sharpness).softmax(1).mean(dim=(0, 2, 3))

    @staticmethod
    def _mix(total: torch.Tensor | None, weight: float, batch: torch.Tensor, n: int,
             halflife: int) -> tuple[torch.Tensor, float]:
        beta = 0.5 ** (n / halflife)
        batch = batch.detach().cpu() * n
        return (batch if total is None else total * beta + batch), weight * beta + n

    @property
    def real(self) -> torch.Tensor | None:
        return None if self.real_sum is None else self.real_sum / self.real_w

    @property
    def fake(self) -> torch.Tensor | None:
        return None if self.fake_sum is None else self.fake_sum / self.fake_w

    def loss(self, fake: torch.Tensor, real: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        """Surrogate loss on a fake batch (with gradient) given a real batch (images in [-1, 1]).

        `reference`: images whose shares are what should match (e.g. the EMA generator's for the same
        latents, which is what gets exported); the push still goes through `fake`. Default: `fake`.
        """
        n = len(fake)
        with torch.no_grad():
            s_real = self._shares(self.segmenter.logits(real.detach()))
            s_ref = None if reference is None else self._shares(self.segmenter.logits(reference.detach()))
        s_fake = self._shares(self.segmenter.logits(fake))
        measured = s_fake if s_ref is None else s_ref
        self.real_sum, self.real_w = self._mix(self.real_sum, self.real_w, s_real, n, self.real_halflife_images)
        self.fake_sum, self.fake_w = self._mix(self.fake_sum, self.fake_w, measured, n, self.fake_halflife_images)
        self.images += n
        r, f = self.real.clamp_min(self.floor), self.fake.clamp_min(self.floor)
        log_ratio = (f.log() - r.log()).clamp(-self.max_log_ratio, self.max_log_ratio)
        coef = (2 * log_ratio / f).to(s_fake.device)  # ∂L/∂s (the measured shares)
        return self.weight * (coef * s_fake).sum()

    def ratios(self) -> dict[str, float]:
        return share_ratios(self.state_dict(), self.floor)

    def state_dict(self) -> dict:
        return {"weight": self.weight, "reference": self.reference, "real_sum": self.real_sum, "real_w": self.real_w,
                "fake_sum": self.fake_sum, "fake_w": self.fake_w, "images": self.images, "labels": self.labels}

    def load_state_dict(self, state: dict) -> None:
        if list(state.get("labels") or []) != self.labels:
            return  # another segmenter: start its running means afresh
        self.real_sum, self.real_w = state["real_sum"], float(state["real_w"])
        if state.get("reference", "fake") == self.reference:  # else the fake side measured something else
            self.fake_sum, self.fake_w = state["fake_sum"], float(state["fake_w"])
        self.images = int(state["images"])


def share_ratios(state: dict, floor: float = 1e-4) -> dict[str, float]:
    """Fake over real running share per class, from a matcher's state_dict (empty before its first batch)."""
    if state.get("real_sum") is None or state.get("fake_sum") is None:
        return {}
    r = (state["real_sum"] / state["real_w"]).clamp_min(floor)
    f = (state["fake_sum"] / state["fake_w"]).clamp_min(floor)
    return {c: round(float(f[i] / r[i]), 3) for i, c in enumerate(state["labels"])}
