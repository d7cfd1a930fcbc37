"""Fill removals: remove a concept by painting, in its place, the mean of a class that may stand there.

    means = concept_means(model, ranking_segmenter, concepts=classes)   # mean_brushes.concept_means
    record = choose_fills(model, ranking_segmenter, D, means)           # per brush: switch off, or fill with a class
    table = apply_fills(model.table, record, means)                     # concepts.json with the chosen fills

A removal normally switches the concept's remove units off. For most concepts the generator then draws
what is behind (a wall behind a tree, grass at its foot); for the sky there is nothing behind, and
switching its units off left coloured smears. A *fill* removal sets every unit of the region to the
mean level of one class from the concept's CONTEXT list (sky → mountain, tree, brick…), so the generator
draws that class there. The candidates per concept are its own removal and each CONTEXT class (at each of
SCALES: a removal region is whole cells, which the next layer normalises, so a larger scale changes
nothing there); remove trials run on the dissection latents held out from the ranking and the means (as
for the levels), the ranking segmenter scores the removal rule of the evaluation (the concept drops and
the region becomes plausible classes) and the discriminator the realism change. Switching off stays
unless a fill removes clearly better (success above switching off's by more than TIE) and looks no worse
(realism not below switching off's by more than the standard error of the difference). Among such fills
the most successful is kept (near-ties to the more realistic). The judge is never consulted. On the
embedded model only dome gained (→ cloud); every sky fill removed the sky but cost more realism than the
smear (docs/history.md).
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Callable

from ..paint.concepts import ConceptTable
from .dissect import BRUSH_ORDER
from .levels import CALIB_FIRST, CALIB_IMAGES, TIE, calibration_trials
from .mean_brushes import MeanLevels
from .trials import CONTEXT

__all__ = ["fill_classes", "with_fill", "measure_removals", "prefer", "choose_fills", "apply_fills", "SCALES"]

SCALES = (1.0,)


def fill_classes(concept: str, means: dict[str, MeanLevels]) -> list[str]:
    """The classes a concept's removal may be filled with: its CONTEXT list, where there is a mean."""
    return [k for k in CONTEXT.get(concept, ()) if k in means and k != concept]


def with_fill(table: ConceptTable, concept: str, means: MeanLevels, fill: str, scale: float) -> ConceptTable:
    """A copy of `table` whose `concept` is removed by filling with `means` (class `fill`) × `scale`."""
    t = copy.deepcopy(table)
    _fill(t, concept, means, fill, scale)
    return t


def _fill(table: ConceptTable, concept: str, means: MeanLevels, fill: str, scale: float) -> None:
    """Make `concept`'s removal in `table` (changed in place) a fill with `means` × `scale`."""
    table.concepts[concept] = dataclasses.replace(
        table.concepts[concept], remove_units=list(range(table.num_units)), remove_scores=[],
        remove_values=[round(v * scale, 4) for v in means.levels], remove_fill=fill)


def measure_removals(model, table: ConceptTable, segmenter, discriminator, *, trials: int, concepts) -> dict[str, dict]:
    """Per concept of `table`: remove trials on the calibration latents, the ranking segmenter's success
    under the evaluation's removal rule and the mean realism change in sd."""
    r = calibration_trials(model, table, segmenter, discriminator, trials=trials, concepts=concepts, kinds=("remove",))
    out = {}
    for c in concepts:
        b = r["concepts"][c]
        realism = b.get("realism", {}).get("remove", {})
        out[c] = {"trials": b["remove"]["trials"], "success": b["remove"]["success_rate"] or 0.0,
                  "realism_sd": realism.get("delta_sd"), "realism_se": realism.get("delta_se_sd", 0.0)}
    return out


def prefer(own: dict, fills: list[dict]) -> dict:
    """The row to keep: `own` (switching off) unless a fill removes clearly better (success above own's by
    more than TIE) and looks no worse (realism not below own's by more than the standard error of the
    difference, the two rows' standard errors combined)."""
    def no_worse(r):
        if r["realism_sd"] is None or own["realism_sd"] is None:
            return False
        se = (r.get("realism_se", 0.0) ** 2 + own.get("realism_se", 0.0) ** 2) ** 0.5
        return r["realism_sd"] >= own["realism_sd"] - se

    better = [r for r in fills if r["trials"] and r["success"] > own["success"] + TIE and no_worse(r)]
    if not better:
        return own
    best = max(r["success"] for r in better)
    return max((r for r in better if r["success"] >= best - TIE), key=lambda r: r["realism_sd"])


def choose_fills(model, segmenter, discriminator, means: dict[str, MeanLevels], *, trials: int = 50,
                 scales=SCALES, concepts=BRUSH_ORDER,
                 progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    """Per brush: its own removal and every fill candidate, measured alike; the kept one."""
    concepts = [c for c in concepts if c in model.table.concepts]
    own = measure_removals(model, model.table, segmenter, discriminator, trials=trials, concepts=concepts)
    rows = {c: [{"fill": None, "scale": None, **own[c]}] for c in concepts}
    candidates = [(c, k, s) for c in concepts for k in fill_classes(c, means) for s in scales]
    for n, (c, k, s) in enumerate(candidates):
        m = measure_removals(model, with_fill(model.table, c, means[k], k, s), segmenter, discriminator,
                             trials=trials, concepts=[c])
        rows[c].append({"fill": k, "scale": s, **m[c]})
        if progress_fn:
            progress_fn("fills", n + 1, len(candidates))
    chosen = {}
    for c in concepts:
        if rows[c][0]["trials"]:
            best = prefer(rows[c][0], rows[c][1:])
            chosen[c] = {"fill": best["fill"], "scale": best["scale"]}
    return {"trials": trials, "scales": list(scales),
            "chosen_on": f"dissection latents (seed 1) {CALIB_FIRST}–{CALIB_FIRST + CALIB_IMAGES - 1}, held out from "
                         "the ranking and the means",
            "segmenter": segmenter.id, "discriminator": getattr(discriminator, "id", None),
            "candidates": rows, "chosen": chosen}


def apply_fills(table: ConceptTable, record: dict, means: dict[str, MeanLevels]) -> ConceptTable:
    """The table with the chosen fill removals; the record in its meta."""
    t = copy.deepcopy(table)
    for c, choice in record["chosen"].items():
        if choice["fill"] is not None:
            _fill(t, c, means[choice["fill"]], choice["fill"], choice["scale"])
    t.meta = {**t.meta, "fills": record}
    return t
