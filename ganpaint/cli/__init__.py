"""The `ganpaint` command: one verb per task, each in the module of its concern.

    ganpaint world --count 16 --size 128 --out world.png      # labelled samples of the world
    ganpaint train --run runs/scenes --minutes 60             # resumes runs/scenes/checkpoint.pt
    ganpaint render --model scenes --seed 7 --strokes s.json --out out.png
    ganpaint serve --port 8000
    ganpaint models list | info ID | pull ID
    ganpaint dissect --model scenes && ganpaint evaluate --model scenes

A verb is a function decorated with `@command(name, help)`; its options come from a function named
`_<name>_args(parser)` in the same module (dashes become underscores). Other packages add verbs under
the entry-point group `ganpaint.commands`: an object with `help`, `add_arguments(parser)` and `run(args)`;
the web layer adds `serve` that way (server/cli.py), so the core never imports it.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import EntryPoint, entry_points

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


ENTRY_POINT_GROUP = "ganpaint.commands"
# declared in pyproject.toml; listed here too for source checkouts installed before it was
_DECLARED = {"serve": "server.cli:command"}


def _plugin_verbs() -> dict[str, EntryPoint]:
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in COMMANDS}
    for name, value in _DECLARED.items():
        found.setdefault(name, EntryPoint(name, value, ENTRY_POINT_GROUP))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ganpaint", description="Paint with concepts on GAN scenes.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, help) in COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        setup = vars(sys.modules[fn.__module__]).get(f"_{name.replace('-', '_')}_args")
        if setup:
            setup(p)
        p.set_defaults(func=fn)
    for name, ep in _plugin_verbs().items():
        try:
            verb = ep.load()
        except ImportError:  # the package that adds it is not installed here
            continue
        p = sub.add_parser(name, help=verb.help, description=verb.help)
        verb.add_arguments(p)
        p.set_defaults(func=verb.run)
    args = parser.parse_args(argv)
    args.func(args)


# registering the verbs (their order is the order in --help)
from . import world_train, serving, models, analysis, grading, photos, explorer  # noqa: E402,F401
