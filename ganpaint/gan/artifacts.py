"""One file format for every network the project ships: safetensors + a JSON config + provenance.

    save_artifact("models/scenes/judge.safetensors", net.state_dict(), kind="judge-segmenter",
                  config={"labels": [...], "widths": [...]}, provenance={"seeds": "100000-104095"})
    art = load_artifact("models/scenes/judge.safetensors", kind="judge-segmenter")
    net = Net(**art.config); net.load_state_dict(art.tensors)

The metadata keys are plain strings (safetensors allows nothing else): `format` (= "ganpaint-artifact"),
`kind`, `config` and `provenance` (both JSON). Floating tensors are stored as float16 when `half=True`
and come back as float32. An artifact's id is its kind's short name + the first 8 hex digits of the
file's sha256, so it survives renames and changes whenever the weights do.

Files written before this format are read by the same loader, unchanged and with the ids they always
had: segmenters (`format` "ganpaint-unet-segmenter", kind "unet-segmenter", id "unet-…"), encoders
(one "ganpaint" JSON entry holding the config, kind "encoder") and bare generator weights (no
metadata at all: read only when the caller asks for kind "generator"; the generator loader infers
the config from the shapes).
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


__all__ = ["Artifact", "ArtifactError", "ArtifactKindError", "save_artifact", "load_artifact", "load_artifact_as",
           "read_metadata", "artifact_id", "FORMAT"]


class ArtifactError(ValueError):
    """A file that is missing, unreadable, or not the kind of artifact asked for."""


class ArtifactKindError(ArtifactError):
    """A readable file that is not a ganpaint artifact, or not of the kind asked for."""


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


BARE_KINDS = ("generator",)  # kinds whose files may be plain weights without metadata (old exports)


def _header(meta: dict[str, str], want: str | None) -> tuple[str | None, str, str]:
    """(kind, config JSON, provenance JSON) of this format or of the formats that came before it."""
    if meta.get("format") == FORMAT:
        return meta.get("kind"), meta.get("config") or "{}", meta.get("provenance") or "{}"
    if meta.get("format") == "ganpaint-unet-segmenter":
        return "unet-segmenter", meta.get("config") or "{}", meta.get("extra") or "{}"
    if not meta.get("format") and "ganpaint" in meta:  # encoders: {"config": …, provenance…} in one entry
        info = json.loads(meta["ganpaint"])
        if isinstance(info, dict) and "config" in info:
            return "encoder", json.dumps(info.pop("config")), json.dumps(info)
    if not meta and want in BARE_KINDS:
        return want, "{}", "{}"
    return None, "", ""


def load_artifact(path: str | os.PathLike, *, kind: str | None = None,
                  device: str | torch.device = "cpu") -> Artifact:
    """Read an artifact written by `save_artifact` (or an older file of a kind it replaced, see the module
    docstring); with `kind`, refuse any other kind."""
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_metadata(path)
    try:
        found, config, provenance = _header(meta, kind)
        if found is None:
            raise ArtifactKindError(f"{path.name} is not a ganpaint artifact (format {meta.get('format')!r})")
        if kind is not None and found != kind:
            raise ArtifactKindError(f"{path.name} holds a {found!r}, not a {kind!r}")
        config, provenance = json.loads(config), json.loads(provenance)
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{path.name} has unreadable metadata: {e}") from None
    try:
        state = load_file(str(path), device=str(device))
    except Exception as e:  # safetensors raises its own error types
        raise ArtifactError(f"{path.name} is not a valid safetensors file: {e}") from None
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return Artifact(tensors, found, config, provenance, artifact_id(path, found))


def load_artifact_as(path: str | os.PathLike, kind: str, error: type[Exception], wrong_kind: str) -> Artifact:
    """load_artifact(path, kind=kind), its failures raised as the caller's `error`: a file of another kind
    with `wrong_kind` (formatted with `name`, the file's name, and `reason`), anything else with its own text."""
    try:
        return load_artifact(path, kind=kind)
    except ArtifactKindError as e:
        raise error(wrong_kind.format(name=Path(path).name, reason=e)) from None
    except ArtifactError as e:
        raise error(str(e)) from None
