"""The renderer: batching across sessions, canonical (deterministic) renders, latest wins, cancel."""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
import torch

from ganpaint.paint.edit import StrokeError
from ganpaint.paint.imaging import to_uint8
from server.render import Busy, Renderer


def jobs_for(model, n):
    h = model.features(torch.randn(n, 512, generator=torch.Generator().manual_seed(0)))
    alpha = torch.zeros(n, model.channels, model.layer_size, model.layer_size)
    alpha[:, :4, 2:5, 2:5] = 1
    value = alpha * 5
    return [(h[i : i + 1], alpha[i], value[i]) for i in range(n)]


def blocker():
    """A job that holds the worker until released, so that later jobs pile up."""
    gate = threading.Event()
    return gate, lambda prepared: (gate.wait(5), prepared)[1]


async def _batch(renderer, model, prepared, canonical=False):
    gate, hold = blocker()
    first = asyncio.create_task(renderer.render("hold", model, lambda: hold(prepared[0])))
    await asyncio.sleep(0.05)  # the worker is now inside the blocking job
    tasks = [asyncio.create_task(renderer.render(f"k{i}", model, (lambda p=p: p), canonical=canonical))
             for i, p in enumerate(prepared)]
    await asyncio.sleep(0.05)
    gate.set()
    await first
    return await asyncio.gather(*tasks)


def _one_batch(model, prepared) -> list:
    """Render `prepared` jobs that are due together; they must have gone through as one batch."""
    renderer = Renderer(batching=True, max_batch=8)
    try:
        out = asyncio.run(_batch(renderer, model, prepared))
    finally:
        renderer.stop()
    assert renderer.stats["max_batch_seen"] == len(prepared)
    return out


def test_jobs_due_together_render_as_one_batch(tiny):
    prepared = jobs_for(tiny, 5)
    out = _one_batch(tiny, prepared)
    for arr, (h, a, v) in zip(out, prepared):
        single = to_uint8(tiny.render(h, a, v))[0]
        assert np.abs(arr.astype(int) - single.astype(int)).max() <= 1  # batched math may differ in last bits


def test_a_cpu_batch_is_split_across_the_render_threads_each_single_threaded(tiny, monkeypatch):
    """threads=3: the render thread and two helpers each render a part of the batch, with torch on one
    thread (several OpenMP teams on a few cores stall each other; server/threads.py)."""
    seen = []  # (thread name, torch threads in it, batch size) per generator call
    render = tiny.render

    def spy(h, *args, **kwargs):
        seen.append((threading.current_thread().name, torch.get_num_threads(), len(h)))
        return render(h, *args, **kwargs)

    monkeypatch.setattr(tiny, "render", spy)
    prepared = jobs_for(tiny, 7)
    renderer = Renderer(batching=True, max_batch=8, threads=3)
    try:
        out = asyncio.run(_batch(renderer, tiny, prepared))
    finally:
        renderer.stop()
    assert renderer.stats["max_batch_seen"] == 7
    parts = [(name.split("_")[0], n, size) for name, n, size in seen[1:]]  # [0]: the blocking job, alone
    assert sorted(size for _, _, size in parts) == [2, 2, 3]
    assert {name for name, _, _ in parts} == {"ganpaint-render", "ganpaint-render-helper"}
    assert all(n == 1 for _, n, _ in seen)  # (a quick helper may take two parts: the pool reuses idle threads)
    for arr, (h, a, v) in zip(out, prepared):  # in order, as if rendered whole
        single = to_uint8(render(h, a, v))[0]
        assert np.abs(arr.astype(int) - single.astype(int)).max() <= 1


def test_each_render_thread_prepares_renders_and_encodes_its_own_part(tiny):
    """threads=2: the batch's parts are prepared, rendered and encoded on both render threads; a job whose
    stroke data fails gets its own error and the rest of its part still renders."""
    import io

    from PIL import Image

    prepared = jobs_for(tiny, 6)
    where: dict[int, str] = {}

    def prep(i):
        where[i] = threading.current_thread().name.split("_")[0]
        if i == 4:
            raise StrokeError("bad stroke")
        return prepared[i]

    async def go(renderer):
        gate, hold = blocker()
        first = asyncio.create_task(renderer.render("hold", tiny, lambda: hold(prepared[0])))
        await asyncio.sleep(0.05)
        tasks = [asyncio.create_task(renderer.render(f"k{i}", tiny, (lambda i=i: prep(i)), encode=("png", 90)))
                 for i in range(6)]
        for _ in range(500):  # all six wait behind the held render, however slow the machine is
            if renderer.pending_count() == 6:
                break
            await asyncio.sleep(0.01)
        gate.set()
        await first
        return await asyncio.gather(*tasks, return_exceptions=True)

    renderer = Renderer(batching=True, max_batch=8, threads=2)
    try:
        out = asyncio.run(go(renderer))
    finally:
        renderer.stop()
    assert set(where.values()) == {"ganpaint-render", "ganpaint-render-helper"}
    assert isinstance(out[4], StrokeError)
    for i in (0, 1, 2, 3, 5):
        assert isinstance(out[i], bytes)
        arr = np.asarray(Image.open(io.BytesIO(out[i])).convert("RGB"))
        assert np.abs(arr.astype(int) - to_uint8(tiny.render(*prepared[i]))[0].astype(int)).max() <= 1
    assert renderer.stats["images"] == 1 + 5 and renderer.stats["max_batch_seen"] == 6


def test_unbatched_and_canonical_jobs_render_alone_and_deterministically(tiny):
    prepared = jobs_for(tiny, 4)
    for batching, canonical in ((False, False), (True, True)):
        renderer = Renderer(batching=batching)
        try:
            out = asyncio.run(_batch(renderer, tiny, prepared, canonical=canonical))
        finally:
            renderer.stop()
        assert renderer.stats["max_batch_seen"] == 1
        for arr, (h, a, v) in zip(out, prepared):
            assert np.array_equal(arr, to_uint8(tiny.render(h, a, v))[0])


def test_latest_wins_and_errors_reach_only_their_caller(tiny):
    (p,) = jobs_for(tiny, 1)

    def bad():
        raise StrokeError("nope")

    async def go(renderer):
        gate, hold = blocker()
        first = asyncio.create_task(renderer.render("hold", tiny, lambda: hold(p)))
        await asyncio.sleep(0.05)
        old = asyncio.create_task(renderer.render("same", tiny, lambda: p))
        await asyncio.sleep(0.01)
        new = asyncio.create_task(renderer.render("same", tiny, lambda: p))
        broken = asyncio.create_task(renderer.render("bad", tiny, bad))
        await asyncio.sleep(0.01)
        gate.set()
        await first
        return await old, await new, await asyncio.gather(broken, return_exceptions=True)

    renderer = Renderer()
    try:
        old, new, (err,) = asyncio.run(go(renderer))
    finally:
        renderer.stop()
    assert old is None and new is not None and renderer.stats["superseded"] == 1
    assert isinstance(err, StrokeError)


def test_cancelled_caller_leaves_no_pending_job_and_busy_is_refused(tiny):
    (p,) = jobs_for(tiny, 1)

    async def go(renderer):
        gate, hold = blocker()
        first = asyncio.create_task(renderer.render("hold", tiny, lambda: hold(p)))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(renderer.render("gone", tiny, lambda: p))
        await asyncio.sleep(0.01)
        assert renderer.pending_count() == 1
        with pytest.raises(Busy):
            await renderer.render("rest", tiny, lambda: p, refuse_when_busy=True)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        pending = renderer.pending_count()
        gate.set()
        await first
        return pending

    renderer = Renderer(max_pending=1)
    try:
        assert asyncio.run(go(renderer)) == 0
    finally:
        renderer.stop()
    assert renderer.stats["images"] == 1  # only the blocking job was ever rendered


def test_region_jobs_render_alone_and_match_full_renders(tiny):
    from ganpaint.gan.renderer import RegionRenderer

    prepared = jobs_for(tiny, 3)
    h = prepared[0][0]
    region = RegionRenderer(tiny.generator, start=tiny.next_layer)
    frames = []  # one socket's previews of a growing edit: the first renders in full, later ones by region

    async def go(renderer):
        for k in range(1, 4):
            alpha = torch.zeros(tiny.channels, tiny.layer_size, tiny.layer_size)
            alpha[:3, 2 : 2 + k, 2] = 1
            frames.append((alpha, await renderer.render("sock", tiny, lambda a=alpha: (h, a, a * 4), region=region)))

    renderer = Renderer(batching=True)
    try:
        asyncio.run(go(renderer))
    finally:
        renderer.stop()
    assert region.last_box is not None and region.last_box != (0, 16, 0, 16)  # the last one was partial
    for alpha, arr in frames:
        full = to_uint8(tiny.render(h, alpha, alpha * 4))[0]
        assert np.abs(arr.astype(int) - full.astype(int)).max() <= 1


def test_a_batch_mixing_jobs_with_and_without_a_reach_renders_each_as_alone(tiny):
    from ganpaint.paint.footprint import reach_map
    from ganpaint.paint.edit import Stroke

    prepared = jobs_for(tiny, 3)
    stroke = Stroke(concept="tree", points=((0.3, 0.3), (0.4, 0.35)), radius=0.05)
    reach = reach_map([stroke], tiny.resolution)
    with torch.inference_mode():
        unedited = tiny.render(prepared[1][0])
    prepared[1] = (*prepared[1], reach, unedited)  # the middle one is shown within its reach only
    out = _one_batch(tiny, prepared)
    for arr, p in zip(out, prepared):
        extra = {"reach": p[3], "unedited": p[4]} if len(p) > 3 else {}
        alone = to_uint8(tiny.render(*p[:3], **extra))[0]
        assert np.abs(arr.astype(int) - alone.astype(int)).max() <= 1
    beyond = (reach == 0).numpy()
    everywhere = to_uint8(tiny.render(*prepared[1][:3]))[0]
    assert (out[1][beyond] == to_uint8(unedited)[0][beyond]).all()  # the clipped one: unedited past its reach
    assert (everywhere[beyond] != to_uint8(unedited)[0][beyond]).any()  # where the edit alone would show
