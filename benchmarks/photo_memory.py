"""Server memory over rounds of upload-then-cancel of a 4096² photo (issue 16: 268 → 1,156 MB in 12 rounds).

    python benchmarks/photo_memory.py                 # 12 rounds against the scenes model
    python benchmarks/photo_memory.py --rounds 4 --side 2048

A server runs in a child process; each round uploads a large JPEG (scikit-image's astronaut, or a
world render when scikit-image is missing, scaled to --side), waits until its job runs, cancels the
job and reads the server's resident memory (VmRSS from /proc). A cancelled job's session keeps only
the photo's model-size square, so memory must come back: goal RSS after the rounds within 10 % of the
start, taken after one small photo was adapted (the first job builds the encoder, the optimizers and
torch's workspaces once: the fresh figure is reported too). Also checks the budget: with --budget-photos 2, the third concurrent upload gets 503 + Retry-After.
Writes benchmarks/results/photo_memory.json.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import RESULTS, environment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server.testing import add_model_args, model_args, server_process  # noqa: E402


def big_jpeg(side: int) -> bytes:
    try:
        import skimage.data as skdata

        rgb = skdata.astronaut()
    except ImportError:
        from ganpaint.world.world import render_scene

        rgb = render_scene(3, 512)[0]
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb)).resize((side, side), Image.Resampling.BICUBIC).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def upload(http: httpx.Client, data: bytes) -> httpx.Response:
    return http.post("/api/photos", files={"file": ("big.jpg", data, "image/jpeg")})


def wait_adapting(http: httpx.Client, job: str, timeout: float = 120) -> None:
    """Until the job has taken optimization steps (its photo decoded, fitted and in use)."""
    deadline = time.monotonic() + timeout
    while (j := http.get(f"/api/jobs/{job}").json())["stage"] not in ("h4", "coarse", "fine", "done"):
        assert time.monotonic() < deadline and j["state"] in ("queued", "running"), j
        time.sleep(0.05)


def warm_up(http: httpx.Client) -> None:
    """One small photo adapted to the end: the encoder, the optimizers and torch's workspaces exist after it."""
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (90, 140, 200)).save(buf, "PNG")
    job = upload(http, buf.getvalue()).json()["job"]
    while http.get(f"/api/jobs/{job}").json()["state"] not in ("done", "failed", "cancelled"):
        time.sleep(0.1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--side", type=int, default=4096)
    p.add_argument("--out", default=str(RESULTS / "photo_memory.json"))
    args = p.parse_args()
    data = big_jpeg(args.side)
    photo_mb = args.side * args.side * 3 / 2**20
    result = {"benchmark": "photo_memory", "side": args.side, "upload_bytes": len(data), "rounds": args.rounds}
    with server_process(*model_args(args), "--port", "0") as url:
        pid = server_process.last_pid
        with httpx.Client(base_url=url, timeout=120) as http:
            time.sleep(1.0)
            fresh = rss_mb(pid)
            warm_up(http)
            time.sleep(0.5)
            start = rss_mb(pid)
            print(f"RSS {fresh:.0f} MB fresh, {start:.0f} MB after one small photo was adapted", flush=True)
            after = []
            for r in range(args.rounds):
                out = upload(http, data)
                out.raise_for_status()
                job = out.json()["job"]
                wait_adapting(http, job)
                peak = rss_mb(pid)
                http.delete(f"/api/jobs/{job}")
                deadline = time.monotonic() + 60  # a running job stops at its next step
                while (state := http.get(f"/api/jobs/{job}").json()["state"]) != "cancelled":
                    assert state == "running" and time.monotonic() < deadline, state
                    time.sleep(0.05)
                time.sleep(0.3)
                after.append(round(rss_mb(pid), 1))
                print(f"round {r + 1}: RSS {peak:.0f} MB while the job ran, {after[-1]:.0f} MB after cancelling", flush=True)
            result.update({"rss_fresh_mb": round(fresh, 1), "rss_start_mb": round(start, 1),
                           "rss_after_each_round_mb": after, "rss_end_over_start": round(after[-1] / start, 3),
                           "rss_end_over_fresh": round(after[-1] / fresh, 3)})
    # the budget: room for two such photos, a third upload is refused with 503 + Retry-After
    budget = int(2.2 * photo_mb * 2**20)
    with server_process(*model_args(args), "--port", "0", "--photo-memory", str(budget)) as url:
        with httpx.Client(base_url=url, timeout=120) as http:
            codes = [upload(http, data) for _ in range(3)]
            result["budget"] = {"photo_memory_bytes": budget, "statuses": [c.status_code for c in codes],
                                "retry_after": codes[2].headers.get("retry-after"),
                                "detail": codes[2].json().get("detail") if codes[2].status_code != 202 else None}
    result["goals"] = {"rss_within_10pct_of_start": result["rss_end_over_start"] <= 1.10,
                       "third_upload_503_with_retry_after": result["budget"]["statuses"] == [202, 202, 503]
                       and result["budget"]["retry_after"] is not None}
    result["env"] = environment(args)
    result["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
    print(json.dumps({k: v for k, v in result.items() if k != "env"}, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
