"""Run by tests/test_distributed.py under `torchrun --nproc-per-node 2`: one rank of a tiny data-parallel run.

    torchrun --nproc-per-node 2 tests/ddp_probe.py OUT_DIR STEPS
Each rank writes OUT_DIR/rank{r}.json: the averaged test gradient, the stop vote, its step count and a
digest of its generator's weights after training (ranks must agree).
"""
import hashlib
import json
import sys
from pathlib import Path

import torch

from ganpaint.world.distributed import Distributed
from ganpaint.world.train import TrainConfig, Trainer

TINY = dict(resolution=16, widths=(16, 16, 8), z_dim=32, batch=4, pool_size=16, pool_refresh=2,
            stable_images=8, fade_images=8, r1_every=2, min_pool_resolution=16)

out, steps = Path(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(1)
dist = Distributed.from_env("cpu")
p = torch.nn.Parameter(torch.zeros(3))
p.grad = torch.full((3,), float(dist.rank + 1))
dist.average_grads([p])
vote = dist.any(dist.rank == 1)
t = Trainer(TrainConfig(**TINY), out / "run", device="cpu", dist=dist)
reason = t.train(max_steps=steps, sample_every_images=None)
digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in t.G.state_dict().values())).hexdigest()
(out / f"rank{dist.rank}.json").write_text(json.dumps({
    "grad": p.grad.tolist(), "vote": vote, "step": t.step, "images": t.images, "reason": reason, "G": digest}))
dist.close()
