"""A paintable model: generator + concept table + its edit layer, loaded from one folder.

    m = PaintModel.load("models/scenes")
    h = m.features(m.z_for_seed(7))          # (1, C, 8, 8) cached layer4 activations
    img = m.render(h, alpha, value)          # edited image (1, 3, R, R) in [-1, 1]
    m = m.folded()                           # render through the fast inference route (ganpaint.gan.folding)
    m = PaintModel.random(resolution=16, widths=(32, 32, 16), seed=0)   # tiny model for tests

A model folder holds `model.json` ({"id", "title", "edit_layer", "weights", "concepts", ...}); the
generator file may also come from the download cache (see zoo). Seeds 0…9999 are the original demo's
image ids (row i of RandomState(1).standard_normal); larger seeds use RandomState(seed).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain
from pathlib import Path

import numpy as np
import torch

from ..gan.checkpoint import load_generator, state_dict_sha256
from .concepts import Concept, ConceptTable
from .edit import apply_edit, clip_to_reach, compose
from .footprint import reach_map
from ..gan.folding import fold
from ..gan.networks import Generator, GeneratorConfig
from ..gan.renderer import RegionRenderer
from ..segmenters.segmenter import Segmenter, load_segmenter

__all__ = ["PaintModel", "z_for_seed", "MAX_SEED", "ModelError"]

MAX_SEED = 2**31 - 1
_ORIGINAL_IDS = 10_000


class ModelError(ValueError):
    pass


@lru_cache(maxsize=1)
def _original_z_table() -> np.ndarray:
    return np.random.RandomState(1).standard_normal(_ORIGINAL_IDS * 512).reshape(_ORIGINAL_IDS, 512).astype(np.float32)


def z_for_seed(seed: int, z_dim: int = 512) -> torch.Tensor:
    """(1, z_dim) latent for an image id."""
    if not 0 <= seed <= MAX_SEED:
        raise ModelError(f"seed must be between 0 and {MAX_SEED}")
    if z_dim == 512 and seed < _ORIGINAL_IDS:
        return torch.from_numpy(_original_z_table()[seed : seed + 1].copy())
    return torch.from_numpy(np.random.RandomState(seed).standard_normal((1, z_dim)).astype(np.float32))


@dataclass
class PaintModel:
    id: str
    generator: Generator
    table: ConceptTable
    edit_layer: str = "layer4"
    title: str = ""
    info: dict = field(default_factory=dict)
    folder: Path | None = None
    segmenter: Segmenter | None = None  # reads images back as concepts (dissection, evaluation, /segment)
    fast: Generator | None = None  # the folded generator render() runs (see folded()); None: the plain one

    def __post_init__(self) -> None:
        self.next_layer = self.generator.layer_after(self.edit_layer)
        cfg = self.generator.config
        self.channels = cfg.layer_channels(self.edit_layer)
        self.layer_size = cfg.layer_resolution(self.edit_layer)
        if self.table.num_units != self.channels:
            raise ModelError(
                f"concept table of {self.id!r} has {self.table.num_units} units but {self.edit_layer} has {self.channels}"
            )

    @property
    def resolution(self) -> int:
        return self.generator.config.resolution

    @property
    def device(self) -> torch.device:
        G = self.generator  # a folded generator holds buffers only
        return next(chain(G.parameters(), G.buffers())).device

    def z_for_seed(self, seed: int) -> torch.Tensor:
        return z_for_seed(seed, self.generator.config.z_dim).to(self.device)

    @torch.inference_mode()
    def features(self, z: torch.Tensor) -> torch.Tensor:
        """Edit-layer activations (N, C, h, w) for latents (N, Z)."""
        return self.render_generator.features(z.to(self.device), upto=self.edit_layer)

    @property
    def render_generator(self) -> Generator:
        """The generator `render` runs: the folded one after `folded()`, else the plain one."""
        return self.fast if self.fast is not None else self.generator

    def folded(self) -> "PaintModel":
        """This model rendering through `folding.fold(generator)`, the fast inference route (same images up
        to float rounding); training and photo adaptation keep using the plain `generator`."""
        return replace(self, fast=fold(self.generator))

    def prepare_generator(self, G: Generator) -> Generator:
        """A generator made from this model's (a photo's adapted view) in the form `render` runs: folded,
        sharing the model's folded blocks, when the model is folded."""
        return G if self.fast is None else fold(G, share=self.fast)

    @torch.inference_mode()
    def render(self, h: torch.Tensor, alpha: torch.Tensor | None = None, value: torch.Tensor | None = None,
               generator: Generator | None = None, region: RegionRenderer | None = None, *,
               reach: torch.Tensor | None = None, unedited: torch.Tensor | None = None) -> torch.Tensor:
        """Edited image (N, 3, R, R) from cached edit-layer activations; only later layers run.

        The one place where the edit meets the network: alpha/value (N, C, h, w) edit `h`, then either
        `generator` (a photo's, see prepare_generator), this model's render_generator, or `region` (a
        RegionRenderer that recomputes only what changed since its previous frame) renders it. With
        `reach` (footprint.reach_map: (R, R) or (N, R, R)) the picture shows the edit only there and the
        `unedited` images (N, 3, R, R) elsewhere; without them given, `h` is rendered unedited too."""
        gen = generator or self.render_generator
        edited = apply_edit(h, alpha.to(h.device), value.to(h.device)) if alpha is not None else h
        img = region.render(edited) if region is not None else gen.render_from(edited, start=self.next_layer)
        if reach is None:
            return img
        if unedited is None:
            unedited = gen.render_from(h, start=self.next_layer)
        return clip_to_reach(img, unedited, reach)

    def edit(self, strokes) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """`strokes` as render() takes them: (alpha, value) composited at the edit layer, and their reach
        ((R, R), None without strokes)."""
        alpha, value = compose(strokes, self.table, self.channels, self.layer_size)
        return alpha, value, reach_map(strokes, self.resolution) if strokes else None

    def paint(self, h: torch.Tensor, strokes, generator: Generator | None = None) -> torch.Tensor:
        """`h` (N, C, s, s) with `strokes` painted, as the app shows it: composited at the edit layer and
        shown within their reach."""
        alpha, value, reach = self.edit(strokes)
        return self.render(h, alpha, value, generator=generator, reach=reach)

    def describe(self) -> dict:
        return {
            "id": self.id, "title": self.title or self.id, "resolution": self.resolution,
            "edit_layer": self.edit_layer, "units": self.channels, "layer_size": self.layer_size,
            "brushes": self.table.brushes,
        }

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, folder: str | os.PathLike, *, weights: str | os.PathLike | None = None,
             device: str | torch.device = "cpu") -> "PaintModel":
        folder = Path(folder)
        meta_path = folder / "model.json"
        if not meta_path.is_file():
            raise ModelError(f"{folder} has no model.json")
        info = json.loads(meta_path.read_text())
        weights = Path(weights) if weights else folder / info.get("weights", "generator.safetensors")
        if not weights.is_file():
            raise ModelError(f"weights for model {info.get('id', folder.name)!r} not found at {weights}")
        G = load_generator(weights, device=device)
        edit_layer = info.get("edit_layer", "layer4")
        concepts = folder / info.get("concepts", "concepts.json")
        channels = G.config.layer_channels(edit_layer)
        table = ConceptTable.load(concepts) if concepts.is_file() else ConceptTable.empty(edit_layer, channels)
        seg_path = folder / info.get("segmenter", "segmenter.safetensors")
        segmenter = load_segmenter(seg_path, device=device) if seg_path.is_file() else None  # optional
        return cls(info.get("id", folder.name), G, table, edit_layer, info.get("title", ""), info, folder, segmenter)

    @classmethod
    def random(cls, *, resolution: int = 16, widths: tuple[int, ...] = (32, 32, 16), z_dim: int = 512,
               seed: int = 0, concepts: tuple[str, ...] = ("tree", "grass", "door", "sky", "cloud", "brick", "dome"),
               units_per_concept: int = 6, model_id: str = "tiny") -> "PaintModel":
        """A tiny, seeded, untrained model with a made-up concept table (for tests and examples)."""
        torch.manual_seed(seed)
        G = Generator(GeneratorConfig(resolution, widths, z_dim)).eval().requires_grad_(False)
        channels = G.config.layer_channels("layer4")
        rng = np.random.default_rng(seed)
        table = ConceptTable(
            "layer4", channels,
            {
                c: Concept(c, [int(u) for u in rng.choice(channels, units_per_concept, replace=False)],
                           [float(v) for v in rng.uniform(2.0, 6.0, units_per_concept)], ranking="random")
                for c in concepts
            },
            list(concepts), [float(v) for v in rng.uniform(2.0, 6.0, channels)], {"method": "random (test model)"},
        )
        return cls(model_id, G, table, "layer4", f"tiny random {resolution}px model", {"generator_sha256": state_dict_sha256(G)})
