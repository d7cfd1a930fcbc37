"""A session as bytes and back, for the record store: what a restarted or another replica needs to go on.

    data = encode_session(session)                  # committed history, cursor, options, source, z
    photo = encode_photo(session)                   # a photo's original + adapted layers (written once)
    s = decode_session(data, photo, model, settings, clock=store.clock)

Seed sessions store their strokes only: their activations are re-made from the seed (or the stored z).
Photo sessions also store the photo (PNG, lossless) and the adaptation's small tensors (layer4
activations, the adapted coarse layer, the fine offset), so painting goes on exactly where it was.
A photo whose adaptation had not finished comes back as interrupted (upload again), never as another
picture. Previews and caches are never stored. Both records are safetensors files: tensors + JSON.
"""
from __future__ import annotations

import dataclasses
import io
import json
from typing import Callable

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ganpaint.photo.adapt import Adaptation
from ganpaint.paint.edit import StrokeLimits
from ganpaint.paint.model import PaintModel
from ganpaint.photo.photo import Photo, fit_square

from .sessions import Session, SessionOptions, State
from .settings import Settings
from .sources import PhotoSource, SeedSource
from .strokes import parse_stroke

__all__ = ["encode_session", "encode_photo", "decode_session", "read_model_id", "CodecError", "VERSION"]

VERSION = 1


class CodecError(ValueError):
    """A stored record this code cannot read (another version, or damaged)."""


def _source_dict(source) -> dict:
    kind = "photo" if isinstance(source, PhotoSource) else "seed"
    return {"type": kind, **dataclasses.asdict(source)}


def encode_session(s: Session) -> bytes:
    """The session's committed history, options and source (small: strokes are compact)."""
    strokes: list[dict] = []
    index: dict[int, int] = {}
    states = []
    for st in s.history:
        refs = []
        for e in st.strokes:
            if id(e) not in index:
                index[id(e)] = len(strokes)
                strokes.append(e.public())
            refs.append(index[id(e)])
        states.append({"id": st.id, "parent": st.parent, "strokes": refs})
    meta = {"version": VERSION, "id": s.id, "model": s.model_id, "source": _source_dict(s.source),
            "options": dataclasses.asdict(s.options), "strokes": strokes, "states": states, "pos": s.pos,
            "ttl_s": s.ttl_s, "omissions": s.omissions}
    tensors = {"z": s.z.detach().cpu().contiguous()} if s.z is not None and s.seed is None else {}
    return st_save(tensors, metadata={"session": json.dumps(meta)})


def encode_photo(s: Session, adaptation: Adaptation | None) -> bytes:
    """The photo (PNG of the original) and, once adapted, the adaptation's tensors."""
    photo = s.photo
    assert photo is not None, "not a photo session"
    buf = io.BytesIO()
    Image.fromarray(photo.original).save(buf, "PNG", compress_level=1)
    tensors = {"png": torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8)}
    meta: dict = {"version": VERSION, "fit": photo.geometry.fit}
    if adaptation is not None:
        tensors.update({f"adapt.{k}": v.detach().cpu().contiguous() for k, v in adaptation.state_dict().items()})
        meta.update(coarse_layer=adaptation.coarse_layer, fine_layer=adaptation.fine_layer)
    return st_save(tensors, metadata={"photo": json.dumps(meta)})


def _meta(data: bytes, key: str) -> dict:
    try:
        n = int.from_bytes(data[:8], "little")  # the safetensors header: JSON after its 8-byte length
        meta = json.loads(json.loads(data[8:8 + n])["__metadata__"][key])
    except Exception as e:  # damaged or foreign bytes
        raise CodecError(f"unreadable session record: {str(e)[:120]}") from None
    if meta.get("version") != VERSION:
        raise CodecError(f"session record version {meta.get('version')!r}, this server reads {VERSION}")
    return meta


def _read(data: bytes, key: str) -> tuple[dict, dict]:
    meta = _meta(data, key)
    try:
        tensors = st_load(data)
    except Exception as e:
        raise CodecError(f"unreadable session record: {str(e)[:120]}") from None
    return meta, tensors


def read_model_id(data: bytes) -> str:
    """Which model a session record needs, without decoding the rest."""
    return _meta(data, "session")["model"]


def _photo(data: bytes, model: PaintModel) -> tuple[Photo, dict, dict]:
    meta, tensors = _read(data, "photo")
    rgb = np.asarray(Image.open(io.BytesIO(tensors["png"].numpy().tobytes())).convert("RGB"))
    square, geometry = fit_square(rgb, model.resolution, meta["fit"])
    adapt = {k.removeprefix("adapt."): v for k, v in tensors.items() if k.startswith("adapt.")}
    return Photo(rgb, square, geometry), meta, adapt


def decode_session(data: bytes, photo_data: bytes | None, model: PaintModel, settings: Settings, *,
                   clock: Callable[[], float]) -> Session:
    """Rebuild a session from its records on any replica that has its model."""
    meta, tensors = _read(data, "session")
    src = dict(meta["source"])
    kind = src.pop("type")
    limits = StrokeLimits(max_points=settings.max_points, max_mask_bytes=settings.max_mask_bytes)
    entries = [parse_stroke(d, model, limits) for d in meta["strokes"]]
    device = model.device
    generator = photo = adaptation = None
    if kind == "seed":
        source = SeedSource(**src)
        z = model.z_for_seed(source.seed) if source.seed is not None else tensors["z"].to(device)
        h = model.features(z)
    else:
        source = PhotoSource(**src)
        z = None
        h = torch.zeros(1, model.channels, model.layer_size, model.layer_size, device=device)
        if photo_data is not None:
            photo, pmeta, adapt = _photo(photo_data, model)
            if source.status == "ready" and adapt:
                a = Adaptation.from_state(model.generator, {k: v.to(device) for k, v in adapt.items()},
                                          coarse_layer=pmeta["coarse_layer"], fine_layer=pmeta["fine_layer"])
                h, generator, adaptation = a.h, model.prepare_generator(a.generator), a
        if generator is None and source.status in ("adapting", "ready"):
            source = dataclasses.replace(source, status="failed",
                                         error="the server restarted before the photo was ready; upload it again")
    s = Session(meta["id"], meta["model"], model, settings, z=z, h=h, generator=generator, source=source,
                photo=photo, clock=clock)
    s.history = [State(st["id"], tuple(entries[i] for i in st["strokes"]), st["parent"]) for st in meta["states"]]
    s.pos = min(int(meta["pos"]), len(s.history) - 1)
    s._next_id = max(st.id for st in s.history)
    s.options = SessionOptions(**meta.get("options", {}))
    s.ttl_s = meta.get("ttl_s")
    s.adaptation = adaptation
    s.omissions = meta.get("omissions") if adaptation is not None else None
    return s
