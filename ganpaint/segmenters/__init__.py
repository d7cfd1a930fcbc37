"""Segmenter plugins: scene parsers that dissection can use on models without a concept table.

    seg = get_segmenter("segformer:nvidia/segformer-b0-finetuned-ade-512-512")   # hub name (your machine)
    seg = get_segmenter("segformer:/data/segformer-ade", device="cuda")          # a local folder
    seg = get_segmenter("unet:models/scenes/segmenter.safetensors")              # the shipped world parser
    labels = seg.segment(images)     # (N, 3, H, W) in [-1, 1] → (N, H, W) long indices into seg.labels

A spec is "NAME:ARGUMENT". Built-in names: `unet` (ganpaint's own file format) and `segformer`
(ADE20K SegFormer through `transformers`: `pip install ganpaint[segformer]`). Other packages add
plugins under the entry-point group `ganpaint.segmenters`: a callable `(argument, device) -> Segmenter`.
"""
from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Callable

from .segmenter import Segmenter, SegmenterError

__all__ = ["get_segmenter", "plugin_names", "SegmenterError"]

ENTRY_POINT_GROUP = "ganpaint.segmenters"


def _unet(arg: str, device) -> Segmenter:
    from .segmenter import load_segmenter

    return load_segmenter(arg, device=device)


def _segformer(arg: str, device) -> Segmenter:
    from .segformer import SegformerSegmenter

    return SegformerSegmenter.from_pretrained(arg, device=device)


_BUILTIN: dict[str, Callable] = {"unet": _unet, "segformer": _segformer}


def _plugins() -> dict[str, Callable]:
    found = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)  # an installed package cannot replace a built-in name
    return found


def plugin_names() -> list[str]:
    return sorted(_plugins())


def get_segmenter(spec: str, *, device="cpu") -> Segmenter:
    """Build a segmenter from "NAME:ARGUMENT" (see the module docstring)."""
    name, sep, arg = spec.partition(":")
    plugins = _plugins()
    if not sep or name not in plugins:
        raise SegmenterError(f"segmenter spec {spec!r} must be NAME:ARGUMENT with NAME one of {', '.join(sorted(plugins))}")
    factory = plugins[name]
    if isinstance(factory, EntryPoint):  # import a third-party plugin only when it is asked for
        factory = factory.load()
    seg = factory(arg, device)
    if not isinstance(seg, Segmenter):
        raise SegmenterError(f"plugin {name!r} returned a {type(seg).__name__}, not a Segmenter (labels, id, segment)")
    return seg
