"""Start a local cluster without Docker: redis-server, N replicas and HAProxy in front.

    python -m server.cluster --replicas 2 --port 8000         # `make cluster`
    with Cluster(replicas=2, port=8000) as c: c.url, c.replica_urls, c.kill(0)   # tests, benchmarks

Each replica is `ganpaint serve` with GANPAINT_STORE pointing at the shared Redis and one render
thread (pin it with `--cpus`); Debian's redis-server and haproxy are used as they are.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .haproxy import haproxy_config


class ClusterError(RuntimeError):
    """A part of the cluster is missing or did not start; the message says which."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _need(name: str) -> str:
    exe = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if exe is None:
        raise ClusterError(f"{name} is not installed (Debian: apt-get install {name})")
    return exe


def wait_http(url: str, timeout_s: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise ClusterError(f"{url}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.1)


class Cluster:
    def __init__(self, *, replicas: int = 2, port: int | None = None, store: str | None = None,
                 env: dict[str, str] | None = None, cpus: list[str] | None = None,
                 serve_args: list[str] | None = None, log_dir: str | os.PathLike | None = None) -> None:
        self.n, self.port, self.store = replicas, port or free_port(), store
        self.env = {**os.environ, **(env or {})}
        self.cpus, self.serve_args = cpus, list(serve_args or [])
        self.dir = Path(log_dir or tempfile.mkdtemp(prefix="ganpaint-cluster-"))
        self.replica_ports = [free_port() for _ in range(replicas)]
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.replica_ports]

    def _spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        with open(self.dir / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env or self.env,
                                 start_new_session=True)
        self.procs[name] = p
        return p

    def start_replica(self, i: int) -> subprocess.Popen:
        env = {**self.env, "GANPAINT_STORE": self.store, "GANPAINT_THREADS": self.env.get("GANPAINT_THREADS", "1")}
        cmd = [sys.executable, "-m", "server", "--host", "127.0.0.1",
               "--port", str(self.replica_ports[i]), "--log-level", "warning", *self.serve_args]
        if self.cpus:
            cmd = ["taskset", "-c", self.cpus[i % len(self.cpus)], *cmd]
        p = self._spawn(f"replica{i}", cmd, env)
        wait_http(self.replica_urls[i] + "/api/health", 120, p)
        return p

    def __enter__(self) -> "Cluster":
        try:
            if self.store is None:
                rport = free_port()
                self._spawn("redis", [_need("redis-server"), "--port", str(rport), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"])
                self.store = f"redis://127.0.0.1:{rport}/0"
                deadline = time.monotonic() + 10
                while True:
                    with socket.socket() as probe:
                        if probe.connect_ex(("127.0.0.1", rport)) == 0:
                            break
                    if time.monotonic() > deadline:
                        raise ClusterError("redis-server did not start")
                    time.sleep(0.05)
            for i in range(self.n):
                self.start_replica(i)
            cfg = self.dir / "haproxy.cfg"
            cfg.write_text(haproxy_config([("127.0.0.1", p) for p in self.replica_ports], port=self.port))
            self._spawn("haproxy", [_need("haproxy"), "-db", "-f", str(cfg)])
            wait_http(self.url + "/api/health", 30, self.procs["haproxy"])
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Kill replica i (kill -9 by default), as a crash would."""
        p = self.procs.get(f"replica{i}")
        if p is not None and p.poll() is None:
            os.killpg(p.pid, sig)
            p.wait(10)

    def stop(self) -> None:
        for name, p in reversed(list(self.procs.items())):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(p.pid, signal.SIGKILL)
        self.procs.clear()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m server.cluster", description=__doc__.splitlines()[0])
    p.add_argument("--replicas", type=int, default=2, help="replica processes (default 2)")
    p.add_argument("--port", type=int, default=8000, help="HAProxy's port (default 8000)")
    p.add_argument("--store", default=None, help="redis://… of a running Redis (default: start one)")
    args = p.parse_args(argv)
    try:
        with Cluster(replicas=args.replicas, port=args.port, store=args.store) as c:
            print(f"GANPaint cluster: {c.url} → {', '.join(c.replica_urls)}; store {c.store}; logs in {c.dir}")
            print("Ctrl-C stops it.")
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except ClusterError as e:
        sys.exit(f"cluster: {e}")
