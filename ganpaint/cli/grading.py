"""The model's graders: the judge segmenter and the discriminator (realism), trained beside the model."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import command
from . import fail as _fail
from .analysis import _model_folder


# ----------------------------------------------------------------------------- train-discriminator
def _train_discriminator_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="scenes", help="model id (folder under models/) or a model folder")
    p.add_argument("--init", required=True, help="a training state (checkpoint.pt or compact) whose D to start from")
    p.add_argument("--minutes", type=float, default=5.0, help="fine-tuning time (default 5)")
    p.add_argument("--reals", type=int, default=1500, help="world renders to train on (default 1500)")
    p.add_argument("--heldout", type=int, default=256, help="held-out renders and generated images to measure on (default 256)")
    p.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (default 5e-4)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")


@command("train-discriminator", "fine-tune a training state's discriminator against the shipped generator and ship it")
def cmd_train_discriminator(args) -> None:
    import torch

    from ..paint.model import ModelError, PaintModel
    from ..dissect.realism import (DISCRIMINATOR_FILE, Discriminator, finetune_discriminator, realism_scores,
                           save_discriminator, separation, world_reals)
    from ..world.world import HELDOUT_SEED_BASE

    torch.set_num_threads(args.threads)
    folder = _model_folder(args.model)
    try:
        G = PaintModel.load(folder).generator
        state = torch.load(args.init, map_location="cpu", weights_only=True)
        cfg = state["config"]
        D = Discriminator(cfg["resolution"], tuple(cfg["widths"]), group=1)
        D.load_state_dict(state["D"])
    except (ModelError, OSError, KeyError, RuntimeError) as e:
        _fail(f"cannot start: {e}")
    if D.resolution != G.config.resolution:
        _fail(f"the state's D is for {D.resolution} px, the generator renders {G.config.resolution} px")
    # seeds: training reals far from the GAN's pool and the segmenters' seeds; measurement on held-out ones
    train_first, heldout_first = 50_000_000, HELDOUT_SEED_BASE + 100_000
    heldout_real = world_reals(range(heldout_first, heldout_first + args.heldout), D.resolution).float() / 127.5 - 1
    with torch.no_grad():
        heldout_fake = G(torch.randn(args.heldout, G.config.z_dim, generator=torch.Generator().manual_seed(777)))

    def auc(d) -> float:
        return round(separation(realism_scores(d, heldout_real), realism_scores(d, heldout_fake)), 4)

    before = {"per_image": auc(D)}
    D.group = 4
    before["groups_of_4"] = auc(D)
    D.group = 1
    print(f"before: held-out AUC real vs generated {before}", file=sys.stderr)
    reals = world_reals(range(train_first, train_first + args.reals), D.resolution)
    print(f"rendered {len(reals)} world scenes; fine-tuning for {args.minutes} min", file=sys.stderr)
    last = [0.0]

    def progress(s: dict) -> None:
        if s["step"] % 25 == 0:
            print(f"  step {s['step']} loss {s['loss']:.3f}", file=sys.stderr)

    run = finetune_discriminator(D, G, reals, steps=10**9, lr=args.lr, time_limit_s=args.minutes * 60,
                                 progress_fn=progress)
    after = auc(D)
    print(f"after {run['steps']} steps ({run['images']} images, {run['wall_s']} s): held-out AUC {after}")
    provenance = {
        "init": f"{Path(args.init).name} (D at {state.get('images')} images)",
        "generator": "generator.safetensors (frozen)", "finetune": run, "lr": args.lr,
        "train_world_seeds": [train_first, train_first + args.reals - 1],
        "heldout_world_seeds": [heldout_first, heldout_first + args.heldout - 1],
        "heldout_fake_z": "torch normal, generator seed 777",
        "heldout_auc_before": before, "heldout_auc_after": after,
        "about": "ROC AUC of real world renders vs generated images by per-image score; 0.5 = chance",
    }
    out = folder / DISCRIMINATOR_FILE
    ident = save_discriminator(D, out, provenance=provenance)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, id {ident})")


# ----------------------------------------------------------------------------- train-judge
def _train_judge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="scenes", help="model id (folder under models/) or a model folder")
    p.add_argument("--minutes", type=float, default=12.0, help="training time (default 12)")
    p.add_argument("--steps", type=int, default=100_000, help="stop after this many steps if the time is not up first")
    p.add_argument("--scenes", type=int, default=3000, help="world scenes to train on (default 3000)")
    p.add_argument("--eval-count", type=int, default=1000, help="held-out renders for the metrics (default 1000)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")


@command("train-judge", "train the judge segmenter (grades brushes, never ranks them) on its own world seeds")
def cmd_train_judge(args) -> None:
    import json

    import torch

    from ..dissect.judge import JUDGE_FILE
    from ..dissect.judge_train import JudgeTrainConfig, export_judge, train_judge
    from ..paint.model import ModelError, PaintModel

    torch.set_num_threads(args.threads)
    folder = _model_folder(args.model)
    try:
        model = PaintModel.load(folder)
        cfg = JudgeTrainConfig(scenes=args.scenes, steps=args.steps, minutes=args.minutes)
    except (ModelError, ValueError) as e:
        _fail(str(e))

    def progress(s: dict) -> None:
        if s["stage"] == "train" and s["step"] % 100:
            return
        print("  " + " ".join(f"{k}={v}" for k, v in s.items()), file=sys.stderr)

    net, record = train_judge(cfg, progress_fn=progress)
    info = export_judge(net, folder / JUDGE_FILE, record=record, ranking=model.segmenter, generator=model.generator,
                        eval_count=args.eval_count)
    (folder / "judge.json").write_text(json.dumps(info, indent=1) + "\n")
    h = info["heldout"]
    agree = info.get("agreement_with_ranking_on_generated", {}).get("pixel_agreement")
    print(f"wrote {folder / JUDGE_FILE} ({info['bytes'] / 1e6:.2f} MB, id {info['id']}): held-out pixel accuracy "
          f"{h['pixel_accuracy']:.4f}, mean IoU {h['mean_iou']:.3f}; agreement with the ranking segmenter on generated "
          f"images {agree}")


# ----------------------------------------------------------------------------- choices graded by realism
def _model_for_choice(args, done_key: str, what: str):
    """(folder, model, discriminator) for the choice verbs (levels, brushes, fills), or a clear failure: each
    needs the ranking segmenter and the discriminator, and a table that has not been through the same choice."""
    import torch

    from ..dissect.realism import load_discriminator
    from ..paint.model import ModelError, PaintModel

    torch.set_num_threads(args.threads)
    folder = _model_folder(args.model)
    try:
        model = PaintModel.load(folder)
    except ModelError as e:
        _fail(str(e))
    D = load_discriminator(folder)
    if D is None or model.segmenter is None:
        _fail(f"{folder} needs both segmenter.safetensors and discriminator.safetensors")
    if model.table.meta.get(done_key):
        _fail(f"this concept table's {what} were already chosen (meta.{done_key}); re-run dissect first")
    return folder, model, D


def _report_choice(args, folder, model, record: dict, row_name, make_table, choice_name=str) -> None:
    """Print every candidate and the choice; unless --dry-run, write the table `make_table()` builds."""
    import json

    for c, rows in record["candidates"].items():
        print(f"  {c:6s} " + "  ".join(f"{row_name(r)}: {r['success']:.2f} Δ{r['realism_sd']}" for r in rows)
              + f"  → {choice_name(record['chosen'].get(c))}")
    if args.dry_run:
        print(json.dumps(record["chosen"]))
        return
    path = folder / model.info.get("concepts", "concepts.json")
    make_table().save(path)
    print(f"wrote {path}")


# ----------------------------------------------------------------------------- choose-levels
def _choice_args(p: argparse.ArgumentParser, per: str) -> None:
    """The arguments the choice verbs share."""
    p.add_argument("--model", default="scenes", help="model id (folder under models/) or a model folder")
    p.add_argument("--trials", type=int, default=50, help=f"trials per kind and {per} (default 50)")
    p.add_argument("--dry-run", action="store_true", help="print the choice, leave concepts.json as it is")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")


def _choose_levels_args(p: argparse.ArgumentParser) -> None:
    _choice_args(p, "factor")
    p.add_argument("--factors", default="0.5,0.7,1.0", help="multipliers of each brush's draw values to try")


@command("choose-levels", "scale each brush's draw values so that it draws without costing realism (discriminator)")
def cmd_choose_levels(args) -> None:
    from ..dissect.levels import apply_levels, choose_levels

    try:
        factors = tuple(float(f) for f in args.factors.split(","))
    except ValueError as e:
        _fail(str(e))
    folder, model, D = _model_for_choice(args, "realism_levels", "levels")
    record = choose_levels(model, model.segmenter, D, factors=factors, trials=args.trials,
                           progress_fn=lambda s, d, t: print(f"  factor {d}/{t} done", file=sys.stderr))
    _report_choice(args, folder, model, record, lambda r: f"×{r['factor']}", lambda: apply_levels(model.table, record),
                   choice_name=lambda f: f"×{f}")


# ----------------------------------------------------------------------------- choose-brushes
def _choose_brushes_args(p: argparse.ArgumentParser) -> None:
    _choice_args(p, "brush")
    p.add_argument("--by-eye", action="append", default=[], metavar="CONCEPT=BRUSH[:SCALE]:WHY",
                   help="override the measured choice after looking at contact sheets of the held-out latents, "
                        "e.g. 'brick=mean:8:the learned brush paints an orange glow' (recorded with the measured one)")
    p.add_argument("--sheets", default="", metavar="FOLDER",
                   help="also write contact sheets of every candidate brush on the held-out latents there, to look at")


def _brush_name(row: dict) -> str:
    return row["brush"] if row["scale"] is None else f"{row['brush']}×{row['scale']:g}"


def _by_eye(specs: list[str]) -> dict:
    out = {}
    for spec in specs:
        concept, _, rest = spec.partition("=")
        brush, _, rest = rest.partition(":")
        scale, _, why = rest.partition(":")
        if brush not in ("mean", "learned") or not concept:
            _fail(f"--by-eye {spec!r}: expected CONCEPT=mean|learned[:SCALE]:WHY")
        try:
            out[concept] = {"brush": brush, "scale": float(scale or 1.0), "why": why}
        except ValueError:
            _fail(f"--by-eye {spec!r}: the scale must be a number")
    return out


@command("choose-brushes", "keep each concept's learned brush or its mean brush (every unit at its level in the "
                           "concept), whichever draws better within the realism margin")
def cmd_choose_brushes(args) -> None:
    from ..dissect.mean_brushes import apply_brushes, choose_brushes, concept_means

    folder, model, D = _model_for_choice(args, "mean_brushes", "brushes")
    means = concept_means(model, model.segmenter)
    if args.sheets:
        from ..dissect.choice_sheets import choice_sheets
        from ..dissect.dissect import BRUSH_ORDER
        from ..dissect.mean_brushes import SCALES, with_means

        concepts = [c for c in model.table.brushes if c in means]
        tables = {"learned": model.table, **{f"mean x{s:g}": with_means(model.table, means, concepts, s) for s in SCALES}}
        for path in choice_sheets(model, model.segmenter, tables, [c for c in BRUSH_ORDER if c in means], args.sheets):
            print(f"wrote {path}", file=sys.stderr)
    record = choose_brushes(model, model.segmenter, D, means, trials=args.trials, by_eye=_by_eye(args.by_eye),
                            progress_fn=lambda s, d, t: print(f"  {s} {d}/{t} done", file=sys.stderr))
    _report_choice(args, folder, model, record, _brush_name, lambda: apply_brushes(model.table, record, means))


# ----------------------------------------------------------------------------- choose-fills
def _choose_fills_args(p: argparse.ArgumentParser) -> None:
    _choice_args(p, "candidate")


def _fill_name(row: dict) -> str:
    return "off" if row["fill"] is None else f"{row['fill']}×{row['scale']:g}"


@command("choose-fills", "keep each concept's removal (units switched off), or fill the removed region with the mean "
                         "of a class that may stand there where that removes clearly better and looks no worse")
def cmd_choose_fills(args) -> None:
    from ..dissect.fills import apply_fills, choose_fills
    from ..dissect.mean_brushes import concept_means
    from ..dissect.trials import CONTEXT

    folder, model, D = _model_for_choice(args, "fills", "fills")
    classes = sorted({k for ks in CONTEXT.values() for k in ks} & set(model.segmenter.labels))
    means = concept_means(model, model.segmenter, concepts=classes)
    record = choose_fills(model, model.segmenter, D, means, trials=args.trials,
                          progress_fn=lambda s, d, t: print(f"  {s} {d}/{t} done", file=sys.stderr))
    _report_choice(args, folder, model, record, _fill_name, lambda: apply_fills(model.table, record, means),
                   choice_name=lambda ch: _fill_name(ch) if ch else "off")
