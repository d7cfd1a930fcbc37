"""Concurrent websocket painters: latency and frames/s for 1, 4, 16 painters, batched vs unbatched.

    python benchmarks/concurrency.py                  # the embedded scenes model
    python benchmarks/concurrency.py --tiny           # a random model of the target architecture (128 px)
    python benchmarks/concurrency.py --tiny --painters 1,4,16 --moves 30

For each renderer mode (region previews = the default; batched full previews; unbatched) a server
runs in a child process; every painter has its own session and paints closed-loop (send a move,
wait for its frame). The servers stay up together and --rounds rounds alternate between them, so
that a slow spell of the machine hits every mode; frames/s is the median round, latency percentiles
pool all rounds. Writes benchmarks/results/concurrency.json.
Goals on 2 CPU cores: 16 painters p95 ≤ 250 ms; batched throughput ≥ 1.5× unbatched.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import httpx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import RESULTS, breakdown, brush, environment, model_info, paint, stats  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server.testing import add_model_args, bench_model, model_args, server_process  # noqa: E402


async def painters(url: str, model_id: str, br: dict, n: int, moves: int, fmt: str) -> tuple[list[float], float]:
    t = time.perf_counter()
    runs = await asyncio.gather(*(paint(url, model_id, br, moves, fmt, row=k, warmup=3) for k in range(n)))
    return [x for r in runs for x in r], time.perf_counter() - t


def measure(url: str, model_id: str, br: dict, n: int, moves: int, fmt: str) -> dict:
    """One timed run of n painters against a server: latencies, frames/s, the renderer's counters."""
    before = httpx.get(url + "/api/health").json()["renderer"]
    cpu0 = time.process_time()
    lat, wall = asyncio.run(painters(url, model_id, br, n, moves, fmt))
    client_cpu = time.process_time() - cpu0
    after = httpx.get(url + "/api/health").json()["renderer"]
    delta = {k: after[k] - before[k] for k in before if isinstance(before[k], (int, float)) and not isinstance(before[k], bool)}
    return {"latency": lat, "frames_per_s": round(len(lat) / wall, 2), "renderer": delta, "client_cpu_s": client_cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--painters", default="1,4,16", help="painter counts (default 1,4,16)")
    p.add_argument("--moves", type=int, default=30, help="timed moves per painter (default 30)")
    p.add_argument("--format", default="webp", choices=("webp", "jpeg", "png"))
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds alternating between the modes; frames/s is the median round (default 3)")
    p.add_argument("--reference-blocks", action="store_true",
                   help="servers render with the generator's reference route (for comparison)")
    p.add_argument("--out", default=str(RESULTS / "concurrency.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model_id, model = bench_model(args)
    br = brush(model)
    counts = [int(c) for c in args.painters.split(",")]
    extra = ["--reference-blocks"] if args.reference_blocks else []
    modes = {"region": [], "batched": ["--no-region"], "unbatched": ["--no-region", "--no-batching"]}
    runs: dict[tuple[str, int], list[dict]] = {}
    with contextlib.ExitStack() as stack:  # one server per mode, all up at once; rounds alternate between them
        urls = {mode: stack.enter_context(server_process(*model_args(args), "--max-batch", str(args.max_batch),
                                                         *flags, *extra)) for mode, flags in modes.items()}
        for url in urls.values():
            asyncio.run(painters(url, model_id, br, 2, 5, args.format))  # warm up
        for _ in range(args.rounds):
            for n in counts:
                for mode, url in urls.items():
                    runs.setdefault((mode, n), []).append(measure(url, model_id, br, n, args.moves, args.format))
    rows = []
    for (mode, n), rs in runs.items():
        fps = sorted(r["frames_per_s"] for r in rs)
        lat = [x for r in rs for x in r["latency"]]
        delta = {k: sum(r["renderer"][k] for r in rs) for k in rs[0]["renderer"]}
        frames = max(1, delta["images"])
        rows.append({"mode": mode, "batching": mode == "batched", "painters": n, "latency_ms": stats(lat),
                     "frames_per_s": fps[len(fps) // 2], "frames_per_s_rounds": fps,
                     "server_ms_per_image": breakdown(delta),
                     # CPU per frame of the whole server process: efficiency, steady on a busy machine
                     "server_cpu_ms_per_frame": round(delta["process_cpu_s"] * 1000 / frames, 3),
                     # the painters' own CPU (one Python process): on 2 cores it competes with the server
                     "client_cpu_ms_per_frame": round(sum(r["client_cpu_s"] for r in rs) * 1000
                                                      / max(1, len(lat)), 3)})
    rows.sort(key=lambda r: (list(modes).index(r["mode"]), r["painters"]))
    by = {(r["mode"], r["painters"]): r for r in rows}
    top = max(counts)
    speedup = by[("batched", top)]["frames_per_s"] / by[("unbatched", top)]["frames_per_s"]
    cpu_gain = by[("unbatched", top)]["server_cpu_ms_per_frame"] / by[("batched", top)]["server_cpu_ms_per_frame"]
    p95 = min(by[(m, top)]["latency_ms"]["p95"] for m in ("region", "batched"))
    result = {
        "benchmark": "concurrency", "model": model_info(model_id, model), "format": args.format,
        "moves_per_painter": args.moves, "max_batch": args.max_batch, "rounds": args.rounds,
        "generator_route": "reference" if args.reference_blocks else "folded (ganpaint.gan.folding.fold)",
        "rows": rows,
        f"batched_over_unbatched_frames_per_s_at_{top}": round(speedup, 3),
        f"batched_over_unbatched_each_round_at_{top}": [
            round(b["frames_per_s"] / u["frames_per_s"], 3)
            for b, u in zip(runs[("batched", top)], runs[("unbatched", top)])],
        f"batched_over_unbatched_frames_per_cpu_s_at_{top}": round(cpu_gain, 3),
        "goals": {f"p95_at_{top}_painters_le_250ms (best default-able mode)": p95 <= 250,
                  "batched_throughput_ge_1.5x_unbatched": speedup >= 1.5},
        "modes": {"region": "default settings: previews re-render only changed cells (no batching for them)",
                  "batched": "region_previews off: previews of different sessions render as one batch",
                  "unbatched": "region_previews and batching off"},
        "env": environment(args), "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"model {model_id} ({model.resolution}px), {args.threads} thread(s), {args.format}, "
          f"{args.moves} moves per painter")
    print(f"{'renderer':10}{'painters':>9}{'p50 ms':>9}{'p95 ms':>9}{'frames/s':>10}{'batch':>7}"
          f"{'render CPU/img':>16}{'server CPU/frame':>18}{'client CPU/frame':>18}")
    for r in rows:
        b = r["server_ms_per_image"]
        print(f"{r['mode']:10}{r['painters']:9d}{r['latency_ms']['p50']:9.1f}"
              f"{r['latency_ms']['p95']:9.1f}{r['frames_per_s']:10.1f}{b['mean_batch']:7.2f}{b['render_cpu_ms']:14.2f}ms"
              f"{r['server_cpu_ms_per_frame']:16.2f}ms{r['client_cpu_ms_per_frame']:16.2f}ms")
    print(f"{top} painters: p95 {p95:.0f} ms (goal ≤ 250), batched/unbatched throughput {speedup:.2f}× wall, "
          f"{cpu_gain:.2f}× per CPU-second (goal ≥ 1.5×) → {args.out}")


if __name__ == "__main__":
    main()
