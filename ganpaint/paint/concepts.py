"""Concept tables: which units a brush switches, and to what level.

    table = ConceptTable.load("models/scenes/concepts.json")
    units, levels = table.brush("tree", strength=0.5)     # the best half of tree's ranked units

A table is plain JSON, one per model and layer:
    {"layer": "layer4", "num_units": 128, "q99": [per-unit 0.99 quantile, ...] (optional),
     "brushes": ["tree", "grass", ...],           # palette order
     "concepts": {"tree": {"units": [ranked best first], "levels": [draw value per unit],
                           "scores": [...], "ranking": "ace" | "iou", "value_scale": 1.0,
                           "remove_units": [ranked best first] (optional: units that remove it),
                           "remove_values": [per remove unit] (optional: a *fill* removal, below),
                           "values": [learned draw value per unit] (optional: replaces levels × value_scale)},
              ...},
     "meta": {"generator_sha256": ..., "segmenter": ..., "samples": ..., "seed": ..., "method": ...}}
Strength is continuous and only chooses how many ranked units take part (at least one). A remove
brush switches off `remove_units` when the table has them (ranked by ablation alone), else `units`.
A *mean* draw brush (ranking "mean", `ganpaint/dissect/mean_brushes.py`) sets every unit of the layer to its
mean level inside the concept: the concept's units go up and the others' go down together, so it has
no useful subset; its strength is the edit's opacity instead (`ConceptTable.opacity`).
A *fill* remove brush (`remove_values`, `ganpaint/dissect/fills.py`) removes a concept by setting every unit
to the mean level of a class that may stand in its place (sky → mountain): switching units off leaves
what the generator makes of nothing, which for some concepts is a smear. Its strength is opacity too.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Concept", "ConceptTable", "units_for_strength"]


def units_for_strength(n_units: int, strength: float) -> int:
    """How many of n ranked units a brush of this strength uses: round(strength·n), at least 1."""
    return max(1, min(n_units, int(math.floor(strength * n_units + 0.5))))


@dataclass
class Concept:
    name: str
    units: list[int]
    levels: list[float]
    scores: list[float] = field(default_factory=list)
    ranking: str = "iou"
    value_scale: float = 1.0
    remove_units: list[int] = field(default_factory=list)
    remove_scores: list[float] = field(default_factory=list)
    # learned draw value per unit (dissect's level stage); when present, draw uses these, not levels × value_scale
    values: list[float] = field(default_factory=list)
    # fill removal: the level of each remove unit (every unit of the layer), and the class whose mean it is
    remove_values: list[float] = field(default_factory=list)
    remove_fill: str = ""

    def to_dict(self) -> dict:
        d = {
            "units": self.units, "levels": self.levels, "scores": self.scores,
            "ranking": self.ranking, "value_scale": self.value_scale,
        }
        if self.remove_units:
            d["remove_units"], d["remove_scores"] = self.remove_units, self.remove_scores
        if self.values:
            d["values"] = self.values
        if self.remove_values:
            d["remove_values"], d["remove_fill"] = self.remove_values, self.remove_fill
        return d


@dataclass
class ConceptTable:
    layer: str
    num_units: int
    concepts: dict[str, Concept]
    brushes: list[str]
    q99: list[float] | None = None
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "ConceptTable":
        concepts = {}
        for name, c in d.get("concepts", {}).items():
            units = [int(u) for u in c["units"]]
            levels = [float(v) for v in c.get("levels", [])]
            if not levels and d.get("q99"):
                levels = [float(d["q99"][u]) for u in units]
            if len(levels) != len(units):
                raise ValueError(f"concept {name!r}: {len(units)} units but {len(levels)} levels")
            values = [float(v) for v in c.get("values", [])]
            if values and len(values) != len(units):
                raise ValueError(f"concept {name!r}: {len(units)} units but {len(values)} values")
            remove_units = [int(u) for u in c.get("remove_units", [])]
            remove_values = [float(v) for v in c.get("remove_values", [])]
            if remove_values and len(remove_values) != len(remove_units):
                raise ValueError(f"concept {name!r}: {len(remove_units)} remove units but {len(remove_values)} remove values")
            concepts[name] = Concept(
                name, units, levels, [float(s) for s in c.get("scores", [])],
                c.get("ranking", "iou"), float(c.get("value_scale", 1.0)),
                remove_units, [float(s) for s in c.get("remove_scores", [])], values,
                remove_values, str(c.get("remove_fill", "")),
            )
        brushes = [b for b in d.get("brushes", []) if b in concepts]
        brushes += [n for n in concepts if n not in brushes]
        q99 = [float(v) for v in d["q99"]] if d.get("q99") else None
        return cls(d.get("layer", "layer4"), int(d["num_units"]), concepts, brushes, q99, d.get("meta", {}))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ConceptTable":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict:
        d = {
            "layer": self.layer, "num_units": self.num_units, "brushes": self.brushes,
            "concepts": {n: c.to_dict() for n, c in self.concepts.items()}, "meta": self.meta,
        }
        if self.q99 is not None:
            d["q99"] = self.q99
        return d

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    def is_mean(self, concept: str, mode: str = "draw") -> bool:
        """Does this brush set every unit to a mean level (strength = opacity, not unit count)? A mean draw
        brush, or a fill removal."""
        c = self.concepts[concept]
        return c.ranking == "mean" if mode == "draw" else bool(c.remove_values)

    def opacity(self, concept: str, strength: float = 1.0, mode: str = "draw") -> float:
        """How much of the brush's alpha a stroke of this strength applies: the strength for a mean brush,
        else 1 (there the strength chooses how many units take part)."""
        return strength if self.is_mean(concept, mode) else 1.0

    def brush(self, concept: str, strength: float = 1.0, mode: str = "draw") -> tuple[list[int], list[float]]:
        """(units, levels) of a concept's brush at this strength; remove uses `remove_units` if any, at 0
        (or at the fill's levels).
        Draw levels are the learned `values` when the table has them, else levels × value_scale."""
        if concept not in self.concepts:
            raise KeyError(concept)
        c = self.concepts[concept]
        if self.is_mean(concept, mode):
            strength = 1.0  # every unit, always: see opacity()
        if mode == "remove" and c.remove_values:
            return c.remove_units, c.remove_values
        if mode == "remove":  # switched off: the remove units, else the draw units
            off = c.remove_units or c.units
            n = units_for_strength(len(off), strength)
            return off[:n], [0.0] * n
        n = units_for_strength(len(c.units), strength)
        if c.values:
            return c.units[:n], c.values[:n]
        return c.units[:n], [v * c.value_scale for v in c.levels[:n]]

    def unit_level(self, unit: int) -> float:
        """Draw level of a single unit for custom brushes: its q99, or the level a concept gives it."""
        if not 0 <= unit < self.num_units:
            raise IndexError(unit)
        if self.q99 is not None:
            return self.q99[unit]
        for c in self.concepts.values():
            if unit in c.units:
                return c.levels[c.units.index(unit)]
        known = [v for c in self.concepts.values() for v in c.levels]
        return sorted(known)[len(known) // 2] if known else 1.0  # median of known levels

    @classmethod
    def empty(cls, layer: str, num_units: int) -> "ConceptTable":
        return cls(layer, num_units, {}, [], None, {"method": "none"})
