"""Model cards: write MODEL_CARD.md for a model folder from its config and fresh measurements.

    write_model_card("models/scenes")     # keeps the evaluation section that `ganpaint evaluate` wrote

The card states what was trained, on what, for how long, and how fast it renders an edit on the
machine that writes the card (layer5→output from cached layer4, batch 1, float32, through the folded
generator the server renders with), measured when the card is written.
"""
from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from pathlib import Path

import torch

from ..gan.checkpoint import load_generator
from ..gan.folding import fold

EVAL_START, EVAL_END = "<!-- evaluation:start -->", "<!-- evaluation:end -->"


@torch.inference_mode()
def measure_render_ms(G, start: str | None = None, repeats: int = 50, threads: int = 2) -> dict:
    """Median and p95 wall time (ms) of rendering one image from `start` (default: after layer4) on."""
    start = start or G.layer_after("layer4")
    torch.set_num_threads(threads)
    z = torch.randn(1, G.config.z_dim)
    prev = G.layer_names[G.layer_names.index(start) - 1]
    h = G.features(z, upto=prev)
    for _ in range(5):
        G.render_from(h, start)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        G.render_from(h, start)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    full = []
    for _ in range(max(5, repeats // 5)):
        t0 = time.perf_counter()
        G(z)
        full.append((time.perf_counter() - t0) * 1000)
    return {
        "layer5_to_output_ms_p50": round(statistics.median(times), 2),
        "layer5_to_output_ms_p95": round(times[int(0.95 * (len(times) - 1))], 2),
        "full_forward_ms_p50": round(statistics.median(full), 2),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }


def write_model_card(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    info = json.loads((folder / "config.json").read_text())
    G = load_generator(folder / "generator.safetensors")
    params = sum(p.numel() for p in G.parameters())
    timing = measure_render_ms(fold(G))
    tr = info.get("training", {})
    recipe = tr.get("recipe", {})
    card_path = folder / "MODEL_CARD.md"
    old = card_path.read_text() if card_path.exists() else ""
    m = re.search(re.escape(EVAL_START) + ".*?" + re.escape(EVAL_END), old, re.S)
    evaluation = m.group(0) if m else f"{EVAL_START}\n_Not evaluated yet: run `ganpaint evaluate --model scenes`._\n{EVAL_END}"
    hours = tr.get("train_wall_clock_s", 0) / 3600
    by_device = tr.get("train_wall_clock_by_device_s") or {"cpu": tr.get("train_wall_clock_s", 0)}
    machine = tr.get("machine") or {}
    cpu = f"a {machine['cpus']}-core CPU machine" if machine.get("cpus") else "a CPU"  # recorded by `ganpaint train`
    where = "; ".join(
        f"{v / 3600:.2f} h on {cpu} (float32)" if k == "cpu"
        else f"{v / 60:.0f} min on one {k} GPU (world scenes rendered by CPU worker processes)"
        for k, v in by_device.items())
    cm = tr.get("class_match")
    fine_tuning = ""
    if cm:
        ratios = ", ".join(f"{c} {v:.2f}×" for c, v in (cm.get("share_ratios_at_export") or {}).items())
        images, every = cm.get("images", 0), cm.get("every_steps")
        span = f" (every {every} steps of the last {images * every:,})" if every else ""
        fine_tuning = f"""
Class-share fine-tuning: on {images:,} generated images{span} a loss term (weight {cm.get("weight")},
`ganpaint train --class-match`, `ganpaint/world/class_match.py`) pulled each class's pixel share, read by the
world segmenter on the {"EMA" if cm.get("reference") == "ema" else "raw"} generator's images, towards its share in the world
(running means of sharpened softmax shares; ratios at export: {ratios}). The adversarial loss still
decides what the classes look like; the term only changes how much of each the generator draws. The
evaluation's class fractions below use the same segmenter, so they are not an independent check of it.
"""
    text = f"""# Model card: `{folder.name}`

A Progressive GAN generator in the official GANPaint layout (`layer1…layer{G.config.num_layers}`,
`{G.config.output_name}`), trained by this project's own command on its procedural world
(`ganpaint/world/world.py`: sky, clouds, mountains, grass, roads, trees, brick buildings with doors and
windows, roofs and domes). No external data or pretrained weights were used.

| | |
|---|---|
| resolution | {G.config.resolution} × {G.config.resolution} |
| widths (4 px up) | {", ".join(map(str, G.config.widths))} |
| parameters | {params / 1e6:.2f} M |
| edit layer | {info.get("edit_layer", "layer4")} ({G.config.layer_channels("layer4")} units at 8 × 8) |
| images seen | {tr.get("images_seen", 0):,} ({tr.get("steps", 0):,} steps) |
| training wall-clock | {hours:.2f} h of training steps: {where}; resumable |
| final target | {recipe.get("resolution", "?")} px (progressive growing; this export is the highest fully faded-in resolution) |
| layer5→output render | {timing["layer5_to_output_ms_p50"]} ms p50, {timing["layer5_to_output_ms_p95"]} ms p95 (batch 1, {timing["threads"]} threads, torch {timing["torch"]}, {timing["cpu"]}, {os.cpu_count()} cores) |
| full forward from z | {timing["full_forward_ms_p50"]} ms p50 |

## Recipe
Non-saturating logistic loss, lazy R1 on reals (γ = {recipe.get("r1_gamma")}, every {recipe.get("r1_every")} steps),
Adam (lr {recipe.get("lr")}, β = {recipe.get("betas")}), EMA of G (half-life {recipe.get("ema_halflife_images")} images),
batch {recipe.get("batch")}, progressive growing from {recipe.get("start_resolution")} px (fade-in {recipe.get("fade_images")}
images, then {recipe.get("stable_images")} stable images per resolution). World scenes come from a ring pool of
{recipe.get("pool_size")} renders refreshed by {recipe.get("pool_refresh")} new scenes every step.
{fine_tuning}
Reproduce or continue: `ganpaint train --run runs/scenes --minutes 60 --save-compact models/scenes/train_state.pt --export models/scenes`
(a new run folder starts from the compact checkpoint `train_state.pt` when it is there; at 20 MiB it is kept
out of git; on a fresh clone, `--init models/scenes` continues from the shipped generator and discriminator).

## Samples
64 samples on fixed latents: ![samples](samples.png)

## Evaluation
{evaluation}

## Limits
Trained for hours, mostly on a CPU, not days on GPUs: small objects (windows, doors) are blurry, and
some samples mix structures. The world is procedural: the model knows nothing about real photographs.
"""
    card_path.write_text(text)
    return card_path
