"""How fast is an edit frame on the official 256 px architecture? (random weights: speed only)

    nice -n 10 .venv/bin/python benchmarks/realmodel.py                 # CPU, ~1 minute on 2 busy cores
    .venv/bin/python benchmarks/realmodel.py --device cuda --reps 20     # also tries float16 on a GPU

Builds Generator(GeneratorConfig(256, official_widths(256))) (18.3 M parameters) and times, batch 1:
  full_from_z      the original server: the whole generator from z for every change
  cached_layer4    PaintModel.render: layer5→output from the session's cached layer4 (+ the edit)
  channels_last    the same with channels-last tensors
  region_stroke    RegionRenderer: a new stroke (radius 0.06) on an already rendered frame
  region_stroke_cl the same with channels-last tensors
  region_drag      RegionRenderer: the next preview frame of a dragged stroke (one new layer4 cell)
Variants run round-robin, so a background load slows them all alike. Writes
benchmarks/results/realmodel.json and prints a table; ratios are against full_from_z.
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

import torch

from ganpaint.paint.concepts import ConceptTable
from ganpaint.paint.edit import Stroke, compose
from ganpaint.gan.folding import fold
from ganpaint.paint.model import PaintModel
from ganpaint.gan.networks import Generator, GeneratorConfig, official_widths
from ganpaint.gan.renderer import RegionRenderer, choose_dtype

OUT = Path(__file__).resolve().parent / "results" / "realmodel.json"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=7, help="timed repetitions per variant (default 7)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a shared 2-core machine a 2nd thread mostly waits)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    torch.manual_seed(0)
    plain = Generator(GeneratorConfig(256, official_widths(256))).eval().requires_grad_(False).to(device)
    n_params = sum(p.numel() for p in plain.parameters())
    # what the server renders with: folded on a CPU (ganpaint.gan.folding), the plain network on a GPU
    G = fold(plain) if device.type == "cpu" else plain
    table = ConceptTable.empty("layer4", 512)
    m = PaintModel("official256-random", G, table)
    z = m.z_for_seed(104)
    h = m.features(z)
    brush = list(range(15))  # a full-strength brush switches 15 units

    def stroke(points) -> tuple[torch.Tensor, torch.Tensor]:
        s = Stroke.from_dict({"units": brush, "points": points, "radius": 0.06})
        a, v = compose([s], table, m.channels, m.layer_size)
        return a.to(device), v.to(device)

    gen = torch.Generator().manual_seed(1)
    spots = [[float(x) for x in torch.rand(2, generator=gen) * 0.8 + 0.1] for _ in range(args.reps + 1)]
    edits = [stroke([pt]) for pt in spots]
    edited = [h * (1 - a) + v * a for a, v in edits]
    edited_cl = [e.contiguous(memory_format=torch.channels_last) for e in edited]

    G_cl = Generator(G.config).eval().requires_grad_(False).to(device)
    G_cl.load_state_dict(plain.state_dict())
    G_cl = G_cl.to(memory_format=torch.channels_last)
    G_cl = fold(G_cl) if device.type == "cpu" else G_cl
    m_cl = PaintModel(m.id, G_cl, table)
    h_cl = h.contiguous(memory_format=torch.channels_last)

    region = RegionRenderer(G, start="layer5")
    region_cl = RegionRenderer(G_cl, start="layer5")
    drag = RegionRenderer(G, start="layer5")
    drag_state = {"i": 0}
    boxes: list[float] = []

    def full_from_z(i):
        with torch.inference_mode():
            return G(z)

    def cached_layer4(i):
        a, v = edits[i]
        return m.render(h, a, v)

    def channels_last(i):
        a, v = edits[i]
        return m_cl.render(h_cl, a, v)

    def region_stroke(i):
        # untimed set-up happens in `prepare`: the renderer holds the unedited frame
        out = region.render(edited[i])
        y0, y1, x0, x1 = region.last_box
        boxes.append((y1 - y0) * (x1 - x0) / 256**2)
        return out

    def prepare_region_stroke(i):
        region.render(h)

    def region_stroke_cl(i):
        return region_cl.render(edited_cl[i])

    def prepare_region_stroke_cl(i):
        region_cl.render(h_cl)

    def region_drag(i):
        # a drag: each frame extends the same stroke to the next cell
        drag_state["i"] += 1
        k = drag_state["i"]
        return drag.render(h * (1 - drag_a[k][0]) + drag_a[k][1] * drag_a[k][0])

    # each preview frame reaches one more layer4 cell (1/8 of the width): frames that reach no new cell
    # change nothing and cost nothing, so this is the drag's worst case
    cells = [(j % 8 if (j // 8) % 2 == 0 else 7 - j % 8, j // 8 % 6) for j in range(args.reps + 3)]  # serpentine
    drag_path = [[0.0625 + 0.125 * cx, 0.3125 + 0.125 * cy] for cx, cy in cells]
    drag_a = [stroke(drag_path[: k + 1]) for k in range(args.reps + 2)]
    drag.render(h * (1 - drag_a[0][0]) + drag_a[0][1] * drag_a[0][0])

    variants = {"full_from_z": full_from_z, "cached_layer4": cached_layer4, "channels_last": channels_last,
                "region_stroke": region_stroke, "region_stroke_cl": region_stroke_cl, "region_drag": region_drag}
    prepare = {"region_stroke": prepare_region_stroke, "region_stroke_cl": prepare_region_stroke_cl}

    # correctness before speed: the region frame must equal the full render of the same edit
    region.render(h)
    err = float((region.render(edited[0]) - G.render_from(edited[0], "layer5")).abs().max())
    region_cl.render(h_cl)
    err = max(err, float((region_cl.render(edited_cl[0]) - G.render_from(edited[0], "layer5")).abs().max()))
    boxes.clear()

    for name, fn in variants.items():  # warm-up (allocations, oneDNN kernel choice)
        if name in prepare:
            prepare[name](0)
        fn(0)
    region.render(h)
    times = {k: [] for k in variants}
    for i in range(1, args.reps + 1):
        for name, fn in variants.items():
            if name in prepare:
                prepare[name](i)
            sync(device)
            t0 = time.perf_counter()
            fn(i)
            sync(device)
            times[name].append(time.perf_counter() - t0)

    base = statistics.median(times["full_from_z"])
    rows = {
        k: {"median_ms": round(statistics.median(v) * 1e3, 2), "min_ms": round(min(v) * 1e3, 2),
            "ratio_vs_full": round(statistics.median(v) / base, 3),
            # the minimum is the run least disturbed by other processes: on a shared machine it is the
            # steadier comparison
            "min_ratio_vs_full": round(min(v) / min(times["full_from_z"]), 3)}
        for k, v in times.items()
    }
    result = {
        "what": "edit-frame latency, official 256px ProGAN architecture, random weights, batch 1, float32",
        "command": " ".join(["python benchmarks/realmodel.py", *(argv or sys.argv[1:])]),
        "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "machine": platform.machine(), "processor": platform.processor(),
        "load_average_1m": round(os.getloadavg()[0], 2), "reps": args.reps, "parameters": n_params,
        "results": rows,
        "region_stroke_mean_output_fraction": round(statistics.mean(boxes), 3) if boxes else None,
        "region_vs_full_render_max_abs_diff": err,
    }
    if device.type == "cuda":
        dtype, half_err = choose_dtype(G, torch.cat(edited[:4]), device=device)
        result["float16"] = {"max_encoded_error": half_err, "within_1_255": dtype == torch.float16}
        if dtype == torch.float16:
            G16 = Generator(G.config).eval().requires_grad_(False).to(device)
            G16.load_state_dict(plain.state_dict())
            G16 = G16.half()
            h16 = h.half()
            ts = []
            for _ in range(args.reps):
                sync(device)
                t0 = time.perf_counter()
                with torch.inference_mode():
                    G16.render_from(h16, "layer5")
                sync(device)
                ts.append(time.perf_counter() - t0)
            result["float16"]["cached_layer4_median_ms"] = round(statistics.median(ts) * 1e3, 2)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['what']}\n{device}, torch {torch.__version__}, {result['threads']} thread(s), "
          f"load {result['load_average_1m']}, {args.reps} reps (median)")
    print(f"{'variant':<16}{'median ms':>11}{'min ms':>9}{'× full':>8}{'× (min)':>9}")
    for k, r in rows.items():
        print(f"{k:<16}{r['median_ms']:>11.1f}{r['min_ms']:>9.1f}{r['ratio_vs_full']:>8.2f}{r['min_ratio_vs_full']:>9.2f}")
    print(f"region_stroke recomputes {result['region_stroke_mean_output_fraction']:.0%} of the output on average; "
          f"max |region − full| = {err:.2e}")
    if "float16" in result:
        print(f"float16: {result['float16']}")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
