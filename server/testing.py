"""Run the app on a free port, for tests and benchmarks.

    with serve_in_thread(create_app(models={"tiny": PaintModel.random()})) as url:   # "http://127.0.0.1:PORT"
        ...
    python -m server.testing --tiny --resolution 128 --widths 128,128,64,32,16,8 --port 0 [--no-batching]
    python -m server.testing --model scenes --threads 1        # prints "READY <port>" once listening
"""
from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import threading
import time
from typing import Iterator

import uvicorn

__all__ = ["serve_in_thread", "server_process", "uvicorn_config", "free_port", "add_model_args", "model_args",
           "bench_model"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uvicorn_config(app, host: str = "127.0.0.1", port: int = 0, **kw) -> uvicorn.Config:
    from .timeouts import uvicorn_options

    settings = app.state.settings
    kw.setdefault("log_level", "warning")
    kw = {**uvicorn_options(settings), "ws": "websockets-sansio", **kw}  # as `ganpaint serve`
    return uvicorn.Config(app, host=host, port=port, lifespan="on", **kw)


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, timeout: float = 20.0, **kw) -> Iterator[str]:
    server = uvicorn.Server(uvicorn_config(app, host, port, **kw))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@contextlib.contextmanager
def server_process(*args: str, timeout: float = 120.0) -> Iterator[str]:
    """Run `python -m server.testing ARGS` in a child process; yield its base URL; stop it after."""
    from .settings import REPO_ROOT

    proc = subprocess.Popen([sys.executable, "-m", "server.testing", *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, text=True)
    server_process.last_pid = proc.pid  # benchmarks read the child's memory from /proc
    try:
        deadline = time.monotonic() + timeout
        line = ""
        while not line.startswith("READY "):
            line = proc.stdout.readline()
            if (not line and proc.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"server process did not start (exit code {proc.poll()})")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="scenes", help="model id under models/ (default scenes)")
    p.add_argument("--tiny", action="store_true", help="a random model of --resolution/--widths instead")
    p.add_argument("--resolution", type=int, default=128, help="--tiny only (default 128)")
    p.add_argument("--widths", default="128,128,64,32,16,8", help="--tiny only (default 128,128,64,32,16,8)")
    p.add_argument("--threads", type=int, default=1, help="torch threads, server and baseline (default 1)")


def model_args(args) -> list[str]:
    """The same model options, to pass on to a server process."""
    out = ["--model", args.model, "--resolution", str(args.resolution), "--widths", args.widths,
           "--threads", str(args.threads)]
    return out + (["--tiny"] if args.tiny else [])


def bench_model(args):
    """(model id as served, PaintModel as the server renders it) for the options of add_model_args; the same
    weights in every process."""
    from ganpaint.paint.model import PaintModel

    from .app import load_models, serving_models
    from .settings import Settings

    settings = Settings(models=[args.model], device="cpu", fold=not getattr(args, "reference_blocks", False))
    if args.tiny:
        widths = tuple(int(w) for w in args.widths.split(","))
        models = {"tiny": PaintModel.random(resolution=args.resolution, widths=widths, seed=0)}
    else:
        models = load_models(settings, "cpu")
    if not models:
        sys.exit(f"model {args.model!r} could not be loaded (see the warning above); pass --tiny for a random model")
    return next(iter(serving_models(models, settings, "cpu").items()))


def main(argv: list[str] | None = None) -> None:
    from .app import create_app
    from .settings import Settings
    from .threads import single_threaded

    p = argparse.ArgumentParser(prog="python -m server.testing", description="serve one model for benchmarks")
    add_model_args(p)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--no-batching", action="store_true")
    p.add_argument("--no-region", action="store_true", help="render previews in full (so that they batch)")
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--job-threads", type=int, default=1, help="torch threads of a photo job (settings.job_threads)")
    p.add_argument("--photo-memory", type=int, default=None, help="settings.photo_memory_bytes")
    p.add_argument("--reference-blocks", action="store_true",
                   help="render with the plain generator, not the folded one (ganpaint.gan.folding)")
    args = p.parse_args(argv)
    single_threaded()  # before any torch op here: the render thread alone gets --threads (threads.py)
    model_id, model = bench_model(args)
    settings = Settings(models=[model_id], batching=not args.no_batching, max_batch=args.max_batch,
                        region_previews=not args.no_region, fold=not args.reference_blocks,
                        threads=args.threads, device="cpu", max_sessions=1024, job_threads=args.job_threads,
                        # benchmark clients play many users from one address
                        client_session_burst=100_000, client_upload_burst=100_000, client_sockets=100_000,
                        client_sessions=100_000,
                        **({"photo_memory_bytes": args.photo_memory} if args.photo_memory else {}))
    app = create_app(settings, models={model_id: model})
    server = uvicorn.Server(uvicorn_config(app, port=args.port))

    def announce() -> None:  # the parent process reads the port from this line
        while not server.started:
            time.sleep(0.01)
        print(f"READY {server.servers[0].sockets[0].getsockname()[1]}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


if __name__ == "__main__":
    main()
