"""Each brush's drawing level chosen with the discriminator: concept share is not bought with realism.

    record = choose_levels(model, ranking_segmenter, D, factors=(0.5, 0.7, 1.0), trials=50)
    table = apply_levels(model.table, record)       # values (or value_scale) × the chosen factor per brush

Dissection raised each draw brush's values until the ranking segmenter read the concept in the region
(3–10 × the units' q99 on the embedded model), with nothing holding realism: past some level the units
paint a saturated colour patch that a colour-reading segmenter accepts. Here each brush's values are
scaled by every factor, draw trials (cell-aligned and freehand) run on the dissection's calibration
latents (held out from the ranking; never the evaluation's), the ranking segmenter scores success and
the discriminator the realism change, and the choice is: among factors whose realism change is within
the margin for each kind (cell-aligned and freehand, as the evaluation's goal asks of every kind; within
one standard error of it), the most successful one (ties within TIE go to the more realistic); when none
is within the margin, the most realistic of those that keep at least (best success − TIE). The judge is
never consulted: it only grades.
"""
from __future__ import annotations

import copy
from typing import Callable

from ..paint.concepts import ConceptTable
from .dissect import BRUSH_ORDER

__all__ = ["choose_levels", "apply_levels", "measure_brushes", "calibration_trials", "pick", "FACTORS", "CALIB_FIRST", "CALIB_IMAGES", "TIE"]

FACTORS = (0.5, 0.7, 1.0)
CALIB_FIRST, CALIB_IMAGES = 300, 300  # dissection latents (seed 1) after its ranking samples
TIE = 0.03
MIN_REALISM_TRIALS = 10  # a kind with fewer trials is too noisy to decide a choice alone


def _scaled(table: ConceptTable, factor: float, concepts) -> ConceptTable:
    t = copy.deepcopy(table)
    for c in concepts:
        con = t.concepts[c]
        if con.values:
            con.values = [v * factor for v in con.values]
        else:
            con.value_scale *= factor
    return t


def margin_or_default(margin_sd: float | None) -> float:
    """The realism margin a choice uses: the evaluation's (REALISM_MARGIN_SD) unless given."""
    from .evaluate import REALISM_MARGIN_SD

    return REALISM_MARGIN_SD if margin_sd is None else margin_sd


def pick(rows: list[dict], margin_sd: float) -> dict:
    """The row to keep: within the margin the most successful (near-ties to the more realistic), else the most
    realistic of the near-best. A row is within the margin unless its realism is beyond it by more than one
    standard error of its mean (`realism_se`): a difference the trials cannot tell from noise does not
    decide a choice."""
    inside = [r for r in rows if r["realism_sd"] is not None and r["realism_sd"] + r.get("realism_se", 0.0) >= -margin_sd]
    if inside:
        best = max(r["success"] for r in inside)
        return max((r for r in inside if r["success"] >= best - TIE), key=lambda r: (r["realism_sd"], r.get("factor", 0)))
    best = max(r["success"] for r in rows)
    return max((r for r in rows if r["success"] >= best - TIE), key=lambda r: (r["realism_sd"] or -1e9))


def _worst_kind(realism: dict) -> tuple[float | None, float]:
    """The realism a choice is held to, and its standard error: the worst kind (cell-aligned or freehand)
    with at least MIN_REALISM_TRIALS trials, as the evaluation's goal holds every kind to the margin; when
    no kind has that many, their trial-weighted mean."""
    kinds = [(v["delta_sd"], v.get("delta_se_sd", 0.0), v["trials"]) for v in realism.values()
             if v["trials"] and v["delta_sd"] is not None]
    if not kinds:
        return None, 0.0
    enough = [(d, se) for d, se, t in kinds if t >= MIN_REALISM_TRIALS]
    if enough:
        d, se = min(enough)
        return round(d, 3), round(se, 3)
    n = sum(t for _, _, t in kinds)
    return round(sum(d * t for d, _, t in kinds) / n, 3), round(max(se for _, se, _ in kinds), 3)


def calibration_trials(model, table: ConceptTable, segmenter, discriminator, *, trials: int, concepts, kinds) -> dict:
    """Trials of `kinds` with `table` on the calibration latents (dissection latents held out from the
    ranking), graded by `segmenter` and `discriminator`: the summaries of evaluate.brush_trials. The model's
    own table is put back afterwards."""
    from .evaluate import EvalConfig, brush_trials

    original = model.table
    try:
        model.table = table
        cfg = EvalConfig(trials=trials, other_trials=0, seed=1, first_image=CALIB_FIRST, max_images=CALIB_IMAGES,
                         fsd_samples=0, concepts=tuple(concepts), kinds=tuple(kinds))
        return brush_trials(model, segmenter, discriminator=discriminator, config=cfg, keep_examples=False)
    finally:
        model.table = original


def measure_brushes(model, table: ConceptTable, segmenter, discriminator, *, trials: int, concepts) -> dict[str, dict]:
    """Per brush of `table`: draw (cell-aligned) and freehand trials on the calibration latents, the ranking
    segmenter's success over both, each kind's mean realism change in sd of unedited scores, and the
    realism the choice is held to (`_worst_kind`)."""
    r = calibration_trials(model, table, segmenter, discriminator, trials=trials, concepts=concepts,
                           kinds=("draw", "freehand"))
    out = {}
    for c in concepts:
        b = r["concepts"][c]
        n_d, n_f = b["draw"]["trials"], b["draw_freehand"]["trials"]
        wins = (b["draw"]["success_rate"] or 0) * n_d + (b["draw_freehand"]["success_rate"] or 0) * n_f
        realism = b.get("realism", {})
        worst, se = _worst_kind(realism)
        out[c] = {"trials": n_d + n_f, "success": round(wins / max(n_d + n_f, 1), 4),
                  "realism_sd": worst, "realism_se": se,
                  "realism_sd_by_kind": {k: v["delta_sd"] for k, v in realism.items() if v["trials"]}}
    return out


def choose_levels(model, segmenter, discriminator, *, factors=FACTORS, trials: int = 50, margin_sd: float | None = None,
                  concepts=BRUSH_ORDER, progress_fn: Callable[[str, int, int], None] | None = None) -> dict:
    """Per brush: every factor's success (ranking segmenter) and realism change, and the chosen factor."""
    margin_sd = margin_or_default(margin_sd)
    concepts = [c for c in concepts if c in model.table.concepts and not model.table.is_mean(c)]
    rows: dict[str, list[dict]] = {c: [] for c in concepts}
    for n, f in enumerate(factors):
        measured = measure_brushes(model, _scaled(model.table, f, concepts), segmenter, discriminator,
                                   trials=trials, concepts=concepts)
        for c in concepts:
            rows[c].append({"factor": f, **measured[c]})
        if progress_fn:
            progress_fn("levels", n + 1, len(factors))
    chosen = {c: pick(rows[c], margin_sd) for c in concepts if rows[c] and any(r["trials"] for r in rows[c])}
    return {"factors": list(factors), "margin_sd": margin_sd, "trials_per_kind": trials,
            "samples": f"dissection latents (seed 1) {CALIB_FIRST}–{CALIB_FIRST + CALIB_IMAGES - 1}, held out from the ranking",
            "segmenter": segmenter.id, "discriminator": getattr(discriminator, "id", None),
            "candidates": rows, "chosen": {c: r["factor"] for c, r in chosen.items()}}


def apply_levels(table: ConceptTable, record: dict) -> ConceptTable:
    """The table with each brush's draw values scaled by its chosen factor; the record goes into its meta."""
    t = copy.deepcopy(table)
    for c, f in record["chosen"].items():
        t = _scaled(t, f, [c])
    t.meta = {**t.meta, "realism_levels": record}
    return t
