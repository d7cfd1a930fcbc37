"""Photo adaptation benchmark: time to editable and reconstruction quality after each stage.

    python benchmarks/adaptation.py --model models/scenes --count 50          # held-out world renders + sample photos
    python benchmarks/adaptation.py --count 8 --threads 1                     # quick, while a GAN trains
    python benchmarks/adaptation.py --timing-128 10                           # + timing on an untrained 128 px G

Targets: world renders with seeds from HELDOUT_SEED_BASE (never seen in training) and a few real
photos (scikit-image's bundled samples, when scikit-image is installed). For each: PSNR / SSIM after
encoder, +h4, +coarse, +fine, and seconds from the upload's bytes to an editable state (decode, fit,
encode, all stages). Goals on 2 CPU cores: editable ≤ 10 s; PSNR ≥ 28 dB on world renders.
Writes JSON (default benchmarks/results/adaptation.json) and prints a table.
"""
from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganpaint.photo.adapt import AdaptSettings, adapt
from ganpaint.gan.checkpoint import file_sha256, load_generator
from ganpaint.photo.invert import Encoder, EncoderConfig, find_encoder, load_encoder
from ganpaint.gan.networks import Generator, GeneratorConfig
from ganpaint.photo.photo import load_photo
from ganpaint.world.world import HELDOUT_SEED_BASE
from ganpaint.world.world import render_scene

STAGES = ("encoder", "h4", "coarse", "fine")
PHOTOS = ("rocket", "coffee", "chelsea", "astronaut")


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM (Gaussian window 11, σ 1.5) of two (1, 3, H, W) images in [-1, 1], on the 0…1 scale."""
    x, y = (a.clamp(-1, 1) + 1) / 2, (b.clamp(-1, 1) + 1) / 2
    k = min(11, x.shape[-1] // 2 * 2 - 1)
    g = torch.exp(-((torch.arange(k) - k // 2) ** 2) / (2 * 1.5**2))
    g = (g / g.sum())[None, :]
    win = (g.T @ g).expand(3, 1, k, k).contiguous()

    def blur(t):
        return F.conv2d(t, win, groups=3)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.mean().item()


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def sample_photos(names: tuple[str, ...]) -> dict[str, bytes]:
    try:
        import skimage.data
    except ImportError:
        print("scikit-image is not installed: no real photos (pip install scikit-image)", file=sys.stderr)
        return {}
    out = {}
    for n in names:
        try:
            buf = io.BytesIO()
            Image.fromarray(getattr(skimage.data, n)()).save(buf, "JPEG", quality=95)
            out[n] = buf.getvalue()
        except Exception as e:  # a sample that needs a download
            print(f"skipping photo {n}: {e}", file=sys.stderr)
    return out


def run_one(G: Generator, data: bytes, encoder, settings: AdaptSettings, fit: str) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    photo = load_photo(data, G.config.resolution, fit=fit)
    x = photo.tensor()
    t_decode = time.perf_counter() - t0
    r = adapt(G, x, encoder=encoder, settings=settings, keep_images=True)
    # CPU seconds of this process: what the wall time would be with one idle core (a shared, busy
    # machine inflates wall time; process time hardly changes)
    cpu = time.process_time() - c0
    row = {"decode_s": round(t_decode, 3), "editable_s": round(t_decode + r.metrics["seconds"], 3),
           "cpu_s": round(cpu, 3),
           "size": list(photo.original.shape[:2])}
    for st in STAGES:
        m = r.metrics["stages"][st]
        row[st] = {"psnr": m["psnr"], "ssim": round(ssim(r.metrics["images"][st], x), 4), "l1": m["l1"],
                   "at_s": round(t_decode + m["seconds"], 3)}
    return row


def summarize(rows: list[dict]) -> dict:
    if not rows:
        return {}
    t = [r["editable_s"] for r in rows]
    c = [r["cpu_s"] for r in rows]
    out = {"count": len(rows), "editable_s_median": round(statistics.median(t), 3), "editable_s_max": round(max(t), 3),
           "cpu_s_median": round(statistics.median(c), 3), "cpu_s_max": round(max(c), 3)}
    for st in STAGES:
        out[st] = {k: round(statistics.mean(r[st][k] for r in rows), 3) for k in ("psnr", "ssim", "l1")}
        out[st]["at_s_median"] = round(statistics.median(r[st]["at_s"] for r in rows), 3)
    return out


def table(name: str, s: dict) -> str:
    if not s:
        return f"{name}: none"
    lines = [f"{name} ({s['count']} images): editable in {s['editable_s_median']:.2f} s median, {s['editable_s_max']:.2f} s max "
             f"wall; {s['cpu_s_median']:.2f} s median CPU",
             f"  {'stage':<8} {'PSNR dB':>8} {'SSIM':>7} {'L1':>7} {'at s':>7}"]
    for st in STAGES:
        v = s[st]
        lines.append(f"  {st:<8} {v['psnr']:8.2f} {v['ssim']:7.3f} {v['l1']:7.4f} {v['at_s_median']:7.2f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="models/scenes", help="model folder (generator.safetensors [+ encoder.safetensors])")
    p.add_argument("--weights", default=None, help="generator file (default: <model>/generator.safetensors)")
    p.add_argument("--encoder", default=None, help="encoder file (default: <model>/encoder.safetensors if present)")
    p.add_argument("--count", type=int, default=50, help="held-out world renders (default 50)")
    p.add_argument("--photos", type=int, default=4, help="scikit-image sample photos (default 4)")
    p.add_argument("--fit", choices=("crop", "letterbox"), default="crop")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--h-steps", type=int, default=None)
    p.add_argument("--coarse-steps", type=int, default=None)
    p.add_argument("--fine-steps", type=int, default=None)
    p.add_argument("--timing-128", type=int, default=0, metavar="N",
                   help="also time N renders on an untrained 128 px generator (widths 128,128,64,32,16,8)")
    p.add_argument("--out", default="benchmarks/results/adaptation.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(args.model)
    weights = Path(args.weights) if args.weights else folder / "generator.safetensors"
    G = load_generator(weights)
    E = load_encoder(args.encoder, G) if args.encoder else find_encoder(folder, G)
    overrides = {k: v for k, v in (("h_steps", args.h_steps), ("coarse_steps", args.coarse_steps),
                                   ("fine_steps", args.fine_steps)) if v is not None}
    settings = AdaptSettings(**overrides)
    res = G.config.resolution
    print(f"generator {weights} ({res}px, sha256 {file_sha256(weights)[:12]}), "
          f"encoder: {'yes' if E is not None else 'none (best of random z)'}, threads {args.threads}", file=sys.stderr)

    world = []
    for i in range(args.count):
        img, _ = render_scene(HELDOUT_SEED_BASE + i, res)
        world.append(run_one(G, _png(img), E, settings, args.fit))
        print(f"  world {i + 1}/{args.count}: {world[-1]['fine']['psnr']:.2f} dB in {world[-1]['editable_s']:.2f} s",
              file=sys.stderr)
    photos = {}
    for name, data in list(sample_photos(PHOTOS).items())[: args.photos]:
        photos[name] = run_one(G, data, E, settings, args.fit)
        print(f"  photo {name}: {photos[name]['fine']['psnr']:.2f} dB in {photos[name]['editable_s']:.2f} s", file=sys.stderr)

    timing = []
    if args.timing_128:
        torch.manual_seed(0)
        G128 = Generator(GeneratorConfig(128, (128, 128, 64, 32, 16, 8))).eval().requires_grad_(False)
        E128 = Encoder(EncoderConfig(resolution=128, out_channels=128)).eval().requires_grad_(False)
        for i in range(args.timing_128):
            img, _ = render_scene(HELDOUT_SEED_BASE + i, 128)
            timing.append(run_one(G128, _png(img), E128, settings, args.fit))
            print(f"  128px timing {i + 1}/{args.timing_128}: {timing[-1]['editable_s']:.2f} s", file=sys.stderr)

    result = {
        "generator": {"file": str(weights), "sha256": file_sha256(weights), "resolution": res,
                      "widths": list(G.config.widths)},
        "encoder": (E.meta if E is not None else None),
        "settings": settings.__dict__,
        "machine": {"threads": args.threads, "torch": torch.__version__, "python": platform.python_version(),
                    "cpu": platform.processor() or platform.machine()},
        "world": {"seeds_from": HELDOUT_SEED_BASE, "summary": summarize(world), "per_image": world},
        "photos": {"summary": summarize(list(photos.values())), "per_image": photos},
        "timing_128_untrained": {"summary": summarize(timing), "note": "weights are random: seconds only"},
        "goals": {"editable_s": 10, "world_psnr_db": 28},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(table(f"world renders, {res}px", result["world"]["summary"]))
    print(table(f"photos, {res}px", result["photos"]["summary"]))
    if timing:
        s = result["timing_128_untrained"]["summary"]
        print(f"128px untrained generator (timing only): editable in {s['editable_s_median']:.2f} s median wall, "
              f"{s['editable_s_max']:.2f} s max, {s['cpu_s_median']:.2f} s median CPU; stage times (wall) " +
              ", ".join(f"{st} {s[st]['at_s_median']:.2f} s" for st in STAGES))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
