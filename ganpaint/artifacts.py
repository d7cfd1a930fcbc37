"""One file format for every network the project ships: safetensors + a JSON config + provenance.

    save_artifact("models/scenes/judge.safetensors", net.state_dict(), kind="judge-segmenter",
                  config={"labels": [...], "widths": [...]}, provenance={"seeds": "100000-104095"})
    art = load_artifact("models/scenes/judge.safetensors", kind="judge-segmenter")
    net = Net(**art.config); net.load_state_dict(art.tensors)

The metadata keys are plain strings (safetensors allows nothing else): `format` (= "ganpaint-artifact"),
`kind`, `config` and `provenance` (both JSON). Floating tensors are stored as float16 when `half=True`
and come back as float32. An artifact's id is its kind's short name + the first 8 hex digits of the
file's sha256, so it survives renames and changes whenever the weights do.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch

FORMAT = "ganpaint-artifact"


class ArtifactError(ValueError):
    """A file that is missing, unreadable, or not the kind of artifact asked for."""


@dataclass
class Artifact:
    tensors: dict[str, torch.Tensor]
    kind: str
    config: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    id: str = ""


def artifact_id(path: str | os.PathLike, kind: str) -> str:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:8]
    return f"{kind.split('-')[0]}-{digest}"


def save_artifact(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], *, kind: str,
                  config: Mapping | None = None, provenance: Mapping | None = None, half: bool = False) -> str:
    """Write `tensors` with their config and provenance; return the artifact's id."""
    from safetensors.torch import save_file

    state = {}
    for k, v in tensors.items():
        v = v.detach().cpu().contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    meta = {"format": FORMAT, "kind": kind, "config": json.dumps(dict(config or {})),
            "provenance": json.dumps(dict(provenance or {}))}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=meta)
    os.replace(tmp, path)
    os.chmod(path, 0o644)
    return artifact_id(path, kind)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The raw metadata of a safetensors file (empty when it has none)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"no file at {path}")
    try:
        with safe_open(str(path), "pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types
        raise ArtifactError(f"{path.name} is not a valid safetensors file: {e}") from None


def load_artifact(path: str | os.PathLike, *, kind: str | None = None,
                  device: str | torch.device = "cpu") -> Artifact:
    """Read an artifact written by `save_artifact`; with `kind`, refuse any other kind."""
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"{path.name} is not a ganpaint artifact (format {meta.get('format')!r})")
    if kind is not None and meta.get("kind") != kind:
        raise ArtifactError(f"{path.name} holds a {meta.get('kind')!r}, not a {kind!r}")
    try:
        config = json.loads(meta.get("config") or "{}")
        provenance = json.loads(meta.get("provenance") or "{}")
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{path.name} has unreadable metadata: {e}") from None
    state = load_file(str(path), device=str(device))
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return Artifact(tensors, meta["kind"], config, provenance, artifact_id(path, meta["kind"]))
