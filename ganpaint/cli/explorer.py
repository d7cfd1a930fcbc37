"""The dissection explorer on the command line: units, placement, artifacts, omissions.

    ganpaint units --model scenes                         # table of every unit (computed once, cached)
    ganpaint units --model scenes --unit 11 --out u11.png # one unit's details and its top samples
    ganpaint units --model scenes --out sheet.png         # every unit's top sample on one sheet
    ganpaint placement --model scenes --seed 7 --concept door --out map.png
    ganpaint artifacts --model scenes [--report 8]        # rank units by realism gain when removed
    ganpaint omissions --model scenes [--folder photos/] [--photo p.jpg]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import command
from . import fail as _fail


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="scenes", help="model id (folder under models/) or a model folder")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


def _load(args):
    import torch

    from ..paint.model import ModelError, PaintModel
    from .analysis import _model_folder

    torch.set_num_threads(args.threads)
    try:
        return PaintModel.load(_model_folder(args.model)).folded()  # the fast inference route
    except (ModelError, ValueError, OSError) as e:
        _fail(str(e))


def _bar():
    from tqdm import tqdm

    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = tqdm(total=total, desc=stage, dynamic_ncols=True)
        bars[stage].update(done - bars[stage].n)

    progress.close = lambda: [b.close() for b in bars.values()]
    return progress


# ----------------------------------------------------------------------------- units
def _units_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--unit", type=int, default=None, help="show one unit in detail")
    p.add_argument("--out", default=None, help="PNG: the unit's top samples (with --unit) or a sheet of all units")
    p.add_argument("--samples", type=int, default=500, help="generated images to inspect (default 500)")


@command("units", "the unit inspector: each edit-layer unit's label, IoU, q99, causal effect and top samples")
def cmd_units(args) -> None:
    from ..dissect.explorer import unit_report
    from ..dissect.units import InspectConfig, examples_strip, units_sheet

    model = _load(args)
    progress = _bar()
    report = unit_report(model, config=InspectConfig(samples=args.samples), progress_fn=progress)
    progress.close()
    if args.unit is not None and not 0 <= args.unit < model.channels:
        _fail(f"{model.edit_layer} of {model.id!r} has units 0…{model.channels - 1}")
    rows = report["units"] if args.unit is None else [report["units"][args.unit]]
    print(f"{model.id} {model.edit_layer}: {model.channels} units, {report['samples']} samples, segmenter {report['segmenter']}")
    print(f"{'unit':>4}  {'label':10} {'iou':>6} {'q99':>7}  artifact  brushes")
    for u in rows:
        brushes = ", ".join(f"{b['mode']} {b['concept']} #{b['rank'] + 1}" for b in u["brushes"]) or "-"
        iou = f"{u['iou']:.3f}" if u["iou"] is not None else "-"
        print(f"{u['unit']:>4}  {u['label'] or '-':10} {iou:>6} {u['q99']:>7.2f}  {'yes' if u['artifact'] else '':8}  {brushes}")
    if args.unit is not None:
        u = rows[0]
        if u.get("ious"):
            top = sorted(u["ious"].items(), key=lambda kv: -kv[1])[:5]
            print("IoU by class: " + ", ".join(f"{c} {v:.3f}" for c, v in top))
        print("top samples (seeds): " + ", ".join(map(str, u["examples"])))
    if args.out:
        if args.unit is not None:
            Path(args.out).write_bytes(examples_strip(model, report, args.unit))
        else:
            units_sheet(model, report).save(args.out)
        print(f"wrote {args.out}")


# ----------------------------------------------------------------------------- placement
def _placement_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--seed", type=int, default=0, help="picture (image id)")
    p.add_argument("--concept", required=True, help="concept to place, e.g. door")
    p.add_argument("--strokes", default=None, help='JSON file: strokes already on the picture')
    p.add_argument("--out", default=None, help="PNG: the picture with the map over it")


@command("placement", "where can a concept go on a picture? map over the edit layer's cells")
def cmd_placement(args) -> None:
    import numpy as np
    from PIL import Image

    from ..paint.edit import Stroke, StrokeError, compose
    from ..paint.imaging import to_uint8
    from ..paint.model import ModelError
    from ..paint.placement import heatmap_png, placement_map

    model = _load(args)
    if model.segmenter is None:
        _fail(f"model {model.id!r} has no segmenter: placement needs one")
    if args.concept not in model.table.concepts or args.concept not in model.segmenter.labels:
        _fail(f"unknown concept {args.concept!r}; this model knows: {', '.join(model.table.brushes) or 'none'}")
    try:
        strokes = []
        if args.strokes:
            data = json.loads(Path(args.strokes).read_text())
            strokes = [Stroke.from_dict(s) for s in (data.get("strokes", []) if isinstance(data, dict) else data)]
        alpha, value = compose(strokes, model.table, model.channels, model.layer_size)
        h = model.features(model.z_for_seed(args.seed))
    except (ModelError, StrokeError, OSError, ValueError) as e:
        _fail(str(e))
    p = placement_map(model, model.segmenter, h, args.concept, alpha=alpha, value=value)
    np.set_printoptions(precision=2, suppress=True)
    print(f"{args.concept} on seed {args.seed}: share of each cell read as {args.concept} after inserting "
          f"{len(p.units)} units there\n{p.grid}")
    if args.out:
        import io

        size = max(256, model.resolution)
        base = Image.fromarray(to_uint8(model.paint(h, strokes))[0]).resize((size, size), Image.NEAREST).convert("RGBA")
        over = Image.open(io.BytesIO(heatmap_png(p.grid, size)))
        Image.alpha_composite(base, over).convert("RGB").save(args.out)
        print(f"wrote {args.out}")


# ----------------------------------------------------------------------------- artifacts
def _artifacts_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--samples", type=int, default=100, help="images per unit for the ranking (default 100)")
    p.add_argument("--reference", default=None, help="image folder for FSD (default: the procedural world)")
    p.add_argument("--report", type=int, default=0, metavar="K",
                   help="also compare removing the top K units with K random ones (0: skip)")
    p.add_argument("--report-samples", type=int, default=1000, help="images for --report (default 1000)")
    p.add_argument("--out", default=None, help="JSON file for --report's numbers")


@command("artifacts", "rank units by how much removing them everywhere makes images more realistic")
def cmd_artifacts(args) -> None:
    from ..dissect.artifact_units import ArtifactConfig, realism_for, removal_report
    from ..dissect.explorer import ExplorerError, artifact_ranking

    model = _load(args)
    progress = _bar()
    try:
        r = artifact_ranking(model, config=ArtifactConfig(samples=args.samples), reference=args.reference,
                             progress_fn=progress)
    except ExplorerError as e:
        _fail(str(e))
    progress.close()
    print(f"{r['method']}\nflagged as artifacts: {r['artifacts'] or 'none'}")
    for u in r["units"][:15]:
        print(f"  unit {u['unit']:>4}  score {u['score']:+.4f}  z {u['z']:+.2f}  realism {u['realism_gain']}  "
              f"fsd {u['fsd_gain']}{'  artifact' if u['artifact'] else ''}")
    if args.report:
        units = [u["unit"] for u in r["units"][: args.report]]
        progress = _bar()
        rep = removal_report(model, realism_for(model), model.segmenter, units, samples=args.report_samples,
                             reference=args.reference, progress_fn=progress)
        progress.close()
        rep["method"] = r["method"]
        print(json.dumps({k: rep[k] for k in ("k", "before", "artifacts_removed")}, indent=1))
        print("random:", json.dumps({k: v for k, v in rep["random_removed"].items() if k != "draws"}))
        if args.out:
            Path(args.out).write_text(json.dumps(rep, indent=1) + "\n")
            print(f"wrote {args.out}")


# ----------------------------------------------------------------------------- omissions
def _omissions_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--samples", type=int, default=500, help="generated and reference images (default 500)")
    p.add_argument("--folder", default=None, help="reference image folder (default: the procedural world)")
    p.add_argument("--photo", default=None, help="a photo: what its reconstruction leaves out (runs the inversion)")


@command("omissions", "what the model cannot generate: class shares generated vs real, FSD; or for one photo")
def cmd_omissions(args) -> None:
    from ..dissect.explorer import ExplorerError, omission_report

    model = _load(args)
    if model.segmenter is None:
        _fail(f"model {model.id!r} has no segmenter to read class shares with")
    if args.photo:
        _photo_omissions(model, args.photo)
        return
    progress = _bar()
    try:
        r = omission_report(model, samples=args.samples, folder=args.folder, progress_fn=progress)
    except (ExplorerError, ValueError, OSError) as e:
        _fail(str(e))
    progress.close()
    print(f"{model.id}: {r['samples']} generated vs {r['samples']} {r['reference']} images; "
          f"FSD {r['fsd']} (baseline, reference vs reference: {r['fsd_baseline']})")
    for c, v in sorted(r["classes"].items(), key=lambda kv: (kv[1]["ratio"] is None, kv[1]["ratio"] or 0)):
        print(f"  {c:10s} generated {v['generated']:.4f}  reference {v['reference']:.4f}  ratio {v['ratio']}")
    print(f"dropped: {', '.join(r['dropped']) or 'none'}; overdrawn: {', '.join(r['overdrawn']) or 'none'}")


def _photo_omissions(model, path: str) -> None:
    """Invert the photo as the server does, then compare the segmenter's classes in both."""
    import sys

    from ..photo.adapt import adapt
    from ..photo.invert import EncoderError, find_encoder
    from ..dissect.omissions import photo_omissions
    from ..photo.photo import PhotoError, load_photo

    try:
        photo = load_photo(Path(path).read_bytes(), model.resolution)
        E = find_encoder(model.folder, model.generator, model.info)
    except OSError as e:
        _fail(f"cannot read {path}: {e.strerror}")
    except (PhotoError, EncoderError) as e:
        _fail(str(e))
    print("adapting the model to the photo…", file=sys.stderr)
    result = adapt(model.generator, photo.tensor(), encoder=E, edit_layer=model.edit_layer)
    recon = model.render(result.h, generator=result.generator)
    r = photo_omissions(model.segmenter, photo.tensor(), recon)
    for c, v in sorted(r["classes"].items(), key=lambda kv: -kv[1]["photo"]):
        print(f"  {c:10s} photo {v['photo']:.4f}  reconstruction {v['reconstruction']:.4f}  survives {v['survives']}")
    print(f"this model could not draw: {', '.join(r['missing']) or 'nothing the segmenter sees'}")
