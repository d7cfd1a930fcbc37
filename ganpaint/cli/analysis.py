"""Reading the model: the world segmenter, dissection and evaluation."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import command
from . import fail as _fail


# ----------------------------------------------------------------------------- train-segmenter
def _train_segmenter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default="runs/segmenter", help="run folder holding checkpoint.pt and cached scenes")
    p.add_argument("--out", default="models/scenes/segmenter.safetensors", help="weights to write when done (+ .json metrics)")
    p.add_argument("--steps", type=int, default=None, help="total training steps (default 800; a larger value extends a resumed run)")
    p.add_argument("--scenes", type=int, default=None, help="training scenes (new runs only; default 3000)")
    p.add_argument("--minutes", type=float, default=None, help="stop this session after this much time (resume later)")
    p.add_argument("--eval-count", type=int, default=1000, help="held-out renders for the metrics (default 1000)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


@command("train-segmenter", "train (or resume) the world segmenter, then export it with held-out metrics")
def cmd_train_segmenter(args) -> None:
    import torch
    from tqdm import tqdm

    from ..dissect.segmenter_train import SegmenterTrainer, SegTrainConfig

    torch.set_num_threads(args.threads)
    overrides = {k: v for k, v in (("steps", args.steps), ("train_scenes", args.scenes)) if v is not None}
    try:
        config = SegTrainConfig(**overrides)
    except ValueError as e:
        _fail(str(e))
    trainer = SegmenterTrainer(config, run_dir=args.run)
    if args.steps and args.steps > trainer.config.steps:  # extend a finished run: a warm restart of the schedule
        trainer.config.steps = args.steps
    print(f"segmenter run {args.run}: step {trainer.step}/{trainer.config.steps}")
    trainer.load_data(progress_fn=lambda m: print(m, file=sys.stderr))
    bar = tqdm(initial=trainer.step, total=trainer.config.steps, unit="step", dynamic_ncols=True)

    def progress(s: dict) -> None:
        bar.update(s["step"] - bar.n)
        bar.set_postfix(loss=f"{s['loss']:.3f}", acc=f"{s['acc']:.3f}")

    import signal

    def stop(signum, frame):  # background jobs ignore SIGINT; treat TERM/INT alike: save, then exit
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        trainer.train(time_limit_s=args.minutes * 60 if args.minutes is not None else None, progress_fn=progress)
    except KeyboardInterrupt:
        trainer.save()
        print("\ninterrupted: checkpoint saved", file=sys.stderr)
        return
    bar.close()
    if not trainer.done:
        print(f"stopped at step {trainer.step}/{trainer.config.steps}; run again to resume")
        return
    info = trainer.export(args.out, eval_count=args.eval_count)
    h = info["heldout"]
    print(f"wrote {args.out} ({info['bytes'] / 1e6:.2f} MB): pixel accuracy {h['pixel_accuracy']:.4f}, "
          f"mean IoU {h['mean_iou']:.3f} on {h['renders']} held-out renders")


# ----------------------------------------------------------------------------- dissect / evaluate
def _model_folder(name: str) -> Path:
    from ..zoo.zoo import default_models_dir

    p = Path(name)
    return p if p.is_dir() else default_models_dir() / name


def _load_for_analysis(args):
    """(PaintModel, segmenter) for dissect/evaluate, with readable errors."""
    import torch

    from ..paint.model import ModelError, PaintModel
    from ..segmenters.segmenter import SegmenterError, load_segmenter

    torch.set_num_threads(args.threads)
    folder = _model_folder(args.model)
    try:
        model = PaintModel.load(folder, device=args.device)
        seg = load_segmenter(args.segmenter, device=args.device) if args.segmenter else model.segmenter
    except (ModelError, SegmenterError, ValueError) as e:
        _fail(str(e))
    if seg is None:
        _fail(f"model {args.model!r} has no segmenter ({folder}/segmenter.safetensors); "
              "train one with `ganpaint train-segmenter` or pass --segmenter")
    return folder, model, seg


def _analysis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="scenes", help="model id (folder under models/) or a model folder")
    p.add_argument("--segmenter", default=None, help="segmenter file (default: the model's own)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


def _dissect_args(p: argparse.ArgumentParser) -> None:
    _analysis_args(p)
    p.add_argument("--layer", default="layer4", help="layer to dissect (default layer4)")
    p.add_argument("--samples", type=int, default=1000, help="generated images (default 1000)")
    p.add_argument("--batch", type=int, default=25, help="images per batch (default 25)")
    p.add_argument("--seed", type=int, default=1, help="latent seed (default 1)")
    p.add_argument("--ace-steps", type=int, default=80, help="causal ranking steps per concept; 0 = rank by IoU (default 80)")
    p.add_argument("--out", default=None, help="table to write (default: the model's concepts.json for its edit layer)")
    p.add_argument("--checkpoint", default=None, help="resume file (default runs/dissect/<model>-<layer>.pt)")


@command("dissect", "find which units draw which concept (IoU + causal ranking) and write the concept table")
def cmd_dissect(args) -> None:
    from types import SimpleNamespace

    from tqdm import tqdm

    from ..dissect.dissect import DissectConfig, dissect

    folder, model, seg = _load_for_analysis(args)
    G = model.generator
    if args.layer not in G.layer_names:
        _fail(f"{args.model!r} has no layer {args.layer!r}; layers: {', '.join(G.layer_names)}")
    target = model if args.layer == model.edit_layer else SimpleNamespace(
        generator=G, edit_layer=args.layer, channels=G.config.layer_channels(args.layer),
        layer_size=G.config.layer_resolution(args.layer))
    out = Path(args.out) if args.out else folder / (
        model.info.get("concepts", "concepts.json") if args.layer == model.edit_layer else f"concepts-{args.layer}.json")
    ckpt = Path(args.checkpoint) if args.checkpoint else Path("runs/dissect") / f"{model.id}-{args.layer}.pt"
    try:
        config = DissectConfig(samples=args.samples, batch=args.batch, seed=args.seed, ace_steps=args.ace_steps)
    except ValueError as e:
        _fail(str(e))
    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = tqdm(total=total, desc=stage, unit="concept" if stage.startswith("ace") or stage == "calibrate" else "img", dynamic_ncols=True)
        bars[stage].update(done - bars[stage].n)

    print(f"dissecting {model.id} {args.layer} ({target.channels} units) with segmenter {seg.id}; checkpoint {ckpt}")
    table = dissect(target, seg, config=config, checkpoint=ckpt, progress_fn=progress)
    for b in bars.values():
        b.close()
    table.save(out)
    i = table.meta["interpretable"]
    print(f"wrote {out}: {i['units']}/{table.num_units} units interpretable (IoU > {i['threshold']}); "
          f"brushes: {', '.join(f'{c}={table.concepts[c].units[:3]}' for c in table.brushes[:7])}")


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    _analysis_args(p)
    p.add_argument("--trials", type=int, default=200, help="trials per kind for the 7 palette brushes (default 200)")
    p.add_argument("--other-trials", type=int, default=50, help="trials per kind for other concepts (default 50)")
    p.add_argument("--fsd-samples", type=int, default=1000, help="images per set for FSD (default 1000; 0 = skip)")
    p.add_argument("--pictures", default="docs/brushes", help="folder for the brushes' contact sheets ('' = none)")
    p.add_argument("--kinds", default="draw,freehand,random,remove,remove_freehand",
                   help="trial kinds (default all: draw,freehand,random,remove,remove_freehand; see ganpaint/dissect/trials.py)")
    p.add_argument("--no-judge", action="store_true",
                   help="grade with the ranking segmenter only, even when the model ships a judge (judge.safetensors)")


@command("evaluate", "measure brush success, interpretable units and FSD; write evaluation.json + MODEL_CARD section")
def cmd_evaluate(args) -> None:
    from tqdm import tqdm

    from ..gan.artifacts import ArtifactError
    from ..dissect.evaluate import EvalConfig, evaluate, write_report
    from ..dissect.judge import load_judge
    from ..dissect.realism import load_discriminator

    folder, model, seg = _load_for_analysis(args)
    try:
        judge = None if args.no_judge else load_judge(folder, device=args.device)
        disc = load_discriminator(folder, device=args.device)
    except ArtifactError as e:
        _fail(str(e))
    if judge is not None and judge.id == seg.id:
        _fail("the judge and the ranking segmenter are the same file: a brush would be graded by what chose it")
    print(f"graded by {'judge ' + judge.id if judge else 'the ranking segmenter ' + seg.id}"
          f"{'' if judge is None else ' (ranking segmenter ' + seg.id + ' beside it)'}; "
          f"realism: {disc.id if disc is not None else 'no discriminator shipped'}", file=sys.stderr)
    if model.device.type == "cpu":
        model = model.folded()  # brushes are judged on the images the server renders
    if not model.table.concepts:
        _fail(f"model {args.model!r} has no concept table yet; run `ganpaint dissect --model {args.model}` first")
    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = tqdm(total=total, desc=stage, unit="img", dynamic_ncols=True)
        bars[stage].update(done - bars[stage].n)

    kinds = tuple(k for k in args.kinds.split(",") if k)
    from ..dissect.trials import KINDS

    if not kinds or set(kinds) - set(KINDS):
        _fail(f"--kinds takes some of {', '.join(KINDS)}")
    config = EvalConfig(trials=args.trials, other_trials=args.other_trials, fsd_samples=args.fsd_samples, kinds=kinds)
    report = evaluate(model, seg, judge=judge, discriminator=disc, config=config, pictures=args.pictures or None,
                      progress_fn=progress)
    for b in bars.values():
        b.close()
    json_path, card = write_report(report, folder)
    print(f"wrote {json_path} and the evaluation section of {card}")
    for c, b in report["brushes"].items():
        fh = (b.get("draw_freehand") or {}).get("success_rate")
        rl = " ".join(f"{k} {v['delta_sd']}" for k, v in (b.get("realism") or {}).items())
        print(f"  {c:9s} draw success {b['draw']['success_rate']} (ranking {(b['draw'].get('ranking') or {}).get('success_rate')})"
              f"  freehand {fh}  random {b['draw_random']['success_rate']}  remove drop {b['remove']['mean_drop']}"
              f" success {b['remove'].get('success_rate')}"
              f"  remove freehand {(b.get('remove_freehand') or {}).get('success_rate')}  realism Δ/sd {rl or '–'}")
    if report["fsd"]:
        print(f"  FSD generated-vs-world {report['fsd']['fsd_generated_vs_world']}, world-vs-world {report['fsd']['fsd_world_vs_world']}")
