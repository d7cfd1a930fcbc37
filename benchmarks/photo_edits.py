"""Do edits take on photos? The same strokes on generated scenes, on those scenes uploaded as photos, and
on real photos, read back by a segmenter.

    python benchmarks/photo_edits.py                          # the ranking segmenter (models/scenes)
    python benchmarks/photo_edits.py --segmenter judge        # the model's judge (models/scenes/judge.*)
    python benchmarks/photo_edits.py --scenes 8 --photos 0    # quicker

Each generated scene (held-out seeds) gets draw trials where the context allows the concept
(ganpaint.dissect.regions, as ganpaint.dissect.evaluate does) and remove trials where it is present, as mask strokes of
whole edit-layer cells. A draw succeeds when the segmenter labels more than 60 % of the region as the
concept; a remove scores the drop of the concept's pixels there. The scene is then encoded as a PNG,
uploaded the way the server does (ganpaint.photo.photo.load_photo + ganpaint.photo.adapt.adapt with the shipped
encoder), and the same strokes are painted on the photo. Variants tell what damps an edit:
  scene        the generator's own image (the reference)
  photo        what the person downloads: the footprint composite of the adapted generator's output
  model        the adapted generator's raw output (no composite); its fine offset fades where the edit acts
  unfaded      the same with the offset applied everywhere, as fitted (the recipe before issue 16)
  no_offset    the adapted generator without the fine offset
  no_adapt     the shared generator on the optimized layer4 activations (no adapted layers)
Real photos (scikit-image's samples) get draw trials anywhere the concept is absent and removes where present.
Goal: photo success ≥ 0.8 × scene success. Writes benchmarks/results/photo_edits[_<segmenter>].json.
"""
from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganpaint.photo.adapt import Adaptation, AdaptSettings, _assemble, adapt
from ganpaint.paint.edit import Stroke, compose
from ganpaint.paint.imaging import to_uint8
from ganpaint.photo.invert import find_encoder
from ganpaint.paint.model import PaintModel
from ganpaint.photo.photo import composite, load_photo
from ganpaint.dissect.regions import (
    REGION_SHAPES, SUCCESS_SHARE, allowed_cells, cell_fractions, pick_region, present_cells,
)
from ganpaint.world.world import HELDOUT_SEED_BASE

CONCEPTS = ("tree", "grass", "door", "sky", "cloud", "brick", "dome")
PHOTOS = ("astronaut", "chelsea", "rocket", "coffee")
VARIANTS = ("photo", "model", "unfaded", "no_offset", "no_adapt")
SEED_BASE = HELDOUT_SEED_BASE + 300_000  # held out from training, apart from the other benchmarks' seeds


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def load_segmenter(name: str, model: PaintModel):
    if name == "ranking":
        return model.segmenter
    from ganpaint.dissect.judge import load_judge

    judge = load_judge(model.folder)
    if judge is None:
        raise SystemExit(f"no judge segmenter in {model.folder}")
    return judge


def trials_for(labels: torch.Tensor, names: list[str], g: int, rng: np.random.Generator, *, anywhere: bool,
               per_concept: int = 1) -> list[tuple[str, str, np.ndarray]]:
    """(concept, mode, (g, g) bool cells) for one image: draws where allowed (or anywhere absent), removes where present."""
    frac = cell_fractions(labels[None], len(names), g)
    out = []
    for c in CONCEPTS:
        if c not in names:
            continue
        k = names.index(c)
        ok = (frac[:, k] < 0.05)[0] if anywhere else allowed_cells(frac, c, names)[0]
        for _ in range(per_concept):
            m = pick_region(ok, REGION_SHAPES.get(c, (2, 2)), rng)
            if m is not None:
                out.append((c, "draw", m.numpy()))
        present = present_cells(frac, c, names)[0]
        if present.any():
            out.append((c, "remove", present.numpy()))
    return out


def region_share(labels: torch.Tensor, cells: np.ndarray, k: int) -> float:
    H = labels.shape[-1]
    up = np.kron(cells, np.ones((H // cells.shape[0], H // cells.shape[1]), bool))
    return float(((labels.numpy() == k) & up).sum() / max(up.sum(), 1))


def score(seg, names, images: dict[str, np.ndarray], trial, before: float) -> dict[str, float]:
    """Per image of one trial: draw → 1/0 success, remove → relative drop of the concept's pixels."""
    c, mode, cells = trial
    keys = list(images)
    batch = torch.stack([torch.from_numpy(np.ascontiguousarray(images[k])).permute(2, 0, 1).float() / 127.5 - 1
                         for k in keys])
    with torch.inference_mode():
        labels = seg.segment(batch).cpu()
    out = {}
    for key, lab in zip(keys, labels):
        share = region_share(lab, cells, names.index(c))
        out[key] = float(share > SUCCESS_SHARE) if mode == "draw" else (1 - share / before if before > 0 else 0.0)
    return out


def run_target(model, seg, names, encoder, hyper, rgb: np.ndarray, rng, *, anywhere: bool, scene_h=None) -> dict:
    """All trials on one target (a scene's own image, or a real photo): results per variant."""
    g, C, R = model.layer_size, model.channels, model.resolution
    photo = load_photo(_png(rgb), R, fit="crop")
    x = photo.tensor()
    t0 = time.perf_counter()
    a = adapt(model.generator, x, encoder=encoder, edit_layer=model.edit_layer, settings=hyper)
    seconds = time.perf_counter() - t0
    coarse = a.generator._modules[a.coarse_layer]
    unfaded = Adaptation.from_state(model.generator, a.state_dict(), coarse_layer=a.coarse_layer,
                                    fine_layer=a.fine_layer, fade=False).generator
    views = {"model": a.generator, "unfaded": unfaded,
             "no_offset": _assemble(model.generator, a.coarse_layer, coarse, a.fine_layer, None),
             "no_adapt": model.generator}
    with torch.inference_mode():
        sq_labels = seg.segment(x).cpu()[0]
    trials = trials_for(sq_labels, names, g, rng, anywhere=anywhere)
    res = {v: {"draw": [], "remove": []} for v in (("scene",) if scene_h is not None else ()) + VARIANTS}
    for i, (c, mode, cells) in enumerate(trials):
        stroke = Stroke(mode=mode, concept=c, mask=cells)
        alpha, value = compose([stroke], model.table, C, g)
        imgs = {}
        with torch.inference_mode():
            if scene_h is not None:
                imgs[f"scene/{i}"] = to_uint8(model.render(scene_h, alpha, value)[0])
            for v, G in views.items():
                imgs[f"{v}/{i}"] = to_uint8(model.render(a.h, alpha, value, generator=G)[0])
        # the download, on the square the segmenter reads (the same composite at that size)
        imgs[f"photo/{i}"] = composite(photo, imgs[f"model/{i}"], [stroke], size=R).image
        s = score(seg, names, imgs, (c, mode, cells), region_share(sq_labels, cells, names.index(c)))
        for key, val in s.items():
            res[key.split("/")[0]][mode].append(val)
    st = a.metrics["stages"]
    return {"trials": len(trials), "adapt_s": round(seconds, 2), "psnr": st["fine"]["psnr"],
            "psnr_before_offset": st["coarse"]["psnr"], "results": res}


def summarize(runs: list[dict]) -> dict:
    out = {}
    keys = {k for r in runs for k in r["results"]}
    for v in sorted(keys):
        draws = [x for r in runs for x in r["results"][v]["draw"]]
        removes = [x for r in runs for x in r["results"][v]["remove"]]
        both = draws + removes
        out[v] = {"draw_success": round(float(np.mean(draws)), 4) if draws else None, "draws": len(draws),
                  "remove_drop": round(float(np.mean(removes)), 4) if removes else None, "removes": len(removes),
                  "success": round(float(np.mean(both)), 4) if both else None}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="models/scenes")
    p.add_argument("--segmenter", choices=("ranking", "judge"), default="ranking")
    p.add_argument("--scenes", type=int, default=12)
    p.add_argument("--photos", type=int, default=len(PHOTOS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = PaintModel.load(args.model)
    seg = load_segmenter(args.segmenter, model)
    names = list(seg.labels)
    encoder = find_encoder(model.folder, model.generator, model.info)
    hyper = AdaptSettings()
    rng = np.random.default_rng(0)
    scene_runs, photo_runs = [], []
    for i in range(args.scenes):
        z = model.z_for_seed(SEED_BASE + i)
        h = model.features(z)
        with torch.inference_mode():
            rgb = to_uint8(model.render(h)[0])
        r = run_target(model, seg, names, encoder, hyper, rgb, rng, anywhere=False, scene_h=h)
        scene_runs.append(r)
        print(f"scene {i}: {r['trials']} trials, adapt {r['adapt_s']} s, PSNR {r['psnr']} dB "
              f"({r['psnr_before_offset']} before the offset)", flush=True)
    if args.photos:
        try:
            import skimage.data as skdata
        except ImportError:
            print("scikit-image is not installed: no real photos", file=sys.stderr)
            skdata = None
        for name in PHOTOS[: args.photos] if skdata else ():
            rgb = getattr(skdata, name)()
            rgb = np.repeat(rgb[..., None], 3, 2) if rgb.ndim == 2 else rgb[..., :3]
            r = run_target(model, seg, names, encoder, hyper, rgb, rng, anywhere=True)
            r["name"] = name
            photo_runs.append(r)
            print(f"photo {name}: {r['trials']} trials, PSNR {r['psnr']} dB", flush=True)
    scenes, photos = summarize(scene_runs), summarize(photo_runs) if photo_runs else {}
    ratio = {v: round(scenes[v]["success"] / scenes["scene"]["success"], 3)
             for v in VARIANTS if scenes.get(v, {}).get("success") is not None and scenes["scene"]["success"]}
    result = {"benchmark": "photo_edits", "segmenter": args.segmenter, "segmenter_id": getattr(seg, "id", None),
              "model": args.model, "scenes": args.scenes, "seed_base": SEED_BASE, "goal": "photo ≥ 0.8 × scene",
              "scene_targets": scenes, "ratio_to_scene": ratio, "real_photos": photos,
              "per_photo": [{k: r[k] for k in ("name", "trials", "psnr", "psnr_before_offset")} for r in photo_runs],
              "psnr_scenes": round(float(np.mean([r["psnr"] for r in scene_runs])), 2) if scene_runs else None,
              "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": args.threads}}
    print(f"{'variant':<10} {'draw':>6} {'remove':>7} {'success':>8} {'× scene':>8}")
    for v, s in scenes.items():
        print(f"{v:<10} {s['draw_success']!s:>6} {s['remove_drop']!s:>7} {s['success']!s:>8} {ratio.get(v, 1.0 if v == 'scene' else ''):>8}")
    for v, s in photos.items():
        print(f"real/{v:<5} {s['draw_success']!s:>6} {s['remove_drop']!s:>7} {s['success']!s:>8}")
    out = Path(args.out or f"benchmarks/results/photo_edits{'' if args.segmenter == 'ranking' else '_' + args.segmenter}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
