"""How long "where can this concept go?" takes: one batched render of every edit-layer cell's insertion.

    python benchmarks/placement.py                   # the embedded scenes model (128 px), 2 threads
    python benchmarks/placement.py --threads 1 --rounds 5

Times `placement_map` (64 insertions of the concept's brush, one per layer4 cell, rendered as one batch
through the folded route, then read by the segmenter in windows of ±2 cells around each cell) against,
in the same rounds, one plain frame render and the same map read by whole-image segmentation. Rounds
alternate between the variants so that machine noise hits all of them; reports medians and ratios,
and how far the windowed read is from the whole-image read (cells, mean absolute difference). Writes
benchmarks/results/placement.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))

from ganpaint.model import PaintModel  # noqa: E402
from ganpaint.placement import placement_map  # noqa: E402


class _WholeImages:
    """The model's segmenter without its `net` attribute: placement falls back to whole-image reads."""

    def __init__(self, seg) -> None:
        self.labels, self.id, self._seg = seg.labels, seg.id, seg

    def segment(self, images):
        return self._seg.segment(images)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seeds", default="104,425,457")
    ap.add_argument("--concepts", default="door,tree,dome")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = PaintModel.load(ROOT / "models" / "scenes").folded()
    whole = _WholeImages(m.segmenter)
    cases = [(int(s), c) for s in args.seeds.split(",") for c in args.concepts.split(",")]
    hs = {s: m.features(m.z_for_seed(s)) for s, _ in cases}
    placement_map(m, m.segmenter, hs[cases[0][0]], cases[0][1])  # warm-up
    t_win, t_whole, t_frame, diffs = [], [], [], []
    for _ in range(args.rounds):
        for s, c in cases:
            t = time.perf_counter(); p = placement_map(m, m.segmenter, hs[s], c); t_win.append(time.perf_counter() - t)
            t = time.perf_counter(); q = placement_map(m, whole, hs[s], c); t_whole.append(time.perf_counter() - t)
            t = time.perf_counter(); m.render(hs[s]); t_frame.append(time.perf_counter() - t)
            diffs.append(float(np.abs(p.grid - q.grid).mean()))
    med = lambda xs: statistics.median(xs)  # noqa: E731
    out = {
        "model": "scenes", "resolution": m.resolution, "cells": m.layer_size ** 2, "threads": args.threads,
        "rounds": args.rounds, "cases": len(cases), "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "machine": platform.machine(), "load_average": os.getloadavg()[0],
        "placement_s": round(med(t_win), 3), "placement_whole_image_s": round(med(t_whole), 3),
        "frame_ms": round(1000 * med(t_frame), 2),
        "placement_over_frame": round(med(t_win) / med(t_frame), 1),
        "windowed_speedup_over_whole_image": round(med(t_whole) / med(t_win), 2),
        "windowed_vs_whole_mean_abs_diff": round(float(np.mean(diffs)), 4),
        "goal_s": 1.0,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "placement.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
