"""Scaling out, measured on loopback: failover through HAProxy, restart with the embedded store,
throughput of 1 vs 2 replicas, and what the HAProxy hop adds.

    python benchmarks/cluster.py                       # everything (a few minutes on 2 cores)
    python benchmarks/cluster.py --parts hop,failover  # some of it

- failover: a websocket painter commits a stroke every few frames through HAProxy; the replica that
  serves it is killed with SIGKILL mid-stroke; the painter reconnects as the page does. Reports the
  time from the kill to the next frame and committed (acknowledged) strokes lost. Goals: 0 lost, ≤ 5 s.
- restart: one server with the SQLite store, 50 sessions with 2 strokes each, kill -9, start again:
  how many come back with their strokes. Goal: all.
- steady: 16 closed-loop painters against 1 replica pinned to one core vs 2 replicas on two cores (each
  with one render thread), alternating rounds; frames are counted in a window while every painter paints
  (session creation, connection and warm-up before it); frames/s ratio. Goal ≥ 1.7×.
- throughput: the same painters, each painting a fixed number of moves, timed from their first request
  to the last frame: session setup and the uneven finish included.
- hop: p50 of a small request straight to a replica vs through HAProxy, interleaved. Goal ≤ 1 ms added.
Writes benchmarks/results/cluster.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from latency import RESULTS, move, paint, stats, stroke_message  # noqa: E402
from server.cluster import Cluster  # noqa: E402
from server.cluster.launch import free_port, wait_http  # noqa: E402

# one benchmark client plays many users from one address: lift the per-client limits
ENV = {"OMP_NUM_THREADS": "1", "GANPAINT_THREADS": "1", "GANPAINT_CLIENT_SESSION_BURST": "1000",
       "GANPAINT_CLIENT_SESSIONS": "1000", "GANPAINT_CLIENT_SOCKETS": "100"}
STROKE = {"concept": "tree", "radius": 0.06}


def _stroke(i: int, final: bool) -> str:
    y = 0.2 + 0.6 * ((i * 3) % 7) / 6
    return json.dumps({"type": "stroke", "final": final,
                       "stroke": {**STROKE, "points": [[0.2, y], [0.4 + 0.04 * (i % 5), y]]}})


# ------------------------------------------------------------------------------------------ failover
async def _failover(c: Cluster, commits_before: int = 10, commits_after: int = 5) -> dict:
    async with httpx.AsyncClient(base_url=c.url, timeout=30) as http:
        sid = (await http.post("/api/sessions", json={"seed": 104})).json()["id"]
    url = c.url.replace("http", "ws", 1) + f"/api/sessions/{sid}/ws?format=webp"
    acked = 0  # commits the server acknowledged with a state message
    killed_at = resumed_at = None
    i = 0
    while acked < commits_before + commits_after:
        try:
            async with connect(url, open_timeout=10, max_size=None) as ws:
                replica = ws.response.headers.get("X-Ganpaint-Replica", "r1")
                if killed_at is not None and resumed_at is None:
                    while not isinstance(await ws.recv(), bytes):
                        pass
                    resumed_at = time.perf_counter()
                while acked < commits_before + commits_after:
                    final = i % 4 == 3
                    await ws.send(_stroke(i, final))
                    while True:  # a frame for each message; a state message after each commit
                        m = await ws.recv()
                        if isinstance(m, bytes):
                            if not final:
                                break
                        elif json.loads(m)["type"] == "state" and final:
                            acked += 1
                            break
                    i += 1
                    if acked == commits_before and killed_at is None:
                        await ws.send(_stroke(i, False))  # mid-stroke: a preview is in flight
                        c.kill(int(replica.removeprefix("r")) - 1)
                        killed_at = time.perf_counter()
        except (OSError, asyncio.TimeoutError, Exception) as e:  # the replica died under us: reconnect
            if killed_at is None:
                raise
            if time.perf_counter() - killed_at > 60:
                raise RuntimeError(f"no replica took the session over: {e!r}")
            await asyncio.sleep(0.05)
    async with httpx.AsyncClient(base_url=c.url, timeout=30) as http:
        strokes = len((await http.get(f"/api/sessions/{sid}")).json()["strokes"])
    return {"acknowledged_commits": acked, "strokes_in_session": strokes, "lost": max(0, acked - strokes),
            "seconds_to_paint_again": round(resumed_at - killed_at, 3)}


def failover(args) -> dict:
    with Cluster(replicas=2, env=ENV) as c:
        out = asyncio.run(_failover(c))
    print(f"failover: {out['seconds_to_paint_again']} s to paint again, {out['lost']} committed strokes lost "
          f"({out['acknowledged_commits']} acknowledged, {out['strokes_in_session']} in the session)")
    return out


# ------------------------------------------------------------------------------------------ restart
def _serve(port: int, store: str) -> subprocess.Popen:
    env = {**os.environ, **ENV, "GANPAINT_STORE": store}
    p = subprocess.Popen([sys.executable, "-m", "server", "--port", str(port), "--log-level", "warning"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/api/health", 120, p)
    return p


def restart(args, n: int = 50) -> dict:
    store = f"sqlite:///{tempfile.mkdtemp(prefix='ganpaint-restart-')}/sessions.sqlite3"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    p = _serve(port, store)
    ids = []
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            for k in range(n):
                r = http.post("/api/sessions", json={"seed": k})
                r.raise_for_status()
                sid = r.json()["id"]
                for x in (0.3, 0.6):
                    http.post(f"/api/sessions/{sid}/strokes", json={**STROKE, "points": [[x, 0.6]]}).raise_for_status()
                ids.append(sid)
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # a crash, as the benchmark means it (and no server left behind)
    p.wait()
    t = time.perf_counter()
    p = _serve(port, store)
    up = time.perf_counter() - t
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            back = sum(1 for sid in ids
                       if (r := http.get(f"/api/sessions/{sid}")).status_code == 200 and len(r.json()["strokes"]) == 2)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait()
    out = {"sessions": n, "back_with_strokes": back, "restart_s": round(up, 2)}
    print(f"restart: {back}/{n} sessions back with their strokes after kill -9 (server up again in {up:.1f} s)")
    return out


# ------------------------------------------------------------------------------------------ throughput
def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (0 where it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _cpu_snapshot(c: Cluster) -> dict:
    """CPU seconds so far of this process (the painters' client), HAProxy and the replicas together."""
    t = os.times()
    return {"client": t.user + t.system, "haproxy": _cpu_s(c.procs["haproxy"].pid),
            "replicas": sum(_cpu_s(p.pid) for name, p in c.procs.items() if name.startswith("replica"))}


def _alternate(args, run_round) -> tuple[dict, dict, dict]:
    """Rounds alternating 1 replica on core 0 and 2 replicas on cores 0 and 1 (the order swapped every
    round); `run_round(url)` → (frames, seconds counted, latencies). Returns (frames/s per round, latencies,
    CPU seconds per process kind with the rounds' wall time and frames) per setup."""
    fps = {"1x1core": [], "2x2cores": []}
    lat = {k: [] for k in fps}
    cpu = {k: {"client": 0.0, "haproxy": 0.0, "replicas": 0.0, "wall": 0.0, "frames": 0} for k in fps}
    with Cluster(replicas=1, env=ENV, cpus=["0"]) as one, Cluster(replicas=2, env=ENV, cpus=["0", "1"]) as two:
        for r in range(args.rounds):
            for name, c in (("1x1core", one), ("2x2cores", two)) if r % 2 == 0 else (("2x2cores", two), ("1x1core", one)):
                before = _cpu_snapshot(c)
                t = time.perf_counter()
                frames, seconds, got = run_round(c.url)
                wall = time.perf_counter() - t
                after = _cpu_snapshot(c)
                fps[name].append(frames / seconds)
                lat[name] += got
                for k in before:
                    cpu[name][k] += after[k] - before[k]
                cpu[name]["wall"] += wall
                cpu[name]["frames"] += frames
    return fps, lat, cpu


def _cores_used(v: dict) -> dict:
    return {p: round(v[p] / v["wall"], 3) for p in ("client", "haproxy", "replicas")}


def throughput(args) -> dict:
    n, moves = args.painters, args.moves
    br = {"concept": "tree"}

    def run_round(url):
        t = time.perf_counter()
        got = [x for run in asyncio.run(_painters(url, br, n, moves)) for x in run]
        return len(got), time.perf_counter() - t, got

    fps, lat, cpu = _alternate(args, run_round)
    med = {k: statistics.median(v) for k, v in fps.items()}
    # where the two cores went: the painters' client and HAProxy run on the same 2 cores as the replicas,
    # so the replicas of the 2-core run cannot have both; the replicas' CPU per frame shows whether a
    # replica itself got slower when two ran
    use = {k: {"cores_used": _cores_used(v),
               "replica_cpu_ms_per_frame": round(v["replicas"] * 1000 / max(v["frames"], 1), 2)} for k, v in cpu.items()}
    out = {"painters": n, "moves": moves, "rounds": args.rounds, "frames_per_s": {k: round(v, 2) for k, v in med.items()},
           "ratio": round(med["2x2cores"] / med["1x1core"], 3), "latency_ms": {k: stats(v) for k, v in lat.items()},
           "cpu": use, "cpus": os.cpu_count()}
    print(f"throughput: {n} painters, 2 replicas on 2 cores / 1 replica on 1 core = {out['ratio']}× "
          f"({out['frames_per_s']})")
    for k, v in use.items():
        print(f"  {k}: cores used {v['cores_used']}, replica CPU per frame {v['replica_cpu_ms_per_frame']} ms")
    return out


async def _painters(url: str, br: dict, n: int, moves: int):
    return await asyncio.gather(*(paint(url, "scenes", br, moves, "webp", row=k, warmup=3) for k in range(n)))


async def _steady(url: str, br: dict, n: int, seconds: float) -> dict:
    """Steady-state throughput: n closed-loop painters open their sessions and warm up; once every one
    of them is painting, frames are counted for `seconds` while all keep painting (session creation,
    connection and warm-up are outside the window, as are painters that finished early)."""
    ready, go, stop = asyncio.Barrier(n + 1), asyncio.Event(), asyncio.Event()
    done: list[float] = []  # completion times of frames inside the window
    lat: list[float] = []

    async def painter(row: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            sid = (await http.post("/api/sessions", json={"model": "scenes", "seed": 100 + row})).json()["id"]
        async with connect(url.replace("http", "ws", 1) + f"/api/sessions/{sid}/ws?format=webp", max_size=None) as ws:
            while not isinstance(await ws.recv(), bytes):
                pass
            i = 0
            while not stop.is_set():
                t = time.perf_counter()
                await move(ws, stroke_message(br, i, row))
                i += 1
                if i == 3:
                    await ready.wait()
                    await go.wait()
                elif go.is_set() and not stop.is_set():
                    done.append(time.perf_counter())
                    lat.append((time.perf_counter() - t) * 1000)

    tasks = [asyncio.create_task(painter(k)) for k in range(n)]
    await ready.wait()
    t0 = time.perf_counter()
    go.set()
    await asyncio.sleep(seconds)
    stop.set()
    t1 = time.perf_counter()
    await asyncio.gather(*tasks)
    frames = sum(1 for x in done if t0 <= x <= t1)
    return {"frames": frames, "seconds": t1 - t0, "latency_ms": lat}


def steady(args) -> dict:
    """Throughput in steady state, alternating 1 replica on core 0 and 2 replicas on cores 0 and 1."""
    n, seconds = args.painters, args.seconds
    br = {"concept": "tree"}

    def run_round(url):
        got = asyncio.run(_steady(url, br, n, seconds))
        return got["frames"], got["seconds"], got["latency_ms"]

    fps, lat, cpu = _alternate(args, run_round)
    med = {k: statistics.median(v) for k, v in fps.items()}
    out = {"painters": n, "window_s": seconds, "rounds": args.rounds,
           "frames_per_s": {k: round(v, 2) for k, v in med.items()},
           "frames_per_s_rounds": {k: [round(x, 1) for x in v] for k, v in fps.items()},
           "ratio": round(med["2x2cores"] / med["1x1core"], 3), "latency_ms": {k: stats(v) for k, v in lat.items()},
           "cpu_whole_run": {k: {"cores_used": _cores_used(v)} for k, v in cpu.items()}, "cpus": os.cpu_count()}
    print(f"steady throughput: {n} painters, 2 replicas on 2 cores / 1 replica on 1 core = {out['ratio']}× "
          f"({out['frames_per_s']}, rounds {out['frames_per_s_rounds']})")
    return out


# ------------------------------------------------------------------------------------------ hop
def hop(args, n: int = 400) -> dict:
    with Cluster(replicas=1, env=ENV) as c:
        with httpx.Client(timeout=10) as http:
            sid = http.post(c.url + "/api/sessions", json={"seed": 1}).json()["id"]
            direct, via = [], []
            for k in range(n):
                for base, sink in ((c.replica_urls[0], direct), (c.url, via)) if k % 2 else \
                        ((c.url, via), (c.replica_urls[0], direct)):
                    t = time.perf_counter()
                    http.get(f"{base}/api/sessions/{sid}").raise_for_status()
                    sink.append((time.perf_counter() - t) * 1000)
    out = {"requests": n, "direct_ms": stats(direct), "via_haproxy_ms": stats(via),
           "added_p50_ms": round(statistics.median(via) - statistics.median(direct), 3)}
    print(f"hop: GET a session straight {out['direct_ms']['p50']} ms vs through HAProxy {out['via_haproxy_ms']['p50']} ms "
          f"p50 (+{out['added_p50_ms']} ms)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="hop,restart,failover,throughput,steady")
    p.add_argument("--painters", type=int, default=16)
    p.add_argument("--moves", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=8.0, help="steady: the counting window of each round")
    args = p.parse_args()
    parts = {"hop": hop, "restart": restart, "failover": failover, "throughput": throughput, "steady": steady}
    out = {"loadavg_1m_start": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    for name in args.parts.split(","):
        load = round(os.getloadavg()[0], 2)
        out[name] = {**parts[name](args), "loadavg_1m_start": load}
    out["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "cluster.json"  # parts not run this time keep their last numbers
    old = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(old | out, indent=2) + "\n")
    print(f"wrote {RESULTS / 'cluster.json'}")


if __name__ == "__main__":
    main()
