"""Photo adaptation under painting load: job time idle vs while 16 websocket painters paint, and their latency.

    python benchmarks/photo_load.py                       # the scenes model, render threads = cores
    python benchmarks/photo_load.py --rounds 3 --painters 16 --job-threads 1,2

For each job-thread setting (settings.job_threads; 2 is the old behaviour: the job ran an OpenMP team
of as many threads as render threads) a server runs in a child process. Rounds alternate: a photo is
uploaded to an idle server and its job timed (the job's own "seconds"); then `--painters` closed-loop
websocket painters (each its own generated session) paint, the same photo is uploaded, and the job is
timed again; the painters' frame latencies while the job runs are pooled. Goals (issue 16): under load
the job finishes within 2× its idle time, and the painters' p95 stays ≤ 250 ms.
Writes benchmarks/results/photo_load.json.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
from PIL import Image
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import RESULTS, brush, environment, move, stats, stroke_message  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ganpaint.world.world import render_scene  # noqa: E402
from server.testing import add_model_args, bench_model, model_args, server_process  # noqa: E402


def photo_bytes(size: int = 512) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(render_scene(7, size)[0]).save(buf, "PNG")
    return buf.getvalue()


async def painter(url: str, model_id: str, br: dict, row: int, stop: asyncio.Event, out: list) -> None:
    """Closed loop until `stop`: send a move, wait for its frame; records (time sent, latency ms)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        sid = (await http.post("/api/sessions", json={"model": model_id, "seed": 200 + row})).json()["id"]
    async with connect(url.replace("http", "ws", 1) + f"/api/sessions/{sid}/ws?format=webp", max_size=None) as ws:
        while not isinstance(await ws.recv(), bytes):
            pass
        i = 0
        while not stop.is_set():
            if i and i % 1500 == 0:  # stay under max_strokes: start the picture over
                await ws.send(json.dumps({"type": "reset"}))
            t = time.perf_counter()
            await move(ws, stroke_message(br, i, row))
            out.append((t, (time.perf_counter() - t) * 1000))
            i += 1


async def run_job(url: str, data: bytes) -> tuple[dict, float, float]:
    """Upload, poll until the job ends; (final job, wall start, wall end)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        t0 = time.perf_counter()
        r = await http.post("/api/photos", files={"file": ("p.png", data, "image/png")})
        r.raise_for_status()
        job = r.json()["job"]
        while True:
            j = (await http.get(f"/api/jobs/{job}")).json()
            if j["state"] in ("done", "failed", "cancelled"):
                break
            await asyncio.sleep(0.05)
        await http.delete(f"/api/sessions/{r.json()['session']}")
        return j, t0, time.perf_counter()


async def loaded(url: str, model_id: str, br: dict, n: int, data: bytes) -> tuple[dict, list[float]]:
    stop, lat = asyncio.Event(), []
    tasks = [asyncio.create_task(painter(url, model_id, br, k, stop, lat)) for k in range(n)]
    await asyncio.sleep(3.0)  # every painter connected and painting
    j, t0, t1 = await run_job(url, data)
    stop.set()
    await asyncio.gather(*tasks)
    return j, [ms for t, ms in lat if t0 <= t <= t1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.set_defaults(threads=len(os.sched_getaffinity(0)))
    p.add_argument("--painters", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--job-threads", default="1,2", help="settings.job_threads values to compare (default 1,2)")
    p.add_argument("--out", default=str(RESULTS / "photo_load.json"))
    args = p.parse_args()
    model_id, model = bench_model(args)
    br, data = brush(model), photo_bytes()
    rows = []
    for jt in [int(v) for v in args.job_threads.split(",")]:
        with server_process(*model_args(args), "--port", "0", "--job-threads", str(jt)) as url:
            asyncio.run(run_job(url, data))  # warm-up: loads the encoder, first-touch allocations
            idle, busy, lat = [], [], []
            for r in range(args.rounds):
                j, _, _ = asyncio.run(run_job(url, data))
                idle.append(j["seconds"])
                j, window = asyncio.run(loaded(url, model_id, br, args.painters, data))
                busy.append(j["seconds"])
                lat += window
                print(f"job threads {jt}, round {r}: idle {idle[-1]:.2f} s, under {args.painters} painters "
                      f"{busy[-1]:.2f} s ({len(window)} frames while it ran)", flush=True)
            row = {"job_threads": jt, "render_threads": args.threads, "painters": args.painters,
                   "job_idle_s": idle, "job_loaded_s": busy,
                   "loaded_over_idle": round(statistics.median(busy) / statistics.median(idle), 2),
                   "latency_ms_while_job_runs": stats(lat) if lat else None,
                   "frames_per_s_while_job_runs": round(len(lat) / sum(busy), 1) if busy else None}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items()}), flush=True)
    best = next((r for r in rows if r["job_threads"] == 1), rows[0])
    result = {"benchmark": "photo_load", "model": model_id, "rounds": args.rounds, "photo": "world render 512 px",
              "rows": rows, "goals": {
                  "job_within_2x_idle_under_16_painters": best["loaded_over_idle"] <= 2.0,
                  "p95_le_250ms": bool(best["latency_ms_while_job_runs"] and best["latency_ms_while_job_runs"]["p95"] <= 250)},
              "env": environment(args), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
