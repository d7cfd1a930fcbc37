"""Progressive GAN training on the procedural world, resumable at any moment.

    cfg = TrainConfig(resolution=64, widths=(128, 128, 64, 32, 16))
    trainer = Trainer(cfg, run_dir="runs/scenes")       # resumes runs/scenes/checkpoint.pt if present
    trainer = Trainer(None, "runs/scenes", init_from="models/scenes")  # a new run from the shipped weights
    trainer.train(max_images=200_000, time_limit_s=3600, progress_fn=print)
    trainer.export("models/scenes")                      # EMA generator in GANPaint layout

The recipe: non-saturating loss, lazy R1 on reals, Adam β=(0, 0.99), EMA of G, progressive growing
from 8 px with fade-in (most images are seen at cheap low resolutions; the growing network and its
schedule: ganpaint.world.progressive). The exported generator has exactly the official module layout at
the resolution reached so far. One checkpoint holds everything needed for a bit-exact resume.
"""
from __future__ import annotations

import copy
import json
import math
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .distributed import Distributed, StopVote
from ..gan.networks import Discriminator
from .progressive import ProgressiveGenerator, TrainConfig
from .training import train_loop
from .world_pool import WorldFeed, WorldPool

__all__ = ["Trainer", "TrainConfig"]


def _expand_compact(state: dict) -> dict:
    for key in ("opt_g", "opt_d"):
        for s in state[key]["state"].values():
            s["exp_avg_sq"] = s["exp_avg_sq"].float()
            s["exp_avg"] = torch.zeros_like(s["exp_avg_sq"])
    return state


def _from_model_folder(folder: Path) -> dict:
    """A starting state from an exported model folder (config.json, generator.safetensors and
    discriminator.safetensors, as `models/scenes` ships them): the exported (EMA) generator as both the
    trained generator and its EMA, the shipped discriminator, the images seen so far; fresh optimizers and
    random stream. So training goes on from the shipped weights on a machine without the training state."""
    from ..gan.artifacts import load_artifact
    from ..gan.checkpoint import DISCRIMINATOR_FILE, DISCRIMINATOR_KIND, load_generator

    info = json.loads((folder / "config.json").read_text())
    training = info.get("training") or {}
    if "recipe" not in training:
        raise ValueError(f"{folder}/config.json has no training recipe: not a model this project trained")
    config = TrainConfig(**training["recipe"])
    G = load_generator(folder / "generator.safetensors")
    if G.config.resolution != config.resolution or tuple(G.config.widths) != config.widths:
        raise ValueError(f"{folder}: the generator ({G.config.resolution} px) was exported before training "
                         f"reached its recipe's {config.resolution} px; resume its run folder instead")
    if not (folder / DISCRIMINATOR_FILE).is_file():
        raise ValueError(f"{folder} has no {DISCRIMINATOR_FILE} to continue training with")
    D = load_artifact(folder / DISCRIMINATOR_FILE, kind=DISCRIMINATOR_KIND)  # stored in float16
    if D.config.get("resolution") != config.resolution or tuple(D.config.get("widths") or ()) != config.widths:
        raise ValueError(f"{folder}/{DISCRIMINATOR_FILE} does not match the generator's recipe")
    g = {f"g.{k}": v for k, v in G.state_dict().items()}
    wall = float(training.get("train_wall_clock_s", 0.0))
    return {"config": asdict(config), "G_partial": g, "D": {k: v.float() for k, v in D.tensors.items()}, "step": int(training.get("steps", 0)),
            "images": int(training.get("images_seen", 0)), "wall_s": wall,
            "wall_by_device": training.get("train_wall_clock_by_device_s") or {"cpu": wall}}


def _downsample(img: torch.Tensor, r: int) -> torch.Tensor:
    while img.shape[-1] > r:
        img = F.avg_pool2d(img, 2)
    return img


class Trainer:
    def __init__(self, config: TrainConfig | None = None, run_dir: str | os.PathLike = "runs/scenes",
                 device: str | None = None, init_from: str | os.PathLike | None = None,
                 render_workers: int = 0, dist: Distributed | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.dist = dist  # under torchrun: gradients averaged over the ranks, rank 0 writes
        self.render_workers = render_workers  # > 0: world scenes come from worker processes (WorldFeed)
        self.feed: WorldFeed | None = None
        self.ckpt_path = self.run_dir / "checkpoint.pt"
        self.device = dist.device if dist else torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes within a phase
        source = self.ckpt_path if self.ckpt_path.exists() else (Path(init_from) if init_from else None)
        if source is not None and source.is_dir():
            state = _from_model_folder(source)
            config = TrainConfig(**state["config"])
        elif source is not None and source.exists():
            state = torch.load(source, map_location="cpu", weights_only=True)
            if state.get("compact"):
                state = _expand_compact(state)
            config = TrainConfig(**state["config"])
        else:
            state = None
            config = config or TrainConfig()
        self.config = cfg = config
        torch.manual_seed(cfg.seed)
        self.G = ProgressiveGenerator(cfg.generator_config()).to(self.device)
        self.D = Discriminator(cfg.resolution, cfg.widths).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=cfg.betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=cfg.betas, eps=1e-8)
        self.rng = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.images = 0
        self.held_images = 0  # images trained while growth was capped (see max_resolution)
        self.max_resolution: int | None = None  # run-time cap on growth; lifting it resumes the schedule
        self.wall_s = 0.0
        self.wall_by_device: dict[str, float] = {}  # where the training time was spent, e.g. {"cpu": …, "NVIDIA H200": …}
        self.sample_z = torch.randn(64, cfg.z_dim, generator=torch.Generator().manual_seed(12345))
        if state is not None and "G_partial" in state:  # from a model folder: the heads below full size stay new
            missing = self.G.load_state_dict(state["G_partial"], strict=False).missing_keys
            assert all(k.startswith("to_rgb.") for k in missing), missing
            self.G_ema.load_state_dict(self.G.state_dict())
            self.D.load_state_dict(state["D"])
            self.step, self.images, self.wall_s = state["step"], state["images"], state["wall_s"]
            self.wall_by_device = dict(state["wall_by_device"])
        elif state is not None:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            self.G_ema.load_state_dict(state["G_ema"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.rng.set_state(state["rng"])
            self.step, self.images, self.wall_s = state["step"], state["images"], state["wall_s"]
            self.held_images = state.get("held_images", 0)
            self.wall_by_device = dict(state.get("wall_by_device") or {"cpu": self.wall_s})
        if dist is not None:
            # every rank draws its own latents and real samples; ranks > 0 derive theirs from the step
            if dist.rank:
                self.rng.manual_seed(cfg.seed + 1_000_003 * dist.rank + self.step)
            for net in (self.G, self.D, self.G_ema):
                dist.broadcast(net)
        self.pool: WorldPool | None = None
        # optional fine-tuning term (see class_match.py); a run-time option like max_resolution
        self.class_match = None
        self.class_match_every = 4
        self._class_match_state = state.get("class_match") if state is not None else None

    def attach_class_match(self, matcher, every: int = 4) -> None:
        """Add a class-share matching term to the generator loss every `every` steps at full resolution."""
        if every < 1:
            raise ValueError("class-match interval must be >= 1")
        if self._class_match_state:
            matcher.load_state_dict(self._class_match_state)
        matcher.segmenter.to(self.device)
        self.class_match, self.class_match_every = matcher, every

    def _class_match_record(self) -> dict | None:
        """The class-match term's state (with its interval): the attached one's, else the one resumed from."""
        if self.class_match is not None:
            self._class_match_state = {**self.class_match.state_dict(), "every": self.class_match_every}
        return self._class_match_state

    # ------------------------------------------------------------------ checkpoint
    def save(self) -> None:
        if self.dist is not None and not self.dist.is_main:
            return  # one writer: every rank holds the same weights
        self.run_dir.mkdir(parents=True, exist_ok=True)
        cfg = asdict(self.config)
        cfg["widths"], cfg["betas"] = list(cfg["widths"]), list(cfg["betas"])
        state = {
            "config": cfg,
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(), "step": self.step, "images": self.images, "wall_s": self.wall_s,
            "held_images": self.held_images, "wall_by_device": self.wall_by_device,
        }
        if cm := self._class_match_record():
            state["class_match"] = cm
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.ckpt_path)  # atomic: a kill never leaves a half checkpoint

    def save_compact(self, path: str | os.PathLike) -> Path:
        """A small resumable checkpoint to commit: weights in float32, Adam's second moments in bfloat16.

        With β1 = 0 Adam's first moment is just the last gradient, so it is dropped; the second moments
        lose only precision. Resuming from it is near-exact (the full checkpoint.pt is bit-exact).
        """
        self.save()
        state = torch.load(self.ckpt_path, map_location="cpu", weights_only=True)
        assert self.config.betas[0] == 0.0, "compact checkpoints assume beta1 = 0"
        for key in ("opt_g", "opt_d"):
            for s in state[key]["state"].values():
                s.pop("exp_avg", None)
                s["exp_avg_sq"] = s["exp_avg_sq"].to(torch.bfloat16)
        state["compact"] = True
        path = Path(path)
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path

    # ------------------------------------------------------------------ one iteration
    def _ema_update(self) -> None:
        cfg = self.config
        halflife = cfg.ema_halflife_images
        if cfg.ema_rampup:
            halflife = min(halflife, self.images * cfg.ema_rampup)
        beta = 0.5 ** (self.global_batch / max(halflife, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.lerp_(p, 1 - beta)

    def iteration(self) -> dict:
        cfg, dev = self.config, self.device
        r, alpha = self.current_phase()
        pool_res = min(max(r, cfg.min_pool_resolution), cfg.resolution)
        if self.pool is None or self.pool.resolution != pool_res:
            if self.render_workers > 0:
                self.close_feed()
                # fresh seeds far past anything the synchronous pool has used, below the held-out range
                first = cfg.pool_size + (self.step + 1_000_000) * cfg.pool_refresh
                self.feed = WorldFeed(self.render_workers, pool_res, first)
            self.pool = WorldPool(cfg.pool_size, pool_res, cfg.pool_refresh, feed=self.feed)
            self.pool.fill(self.step)
        real = _downsample(self.pool.sample(cfg.batch, self.rng), r)
        if alpha < 1.0:
            real = torch.lerp(F.interpolate(F.avg_pool2d(real, 2), scale_factor=2, mode="nearest"), real, alpha)
        real = real.to(dev)
        z1 = torch.randn(cfg.batch, cfg.z_dim, generator=self.rng).to(dev)
        z2 = torch.randn(cfg.batch, cfg.z_dim, generator=self.rng).to(dev)

        # discriminator
        self.D.requires_grad_(True)
        with torch.no_grad():
            fake = self.G(z1, r, alpha)
        do_r1 = self.step % cfg.r1_every == 0
        real.requires_grad_(do_r1)
        d_real = self.D(real, alpha)
        d_fake = self.D(fake, alpha)
        loss_d = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
        loss_d_report = loss_d.detach()
        r1 = torch.zeros(())
        if do_r1:
            (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + r1 * (cfg.r1_gamma / 2 * cfg.r1_every)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        if self.dist is not None:
            self.dist.average_grads(self.D.parameters())
        self.opt_d.step()

        # generator
        self.D.requires_grad_(False)
        fake = self.G(z2, r, alpha)
        loss_g = F.softplus(-self.D(fake, alpha)).mean()
        loss_cm = None
        if (self.class_match is not None and r == cfg.resolution and alpha >= 1.0
                and self.step % self.class_match_every == 0):
            ref = None
            if self.class_match.reference == "ema":
                with torch.no_grad():
                    ref = self.G_ema(z2, r, alpha)
            loss_cm = self.class_match.loss(fake, real.detach(), reference=ref) * self.class_match_every
        self.opt_g.zero_grad(set_to_none=True)
        (loss_g if loss_cm is None else loss_g + loss_cm).backward()
        if self.dist is not None:
            self.dist.average_grads(self.G.parameters())
        self.opt_g.step()

        self.images += self.global_batch
        self.step += 1
        self.current_phase()  # keep held_images current for the checkpoint
        self._ema_update()
        self.pool.advance()
        stats = {"res": r, "alpha": round(alpha, 3), "loss_d": loss_d_report.item(), "loss_g": loss_g.detach().item(), "r1": r1.detach().item()}
        if loss_cm is not None:
            stats["class_ratios"] = self.class_match.ratios()
        return stats

    @property
    def global_batch(self) -> int:
        """Images one step trains on, over all ranks (the schedule counts images, not steps)."""
        return self.config.batch * (self.dist.world if self.dist else 1)

    @property
    def device_label(self) -> str:
        return torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else self.device.type

    def close_feed(self) -> None:
        if self.feed is not None:
            self.feed.close()
            self.feed = None

    # ------------------------------------------------------------------ loop
    def train(self, *, max_images: int | None = None, max_steps: int | None = None,
              time_limit_s: float | None = None, checkpoint_every_s: float = 300.0,
              sample_every_images: int | None = 20_000,
              progress_fn: Callable[[dict], None] | None = None,
              abort_fn: Callable[[], bool] | None = None) -> str:
        """Train until a stop condition (training.train_loop); return which one stopped it."""
        try:
            return self._train_loop(max_images, max_steps, time_limit_s, checkpoint_every_s, sample_every_images,
                             progress_fn, abort_fn)
        finally:
            self.close_feed()
            self.pool = None

    def _train_loop(self, max_images, max_steps, time_limit_s, checkpoint_every_s, sample_every_images,
                    progress_fn, abort_fn) -> str:
        next_sample = [(self.images // sample_every_images + 1) * sample_every_images if sample_every_images else None]

        def after_step(stats: dict, seconds: float) -> None:
            self.wall_by_device[self.device_label] = self.wall_by_device.get(self.device_label, 0.0) + seconds
            stats.update(step=self.step, images=self.images)
            if next_sample[0] is not None and self.images >= next_sample[0]:
                if self.dist is None or self.dist.is_main:
                    self.save_samples()
                next_sample[0] += sample_every_images

        done = lambda: max_images is not None and self.images >= max_images  # noqa: E731 (same on every rank)
        if self.dist is None:
            return train_loop(self, max_steps=max_steps, time_limit_s=time_limit_s, done=done,
                              checkpoint_every_s=checkpoint_every_s, progress_fn=progress_fn, abort_fn=abort_fn,
                              after_step=after_step)
        vote = StopVote(self.dist, time_limit_s, abort_fn, lambda: self.step)  # ranks stop at one step
        reason = train_loop(self, max_steps=max_steps, done=done, checkpoint_every_s=checkpoint_every_s,
                            progress_fn=progress_fn, abort_fn=vote, after_step=after_step)
        return "time" if reason == "aborted" and vote.timed_out else reason

    # ------------------------------------------------------------------ outputs
    def current_phase(self) -> tuple[int, float]:
        """(resolution, alpha) now; with a growth cap, images past the cap's stable phase are 'held'."""
        cfg, cap = self.config, self.max_resolution
        if cap is not None and cap < cfg.resolution:
            limit = cfg.growth_start(2 * cap) - 1  # last image count that is still stable at `cap`
            if self.images - self.held_images > limit:
                self.held_images = self.images - limit
        return cfg.phase(self.images - self.held_images)

    def exportable_resolution(self) -> int:
        r, alpha = self.current_phase()
        return r if alpha >= 1.0 else r // 2

    @torch.no_grad()
    def sample_grid(self, n: int = 64) -> np.ndarray:
        from .world import grid

        r = self.exportable_resolution()
        img = self.G_ema.cpu()(self.sample_z[:n], r)
        self.G_ema.to(self.device)
        arr = ((img.clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(0, 2, 3, 1).numpy()
        return grid(arr, int(math.ceil(math.sqrt(n))))

    def save_samples(self) -> Path:
        from PIL import Image

        out = self.run_dir / "samples"
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.images // 1000:06d}k.png"
        Image.fromarray(self.sample_grid()).save(path)
        return path

    def export(self, out_dir: str | os.PathLike) -> dict:
        """Write the EMA generator (an artifact: GANPaint keys, its config, the training record as provenance)
        and config.json; return the config."""
        from ..gan.checkpoint import save_generator

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        r = self.exportable_resolution()
        G = self.G_ema.cpu().export(r)
        self.G_ema.to(self.device)
        info = {
            **G.config.to_dict(),
            "edit_layer": "layer4",
            "training": {
                "images_seen": self.images,
                "steps": self.step,
                "train_wall_clock_s": round(self.wall_s, 1),
                "train_wall_clock_by_device_s": {k: round(v, 1) for k, v in self.wall_by_device.items()},
                "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
                "recipe": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.config).items()},
            },
        }
        cm = self._class_match_record()
        if cm and cm.get("images"):
            from .class_match import share_ratios

            info["training"]["class_match"] = {
                "weight": cm["weight"], "reference": cm.get("reference", "fake"), "images": cm["images"],
                "every_steps": cm.get("every"), "share_ratios_at_export": share_ratios(cm),
                "about": "fine-tuning term pulling each class's segmenter-read pixel share towards the world's "
                         "(ganpaint/world/class_match.py)"}
        save_generator(G, out / "generator.safetensors", provenance=info["training"])
        (out / "config.json").write_text(json.dumps(info, indent=2) + "\n")
        Image_path = out / "samples.png"
        from PIL import Image

        Image.fromarray(self.sample_grid()).save(Image_path)
        return info
