"""Fit a generator to one photo, the talk's way, without touching the shared generator.

    result = adapt(model.generator, x, encoder=E, progress_fn=report, abort_fn=cancelled)
    img = model.render(result.h, alpha, value, generator=result.generator)   # paint as on any image
    result.metrics                  # reconstruction L1 / PSNR / seconds after each stage

Stages (each a pure function; `adapt` chains them):
  1. encode:  h0 = E(x)                                   (or the best of a few random z without an encoder)
  2. h4:      optimize h so that G_{5..}(h) ≈ x, penalty ‖h − h0‖²
  3. coarse:  optimize a copy of layer6's weights, penalty ‖θ − θ0‖²
  4. fine:    optimize an additive offset d after a fine layer, penalty ‖d‖²; when painting, d fades
              where the edit changes that layer's input (it was fitted to the photo as it was)
Loss = pixel L1 + perceptual (features of a fixed random conv net) + the stage's penalty, all
penalties relative to the size of what they regularize. The result's `generator` is a view of the
shared generator: a shallow module copy in which only the adapted layer is a deep copy and the fine
layer is wrapped to add the offset. Stages 3–4 cache the activations before their layer, so most
steps run only part of the generator.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .invert import Encoder, FeatureNet, perceptual_distance, psnr
from ..gan.networks import Generator

__all__ = ["Adaptation", "AdaptationAborted", "AdaptSettings", "adapt", "encode", "optimize_h", "adapt_coarse",
           "adapt_fine", "generator_view", "fine_layer_for", "OffsetLayer", "psnr", "reconstruction_error"]

ProgressFn = Callable[[str, float, float], None]
AbortFn = Callable[[], bool]


class AdaptationAborted(Exception):
    """abort_fn asked to stop; raised before the next optimization step."""


@dataclass(frozen=True)
class AdaptSettings:
    """Hyperparameters of the whole recipe (each stage function also takes them as keywords)."""

    h_steps: int = 150
    h_lr: float = 0.1  # relative to the rms of h0
    h_penalty: float = 0.05
    coarse_layer: str = "layer6"
    coarse_steps: int = 60
    coarse_lr: float = 0.005
    coarse_penalty: float = 1.0
    fine_layer: str | None = None  # default: fine_layer_for(G.config)
    fine_steps: int = 100
    fine_lr: float = 0.02  # relative to the rms of the fine layer's activations
    fine_penalty: float = 0.01
    fade_offset: bool = True  # the fine offset fades where an edit acts (OffsetLayer)
    perceptual_weight: float = 0.5
    init_candidates: int = 32  # random z tried when there is no encoder


def fine_layer_for(config) -> str:
    """layer12 at 256 px; in general the second layer one octave below the output (layer10 at 128 px)."""
    n = config.num_layers
    return f"layer{max(n - 2, 1)}" if n - 2 > 6 else f"layer{n}"


def reconstruction_error(y: torch.Tensor, x: torch.Tensor) -> float:
    return (y - x).abs().mean().item()


FADE = (0.05, 0.25)  # relative input change where the offset starts to fade, and where it is gone


class OffsetLayer(nn.Module):
    """Runs `layer` and adds a fixed offset map (1, C, r, r): the per-photo fine adaptation.

    With `reference` (the input this layer receives when the photo itself is rendered), the offset fades
    where an edit moved the input away from it: the offset was fitted to the photo's details as they
    were, and kept under a painted tree it pulls the pixels back towards the sky that was there
    (benchmarks/photo_edits.py: on real photos it cost draws 8 points of success and removes 7).
    Where nothing was edited the input equals the reference and the offset applies in full."""

    def __init__(self, layer: nn.Module, offset: torch.Tensor, reference: torch.Tensor | None = None,
                 fade: tuple[float, float] = FADE) -> None:
        super().__init__()
        self.layer = layer
        self.fade = fade
        self.register_buffer("offset", offset.detach().clone())
        self.register_buffer("reference", None if reference is None else reference.detach().clone())

    def keep(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, r, r) in [0, 1]: how much of the offset applies at each location of the output."""
        ref = self.reference
        change = (x - ref).pow(2).mean(1, keepdim=True).sqrt() / ref.pow(2).mean().sqrt().clamp_min(1e-8)
        lo, hi = self.fade
        k = ((hi - change) / (hi - lo)).clamp(0.0, 1.0)
        size = self.offset.shape[-2:]
        return k if k.shape[-2:] == size else torch.nn.functional.interpolate(k, size=size, mode="bilinear",
                                                                               align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer(x)
        if self.reference is None:
            return y + self.offset
        return y + self.offset * self.keep(x)


def generator_view(G: Generator, replace: dict[str, nn.Module]) -> Generator:
    """A Generator that shares every module of G except the replaced ones; G itself is untouched."""
    view = copy.copy(G)  # new __dict__, same values: give it its own containers
    for key, val in list(vars(view).items()):
        if key.startswith("_") and isinstance(val, (dict, set)):
            setattr(view, key, type(val)() if "hook" in key else copy.copy(val))
    for name, module in replace.items():
        if name not in view._modules:
            raise KeyError(f"no layer {name!r} in the generator")
        view._modules[name] = module
    return view


class _Objective:
    """L1 + perceptual distance to a fixed target; the target's features are computed once."""

    def __init__(self, target: torch.Tensor, perceptual_weight: float, fnet: FeatureNet | None) -> None:
        self.x, self.w = target, perceptual_weight
        self.fnet = fnet if fnet is not None else FeatureNet().to(target.device)
        with torch.no_grad():
            self.fx = self.fnet(target) if perceptual_weight else None

    def __call__(self, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        l1 = (y - self.x).abs().mean()
        loss = l1 + self.w * perceptual_distance(self.fnet, y, self.fx) if self.w else l1
        return loss, l1.item()


def _run(layers: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    for m in layers:
        x = m(x)
    return x


def _layers_from(G: Generator, start: str) -> list[nn.Module]:
    names = G.layer_names
    return [getattr(G, n) for n in names[names.index(start):]]


def _optimize(stage: str, steps: int, params: list[torch.Tensor], lr: float,
              objective: Callable[[], tuple[torch.Tensor, float]],
              progress: Callable[[str, int, float], None] | None, abort_fn: AbortFn | None) -> None:
    """Adam on `params`; leaves them at the best objective seen (the start counts), so no stage makes things worse.

    Adam's first steps move every parameter by about lr whatever its gradient; from a start that is
    already good (e.g. h4 fit well at low resolution) that can only lose, and keeping the best undoes it.
    """
    opt = torch.optim.Adam(params, lr=lr)
    best, saved = math.inf, [p.detach().clone() for p in params]
    for i in range(steps):
        if abort_fn is not None and abort_fn():
            raise AdaptationAborted(f"aborted during {stage} (step {i}/{steps})")
        loss, err = objective()
        if loss.item() < best:
            best, saved = loss.item(), [p.detach().clone() for p in params]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(stage, i + 1, err)
    with torch.no_grad():
        if steps and objective()[0].item() >= best:
            for p, v in zip(params, saved):
                p.copy_(v)


# ----------------------------------------------------------------------------- stages
@torch.no_grad()
def encode(G: Generator, target: torch.Tensor, *, encoder: Encoder | None = None, edit_layer: str = "layer4",
           candidates: int = 32, seed: int = 0) -> torch.Tensor:
    """h0 (1, C, 8, 8): the encoder's prediction, or the best-reconstructing of `candidates` random z."""
    if encoder is not None:
        return encoder(target).detach()
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(candidates, G.config.z_dim, generator=gen).to(target.device)
    h = G.features(z, upto=edit_layer)
    y = G.render_from(h, start=G.layer_after(edit_layer))
    best = (y - target).abs().mean(dim=(1, 2, 3)).argmin()
    return h[best:best + 1].clone()


def optimize_h(G: Generator, target: torch.Tensor, h0: torch.Tensor, *, steps: int = 150, lr: float = 0.1,
               penalty: float = 0.05, perceptual_weight: float = 0.5, edit_layer: str = "layer4",
               fnet: FeatureNet | None = None, progress_fn=None, abort_fn: AbortFn | None = None) -> torch.Tensor:
    """Optimize the edit-layer activations so the generator reproduces the target; stays near h0."""
    obj = _Objective(target, perceptual_weight, fnet)
    layers = _layers_from(G, G.layer_after(edit_layer))
    h = h0.detach().clone().requires_grad_(True)
    scale = h0.pow(2).mean().clamp_min(1e-8)

    def objective():
        loss, err = obj(_run(layers, h))
        return loss + penalty * (h - h0).pow(2).mean() / scale, err

    _optimize("h4", steps, [h], lr * scale.sqrt().item(), objective, progress_fn, abort_fn)
    return h.detach()


def adapt_coarse(G: Generator, target: torch.Tensor, h: torch.Tensor, *, layer: str = "layer6", steps: int = 60,
                 lr: float = 0.005, penalty: float = 1.0, perceptual_weight: float = 0.5, edit_layer: str = "layer4",
                 fnet: FeatureNet | None = None, progress_fn=None, abort_fn: AbortFn | None = None) -> nn.Module:
    """A copy of `layer` with weights optimized to reproduce the target from h; stays near the original."""
    obj = _Objective(target, perceptual_weight, fnet)
    names = G.layer_names
    i, first = names.index(layer), names.index(G.layer_after(edit_layer))
    if i < first:
        raise ValueError(f"the coarse layer {layer} must come after {edit_layer}")
    original = getattr(G, layer)
    adapted = copy.deepcopy(original).requires_grad_(True)
    with torch.no_grad():  # the layers between the edit layer and this one are fixed: run them once
        x_in = _run([getattr(G, n) for n in names[first:i]], h)
    rest = [getattr(G, n) for n in names[i + 1:]]
    params = [(p, p0.detach()) for p, p0 in zip(adapted.parameters(), original.parameters())]
    # one scale for the whole layer: biases start near 0, so a per-tensor scale would pin them
    n = sum(p0.numel() for _, p0 in params)
    scale = (sum(p0.pow(2).sum() for _, p0 in params) / n).clamp_min(1e-8)

    def objective():
        loss, err = obj(_run(rest, adapted(x_in)))
        return loss + penalty * sum((p - p0).pow(2).sum() for p, p0 in params) / (n * scale), err

    _optimize("coarse", steps, [p for p, _ in params], lr, objective, progress_fn, abort_fn)
    return adapted.requires_grad_(False)


def adapt_fine(G: Generator, target: torch.Tensor, h: torch.Tensor, *, layer: str, steps: int = 100,
               lr: float = 0.02, penalty: float = 0.01, perceptual_weight: float = 0.5, edit_layer: str = "layer4",
               fnet: FeatureNet | None = None, progress_fn=None, abort_fn: AbortFn | None = None) -> torch.Tensor:
    """An additive offset (1, C, r, r) after `layer` that makes G (may be a view) reproduce the target."""
    obj = _Objective(target, perceptual_weight, fnet)
    names = G.layer_names
    first = names.index(G.layer_after(edit_layer))
    i = names.index(layer)
    with torch.no_grad():
        a = _run([getattr(G, n) for n in names[first:i + 1]], h)
    rest = [getattr(G, n) for n in names[i + 1:]]
    scale = a.pow(2).mean().clamp_min(1e-8)
    d = torch.zeros_like(a[:1]).requires_grad_(True)

    def objective():
        loss, err = obj(_run(rest, a + d))
        return loss + penalty * d.pow(2).mean() / scale, err

    _optimize("fine", steps, [d], lr * scale.sqrt().item(), objective, progress_fn, abort_fn)
    return d.detach()


# ----------------------------------------------------------------------------- the recipe
@dataclass
class Adaptation:
    """Per-photo state: the optimized edit-layer activations and a generator view that uses the adapted layers."""

    h: torch.Tensor  # (1, C, 8, 8)
    generator: Generator
    coarse_layer: str
    fine_layer: str
    metrics: dict = field(default_factory=dict)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Small tensors only (≈0.5 MB at 128 px): enough to rebuild the view with `from_state`."""
        state = {"h": self.h}
        coarse = self.generator._modules[self.coarse_layer]
        fine = self.generator._modules[self.fine_layer]
        if isinstance(coarse, OffsetLayer):
            coarse = coarse.layer
        state.update({f"coarse.{k}": v for k, v in coarse.state_dict().items()})
        if isinstance(fine, OffsetLayer):
            state["offset"] = fine.offset
        return state

    @classmethod
    def from_state(cls, G: Generator, state: dict[str, torch.Tensor], *, coarse_layer: str = "layer6",
                   fine_layer: str | None = None, edit_layer: str = "layer4", fade: bool = True) -> "Adaptation":
        fine_layer = fine_layer or fine_layer_for(G.config)
        coarse = copy.deepcopy(getattr(G, coarse_layer))
        coarse.load_state_dict({k.removeprefix("coarse."): v for k, v in state.items() if k.startswith("coarse.")})
        view = _assemble(G, coarse_layer, coarse, fine_layer, state.get("offset"),
                         (state["h"], edit_layer) if fade else None)
        return cls(state["h"], view, coarse_layer, fine_layer)


def _assemble(G: Generator, coarse_layer: str, coarse: nn.Module, fine_layer: str,
              offset: torch.Tensor | None, fade_from: tuple[torch.Tensor, str] | None = None) -> Generator:
    """The photo's view of G. fade_from=(h, edit_layer): the offset fades where edits move the fine
    layer's input away from what rendering h gives it (OffsetLayer)."""
    replace = {coarse_layer: coarse}
    view = generator_view(G, replace)
    if offset is not None:
        base = coarse if fine_layer == coarse_layer else getattr(G, fine_layer)
        reference = None
        if fade_from is not None:
            h, edit_layer = fade_from
            with torch.no_grad():
                reference = view.render_from(h, start=view.layer_after(edit_layer), stop=fine_layer)
        replace[fine_layer] = OffsetLayer(base, offset, reference)
        view = generator_view(G, replace)
    return view


def adapt(G: Generator, target: torch.Tensor, *, encoder: Encoder | None = None, edit_layer: str = "layer4",
          settings: AdaptSettings | None = None, progress_fn: ProgressFn | None = None,
          abort_fn: AbortFn | None = None, keep_images: bool = False, **overrides) -> Adaptation:
    """Run encode → h4 → coarse → fine on one target image (1, 3, R, R) in [-1, 1]; G is never modified.

    progress_fn(stage, fraction of all steps done, current L1 error); abort_fn() is checked before
    every step and raises AdaptationAborted. Keyword overrides replace AdaptSettings fields.
    keep_images puts each stage's reconstruction in metrics["images"] (for benchmarks and figures).
    """
    s = settings or AdaptSettings()
    if overrides:
        s = AdaptSettings(**{**s.__dict__, **overrides})
    if target.dim() != 4 or target.shape[0] != 1 or target.shape[-1] != G.config.resolution:
        raise ValueError(f"target must be (1, 3, {G.config.resolution}, {G.config.resolution}), got {tuple(target.shape)}")
    device = next(G.parameters()).device
    target = target.to(device)
    fine_layer = s.fine_layer or fine_layer_for(G.config)
    fnet = FeatureNet().to(device)
    total = max(1, s.h_steps + s.coarse_steps + s.fine_steps)
    done = {"h4": 0, "coarse": s.h_steps, "fine": s.h_steps + s.coarse_steps}
    metrics: dict = {"stages": {}}
    t_start = time.perf_counter()

    def progress(stage: str, i: int, err: float) -> None:
        if progress_fn is not None:
            progress_fn(stage, (done[stage] + i) / total, err)

    def record(stage: str, view: Generator, h: torch.Tensor) -> None:
        with torch.no_grad():
            y = view.render_from(h, start=view.layer_after(edit_layer))
        if keep_images:
            metrics.setdefault("images", {})[stage] = y
        metrics["stages"][stage] = {"l1": round(reconstruction_error(y, target), 5), "psnr": round(psnr(y, target), 3),
                                    "seconds": round(time.perf_counter() - t_start, 3)}

    if abort_fn is not None and abort_fn():
        raise AdaptationAborted("aborted before encoding")
    h = encode(G, target, encoder=encoder, edit_layer=edit_layer, candidates=s.init_candidates)
    record("encoder", G, h)
    if progress_fn is not None:
        progress_fn("encoder", 0.0, metrics["stages"]["encoder"]["l1"])
    common = dict(perceptual_weight=s.perceptual_weight, edit_layer=edit_layer, fnet=fnet, progress_fn=progress,
                  abort_fn=abort_fn)
    h = optimize_h(G, target, h, steps=s.h_steps, lr=s.h_lr, penalty=s.h_penalty, **common)
    record("h4", G, h)
    coarse = adapt_coarse(G, target, h, layer=s.coarse_layer, steps=s.coarse_steps, lr=s.coarse_lr,
                          penalty=s.coarse_penalty, **common)
    view = _assemble(G, s.coarse_layer, coarse, fine_layer, None)
    record("coarse", view, h)
    offset = adapt_fine(view, target, h, layer=fine_layer, steps=s.fine_steps, lr=s.fine_lr, penalty=s.fine_penalty,
                        **common)
    view = _assemble(G, s.coarse_layer, coarse, fine_layer, offset, (h, edit_layer) if s.fade_offset else None)
    record("fine", view, h)
    metrics["seconds"] = metrics["stages"]["fine"]["seconds"]
    metrics["settings"] = dict(s.__dict__, fine_layer=fine_layer)
    return Adaptation(h, view, s.coarse_layer, fine_layer, metrics)
