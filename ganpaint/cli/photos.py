"""Photos: the encoder and inverting a photo into a model."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import command
from . import fail as _fail


# ----------------------------------------------------------------------------- train-encoder / invert
def _load_paint_model(model: str, weights: str | None, models_dir: str | None):
    """--model is a registered id or a model folder; --weights overrides its generator file."""
    from ..paint.model import ModelError, PaintModel

    try:
        if Path(model, "model.json").is_file():
            return PaintModel.load(model, weights=weights)
        from .. import zoo

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

    from ..world.encoder_train import EncoderTrainConfig, EncoderTrainer

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

    from ..photo.adapt import adapt
    from ..paint.imaging import encode_array, to_uint8
    from ..photo.invert import EncoderError, find_encoder, load_encoder
    from ..photo.photo import PhotoError, load_photo

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
        from ..gan.artifacts import save_artifact

        layers = {"coarse_layer": result.coarse_layer, "fine_layer": result.fine_layer}
        save_artifact(args.state, result.state_dict(), kind="photo-adaptation", config=layers,
                      provenance={"model": m.id, "photo": str(args.photo)})
        print(f"wrote {args.state} (art = load_artifact(path); Adaptation.from_state(G, art.tensors, **art.config))")
