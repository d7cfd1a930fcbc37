"""The original server's approach next to ours, per change of a painting session, as a ratio.

    python benchmarks/reference.py                     # the embedded scenes model
    python benchmarks/reference.py --tiny --history 1,10,30

Original (stateless): every change re-sends all strokes; the server composes all of them, runs the
full generator from z with the edit applied by a forward hook at layer4 (ganpaint.gan.nethook.Trace),
and returns base64 JPEG (quality 99). Ours: cached layer4 activations, the cached composite and reach of
the committed strokes and the cached unedited picture; one new stroke is composited on top, only
layer5→output runs, the edit is shown within its reach, the frame is binary WebP (quality 90). Both in this process, same model, same threads; no network.
Writes benchmarks/results/reference.json.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import RESULTS, brush, environment, model_info, stats  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ganpaint.paint.edit import Stroke, apply_edit, compose, over, stroke_edit  # noqa: E402
from ganpaint.paint.footprint import reach_map  # noqa: E402
from ganpaint.paint.imaging import encode_image  # noqa: E402
from ganpaint.gan.nethook import Trace  # noqa: E402
from server.testing import add_model_args, bench_model  # noqa: E402


def strokes_for(br: dict, n: int) -> list[Stroke]:
    return [Stroke.from_dict({**br, "radius": 0.05, "points": [[(0.05 + 0.09 * i) % 1, (0.1 + 0.13 * i) % 1],
                                                              [(0.3 + 0.07 * i) % 1, (0.5 + 0.11 * i) % 1]]})
            for i in range(n)]


def reference_change(model, z: torch.Tensor, strokes: list[Stroke]) -> str:
    alpha, value = compose(strokes, model.table, model.channels, model.layer_size)
    G = model.render_generator
    with torch.inference_mode(), Trace(G, model.edit_layer, retain_output=False,
                                       edit_output=lambda x: apply_edit(x, alpha, value)):
        img = G(z)
    return base64.b64encode(encode_image(img[0], "jpeg", quality=99)).decode("ascii")


def our_change(model, h: torch.Tensor, committed: tuple[torch.Tensor, torch.Tensor, torch.Tensor], stroke: Stroke,
               unedited: torch.Tensor) -> bytes:
    """As the server does it: the committed composite and reach are cached, the new stroke goes on top, and
    the frame shows the edit within the reach over the cached unedited picture."""
    alpha, value = over(committed[:2], stroke_edit(stroke, model.table, model.channels, model.layer_size))
    reach = torch.maximum(committed[2], reach_map([stroke], model.resolution))
    return encode_image(model.render(h, alpha, value, reach=reach, unedited=unedited)[0], "webp", quality=90)


def timed(fn, n: int) -> tuple[list[float], float]:
    """Wall ms per call, and mean CPU ms per call (steadier on a busy machine)."""
    for _ in range(3):
        fn()
    out = []
    cpu = time.process_time()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out, (time.process_time() - cpu) * 1000 / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--history", default="1,10,30", help="committed strokes before the change (default 1,10,30)")
    p.add_argument("--repeats", type=int, default=30, help="timed changes per case (default 30)")
    p.add_argument("--out", default=str(RESULTS / "reference.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model_id, model = bench_model(args)
    br = brush(model)
    z = model.z_for_seed(1)
    h = model.features(z)
    with torch.inference_mode():
        unedited = model.render(h)  # a session renders it once
    rows = []
    for k in (int(x) for x in args.history.split(",")):
        strokes = strokes_for(br, k)
        committed = (*compose(strokes[:-1], model.table, model.channels, model.layer_size),
                     reach_map(strokes[:-1], model.resolution))
        ref_wall, ref_cpu = timed(lambda s=strokes: reference_change(model, z, s), args.repeats)
        our_wall, our_cpu = timed(lambda s=strokes, c=committed: our_change(model, h, c, s[-1], unedited), args.repeats)
        ref, ours = stats(ref_wall), stats(our_wall)
        rows.append({"strokes": k, "reference_ms": ref, "ours_ms": ours,
                     "speedup_p50": round(ref["p50"] / ours["p50"], 2),
                     "reference_cpu_ms": round(ref_cpu, 3), "ours_cpu_ms": round(our_cpu, 3),
                     "speedup_cpu": round(ref_cpu / our_cpu, 2)})
    result = {"benchmark": "reference", "model": model_info(model_id, model), "rows": rows,
              "env": environment(args), "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"model {model_id} ({model.resolution}px), {args.threads} thread(s); ms per change: wall p50 (p95), CPU mean")
    print(f"{'strokes':>8}{'original':>24}{'ours':>24}{'speed-up wall':>15}{'CPU':>7}")
    for r in rows:
        ref, ours = r["reference_ms"], r["ours_ms"]
        print(f"{r['strokes']:8d}{ref['p50']:9.2f} ({ref['p95']:5.1f}) {r['reference_cpu_ms']:6.2f}"
              f"{ours['p50']:9.2f} ({ours['p95']:5.1f}) {r['ours_cpu_ms']:6.2f}{r['speedup_p50']:14.2f}×"
              f"{r['speedup_cpu']:6.2f}×")
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
