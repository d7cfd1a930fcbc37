"""Painting: one-off renders, exactly as the server renders them (the server adds its own `serve` verb)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import command
from . import fail as _fail


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
    from ..paint.edit import Stroke, StrokeError
    from ..paint.imaging import encode_image
    from ..paint.model import ModelError, PaintModel

    fmt = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}.get(Path(args.out).suffix.lower())
    if fmt is None:
        _fail("--out must end in .png, .jpg, .jpeg or .webp")
    folder = Path(args.model)
    if not (folder / "model.json").is_file():
        from ..zoo.zoo import default_models_dir

        folder = default_models_dir(args.models_dir) / args.model
    try:
        model = PaintModel.load(folder, device=args.device)
        if model.device.type == "cpu":
            model = model.folded()  # the server's CPU route: the same bytes as the server's frames
        strokes = []
        if args.strokes:
            data = json.loads(Path(args.strokes).read_text())
            items = data.get("strokes", []) if isinstance(data, dict) else data
            if not isinstance(items, list):
                _fail("--strokes must hold a list of strokes or {\"strokes\": [...]}")
            strokes = [Stroke.from_dict(s) for s in items]
        img = model.paint(model.features(model.z_for_seed(args.seed)), strokes)
    except (ModelError, StrokeError, OSError, ValueError) as e:
        _fail(str(e))
    Path(args.out).write_bytes(encode_image(img[0], fmt))
    print(f"wrote {args.out} ({model.id}, seed {args.seed}, {len(strokes)} strokes, {model.resolution}px)")
