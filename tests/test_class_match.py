"""The class-share matching term: pushes under-drawn classes up, leaves matched ones alone, resumes."""
import torch
from torch import nn

from ganpaint.world.class_match import ClassShareMatcher
from ganpaint.world.train import TrainConfig, Trainer

from test_train import TINY


class ColorSegmenter:
    """Toy segmenter: class 0 = red, 1 = green, 2 = blue (logits are the channels, scaled)."""

    labels = ["red", "green", "blue"]

    def __init__(self) -> None:
        self.net = nn.Identity()

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return images * 4.0

    def to(self, device):
        return self


def _images(n: int, shares: tuple[float, float, float], size: int = 8, seed: int = 0) -> torch.Tensor:
    """Images whose pixels are pure red/green/blue (in [-1, 1]) with about the given shares."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.multinomial(torch.tensor(shares), n * size * size, replacement=True, generator=g)
    x = -torch.ones(n * size * size, 3)
    x[torch.arange(len(cls)), cls] = 1.0
    return x.view(n, size, size, 3).permute(0, 3, 1, 2).contiguous()


def test_an_under_drawn_class_is_pushed_up_and_the_others_are_not_pushed_up():
    m = ClassShareMatcher(ColorSegmenter(), weight=1.0)
    real = _images(16, (0.4, 0.2, 0.4))
    fake = _images(16, (0.45, 0.05, 0.5), seed=1).requires_grad_(True)
    m.loss(fake, real).backward()
    # descending the loss raises green and lowers red and blue, pixel by pixel
    g = -fake.grad.mean(dim=(0, 2, 3))
    assert g[1] > 0 and g[0] < 0 and g[2] < 0
    r = m.ratios()
    assert r["green"] < 0.5 and 0.9 < r["red"] < 1.3


def test_matched_shares_get_no_push():
    m = ClassShareMatcher(ColorSegmenter(), weight=1.0)
    real = _images(16, (0.3, 0.3, 0.4))
    fake = real.clone().requires_grad_(True)
    m.loss(fake, real).backward()
    assert fake.grad.abs().max() < 1e-6


def test_descending_the_term_moves_the_shares_towards_the_world():
    m = ClassShareMatcher(ColorSegmenter(), weight=1.0, fake_halflife_images=8)
    real = _images(16, (0.4, 0.2, 0.4))
    fake = nn.Parameter(_images(16, (0.45, 0.05, 0.5), seed=1) * 0.5)
    opt = torch.optim.Adam([fake], lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        m.loss(fake, real).backward()
        opt.step()
    assert abs(m.ratios()["green"] - 1.0) < 0.2


def test_trainer_applies_the_term_at_full_resolution_and_resumes_its_running_means(tmp_path):
    torch.set_num_threads(1)
    t = Trainer(TrainConfig(**TINY), tmp_path / "run")
    t.attach_class_match(ClassShareMatcher(ColorSegmenter()), every=1)
    seen = []
    t.train(max_steps=10, sample_every_images=None, progress_fn=lambda s: seen.append(s))
    applied = [s for s in seen if "class_ratios" in s]
    assert applied and all(s["res"] == 16 and s["alpha"] == 1.0 for s in applied)
    assert all(s["res"] < 16 or s["alpha"] < 1.0 for s in seen if "class_ratios" not in s)
    images = t.class_match.images
    assert images == len(applied) * TINY["batch"]
    t2 = Trainer(None, tmp_path / "run")
    t2.attach_class_match(ClassShareMatcher(ColorSegmenter()))
    assert t2.class_match.images == images
    assert torch.equal(t2.class_match.real_sum, t.class_match.real_sum)


def test_ema_reference_measures_the_exported_generator_and_the_export_records_the_term(tmp_path):
    torch.set_num_threads(1)
    t = Trainer(TrainConfig(**TINY), tmp_path / "run")
    t.train(max_steps=6, sample_every_images=None)  # reach full resolution first
    m = ClassShareMatcher(ColorSegmenter(), reference="ema")
    t.attach_class_match(m, every=1)
    calls = []
    real_loss = m.loss
    m.loss = lambda fake, real, reference=None: calls.append(reference) or real_loss(fake, real, reference)
    t.train(max_steps=8, sample_every_images=None)
    assert len(calls) == 2 and all(r is not None and not r.requires_grad for r in calls)
    info = t.export(tmp_path / "model")["training"]["class_match"]
    assert info["reference"] == "ema" and info["images"] == 2 * TINY["batch"]
    assert set(info["share_ratios_at_export"]) == {"red", "green", "blue"}
