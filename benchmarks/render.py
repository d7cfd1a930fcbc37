"""The generator's two CPU routes, measured: the plain network vs `fold(G)` (ganpaint/gan/folding.py).

    python benchmarks/render.py                      # the embedded scenes model (128 px)
    python benchmarks/render.py --official           # a random model of the official 256 px shape
    python benchmarks/render.py --batches 1,2,4,8 --seconds 2

Times `PaintModel.render` (layer5 → output from cached layer4 activations) on one torch thread, as
every server render thread runs, per image at each batch size, with the plain network (PixelNorm →
nearest ×2 → conv → WScale → LeakyReLU, whole batches) and the folded route the server renders with
(`model.folded()`: WScale folded into the conv; nearest ×2 + 3×3 conv as one low-resolution conv onto
four output phases and a pixel shuffle; high-resolution layers in chunks of two). Rounds alternate between the routes so that machine noise
hits both. Also reports the largest difference between the routes' images. Writes
benchmarks/results/render.json (render_official.json with --official).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))

from ganpaint.paint.model import PaintModel  # noqa: E402
from ganpaint.gan.networks import official_widths  # noqa: E402


def per_image_ms(model: PaintModel, h: torch.Tensor, seconds: float) -> float:
    for _ in range(3):
        model.render(h)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds or n < 3:
        model.render(h)
        n += 1
    return (time.perf_counter() - t) / n / len(h) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--official", action="store_true", help="a random model of the official 256 px shape")
    p.add_argument("--batches", default="1,2,4,8", help="batch sizes (default 1,2,4,8)")
    p.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement (default 1)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is kept (default 3)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.official:
        model, name = PaintModel.random(resolution=256, widths=official_widths(256), seed=0), "official-shape 256 px"
    else:
        model, name = PaintModel.load(ROOT / "models" / "scenes"), "scenes 128 px"
    batches = [int(b) for b in args.batches.split(",")]
    rows = []
    with torch.inference_mode():
        h = model.features(torch.randn(max(batches), model.generator.config.z_dim,
                                       generator=torch.Generator().manual_seed(0)))
        routes = {"reference": model, "folded": model.folded()}
        diff = float((routes["folded"].render(h) - model.render(h)).abs().max())
        for b in batches:
            times: dict[str, list[float]] = {"reference": [], "folded": []}
            for _ in range(args.rounds):
                for route in times:
                    times[route].append(per_image_ms(routes[route], h[:b], args.seconds))
            med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
            rows.append({"batch": b, "reference_ms_per_image": round(med["reference"], 3),
                         "folded_ms_per_image": round(med["folded"], 3),
                         "speedup": round(med["reference"] / med["folded"], 3)})
    single = rows[0]["folded_ms_per_image"] if rows and rows[0]["batch"] == 1 else None
    result = {
        "benchmark": "render", "model": name, "threads": 1, "rows": rows,
        "max_abs_difference": diff,
        "folded_batch_gain_over_batch_1": {str(r["batch"]): round(single / r["folded_ms_per_image"], 3)
                                           for r in rows} if single else {},
        "env": {"machine": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__,
                "loadavg_1m": round(os.getloadavg()[0], 2)},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out = Path(args.out) if args.out else RESULTS / ("render_official.json" if args.official else "render.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{name}, one thread, ms per image (median of {args.rounds} alternating rounds)")
    print(f"{'batch':>6}{'reference':>11}{'folded':>9}{'speedup':>9}")
    for r in rows:
        print(f"{r['batch']:6d}{r['reference_ms_per_image']:11.2f}{r['folded_ms_per_image']:9.2f}{r['speedup']:8.2f}×")
    print(f"largest difference between the routes' images: {diff:.1e} (pixel values in [-1, 1]) → {out}")


if __name__ == "__main__":
    main()
