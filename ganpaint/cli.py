"""The `ganpaint` command: one verb per task.

    ganpaint world --count 16 --size 128 --out world.png      # labelled samples of the world
    ganpaint train --run runs/scenes --minutes 60             # resumes runs/scenes/checkpoint.pt
    ganpaint train --run runs/scenes --export models/scenes --max-images 0   # export only
    ganpaint render --model scenes --seed 7 --strokes s.json --out out.png
    ganpaint serve --port 8000
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMANDS: dict = {}


def command(name: str, help: str):
    def register(fn):
        COMMANDS[name] = (fn, help)
        return fn

    return register


def _fail(msg: str) -> None:
    print(f"ganpaint: error: {msg}", file=sys.stderr)
    raise SystemExit(2)


# ----------------------------------------------------------------------------- world
def _world_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, default=16, help="number of scenes (default 16)")
    p.add_argument("--size", type=int, default=128, help="pixels per side (default 128)")
    p.add_argument("--seed", type=int, default=0, help="first scene seed (default 0)")
    p.add_argument("--cols", type=int, default=8, help="scenes per grid row (default 8)")
    p.add_argument("--out", default="world.png", help="grid image: scenes above, label maps below")


@command("world", "render labelled samples of the procedural world as an image+label grid")
def cmd_world(args) -> None:
    import numpy as np
    from PIL import Image

    from .world import CLASSES, PALETTE, colorize, grid, render_batch

    if args.count < 1 or args.size < 8:
        _fail("--count must be >= 1 and --size >= 8")
    imgs, labs = render_batch(range(args.seed, args.seed + args.count), args.size)
    cols = min(args.cols, args.count)
    Image.fromarray(np.concatenate([grid(imgs, cols), grid(colorize(labs), cols)])).save(args.out)
    legend = ", ".join(f"{c}=rgb{tuple(int(v) for v in PALETTE[i])}" for i, c in enumerate(CLASSES))
    print(f"wrote {args.out} ({args.count} scenes at {args.size}px; labels: {legend})")


# ----------------------------------------------------------------------------- train
def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default="runs/scenes", help="run folder holding checkpoint.pt and samples/")
    p.add_argument("--resolution", type=int, default=None, help="final resolution (new runs only; default 128)")
    p.add_argument("--widths", default=None, help="comma-separated widths from 4px up (new runs only)")
    p.add_argument("--batch", type=int, default=None, help="batch size (new runs only; default 32)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this much wall-clock time")
    p.add_argument("--max-images", type=int, default=None, help="stop once this many images were seen in total")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0, help="checkpoint interval (default 5)")
    p.add_argument("--sample-every", type=int, default=20_000, help="write a sample grid every N images")
    p.add_argument("--max-resolution", type=int, default=None,
                   help="hold growth at this resolution for now (a later run without it fades in the next one)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--export", default=None, help="after training, export the EMA generator to this model folder")
    p.add_argument("--init", default="models/scenes/train_state.pt",
                   help="compact checkpoint to start from when the run folder has none (default: the shipped one)")
    p.add_argument("--save-compact", default=None, help="after training, write a small resumable checkpoint here")


@command("train", "train (or resume) the scene GAN on the procedural world")
def cmd_train(args) -> None:
    import torch

    from .train import TrainConfig, Trainer

    torch.set_num_threads(args.threads)
    overrides = {}
    if args.resolution:
        overrides["resolution"] = args.resolution
    if args.widths:
        overrides["widths"] = tuple(int(w) for w in args.widths.split(","))
    if args.batch:
        overrides["batch"] = args.batch
    try:
        config = TrainConfig(**overrides)
    except ValueError as e:
        _fail(str(e))
    trainer = Trainer(config, run_dir=args.run, device=args.device, init_from=args.init)
    trainer.max_resolution = args.max_resolution
    if trainer.step and overrides:
        print("note: resuming an existing run; --resolution/--widths/--batch are ignored", file=sys.stderr)
    print(f"run {args.run}: step {trainer.step}, {trainer.images} images seen, device {trainer.device}")

    from tqdm import tqdm

    bar = tqdm(initial=trainer.images, total=args.max_images, unit="img", unit_scale=True, dynamic_ncols=True)

    def progress(stats: dict) -> None:
        bar.update(stats["images"] - bar.n)
        if stats["step"] % 10 == 0:
            bar.set_postfix(res=stats["res"], a=stats["alpha"], d=f"{stats['loss_d']:.3f}", g=f"{stats['loss_g']:.3f}")

    import signal

    def stop(signum, frame):  # background jobs ignore SIGINT; treat TERM/INT alike: save, then exit
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        trainer.train(
            max_images=args.max_images,
            time_limit_s=args.minutes * 60 if args.minutes is not None else None,
            checkpoint_every_s=args.checkpoint_minutes * 60,
            sample_every_images=args.sample_every,
            progress_fn=progress,
        )
    except KeyboardInterrupt:
        trainer.save()
        print("\ninterrupted: checkpoint saved", file=sys.stderr)
    bar.close()
    print(f"saved {trainer.ckpt_path} at {trainer.images} images ({trainer.wall_s / 3600:.2f} h of training)")
    if args.save_compact:
        print(f"wrote {trainer.save_compact(args.save_compact)}")
    if args.export:
        info = trainer.export(args.export)
        print(f"exported {info['resolution']}px generator to {args.export}")
        from .card import write_model_card

        print(f"wrote {write_model_card(args.export)}")


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
    from . import zoo

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
    from . import zoo

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
    from . import zoo

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
    from .zoo import ZooError

    try:
        {"list": _models_list, "info": _models_info, "pull": _models_pull}[args.action](args)
    except ZooError as e:
        _fail(str(e))


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

    from .segmenter_train import SegmenterTrainer, SegTrainConfig

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


# ----------------------------------------------------------------------------- serve
def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="interface to listen on (default GANPAINT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default GANPAINT_PORT or 8000)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="where models run (default auto)")
    p.add_argument("--models-dir", default=None, help="folder of model folders (default: the repo's models/)")
    p.add_argument("--model", action="append", default=None, help="model id to load; repeat for several (default scenes)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-batching", action="store_true", help="render every session on its own")
    p.add_argument("--log-level", default="info", help="uvicorn log level (default info)")


@command("serve", "run the painting server (REST + websocket + the web page)")
def cmd_serve(args) -> None:
    import uvicorn

    from server.app import create_app
    from server.settings import Settings

    overrides = {k: v for k, v in {
        "host": args.host, "port": args.port, "device": args.device, "models_dir": args.models_dir,
        "models": args.model, "threads": args.threads, "batching": False if args.no_batching else None,
    }.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValueError as e:
        _fail(str(e))
    # the protocol limit sits well above the app's, so an oversized message gets an error, not a dropped socket
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=args.log_level,
                ws_max_size=max(16 * 2**20, 4 * settings.max_message_bytes))


# ----------------------------------------------------------------------------- render
def _render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="scenes", help="model id under --models-dir, or a model folder (default scenes)")
    p.add_argument("--models-dir", default=None, help="folder of model folders (default: the repo's models/)")
    p.add_argument("--seed", type=int, default=0, help="image id (default 0)")
    p.add_argument("--strokes", default=None, help='JSON file: a list of strokes or {"strokes": [...]}')
    p.add_argument("--out", default="out.png", help="image file; .png, .jpg or .webp (default out.png)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")


@command("render", "render a seed with strokes to an image file, exactly as the server does")
def cmd_render(args) -> None:
    from .edit import Stroke, StrokeError, compose
    from .imaging import encode_image
    from .model import ModelError, PaintModel

    fmt = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}.get(Path(args.out).suffix.lower())
    if fmt is None:
        _fail("--out must end in .png, .jpg, .jpeg or .webp")
    folder = Path(args.model)
    if not (folder / "model.json").is_file():
        base = Path(args.models_dir) if args.models_dir else Path(__file__).resolve().parent.parent / "models"
        folder = base / args.model
    try:
        model = PaintModel.load(folder, device=args.device)
        strokes = []
        if args.strokes:
            data = json.loads(Path(args.strokes).read_text())
            items = data.get("strokes", []) if isinstance(data, dict) else data
            if not isinstance(items, list):
                _fail("--strokes must hold a list of strokes or {\"strokes\": [...]}")
            strokes = [Stroke.from_dict(s) for s in items]
        alpha, value = compose(strokes, model.table, model.channels, model.layer_size)
        img = model.render(model.features(model.z_for_seed(args.seed)), alpha, value)
    except (ModelError, StrokeError, OSError, ValueError) as e:
        _fail(str(e))
    Path(args.out).write_bytes(encode_image(img[0], fmt))
    print(f"wrote {args.out} ({model.id}, seed {args.seed}, {len(strokes)} strokes, {model.resolution}px)")


# ----------------------------------------------------------------------------- train-encoder / invert
def _load_paint_model(model: str, weights: str | None, models_dir: str | None):
    """--model is a registered id or a model folder; --weights overrides its generator file."""
    from .model import ModelError, PaintModel

    try:
        if Path(model, "model.json").is_file():
            return PaintModel.load(model, weights=weights)
        from . import zoo

        if weights:
            return PaintModel.load(zoo.get_entry(model, models_dir).folder, weights=weights)
        return zoo.load_model(model, models_dir=models_dir)
    except (ModelError, ValueError, RuntimeError) as e:  # ZooError, CheckpointError
        _fail(str(e))


def _train_encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="scenes", help="model id or folder (default scenes)")
    p.add_argument("--weights", default=None, help="generator file to train against (default: the model's)")
    p.add_argument("--models-dir", default=None, help="bundled models folder (default: $GANPAINT_MODELS_DIR or ./models)")
    p.add_argument("--run", default="runs/encoder", help="run folder holding checkpoint.pt (resumed if present)")
    p.add_argument("--out", default=None, help="encoder file to write (default: <model folder>/encoder.safetensors)")
    p.add_argument("--minutes", type=float, default=None, help="stop this session after this much time")
    p.add_argument("--steps", type=int, default=None, help="stop once this many steps were done in total")
    p.add_argument("--batch", type=int, default=None, help="batch size (new runs only; default 16)")
    p.add_argument("--eval-count", type=int, default=64, help="held-out world renders for the exported metrics")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


@command("train-encoder", "train (or resume) the photo encoder (image → layer4) for a model, then export it")
def cmd_train_encoder(args) -> None:
    """ganpaint train-encoder --model scenes --minutes 30   (resumes runs/encoder/checkpoint.pt)"""
    import torch
    from tqdm import tqdm

    from .invert import EncoderTrainConfig, EncoderTrainer

    if args.minutes is None and args.steps is None:
        _fail("give a budget: --minutes N and/or --steps N")
    torch.set_num_threads(args.threads)
    m = _load_paint_model(args.model, args.weights, args.models_dir)
    out = Path(args.out) if args.out else (m.folder or Path(".")) / "encoder.safetensors"
    config = EncoderTrainConfig(**({"batch": args.batch} if args.batch else {}))
    trainer = EncoderTrainer(m.generator, config, run_dir=args.run, edit_layer=m.edit_layer)
    print(f"encoder run {args.run}: step {trainer.step}, {m.resolution}px generator {m.id!r}")
    bar = tqdm(initial=trainer.step, total=args.steps, unit="step", dynamic_ncols=True)

    def progress(s: dict) -> None:
        bar.update(s["step"] - bar.n)
        if s["step"] % 10 == 0:
            bar.set_postfix(l1=f"{s['l1']:.3f}", h4=f"{s['h4']:.3f}")

    try:
        trainer.train(max_steps=args.steps, time_limit_s=args.minutes * 60 if args.minutes is not None else None,
                      progress_fn=progress, log_fn=lambda msg: bar.set_description(msg))
    except KeyboardInterrupt:
        trainer.save()
        print("\ninterrupted: checkpoint saved", file=sys.stderr)
        return
    bar.close()
    info = trainer.export(out, eval_count=args.eval_count)
    h = info["heldout"] or {}
    print(f"wrote {out} ({info['bytes'] / 1e6:.2f} MB) after {trainer.step} steps: encoder-only reconstruction of "
          f"{h.get('heldout_renders', 0)} held-out renders L1 {h.get('l1', float('nan'))}, PSNR {h.get('psnr', float('nan'))} dB")


def _invert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("photo", help="a JPEG, PNG or WebP file")
    p.add_argument("--model", default="scenes", help="model id or folder (default scenes)")
    p.add_argument("--weights", default=None, help="generator file (default: the model's)")
    p.add_argument("--models-dir", default=None, help="bundled models folder")
    p.add_argument("--encoder", default=None, help="encoder file (default: <model folder>/encoder.safetensors)")
    p.add_argument("--fit", choices=("crop", "letterbox"), default="crop", help="how the photo becomes square")
    p.add_argument("--out", default="inverted.png", help="reconstruction image (model resolution)")
    p.add_argument("--state", default=None, help="also write the adapted state (h4, layer weights, offset) here")
    p.add_argument("--h-steps", type=int, default=None, help="layer4 optimization steps")
    p.add_argument("--coarse-steps", type=int, default=None, help="coarse-layer (layer6) adaptation steps")
    p.add_argument("--fine-steps", type=int, default=None, help="fine-layer offset steps")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


@command("invert", "invert a photo into a model (encoder → layer4 → adapted layers), write the reconstruction")
def cmd_invert(args) -> None:
    """ganpaint invert photo.jpg --model scenes --out recon.png --state photo.safetensors"""
    import torch

    from .adapt import adapt
    from .imaging import encode_array, to_uint8
    from .invert import EncoderError, find_encoder, load_encoder
    from .photo import PhotoError, load_photo

    fmt = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp"}.get(Path(args.out).suffix.lstrip(".").lower())
    if fmt is None:
        _fail("--out must end in .png, .jpg, .jpeg or .webp")
    torch.set_num_threads(args.threads)
    m = _load_paint_model(args.model, args.weights, args.models_dir)
    try:
        data = Path(args.photo).read_bytes()
    except OSError as e:
        _fail(f"cannot read {args.photo}: {e.strerror}")
    try:
        photo = load_photo(data, m.resolution, fit=args.fit)
        E = load_encoder(args.encoder, m.generator, m.edit_layer) if args.encoder else find_encoder(m.folder, m.generator, m.info)
    except (PhotoError, EncoderError) as e:
        _fail(str(e))
    if E is None:
        print("note: no encoder for this model; starting from the best of a few random samples", file=sys.stderr)
    steps = {k: v for k, v in (("h_steps", args.h_steps), ("coarse_steps", args.coarse_steps),
                               ("fine_steps", args.fine_steps)) if v is not None}
    last = [""]

    def progress(stage: str, fraction: float, err: float) -> None:
        if stage != last[0] or fraction >= 1.0:
            print(f"  {stage:<8} {fraction * 100:5.1f}%  L1 {err:.4f}", file=sys.stderr)
            last[0] = stage

    result = adapt(m.generator, photo.tensor(), encoder=E, edit_layer=m.edit_layer, progress_fn=progress, **steps)
    with torch.no_grad():
        img = m.render(result.h, generator=result.generator)
    Path(args.out).write_bytes(encode_array(to_uint8(img[0]), fmt))
    for stage, s in result.metrics["stages"].items():
        print(f"{stage:<8} L1 {s['l1']:.4f}  PSNR {s['psnr']:6.2f} dB  at {s['seconds']:.2f} s")
    print(f"wrote {args.out}")
    if args.state:
        from safetensors.torch import save_file

        meta = {"model": m.id, "coarse_layer": result.coarse_layer, "fine_layer": result.fine_layer}
        save_file({k: v.contiguous() for k, v in result.state_dict().items()}, args.state, metadata=meta)
        print(f"wrote {args.state} (load with Adaptation.from_state)")


# ----------------------------------------------------------------------------- dissect / evaluate
def _model_folder(name: str) -> Path:
    p = Path(name)
    return p if p.is_dir() else Path("models") / name


def _load_for_analysis(args):
    """(PaintModel, segmenter) for dissect/evaluate, with readable errors."""
    import torch

    from .model import ModelError, PaintModel
    from .segmenter import SegmenterError, load_segmenter

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
    p.add_argument("--ace-steps", type=int, default=40, help="causal ranking steps per concept; 0 = rank by IoU (default 40)")
    p.add_argument("--out", default=None, help="table to write (default: the model's concepts.json for its edit layer)")
    p.add_argument("--checkpoint", default=None, help="resume file (default runs/dissect/<model>-<layer>.pt)")


@command("dissect", "find which units draw which concept (IoU + causal ranking) and write the concept table")
def cmd_dissect(args) -> None:
    from types import SimpleNamespace

    from tqdm import tqdm

    from .dissect import DissectConfig, dissect

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
            bars[stage] = tqdm(total=total, desc=stage, unit="img" if stage != "ace" else "concept", dynamic_ncols=True)
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
    p.add_argument("--pictures", default="docs/brushes", help="folder for before/after pictures ('' = none)")


@command("evaluate", "measure brush success, interpretable units and FSD; write evaluation.json + MODEL_CARD section")
def cmd_evaluate(args) -> None:
    from tqdm import tqdm

    from .evaluate import EvalConfig, evaluate, write_report

    folder, model, seg = _load_for_analysis(args)
    if not model.table.concepts:
        _fail(f"model {args.model!r} has no concept table yet; run `ganpaint dissect --model {args.model}` first")
    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = tqdm(total=total, desc=stage, unit="img", dynamic_ncols=True)
        bars[stage].update(done - bars[stage].n)

    config = EvalConfig(trials=args.trials, other_trials=args.other_trials, fsd_samples=args.fsd_samples)
    report = evaluate(model, seg, config=config, pictures=args.pictures or None, progress_fn=progress)
    for b in bars.values():
        b.close()
    json_path, card = write_report(report, folder)
    print(f"wrote {json_path} and the evaluation section of {card}")
    for c, b in report["brushes"].items():
        print(f"  {c:9s} draw success {b['draw']['success_rate']}  random {b['draw_random']['success_rate']}  "
              f"remove drop {b['remove']['mean_drop']}")
    if report["fsd"]:
        print(f"  FSD generated-vs-world {report['fsd']['fsd_generated_vs_world']}, world-vs-world {report['fsd']['fsd_world_vs_world']}")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ganpaint", description="Paint with concepts on GAN scenes.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, help) in COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        setup = globals().get(f"_{name.replace('-', '_')}_args")
        if setup:
            setup(p)
        p.set_defaults(func=fn)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
