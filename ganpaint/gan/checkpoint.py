"""One loader for generator checkpoints, whatever layout they come in.

    G = load_generator("models/scenes/generator.safetensors")      # a ganpaint artifact (kind "generator")
    G = load_generator("proggan_churchoutdoor-7e701dd5.pth")      # official GANPaint checkpoint
    G = load_generator({"state_dict": {...}})                       # wrapped or old `features.N` keys
    save_generator(G, "out/generator.safetensors", provenance={"steps": 1000})

Sizes (resolution, widths, z size) are inferred from the weight shapes, and checked against the
config an artifact carries. Files are read with safetensors (ganpaint.gan.artifacts, which also reads
the bare weights older exports wrote) or `torch.load(weights_only=True)`: a checkpoint can never run
code. Anything that is not a ProGAN generator is refused with a `CheckpointError` that says why.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Mapping

import torch

from .artifacts import load_artifact_as, save_artifact
from .networks import Generator, GeneratorConfig

__all__ = ["DISCRIMINATOR_FILE", "DISCRIMINATOR_KIND", "CheckpointError", "load_generator", "save_generator", "normalize_state_dict", "read_state_dict",
           "file_sha256", "state_dict_sha256", "KIND"]

KIND = "generator"  # artifact kind
# the discriminator a model folder may ship beside its generator (read by dissect.realism and world.train)
DISCRIMINATOR_FILE = "discriminator.safetensors"
DISCRIMINATOR_KIND = "discriminator"


class CheckpointError(ValueError):
    """A file or state dict that is not a loadable ProGAN generator."""


_LAYER = re.compile(r"^layer(\d+)\.(conv\.weight|wscale\.b)$")
_OUTPUT = re.compile(r"^output_(\d+)x(\d+)\.(conv\.weight|wscale\.b)$")
_FEATURE = re.compile(r"^features\.(\d+)\.(conv\.weight|wscale\.b)$")


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _read_artifact(path: Path) -> tuple[dict, dict]:
    art = load_artifact_as(path, KIND, CheckpointError, "{name} is not a generator: {reason}")
    return art.tensors, art.config


def read_state_dict(path: str | os.PathLike) -> dict:
    """Read tensors from a .safetensors or torch file without executing anything."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint file: {path}")
    if path.suffix == ".safetensors":
        return _read_artifact(path)[0]
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path.name} could not be read as a weights-only torch checkpoint ({reason[:200]})"
        ) from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path.name} holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


def normalize_state_dict(state: Mapping) -> dict[str, torch.Tensor]:
    """Unwrap `{'state_dict': …}`, rename old `features.N`/`output.` keys, drop `module.` prefixes."""
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise CheckpointError(f"unexpected non-string key {key!r} in checkpoint")
        key = key.removeprefix("module.")
        m = _FEATURE.match(key)
        if m:
            key = f"layer{int(m.group(1)) + 1}.{m.group(2)}"
        elif key.startswith("output.") and key.count(".") == 2:
            key = "output_R." + key[len("output."):]  # resolution filled in below
        out[key] = value
    if any(k.startswith("output_R.") for k in out):
        n_layers = len({k.split(".")[0] for k in out if _LAYER.match(k)})
        r = 4 * 2 ** (n_layers // 2 - 1)
        out = {(k.replace("output_R", f"output_{r}x{r}")): v for k, v in out.items()}
    return out


def _infer_config(state: Mapping[str, torch.Tensor]) -> GeneratorConfig:
    layers: dict[int, dict[str, torch.Tensor]] = {}
    outputs = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"entry {key!r} is a {type(value).__name__}, not a tensor")
        if m := _LAYER.match(key):
            layers.setdefault(int(m.group(1)), {})[m.group(2)] = value
        elif m := _OUTPUT.match(key):
            outputs.setdefault(int(m.group(1)), {})[m.group(3)] = value
        else:
            raise CheckpointError(f"unexpected key {key!r}: this is not a ProGAN generator checkpoint")
    if not layers or not outputs:
        raise CheckpointError("checkpoint has no layerN/output_RxR weights: not a ProGAN generator")
    if len(outputs) != 1:
        raise CheckpointError(f"checkpoint has several output layers: {sorted(outputs)}")
    n = max(layers)
    if sorted(layers) != list(range(1, n + 1)) or n % 2:
        raise CheckpointError(f"layers must be layer1…layerN with N even, got {sorted(layers)}")
    (resolution,) = outputs
    widths = []
    for level in range(n // 2):
        w = layers[2 * level + 1].get("conv.weight")
        if w is None or w.dim() != 4:
            raise CheckpointError(f"layer{2 * level + 1}.conv.weight is missing or not 4-d")
        widths.append(int(w.shape[0]))
    z_dim = int(layers[1]["conv.weight"].shape[1])
    try:
        config = GeneratorConfig(resolution, tuple(widths), z_dim)
    except ValueError as e:
        raise CheckpointError(f"inconsistent generator sizes: {e}") from None
    return config


def load_generator(source: str | os.PathLike | Mapping, device: str | torch.device = "cpu") -> Generator:
    """Build a Generator from a checkpoint path or a state dict (any supported layout), in eval mode."""
    declared: dict = {}
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix == ".safetensors" and Path(source).is_file():
        state, declared = _read_artifact(Path(source))
    else:
        state = read_state_dict(source) if isinstance(source, (str, os.PathLike)) else source
    if not isinstance(state, Mapping):
        raise CheckpointError(f"expected a path or a state dict, got {type(state).__name__}")
    state = normalize_state_dict(state)
    config = _infer_config(state)
    if declared:
        try:
            same = GeneratorConfig(**declared) == config
        except (TypeError, ValueError):
            same = False
        if not same:
            raise CheckpointError(f"the file declares {declared} but its weights are a {config.to_dict()} generator")
    G = Generator(config)
    expected = G.state_dict()
    for key, value in state.items():
        if key not in expected:
            raise CheckpointError(f"unexpected key {key!r} for a {config.resolution}px generator")
        if tuple(value.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)} "
                f"for widths {config.widths}"
            )
    missing = sorted(set(expected) - set(state))
    if missing:
        raise CheckpointError(f"checkpoint is missing {', '.join(missing[:4])}{'…' if len(missing) > 4 else ''}")
    G.load_state_dict({k: v.float() for k, v in state.items()})
    return G.to(device).eval().requires_grad_(False)


def save_generator(G: Generator, path: str | os.PathLike, *, provenance: Mapping | None = None) -> str:
    """Write G's weights (float32, GANPaint keys) as an artifact with its config; return the artifact id."""
    return save_artifact(path, G.state_dict(), kind=KIND, config=G.config.to_dict(), provenance=provenance)


def state_dict_sha256(G: torch.nn.Module) -> str:
    """A hash of the weights (stable across file formats), for tables computed from them."""
    h = hashlib.sha256()
    for key, value in sorted(G.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()
