"""The `ganpaint` command: one verb per task, each in the module of its concern.

    ganpaint world --count 16 --size 128 --out world.png      # labelled samples of the world
    ganpaint train --run runs/scenes --minutes 60             # resumes runs/scenes/checkpoint.pt
    ganpaint render --model scenes --seed 7 --strokes s.json --out out.png
    ganpaint serve --port 8000
    ganpaint models list | info ID | pull ID
    ganpaint dissect --model scenes && ganpaint evaluate --model scenes

A verb is a function decorated with `@command(name, help)`; its options come from a function named
`_<name>_args(parser)` in the same module (dashes become underscores).
"""
from __future__ import annotations

import argparse
import sys

COMMANDS: dict = {}


def command(name: str, help: str):
    def register(fn):
        COMMANDS[name] = (fn, help)
        return fn

    return register


def fail(msg: str) -> None:
    """End the command with a one-line error (exit status 2), never a traceback."""
    print(f"ganpaint: error: {msg}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ganpaint", description="Paint with concepts on GAN scenes.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, help) in COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        setup = vars(sys.modules[fn.__module__]).get(f"_{name.replace('-', '_')}_args")
        if setup:
            setup(p)
        p.set_defaults(func=fn)
    args = parser.parse_args(argv)
    args.func(args)


# registering the verbs (their order is the order in --help)
from . import world_train, serving, models, analysis, photos, explorer  # noqa: E402,F401
