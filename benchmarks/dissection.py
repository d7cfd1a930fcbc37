"""Dissection throughput (samples/s per stage) on the shipped model, or a random model of the same shape.

    .venv/bin/python benchmarks/dissection.py --samples 200 --threads 2
    # → benchmarks/results/dissection.json

Stage 1 (generate + segment + quantiles) and stage 2 (layer4 again + IoU at every candidate threshold)
are timed per sample; the causal ranking (ACE) is timed per concept. Runs on CPU or CUDA (--device).
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from ganpaint.dissect.dissect import DissectConfig, dissect
from ganpaint.paint.model import PaintModel
from ganpaint.segmenters.segmenter import NetSegmenter, UNet, UNetConfig
from ganpaint.world.world import CLASSES

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "scenes"))
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--batch", type=int, default=25)
    p.add_argument("--ace-steps", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dissection.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    try:
        model = PaintModel.load(args.model, device=args.device)
        source = args.model
    except Exception as e:  # no export yet: same shape as the target scenes model
        print(f"note: {e}; using a random 128 px model")
        model = PaintModel.random(resolution=128, widths=(128, 128, 64, 32, 16, 8), seed=0)
        source = "random 128px (128,128,64,32,16,8)"
    seg = model.segmenter or NetSegmenter(UNet(UNetConfig(CLASSES)), "random-unet")
    seg.to(args.device) if hasattr(seg, "to") else None
    cfg = DissectConfig(samples=args.samples, batch=args.batch, ace_steps=args.ace_steps)
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        table = dissect(model, seg, config=cfg, checkpoint=Path(tmp) / "bench.pt")
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
    t = table.meta["timing_s"]
    n_concepts = len(table.concepts)
    result = {
        "model": source, "resolution": model.resolution, "units": model.channels, "segmenter": seg.id,
        "device": args.device, "threads": args.threads, "cpu": platform.processor() or platform.machine(),
        "samples": args.samples, "batch": args.batch, "ace_steps": args.ace_steps,
        "sample_stage_samples_per_s": round(args.samples / max(t.get("sample_s", 0), 1e-9), 2),
        "iou_stage_samples_per_s": round(args.samples / max(t.get("iou_s", 0), 1e-9), 2),
        "ace_s_per_concept": round(t.get("ace_s", 0) / max(n_concepts, 1), 2),
        "total_s": round(total, 1), "process_cpu_s": round(cpu, 1),
        "estimated_total_s_for_1000_samples": round(1000 / args.samples * (t.get("sample_s", 0) + t.get("iou_s", 0))
                                                    + t.get("ace_s", 0), 1),
        "note": "shared 2-core machine: other jobs were running; compare only runs made side by side",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
