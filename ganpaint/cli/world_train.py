"""Building the embedded model: the procedural world and GAN training."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from . import command
from . import fail as _fail


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

    from ..world.world import CLASSES, PALETTE, colorize, grid, render_batch

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
    p.add_argument("--render-workers", type=int, default=0,
                   help="render world scenes in N worker processes (for a GPU that outruns one core; "
                        "resume is then not bit-exact; default 0: render in-line)")
    p.add_argument("--export", default=None, help="after training, export the EMA generator to this model folder")
    p.add_argument("--init", default="models/scenes/train_state.pt",
                   help="what a run folder without a checkpoint starts from: a compact checkpoint (default: the local "
                        "one that --save-compact writes, kept out of git) or a model folder such as models/scenes "
                        "(its shipped generator and discriminator, with fresh optimizer state)")
    p.add_argument("--save-compact", default=None, help="after training, write a small resumable checkpoint here")
    p.add_argument("--class-match", type=float, default=0.0, metavar="W",
                   help="fine-tuning: add a loss (weight W) that pulls each class's pixel share, read by the "
                        "segmenter, towards the world's (for classes the generator under-draws; default 0: off)")
    p.add_argument("--class-match-every", type=int, default=4, help="apply the class-match term every N steps")
    p.add_argument("--class-match-reference", choices=("ema", "fake"), default="ema",
                   help="whose class shares must match the world's: the EMA generator that gets exported "
                        "(default) or the raw generator being trained")
    p.add_argument("--segmenter", default="models/scenes/segmenter.safetensors",
                   help="segmenter for --class-match (default: the embedded model's)")


@command("train", "train (or resume) the scene GAN on the procedural world")
def cmd_train(args) -> None:
    import torch

    from ..world.train import TrainConfig, Trainer

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
    if args.render_workers < 0:
        _fail("--render-workers must be >= 0")
    if args.init and not Path(args.init).exists() and not (Path(args.run) / "checkpoint.pt").exists():
        print(f"note: no checkpoint in {args.run} and none at {args.init}: starting a new run from scratch "
              f"(--init models/scenes continues from the shipped weights)", file=sys.stderr)
    from ..world.distributed import Distributed

    dist = Distributed.from_env(args.device)  # under torchrun: one rank of data-parallel training
    main_rank = dist is None or dist.is_main
    try:
        trainer = Trainer(config, run_dir=args.run, device=args.device, init_from=args.init,
                          render_workers=args.render_workers, dist=dist)
    except ValueError as e:
        _fail(str(e))
    trainer.max_resolution = args.max_resolution
    if args.class_match < 0:
        _fail("--class-match must be >= 0")
    if args.class_match > 0:
        from ..world.class_match import ClassShareMatcher
        from ..segmenters.segmenter import SegmenterError, load_segmenter

        try:
            seg = load_segmenter(args.segmenter)
        except SegmenterError as e:
            _fail(str(e))
        try:
            matcher = ClassShareMatcher(seg, weight=args.class_match, reference=args.class_match_reference)
            trainer.attach_class_match(matcher, every=args.class_match_every)
        except ValueError as e:
            _fail(str(e))
    if trainer.step and overrides:
        print("note: resuming an existing run; --resolution/--widths/--batch are ignored", file=sys.stderr)
    ranks = f", rank {dist.rank} of {dist.world}" if dist else ""
    print(f"run {args.run}: step {trainer.step}, {trainer.images} images seen, device {trainer.device}{ranks}")

    from tqdm import tqdm

    bar = tqdm(initial=trainer.images, total=args.max_images, unit="img", unit_scale=True, dynamic_ncols=True,
               disable=not main_rank)

    last_ratios: dict[str, float] = {}

    def progress(stats: dict) -> None:
        bar.update(stats["images"] - bar.n)
        if stats.get("class_ratios"):
            last_ratios.update(stats["class_ratios"])
        if stats["step"] % 10 == 0:
            extra = {}
            if last_ratios:  # the class whose share is furthest from the world's
                c, v = max(last_ratios.items(), key=lambda kv: abs(math.log(max(kv[1], 1e-6))))
                extra = {"worst": f"{c} {v:.2f}x"}
            bar.set_postfix(res=stats["res"], a=stats["alpha"], d=f"{stats['loss_d']:.3f}", g=f"{stats['loss_g']:.3f}",
                            **extra)

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
    if dist is not None:
        dist.close()
        if not main_rank:
            return  # rank 0 writes the checkpoint, the export and the card
    print(f"saved {trainer.ckpt_path} at {trainer.images} images ({trainer.wall_s / 3600:.2f} h of training)")
    if args.save_compact:
        print(f"wrote {trainer.save_compact(args.save_compact)}")
    if args.export:
        info = trainer.export(args.export)
        print(f"exported {info['resolution']}px generator to {args.export}")
        from ..world.card import write_model_card

        print(f"wrote {write_model_card(args.export)}")
