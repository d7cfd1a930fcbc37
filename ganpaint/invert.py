"""The photo encoder: image → layer4 activations of a given generator, and its (resumable) training.

    E = load_encoder("models/scenes/encoder.safetensors", generator=model.generator)
    h4 = E(x)                                     # x (N, 3, R, R) in [-1, 1] → (N, C, 8, 8)
    img = model.render(h4)                        # a first reconstruction, refined by ganpaint.adapt

    trainer = EncoderTrainer(model.generator, run_dir="runs/encoder")     # resumes if a checkpoint exists
    trainer.train(time_limit_s=1800, progress_fn=print)
    trainer.export("models/scenes/encoder.safetensors")

The encoder is a plain strided conv net (one stride-2 stage per octave from R down to 8×8, then
residual blocks at 8×8 and a 1×1 head), so it fits any generator whose edit layer is 8×8.
It learns from two sources: generator samples, where z and layer4 are known (loss on layer4 and on
the re-rendered image), and renders of the procedural world (only the re-rendered image can be
compared). World seeds stay below HELDOUT_SEED_BASE so evaluations on held-out renders are fair.
The exported file stores its config and the sha256 of the generator it was trained against.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .artifacts import ArtifactError, load_artifact, save_artifact
from .checkpoint import state_dict_sha256
from .training import train_loop
from .networks import Generator
from .world import HELDOUT_SEED_BASE, render_batch

__all__ = ["EncoderConfig", "Encoder", "EncoderError", "EncoderTrainer", "EncoderTrainConfig", "FeatureNet",
           "load_encoder", "save_encoder", "find_encoder", "perceptual_distance", "psnr"]


class EncoderError(ValueError):
    """An encoder file that cannot be used with this generator; the message says why."""


@dataclass
class EncoderConfig:
    resolution: int = 128  # input size (the generator's resolution)
    out_channels: int = 128  # edit-layer units
    out_size: int = 8  # edit-layer spatial size
    base: int = 16  # channels at full resolution; doubles per octave up to `top`
    top: int = 128
    blocks: int = 1  # residual blocks at out_size

    def __post_init__(self) -> None:
        octaves = math.log2(self.resolution / self.out_size)
        if octaves != int(octaves) or octaves < 0:
            raise ValueError(f"resolution {self.resolution} is not a power-of-two multiple of {self.out_size}")


class _Res(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.leaky_relu(self.c1(F.leaky_relu(x, 0.2)), 0.2))


class Encoder(nn.Module):
    """(N, 3, R, R) in [-1, 1] → (N, C, 8, 8) predicted edit-layer activations."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = c = config
        octaves = int(math.log2(c.resolution // c.out_size))
        layers: list[nn.Module] = [nn.Conv2d(3, c.base, 3, padding=1), nn.LeakyReLU(0.2)]
        ch = c.base
        for _ in range(octaves):
            nxt = min(ch * 2, c.top)
            layers += [nn.Conv2d(ch, nxt, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                       nn.Conv2d(nxt, nxt, 3, padding=1), nn.LeakyReLU(0.2)]
            ch = nxt
        if ch != c.top:
            layers += [nn.Conv2d(ch, c.top, 1)]
        layers += [_Res(c.top) for _ in range(c.blocks)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c.top, c.out_channels, 1)
        self.meta: dict = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.config.resolution or x.shape[-2] != self.config.resolution:
            x = F.interpolate(x, size=(self.config.resolution,) * 2, mode="area")
        h = self.head(F.leaky_relu(self.body(x), 0.2))  # (N, C, 8, 8)
        # layer4 outputs come from a LeakyReLU(0.2): keep predictions in that range
        return F.leaky_relu(h, 0.2)


class FeatureNet(nn.Module):
    """A small fixed random conv net (seeded, nothing to download or ship) for a perceptual loss.

    Random conv features respond to edges and textures at three scales; comparing them penalizes
    blur and misplaced structure that a pixel L1 alone tolerates.
    """

    def __init__(self, seed: int = 0, widths: tuple[int, ...] = (8, 16, 32)) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList()
        c = 3
        for w in widths:
            conv = nn.Conv2d(c, w, 3, padding=1, bias=False)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2.0 / (c * 9)))
            self.convs.append(conv)
            c = w
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, conv in enumerate(self.convs):
            if i:
                x = F.avg_pool2d(x, 2)
            x = F.relu(conv(x))
            feats.append(x)
        return feats


def perceptual_distance(fnet: FeatureNet, a: torch.Tensor, b: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between feature maps (b may be precomputed features), one scalar."""
    fb = b if isinstance(b, list) else fnet(b)
    return sum((x - y).abs().mean() for x, y in zip(fnet(a), fb)) / len(fb)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two images in [-1, 1] (compared on the 0…1 scale after clamping)."""
    mse = ((a.clamp(-1, 1) - b.clamp(-1, 1)) / 2).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


# ----------------------------------------------------------------------------- files
def save_encoder(E: Encoder, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write the encoder as an artifact (kind "encoder", its config, `meta` as provenance)."""
    # float16 on disk halves the file; an initializer loses nothing that matters
    save_artifact(path, E.state_dict(), kind="encoder", config=asdict(E.config), provenance=meta or E.meta, half=True)
    return Path(path)


def load_encoder(path: str | os.PathLike, generator: Generator | None = None, edit_layer: str = "layer4") -> Encoder:
    """Read an encoder file; with `generator`, check that its output fits that generator's edit layer."""
    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"no encoder file at {path}")
    try:
        art = load_artifact(path, kind="encoder")
        E = Encoder(EncoderConfig(**art.config))
        E.load_state_dict(art.tensors)
    except (ArtifactError, TypeError, ValueError, RuntimeError) as e:  # any failure means "not an encoder"
        raise EncoderError(f"{path.name} is not a ganpaint encoder ({str(e).splitlines()[0][:200]})") from None
    E.meta = art.provenance
    if generator is not None:
        cfg = generator.config
        want = (cfg.resolution, cfg.layer_channels(edit_layer), cfg.layer_resolution(edit_layer))
        have = (E.config.resolution, E.config.out_channels, E.config.out_size)
        if want != have:
            raise EncoderError(f"encoder {path.name} maps {have[0]}px images to {have[1]}×{have[2]}² but the "
                               f"generator needs {want[0]}px → {want[1]}×{want[2]}²; retrain it (ganpaint train-encoder)")
    return E.eval().requires_grad_(False)


def find_encoder(folder: str | os.PathLike | None, generator: Generator, info: dict | None = None) -> Encoder | None:
    """The encoder shipped in a model folder (`encoder.safetensors` or model.json's "encoder"), or None."""
    if folder is None:
        return None
    path = Path(folder) / (info or {}).get("encoder", "encoder.safetensors")
    return load_encoder(path, generator) if path.is_file() else None


# ----------------------------------------------------------------------------- training
@dataclass
class EncoderTrainConfig:
    batch: int = 16
    world_fraction: float = 0.5  # share of each batch that is world renders (the rest: generator samples)
    lr: float = 1e-3
    feature_weight: float = 1.0  # layer4 regression (generator samples)
    pixel_weight: float = 1.0  # L1 of the re-rendered image
    perceptual_weight: float = 0.5
    pool_size: int = 1024  # world renders kept in memory
    pool_refresh: int = 2  # new world renders per step (rendering is the slow part on CPU)
    seed: int = 0
    encoder: dict = field(default_factory=dict)  # EncoderConfig overrides


class EncoderTrainer:
    """Trains an Encoder against a fixed generator; checkpoint.pt in run_dir resumes exactly where it stopped."""

    def __init__(self, generator: Generator, config: EncoderTrainConfig | None = None,
                 run_dir: str | os.PathLike = "runs/encoder", edit_layer: str = "layer4") -> None:
        self.G = generator.eval().requires_grad_(False)
        self.edit_layer = edit_layer
        self.next_layer = generator.layer_after(edit_layer)
        self.run_dir = Path(run_dir)
        self.ckpt_path = self.run_dir / "checkpoint.pt"
        self.g_sha = state_dict_sha256(generator)
        state = torch.load(self.ckpt_path, map_location="cpu", weights_only=True) if self.ckpt_path.exists() else None
        if state is not None and state.get("generator_sha256") != self.g_sha:
            # an encoder trained for older generator weights is still a good start: keep it, reset the rest
            state = {"config": state["config"], "E": state["E"], "step": 0, "wall_s": 0.0, "restarted": True}
        self.config = cfg = EncoderTrainConfig(**state["config"]) if state else (config or EncoderTrainConfig())
        gc = generator.config
        ecfg = EncoderConfig(resolution=gc.resolution, out_channels=gc.layer_channels(edit_layer),
                             out_size=gc.layer_resolution(edit_layer), **cfg.encoder)
        with torch.random.fork_rng():  # the same config always starts from the same weights
            torch.manual_seed(cfg.seed)
            self.E = Encoder(ecfg)
        self.opt = torch.optim.Adam(self.E.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
        self.fnet = FeatureNet()
        self.step, self.wall_s = 0, 0.0
        self.rng = torch.Generator().manual_seed(cfg.seed)
        if state is not None:
            mine = self.E.state_dict()
            fits = set(mine) == set(state["E"]) and all(mine[k].shape == v.shape for k, v in state["E"].items())
            if fits:
                self.E.load_state_dict(state["E"])
            else:  # the generator changed size (e.g. a 64 px export replaced by 128 px): start fresh
                state = {"step": 0, "wall_s": 0.0}
            if "opt" in state:
                self.opt.load_state_dict(state["opt"])
                self.rng.set_state(state["rng"])
            self.step, self.wall_s = state["step"], state["wall_s"]
        self.pool: torch.Tensor | None = None
        self._pool_next = 0

    # world renders: a ring refreshed a little every step, a pure function of the step count
    def _fill_pool(self, progress_fn: Callable[[str], None] | None = None) -> None:
        cfg, r = self.config, self.G.config.resolution
        self.pool = torch.empty(cfg.pool_size, 3, r, r, dtype=torch.uint8)
        last = cfg.pool_size + self.step * cfg.pool_refresh
        seeds = list(range(max(0, last - cfg.pool_size), last))
        for i in range(0, len(seeds), 64):
            chunk = seeds[i:i + 64]
            self._render_into(chunk)
            if progress_fn:
                progress_fn(f"rendering world scenes {i + len(chunk)}/{len(seeds)}")
        self._pool_next = last

    def _render_into(self, seeds: list[int]) -> None:
        assert max(seeds) < HELDOUT_SEED_BASE
        imgs, _ = render_batch(seeds, self.G.config.resolution)
        self.pool[[s % self.config.pool_size for s in seeds]] = torch.from_numpy(imgs).permute(0, 3, 1, 2)

    def save(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {"config": asdict(self.config), "E": self.E.state_dict(), "opt": self.opt.state_dict(),
                 "rng": self.rng.get_state(), "step": self.step, "wall_s": self.wall_s, "generator_sha256": self.g_sha}
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.ckpt_path)

    def iteration(self) -> dict:
        cfg = self.config
        n_world = int(round(cfg.batch * cfg.world_fraction))
        n_gen = cfg.batch - n_world
        z = torch.randn(n_gen, self.G.config.z_dim, generator=self.rng)
        with torch.no_grad():
            h_true = self.G.features(z, upto=self.edit_layer)
            x_gen = self.G.render_from(h_true, start=self.next_layer).clamp(-1, 1)
        idx = torch.randint(0, cfg.pool_size, (n_world,), generator=self.rng)
        x_world = self.pool[idx].float().div(127.5).sub(1.0)
        x = torch.cat([x_gen, x_world])
        h = self.E(x)
        loss_h = (h[:n_gen] - h_true).pow(2).mean() / h_true.pow(2).mean().clamp_min(1e-8)
        y = self.G.render_from(h, start=self.next_layer)
        loss_px = (y - x).abs().mean()
        loss_pc = perceptual_distance(self.fnet, y, x)
        loss = cfg.feature_weight * loss_h + cfg.pixel_weight * loss_px + cfg.perceptual_weight * loss_pc
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        self._render_into(list(range(self._pool_next, self._pool_next + cfg.pool_refresh)))
        self._pool_next += cfg.pool_refresh
        return {"loss": loss.item(), "h4": loss_h.item(), "l1": loss_px.item(), "perceptual": loss_pc.item()}

    def train(self, *, max_steps: int | None = None, time_limit_s: float | None = None,
              checkpoint_every_s: float = 300.0, progress_fn: Callable[[dict], None] | None = None,
              abort_fn: Callable[[], bool] | None = None, log_fn: Callable[[str], None] | None = None) -> str:
        """Train until a stop condition (training.train_loop); return which one stopped it."""
        if self.pool is None:
            self._fill_pool(log_fn)
        self.E.train()
        try:
            return train_loop(self, max_steps=max_steps, time_limit_s=time_limit_s,
                              checkpoint_every_s=checkpoint_every_s, progress_fn=progress_fn, abort_fn=abort_fn,
                              after_step=lambda stats, seconds: stats.update(step=self.step))
        finally:
            self.E.eval()

    @torch.no_grad()
    def evaluate(self, count: int = 64) -> dict:
        """Reconstruction of held-out world renders by encoder + generator alone (no adaptation)."""
        imgs, _ = render_batch(range(HELDOUT_SEED_BASE, HELDOUT_SEED_BASE + count), self.G.config.resolution)
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        self.E.eval()
        y = torch.cat([self.G.render_from(self.E(x[i:i + 16]), start=self.next_layer) for i in range(0, count, 16)])
        return {"heldout_renders": count, "l1": round((y - x).abs().mean().item(), 4),
                "psnr": round(float(np.mean([psnr(y[i], x[i]) for i in range(count)])), 2)}

    def export(self, path: str | os.PathLike, eval_count: int = 64) -> dict:
        meta = {"generator_sha256": self.g_sha, "edit_layer": self.edit_layer, "steps": self.step,
                "train_wall_clock_s": round(self.wall_s, 1), "train": asdict(self.config),
                "heldout": self.evaluate(eval_count) if eval_count else None}
        save_encoder(self.E, path, meta)
        return {**meta, "bytes": Path(path).stat().st_size}
