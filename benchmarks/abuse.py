"""/api/health while an abusive client sends the most expensive mask bodies the server accepts.

    python benchmarks/abuse.py                 # 4 abusive connections, 15 s; writes benchmarks/results/abuse.json
    python benchmarks/abuse.py --abusers 8 --seconds 30

A server runs in a child process (python -m server.testing, a small random model, so that rendering
is cheap and decoding is what costs). One abusive websocket sends strokes with a 4096² RGBA mask back
to back (the repro: 10 of them stalled every client for 4.2 s), and abusive connections post back to
back, alternating
  - one 4096² RGBA PNG mask (~94 KB, ~1 s of CPU to decode: the costliest request within the
    per-request mask-pixel budget), and
  - a ~2.9 MB body of 1,000 4096² 1-bit PNG masks (the repro that froze every client for 144 s; now
    refused from the mask headers alone),
while a probe in another process GETs /api/health every 20 ms. The same probe runs first on the idle server.
Goal: p99 of /api/health < 100 ms under abuse.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import multiprocessing
import os
import platform
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server.testing import server_process  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def png_url(im: Image.Image) -> str:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def bodies(model: str) -> list[bytes]:
    rgba = np.zeros((4096, 4096, 4), np.uint8)
    rgba[:2048, :, 3] = 255
    costly = {"seed": 1, "strokes": [{"concept": "tree", "mask": png_url(Image.fromarray(rgba))}]}
    one_bit = png_url(Image.new("1", (4096, 4096), 0))
    flood = {"seed": 1, "strokes": [{"concept": "tree", "mask": one_bit}] * 1000}
    out = [json.dumps(b).encode() for b in (costly, flood)]
    assert len(out[1]) < 4 * 2**20, len(out[1])  # under the default body limit: the server must read it
    return out


def probe(url: str, seconds: float, every: float = 0.02) -> list[float]:
    times = []
    with httpx.Client(timeout=30) as c:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            assert c.get(url + "/api/health").status_code == 200
            times.append(time.perf_counter() - t0)
            time.sleep(max(0.0, every - times[-1]))
    return times


async def abuse(url: str, model: str, payloads: list[bytes], stop: threading.Event, n: int) -> Counter:
    statuses: Counter = Counter()

    async def socket() -> None:
        from websockets.asyncio.client import connect

        async with httpx.AsyncClient(timeout=120) as c:
            sid = (await c.post(f"{url}/api/sessions", json={"model": model, "seed": 1})).json()["id"]
        stroke = json.loads(payloads[0])["strokes"][0]
        message = json.dumps({"type": "stroke", "stroke": stroke, "final": False})
        async with connect(f"ws{url[4:]}/api/sessions/{sid}/ws?format=webp", max_size=None) as ws:
            while not stop.is_set():
                await ws.send(message)
                while not isinstance(reply := await ws.recv(), bytes):  # the preview's frame (or an error)
                    if '"error"' in reply:
                        statuses["ws error"] += 1
                        break
                statuses["ws frame"] += isinstance(reply, bytes)

    async def one(i: int) -> None:
        async with httpx.AsyncClient(timeout=120) as c:
            k = i
            while not stop.is_set():
                body = payloads[k % len(payloads)]
                r = await c.post(f"{url}/api/models/{model}/render", content=body,
                                 headers={"content-type": "application/json"})
                statuses[f"{'rgba' if k % 2 == 0 else 'flood'} {r.status_code}"] += 1
                k += 1

    await asyncio.gather(socket(), *(one(i) for i in range(n)))
    return statuses


def run_abusers(url: str, model: str, payloads: list[bytes], n: int, seconds: float, results) -> None:
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    results.put(dict(asyncio.run(abuse(url, model, payloads, stop, n))))


def stats(t: list[float]) -> dict:
    a = np.asarray(t) * 1000
    return {"n": len(a), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--abusers", type=int, default=4, help="abusive connections (default 4)")
    p.add_argument("--seconds", type=float, default=15.0, help="abuse duration (default 15)")
    args = p.parse_args()
    payloads = bodies("tiny")
    with server_process("--tiny", "--resolution", "64", "--widths", "64,64,32,16,8", "--threads", "1") as url:
        probe(url, 1.0)  # warm up
        idle = probe(url, 5.0)
        # the abusers run in their own process: in this one they would slow the probe down themselves
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        abusers = ctx.Process(target=run_abusers, args=(url, "tiny", payloads, args.abusers, args.seconds + 2.0, results))
        abusers.start()
        time.sleep(1.0)  # the abusers are in full swing
        loaded = probe(url, args.seconds)
        result = {"statuses": results.get(timeout=300)}
        abusers.join()
    out = {
        "benchmark": "abuse", "abusers": args.abusers, "seconds": args.seconds,
        "bodies_bytes": {"rgba_4096": len(payloads[0]), "flood_1000_masks": len(payloads[1])},
        "idle": stats(idle), "under_abuse": stats(loaded), "abusive_requests": result["statuses"],
        "p99_ratio_abuse_to_idle": round(stats(loaded)["p99_ms"] / stats(idle)["p99_ms"], 2),
        "goal": "under_abuse.p99_ms < 100", "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(out, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "abuse.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
