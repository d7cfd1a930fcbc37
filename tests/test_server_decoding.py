"""Decoding off the event loop: masks decode in worker threads, one request's masks have a pixel budget,
and one client's flood queues behind itself."""
from __future__ import annotations

import asyncio
import base64
import io
import threading
import time

import numpy as np
from PIL import Image

import ganpaint.edit
from server.decoding import Decoding


def mask_url(size: int, mode: str = "1") -> str:
    a = np.zeros((size, size), np.uint8)
    a[: size // 2] = 255
    buf = io.BytesIO()
    Image.fromarray(a).convert(mode).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_masks_decode_in_worker_threads_not_on_the_event_loop(client, monkeypatch):
    seen = []
    real = ganpaint.edit.decode_mask_data_url

    def spy(*args, **kw):
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:
            seen.append("worker thread")
        return real(*args, **kw)

    monkeypatch.setattr(ganpaint.edit, "decode_mask_data_url", spy)
    body = {"seed": 1, "strokes": [{"concept": "tree", "mask": mask_url(64)}] * 3}
    assert client.post("/api/models/tiny/render", json=body).status_code == 200
    assert seen == ["worker thread"] * 3


def test_one_requests_masks_have_a_pixel_budget(make_app, monkeypatch):
    from fastapi.testclient import TestClient

    decoded = []
    real = ganpaint.edit.decode_mask_data_url
    monkeypatch.setattr(ganpaint.edit, "decode_mask_data_url", lambda *a, **k: decoded.append(1) or real(*a, **k))
    with TestClient(make_app(max_request_mask_pixels=2 * 64 * 64)) as c:
        stroke = {"concept": "tree", "mask": mask_url(64)}
        assert c.post("/api/models/tiny/render", json={"seed": 1, "strokes": [stroke] * 2}).status_code == 200
        decoded.clear()
        r = c.post("/api/models/tiny/render", json={"seed": 1, "strokes": [stroke] * 3})
        assert r.status_code == 413 and "12,288" in r.json()["detail"] and "8,192" in r.json()["detail"]
        assert decoded == []  # refused from the headers alone
        big = {"concept": "tree", "mask": mask_url(128)}
        assert c.post("/api/models/tiny/render", json={"seed": 1, "strokes": [big]}).status_code == 413


def test_a_flooding_client_queues_behind_itself():
    finished = []

    def work(name: str) -> str:
        time.sleep(0.03)
        finished.append(name)
        return name

    async def main():
        d = Decoding(threads=1)
        flood = [asyncio.create_task(d.run("A", work, f"A{i}")) for i in range(6)]
        await asyncio.sleep(0.005)
        other = asyncio.create_task(d.run("B", work, "B0"))
        await asyncio.sleep(0)
        assert d.waiting("A") == 6 and d.waiting("B") == 1
        await asyncio.gather(*flood, other)
        assert d.waiting("A") == 0 and not d._turns  # nothing kept per client once done

    asyncio.run(main())
    assert finished.index("B0") <= 1, finished  # not behind all of A's requests
    assert threading.active_count() < 50
