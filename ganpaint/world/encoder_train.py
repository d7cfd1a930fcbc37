"""Training the photo encoder (ganpaint.photo.invert) against a fixed generator, resumable at any moment.

    trainer = EncoderTrainer(model.generator, run_dir="runs/encoder")     # resumes if a checkpoint exists
    trainer.train(time_limit_s=1800, progress_fn=print)
    trainer.export("models/scenes/encoder.safetensors")

It learns from two sources: generator samples, where z and layer4 are known (loss on layer4 and on
the re-rendered image), and renders of the procedural world (only the re-rendered image can be
compared). World seeds stay below HELDOUT_SEED_BASE so evaluations on held-out renders are fair.
The exported file stores its config and the sha256 of the generator it was trained against.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..gan.checkpoint import state_dict_sha256
from ..photo.invert import Encoder, EncoderConfig, FeatureNet, perceptual_distance, psnr, save_encoder
from ..gan.networks import Generator
from .training import train_loop
from .world import HELDOUT_SEED_BASE, render_batch

__all__ = ["EncoderTrainConfig", "EncoderTrainer"]


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
