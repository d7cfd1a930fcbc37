"""World scenes for training: a ring of renders refreshed every step, optionally fed by worker processes.

    pool = WorldPool(size=4096, resolution=64, refresh=2)       # synchronous: a pure function of the step
    pool.fill(step)                                            # rebuilt on resume, never stored
    x = pool.sample(16, generator)                             # (16, 3, 64, 64) in [-1, 1]
    pool = WorldPool(4096, 64, 2, feed=WorldFeed(workers=8, resolution=64, first_seed=4096))   # GPU machines
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np
import torch

from .world import render_batch

__all__ = ["WorldPool", "WorldFeed"]


def _render_images(seeds: list[int], resolution: int) -> np.ndarray:
    """Worker-process entry: world renders as (n, 3, R, R) uint8 (labels are not needed here)."""
    imgs, _ = render_batch(seeds, resolution)
    return np.ascontiguousarray(imgs.transpose(0, 3, 1, 2))


def _worker_init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


class WorldFeed:
    """World scenes rendered ahead by worker processes, for machines whose GPU trains faster than one core renders.

    Seeds are handed out in order; finished chunks are taken as they arrive, so the pool's content
    depends on timing and a resume is no longer bit-exact (the synchronous pool's is).
    """

    def __init__(self, workers: int, resolution: int, first_seed: int, chunk: int = 8) -> None:
        import multiprocessing as mp
        from collections import deque

        self.resolution, self.chunk, self.next_seed = resolution, chunk, first_seed
        self.procs = mp.get_context("spawn").Pool(workers, initializer=_worker_init)
        self.pending: deque = deque()
        self.depth = 3 * workers

    def map(self, seeds: list[int]) -> np.ndarray:
        chunks = [seeds[i : i + self.chunk] for i in range(0, len(seeds), self.chunk)]
        return np.concatenate(self.procs.starmap(_render_images, [(c, self.resolution) for c in chunks]))

    def take(self) -> np.ndarray | None:
        """All chunks finished since the last call (None if none), keeping the workers busy."""
        while len(self.pending) < self.depth:
            seeds = list(range(self.next_seed, self.next_seed + self.chunk))
            self.next_seed += self.chunk
            self.pending.append(self.procs.apply_async(_render_images, (seeds, self.resolution)))
        done = []
        while self.pending and self.pending[0].ready():
            done.append(self.pending.popleft().get())
        return np.concatenate(done) if done else None

    def close(self) -> None:
        self.procs.terminate()
        self.procs.join()


class WorldPool:
    """A ring of world renders; `refresh` new scenes replace old ones every iteration.

    Its content is a pure function of the iteration count, so a resume re-renders it instead of
    storing it in the checkpoint.
    """

    def __init__(self, size: int, resolution: int, refresh: int, seed_offset: int = 0,
                 feed: WorldFeed | None = None) -> None:
        self.size, self.resolution, self.refresh, self.offset = size, resolution, refresh, seed_offset
        self.data = torch.empty(size, 3, resolution, resolution, dtype=torch.uint8)
        self.step = 0
        self.feed = feed
        self.cursor = 0  # next slot a fed scene replaces

    def _render(self, slots: list[int], seeds: list[int]) -> None:
        seeds = [s + self.offset for s in seeds]
        if self.feed is not None:
            self.data[slots] = torch.from_numpy(self.feed.map(seeds))
        else:
            imgs, _ = render_batch(seeds, self.resolution)
            self.data[slots] = torch.from_numpy(imgs).permute(0, 3, 1, 2)

    def fill(self, step: int, progress_fn: Callable[[str], None] | None = None) -> None:
        """Rebuild the pool as it was after `step` iterations."""
        last = self.size + step * self.refresh  # seeds rendered so far: 0 … last-1
        seeds = list(range(max(0, last - self.size), last))
        step_n = 256 if self.feed is None else 2048
        for i in range(0, len(seeds), step_n):
            chunk = seeds[i : i + step_n]
            self._render([s % self.size for s in chunk], chunk)
            if progress_fn:
                progress_fn(f"filling world pool {i + len(chunk)}/{len(seeds)}")
        self.step = step

    def advance(self) -> None:
        if self.feed is not None:
            imgs = self.feed.take()
            if imgs is not None:
                imgs = imgs[: self.size]
                slots = [(self.cursor + i) % self.size for i in range(len(imgs))]
                self.data[slots] = torch.from_numpy(imgs)
                self.cursor = (self.cursor + len(imgs)) % self.size
            self.step += 1
            return
        first = self.size + self.step * self.refresh
        seeds = list(range(first, first + self.refresh))
        self._render([s % self.size for s in seeds], seeds)
        self.step += 1

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        idx = torch.randint(0, self.size, (n,), generator=generator)
        return self.data[idx].float().div_(127.5).sub_(1.0)  # (n, 3, R, R) in [-1, 1]
