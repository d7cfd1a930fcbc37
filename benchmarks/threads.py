"""Why the server runs torch single-threaded in every thread (server/threads.py), measured.

    python benchmarks/threads.py                # the embedded scenes model, 2 threads
    python benchmarks/threads.py --tiny --threads 4

Each case runs in a fresh child process (torch's OpenMP state is per process) and times a full
layer5→output render of one frame in a worker thread, as the server's render thread does:
- alone: nothing else in the process ever ran torch; the worker renders on --threads threads;
- after the event loop: the main thread, which lives on as the server's event loop does, ran one
  --threads-thread op first (loading a model, say); the worker renders on --threads threads;
- single-threaded: the server's policy, every thread on one torch thread;
- batch of 8, split: eight frames split across --threads single-threaded threads (the server's
  batched renderer), per frame.
Writes benchmarks/results/threads.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
CASES = ("alone", "after_the_event_loop", "single_threaded", "batch8_split")


def _child(case: str, threads: int, tiny: bool, n: int) -> dict:
    import torch

    sys.path.insert(0, str(ROOT))
    from concurrent.futures import ThreadPoolExecutor

    from ganpaint.paint.model import PaintModel
    from server.render import split_render
    from server.threads import single_threaded

    if case in ("single_threaded", "batch8_split"):
        single_threaded()
    elif case == "after_the_event_loop":
        torch.set_num_threads(threads)
        with torch.inference_mode():  # one parallel op in the main thread: it now owns an OpenMP team
            torch.nn.functional.conv2d(torch.randn(8, 64, 64, 64), torch.randn(64, 64, 3, 3), padding=1)
    out: dict = {}

    def work() -> None:
        if case in ("alone", "after_the_event_loop"):
            torch.get_num_threads()
            torch.set_num_threads(threads)
        else:
            single_threaded()
        model = (PaintModel.random(resolution=128, widths=(128, 128, 64, 32, 16, 8), seed=0) if tiny
                 else PaintModel.load(ROOT / "models" / "scenes")).folded()
        batch = 8 if case == "batch8_split" else 1
        h = model.features(torch.randn(batch, model.generator.config.z_dim, generator=torch.Generator().manual_seed(0)))
        pool = ThreadPoolExecutor(threads - 1, initializer=single_threaded) if batch > 1 and threads > 1 else None

        def render() -> torch.Tensor:
            return model.render(h) if pool is None else split_render(pool, threads, model.render, h)

        for _ in range(5):
            render()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            render()
            times.append((time.perf_counter() - t) * 1000 / batch)
        times.sort()
        out.update(case=case, ms_per_frame_p50=round(times[len(times) // 2], 3), frames_per_call=batch,
                   torch_threads_in_worker=torch.get_num_threads())

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tiny", action="store_true", help="a random model of the embedded architecture (128 px)")
    p.add_argument("--renders", type=int, default=100)
    p.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(RESULTS / "threads.json"))
    args = p.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.threads, args.tiny, args.renders)))
        return
    rows = []
    for case in CASES:
        cmd = [sys.executable, __file__, "--child", case, "--threads", str(args.threads), "--renders", str(args.renders)]
        done = subprocess.run(cmd + (["--tiny"] if args.tiny else []), capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    import torch

    result = {"benchmark": "threads", "model": "random 128 px" if args.tiny else "scenes", "threads": args.threads,
              "rows": rows, "env": {"machine": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__,
                                    "loadavg_1m": round(os.getloadavg()[0], 2)},
              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"full render of one 128 px frame in a worker thread, {args.threads} threads")
    print(f"{'case':24}{'ms/frame p50':>14}")
    for r in rows:
        print(f"{r['case']:24}{r['ms_per_frame_p50']:14.2f}")
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
