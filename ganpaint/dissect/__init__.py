"""Dissection and evaluation (offline tools): which units draw which concept (dissect, re-exported
here; its stages in dissect_brushes, regions, stats), the segmenter's and the judge's training
(segmenter_train, judge, judge_train), grading brushes (evaluate, trials, levels, brush_sheets,
realism), and the unit explorer's analyses (units, artifact_units, omissions, explorer,
analysis_store).

    from ganpaint.dissect import DissectConfig, dissect     # as before the package existed
"""
from .dissect import BRUSH_ORDER, DissectConfig, brush_order, dissect, pick_trial, sample_latents, segment_at

__all__ = ["DissectConfig", "dissect", "BRUSH_ORDER", "brush_order", "pick_trial", "sample_latents", "segment_at"]
