"""The server's command line: `ganpaint serve` (a verb this package adds to the ganpaint CLI) or `python -m server`.

    ganpaint serve --port 8000 --model scenes
    python -m server --host 0.0.0.0 --threads 2

The options override GANPAINT_* settings (server/settings.py). Building the parser imports nothing
heavy; FastAPI and the models load only when the server starts.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["command", "add_arguments", "serve", "main"]

HELP = "run the painting server (REST + websocket + the web page)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="interface to listen on (default GANPAINT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default GANPAINT_PORT or 8000)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="where models run (default auto)")
    p.add_argument("--models-dir", default=None, help="folder of model folders (default: the repo's models/)")
    p.add_argument("--model", action="append", default=None, help="model id to load; repeat for several (default scenes)")
    p.add_argument("--threads", type=int, default=None,
                   help="render threads on a CPU; torch runs single-threaded in each (default: one per core)")
    p.add_argument("--no-batching", action="store_true", help="render every session on its own")
    p.add_argument("--log-level", default="info", help="uvicorn log level (default info)")


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from .app import create_app
    from .settings import Settings
    from .timeouts import uvicorn_options

    overrides = {k: v for k, v in {
        "host": args.host, "port": args.port, "device": args.device, "models_dir": args.models_dir,
        "models": args.model, "threads": args.threads, "batching": False if args.no_batching else None,
    }.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValueError as e:
        print(f"ganpaint: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=args.log_level,
                **uvicorn_options(settings))  # with header deadlines for half-sent requests


# the verb as the ganpaint CLI loads it (entry point `ganpaint.commands: serve = server.cli:command`)
command = argparse.Namespace(help=HELP, add_arguments=add_arguments, run=serve)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m server", description=HELP)
    add_arguments(p)
    serve(p.parse_args(argv))
