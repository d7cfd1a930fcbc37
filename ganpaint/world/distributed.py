"""Data-parallel training under the standard launcher: `torchrun --nproc-per-node N ganpaint train …`.

    dist = Distributed.from_env()          # None outside torchrun (WORLD_SIZE unset or 1)
    dist.average_grads(model.parameters())  # after backward: every rank steps with the mean gradient
    dist.any(flag)                          # a stop decision all ranks share (so none waits forever)

Gradients are averaged with one all-reduce per network per step, which is what DistributedDataParallel
does; the trainer does it by hand because its R1 penalty differentiates through a gradient
(DDP's hooks do not support that) and its progressive generator leaves heads unused. NCCL on GPUs
(each rank on `cuda:LOCAL_RANK`), gloo on CPUs. Rank 0 alone writes checkpoints and samples.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.distributed as tdist

__all__ = ["Distributed", "StopVote"]


@dataclass
class Distributed:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str | None = None) -> "Distributed | None":
        """Join the process group torchrun describes in the environment; None when run alone."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
        if use_cuda:
            torch.cuda.set_device(local)
        if not tdist.is_initialized():
            tdist.init_process_group("nccl" if use_cuda else "gloo")
        return cls(rank, world, torch.device(f"cuda:{local}" if use_cuda else "cpu"))

    def average_grads(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Replace each gradient by its mean over the ranks (one flat all-reduce; None stays None)."""
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        tdist.all_reduce(flat)
        flat /= self.world
        i = 0
        for g in grads:
            g.copy_(flat[i:i + g.numel()].view_as(g))
            i += g.numel()

    def broadcast(self, module: torch.nn.Module) -> None:
        """Make every rank's weights rank 0's."""
        for t in list(module.parameters()) + list(module.buffers()):
            tdist.broadcast(t.data, 0)

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any rank."""
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
        return bool(t.item())

    def close(self) -> None:
        if tdist.is_initialized():
            tdist.destroy_process_group()


class StopVote:
    """An abort_fn for training.train_loop under torchrun: a time limit or a signal seen by any rank stops
    all of them at the same step (each rank's clock and signals are its own)."""

    def __init__(self, dist: Distributed, time_limit_s: float | None, abort_fn: Callable[[], bool] | None,
                 steps_done: Callable[[], int], clock: Callable[[], float] = time.monotonic) -> None:
        self.dist, self.limit, self.abort_fn, self.steps_done, self.clock = dist, time_limit_s, abort_fn, steps_done, clock
        self.start, self.first, self.timed_out = clock(), steps_done(), False

    def __call__(self) -> bool:
        # like train_loop's own limit, never before this session's first step
        self.timed_out = self.limit is not None and self.steps_done() > self.first and self.clock() - self.start >= self.limit
        return self.dist.any(self.timed_out or bool(self.abort_fn and self.abort_fn()))
