"""How long "where can this concept go?" takes: one batched render of every edit-layer cell's insertion.

    python benchmarks/placement.py                   # the embedded scenes model (128 px), 2 threads
    python benchmarks/placement.py --threads 1 --rounds 5

Times `placement_map` (64 insertions of the concept's brush, one per layer4 cell, rendered as one batch
through the folded route, then read by the segmenter in windows of ±2 cells around each cell), its two
parts (the batched render; the windowed read) and, in the same rounds, the whole-image read it
replaces and one plain frame render. Reports medians, ratios, the 1-minute load average (this machine
is shared: absolute times are only meaningful when it is idle), and how far the windowed read is from
the whole-image read (mean absolute difference of the grids). Writes benchmarks/results/placement.json.
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

from ganpaint.paint.model import PaintModel  # noqa: E402
from ganpaint.paint.edit import apply_edit  # noqa: E402
from ganpaint.paint.placement import _own_cell_shares, cell_insertions, placement_map  # noqa: E402


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
    t_win, t_render, t_segw, t_segf, t_frame, diffs = [], [], [], [], [], []
    for _ in range(args.rounds):
        for s, c in cases:
            t = time.perf_counter(); p = placement_map(m, m.segmenter, hs[s], c); t_win.append(time.perf_counter() - t)
            # its parts: the batched render, the windowed read, and the whole-image read it replaces
            units, levels = m.table.brush(c)
            a, v = cell_insertions(m.channels, m.layer_size, units, levels)
            with torch.inference_mode():
                t = time.perf_counter(); imgs = m.render(apply_edit(hs[s].expand(len(a), -1, -1, -1), a, v)); t_render.append(time.perf_counter() - t)
                k = list(m.segmenter.labels).index(c)
                t = time.perf_counter(); _own_cell_shares(m.segmenter, imgs, k, m.layer_size); t_segw.append(time.perf_counter() - t)
                t = time.perf_counter(); _own_cell_shares(whole, imgs, k, m.layer_size); t_segf.append(time.perf_counter() - t)
            q = placement_map(m, whole, hs[s], c)
            t = time.perf_counter(); m.render(hs[s]); t_frame.append(time.perf_counter() - t)
            diffs.append(float(np.abs(p.grid - q.grid).mean()))
    med = lambda xs: statistics.median(xs)  # noqa: E731
    out = {
        "model": "scenes", "resolution": m.resolution, "cells": m.layer_size ** 2, "threads": args.threads,
        "rounds": args.rounds, "cases": len(cases), "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "machine": platform.machine(), "load_average_1min": round(os.getloadavg()[0], 2),
        "placement_s": round(med(t_win), 3), "batched_render_s": round(med(t_render), 3),
        "windowed_read_s": round(med(t_segw), 3), "whole_image_read_s": round(med(t_segf), 3),
        "frame_ms": round(1000 * med(t_frame), 2),
        "placement_over_frame": round(med(t_win) / med(t_frame), 1),
        "windowed_read_speedup": round(med(t_segf) / med(t_segw), 2),
        "windowed_vs_whole_mean_abs_diff": round(float(np.mean(diffs)), 4),
        "goal_s": 1.0,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "placement.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
