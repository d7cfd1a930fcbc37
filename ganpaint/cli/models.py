"""The model registry: list, inspect and pull checkpoints."""
from __future__ import annotations

import argparse

from . import command
from . import fail as _fail


# ----------------------------------------------------------------------------- models
def _models_args(p: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models-dir", default=None, help="bundled models folder (default: $GANPAINT_MODELS_DIR or ./models)")
    common.add_argument("--home", default=None, help="download cache (default: $GANPAINT_HOME or ~/.cache/ganpaint)")
    verbs = p.add_subparsers(dest="action", required=True, metavar="{list,info,pull}")
    verbs.add_parser("list", parents=[common], help="registered models and whether their weights are here")
    info = verbs.add_parser("info", parents=[common], help="one model's card and concept table")
    info.add_argument("model", help="model id")
    info.add_argument("--units", type=int, default=8, help="top units shown per brush (default 8)")
    pull = verbs.add_parser(
        "pull", parents=[common], help="download a model's weights (verified) or register your own checkpoint",
        description="ganpaint models pull bedroom  |  ganpaint models pull --url URL --id NAME",
    )
    pull.add_argument("model", nargs="?", help="registered model id (omit with --url)")
    pull.add_argument("--url", help="URL of your own ProGAN generator checkpoint (.pth or .safetensors)")
    pull.add_argument("--id", dest="name", help="id to register the --url checkpoint under")
    pull.add_argument("--title", help="title for a --url model")
    pull.add_argument("--edit-layer", default="layer4", help="layer to paint on for a --url model (default layer4)")
    pull.add_argument("--sha256", default=None, help="expected sha256 (prefix) of the --url file")
    pull.add_argument("--force", action="store_true", help="download again / replace an existing user model")
    pull.add_argument("--quiet", action="store_true", help="no progress bar")


def _models_list(args) -> None:
    from .. import zoo

    entries = zoo.registry(args.models_dir, args.home)
    if not entries:
        print(f"no models found in {zoo.default_models_dir(args.models_dir)} or {zoo.home(args.home) / 'models'}")
        return
    rows = []
    for e in entries.values():
        table = zoo.concept_table(e)
        state = "here" if e.weights_path(args.home) else "pull" if zoo.source_urls(e) else "missing"
        rows.append((e.id, str(e.resolution or "?"), state,
                     f"{len(table.brushes)} brushes" if table else "units only", e.title))
    header = ("ID", "RES", "WEIGHTS", "CONCEPTS", "TITLE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    missing = [r[0] for r in rows if r[2] == "pull"]
    if missing:
        print(f"\nfetch weights with: ganpaint models pull {missing[0]}   (cache: {zoo.home(args.home)})")


def _models_info(args) -> None:
    from .. import zoo

    e = zoo.get_entry(args.model, args.models_dir, args.home)
    weights = e.weights_path(args.home)
    lines = [
        ("id", e.id), ("title", e.title), ("origin", e.origin), ("resolution", e.resolution or "?"),
        ("edit layer", e.info.get("edit_layer", "layer4")),
        ("weights", str(weights) if weights else f"not here: ganpaint models pull {e.id}  → {e.cached_weights_path(args.home)}"),
        ("sha256", e.sha256_prefix or "-"), ("license", e.info.get("license", "-")),
    ]
    lines += [("sources" if i == 0 else "", url) for i, url in enumerate(e.info.get("sources", []))]
    for k, v in lines:
        print(f"{k:<11} {v}")
    table = zoo.concept_table(e)
    if table is None:
        layer = e.info.get("edit_layer", "layer4")
        print(f"\nno concept table: paint with custom unit brushes ({{\"units\": [...]}}) on {layer}, "
              "or make a table by dissecting the model with a segmenter (ganpaint dissect)")
        return
    meta = table.meta
    print(f"\nconcepts    {len(table.brushes)} brushes on {table.layer} ({table.num_units} units)"
          + (f"; {meta['method']}" if meta.get("method") else ""))
    name_w = max(len(b) for b in table.brushes) if table.brushes else 5
    print(f"  {'brush'.ljust(name_w)}  ranking  top units (draw level)")
    for b in table.brushes:
        c = table.concepts[b]
        top = ", ".join(f"{u} ({v:.1f})" for u, v in zip(c.units[: args.units], c.levels[: args.units]))
        more = f", … {len(c.units)} in all" if len(c.units) > args.units else ""
        print(f"  {b.ljust(name_w)}  {c.ranking:<7}  {top}{more}")


def _models_pull(args) -> None:
    from .. import zoo

    if args.url:
        if not args.name or args.model:
            _fail("use `models pull --url URL --id NAME` (a model id comes with --id, not as an argument)")
        e = zoo.pull_url(args.url, args.name, title=args.title, edit_layer=args.edit_layer, sha256_prefix=args.sha256,
                         models_dir=args.models_dir, cache_dir=args.home, force=args.force, progress=not args.quiet)
        print(f"registered {e.id!r} ({e.info['resolution']}px, sha256 {e.info['sha256_prefix']}…) in {e.folder}")
        print("it has no concept table yet: paint with unit brushes, or dissect it (ganpaint dissect)")
        return
    if not args.model:
        _fail("which model? `ganpaint models pull ID` (see `ganpaint models list`), or --url URL --id NAME")
    entry = zoo.get_entry(args.model, args.models_dir, args.home)
    had = entry.weights_path(args.home)
    path = zoo.pull(args.model, models_dir=args.models_dir, cache_dir=args.home, force=args.force,
                    progress=not args.quiet)
    if had and not args.force:
        print(f"{args.model}: weights already here at {path}")
    else:
        check = f", sha256 {entry.sha256_prefix}… verified" if entry.sha256_prefix else ""
        print(f"pulled {args.model} → {path}{check}")


@command("models", "list, inspect and pull models (official LSUN checkpoints or your own)")
def cmd_models(args) -> None:
    from ..zoo.zoo import ZooError

    try:
        {"list": _models_list, "info": _models_info, "pull": _models_pull}[args.action](args)
    except ZooError as e:
        _fail(str(e))
