"""Stroke→frame latency over the websocket versus the pure layer5→output render of the same model.

    python benchmarks/latency.py                       # the embedded scenes model (models/scenes)
    python benchmarks/latency.py --tiny                # a random model of the target architecture (128 px)
    python benchmarks/latency.py --tiny --strokes 200 --format png

A server runs in a child process (python -m server.testing); one websocket client paints strokes
move by move (a preview per move, a commit every 30th) and waits for each frame. The baseline
is `model.render(h, alpha, value)` for one image in this process, measured before and after, with
the same torch thread count. Writes benchmarks/results/latency.json. Goal: p50 ≤ 1.25× pure render.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ganpaint.paint.edit import Stroke, compose  # noqa: E402
from server.testing import add_model_args, bench_model, model_args, server_process  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def brush(model) -> dict:
    """The first concept brush, or ten units for a model without a concept table yet."""
    if model.table.brushes:
        return {"concept": model.table.brushes[0]}
    return {"units": list(range(min(10, model.channels)))}


STROKE_MOVES = 30


def stroke_message(br: dict, i: int, row: int = 0) -> str:
    """Move i of a session: strokes of 30 moves across the image, each move sending the stroke so far
    (as the page does); the last move of a stroke commits it."""
    k, j = divmod(i, STROKE_MOVES)
    y = 0.1 + 0.8 * (((row * 7 + k) % 9) / 8)
    pts = [[0.05 + 0.9 * (m / (STROKE_MOVES - 1)), y] for m in range(j + 1)]
    return json.dumps({"type": "stroke", "final": j == STROKE_MOVES - 1,
                       "stroke": {**br, "radius": 0.05, "points": pts}})


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 3),
            "p95": round(float(np.percentile(a, 95)), 3), "mean": round(float(a.mean()), 3)}


def pure_render_ms(model, br: dict, n: int = 60, cpu: list | None = None) -> list[float]:
    h = model.features(model.z_for_seed(1))
    stroke = Stroke.from_dict({**br, "radius": 0.05, "points": [[0.2, 0.3], [0.6, 0.5]]})
    alpha, value = compose([stroke], model.table, model.channels, model.layer_size)
    for _ in range(5):
        model.render(h, alpha, value)
    out = []
    c = time.process_time()
    for _ in range(n):
        t = time.perf_counter()
        model.render(h, alpha, value)
        out.append((time.perf_counter() - t) * 1000)
    if cpu is not None:  # CPU ms per render: what an idle machine's wall time would be
        cpu.append((time.process_time() - c) * 1000 / n)
    return out


async def move(ws, message: str) -> None:
    """Send one message and wait for its frame (a server error message raises)."""
    await ws.send(message)
    while True:
        m = await ws.recv()
        if isinstance(m, bytes):
            return
        if json.loads(m)["type"] == "error":
            raise RuntimeError(m)


async def paint(url: str, model_id: str, br: dict, moves: int, fmt: str = "webp", row: int = 0,
                warmup: int = 5) -> list[float]:
    """One closed-loop painter: send a move, wait for its frame, repeat. Returns latencies in ms."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        sid = (await http.post("/api/sessions", json={"model": model_id, "seed": 100 + row})).json()["id"]
    lat = []
    async with connect(url.replace("http", "ws", 1) + f"/api/sessions/{sid}/ws?format={fmt}", max_size=None) as ws:
        while not isinstance(await ws.recv(), bytes):
            pass
        for i in range(warmup + moves):
            t = time.perf_counter()
            await move(ws, stroke_message(br, i, row))
            if i >= warmup:
                lat.append((time.perf_counter() - t) * 1000)
    return lat


def breakdown(renderer: dict) -> dict:
    """Mean server-side ms per image from the renderer's counters (GET /api/health)."""
    n = max(1, renderer["images"])
    return {k.removesuffix("_s") + "_ms": round(renderer.get(k, 0.0) * 1000 / n, 3)
            for k in ("wait_s", "prepare_s", "render_s", "encode_s", "render_cpu_s", "parts_s", "join_wait_s")} | {
        "mean_batch": round(renderer["images"] / max(1, renderer["batches"]), 2)}


def environment(args) -> dict:
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__,
            "threads": args.threads, "loadavg_1m": round(os.getloadavg()[0], 2)}


def model_info(model_id: str, model) -> dict:
    return {"id": model_id, "resolution": model.resolution, "widths": list(model.generator.config.widths),
            "brush": brush(model)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--strokes", type=int, default=150, help="stroke messages to time (default 150)")
    p.add_argument("--format", default="webp", choices=("webp", "jpeg", "png"))
    p.add_argument("--out", default=str(RESULTS / "latency.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model_id, model = bench_model(args)
    br = brush(model)
    cpu: list[float] = []
    before = pure_render_ms(model, br, cpu=cpu)
    with server_process(*model_args(args)) as url:
        asyncio.run(paint(url, model_id, br, 10, args.format))  # warm up
        start = httpx.get(url + "/api/health").json()["renderer"]
        lat = asyncio.run(paint(url, model_id, br, args.strokes, args.format, warmup=0))
        renderer = httpx.get(url + "/api/health").json()["renderer"]
    after = pure_render_ms(model, br, cpu=cpu)
    server_cpu_ms = (renderer["process_cpu_s"] - start["process_cpu_s"]) * 1000 / len(lat)
    pure_cpu_ms = float(np.mean(cpu))
    pure = stats(before + after)
    ws = stats(lat)
    ratio = ws["p50"] / pure["p50"]
    result = {
        "benchmark": "latency", "model": model_info(model_id, model), "format": args.format,
        "stroke_to_frame_ms": ws, "pure_render_ms": pure,
        "pure_render_p50_before_after_ms": [stats(before)["p50"], stats(after)["p50"]],
        "ratio_p50": round(ratio, 3),
        "cpu_ms": {"server_process_per_frame": round(server_cpu_ms, 3), "pure_render": round(pure_cpu_ms, 3),
                   "ratio": round(server_cpu_ms / pure_cpu_ms, 3),
                   "note": "CPU time per frame (all server work: websocket, JSON, stroke, render, encode) "
                           "over CPU time per pure render; wall-clock ratios are inflated when the CPU is contended"},
        "goal": "stroke_to_frame p50 <= 1.25 x pure render p50",
        "goal_met": ratio <= 1.25, "server_ms_per_image": breakdown(renderer), "renderer": renderer,
        "env": environment(args),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"model {model_id} ({model.resolution}px, widths {','.join(map(str, model.generator.config.widths))}), "
          f"{args.threads} thread(s), {args.format}")
    print(f"{'':24}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    print(f"{'stroke → frame (ws)':24}{ws['p50']:9.2f}{ws['p95']:9.2f}{ws['mean']:9.2f}")
    print(f"{'pure layer5→output':24}{pure['p50']:9.2f}{pure['p95']:9.2f}{pure['mean']:9.2f}")
    print("server side, mean ms per image:", ", ".join(f"{k} {v}" for k, v in breakdown(renderer).items()))
    print(f"CPU per frame: server {server_cpu_ms:.2f} ms vs pure render {pure_cpu_ms:.2f} ms "
          f"({server_cpu_ms / pure_cpu_ms:.2f}×)")
    print(f"ratio p50 {ratio:.2f}× (goal ≤ 1.25×: {'met' if ratio <= 1.25 else 'NOT met'}) → {args.out}")


if __name__ == "__main__":
    main()
