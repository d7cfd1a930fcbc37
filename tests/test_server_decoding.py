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

import ganpaint.paint.edit
from server.decoding import Decoding


def mask_url(size: int, mode: str = "1") -> str:
    a = np.zeros((size, size), np.uint8)
    a[: size // 2] = 255
    buf = io.BytesIO()
    Image.fromarray(a).convert(mode).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_masks_decode_in_worker_threads_not_on_the_event_loop(client, monkeypatch):
    seen = []
    real = ganpaint.paint.edit.decode_mask_data_url

    def spy(*args, **kw):
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:
            seen.append("worker thread")
        return real(*args, **kw)

    monkeypatch.setattr(ganpaint.paint.edit, "decode_mask_data_url", spy)
    body = {"seed": 1, "strokes": [{"concept": "tree", "mask": mask_url(64)}] * 3}
    assert client.post("/api/models/tiny/render", json=body).status_code == 200
    assert seen == ["worker thread"] * 3


def test_one_requests_masks_have_a_pixel_budget(make_app, monkeypatch):
    from fastapi.testclient import TestClient

    decoded = []
    real = ganpaint.paint.edit.decode_mask_data_url
    monkeypatch.setattr(ganpaint.paint.edit, "decode_mask_data_url", lambda *a, **k: decoded.append(1) or real(*a, **k))
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


def test_decode_threads_run_at_a_lower_priority():
    import os

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    d = Decoding(threads=1, nice=5)
    try:
        here = niceness()
        assert asyncio.run(d.run("A", niceness)) == min(19, here + 5)
    finally:
        d.close()


def _spy_decoding(monkeypatch) -> list[str]:
    seen = []
    real = ganpaint.paint.edit.decode_mask_data_url

    def spy(*args, **kw):
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:
            seen.append("worker thread")
        return real(*args, **kw)

    monkeypatch.setattr(ganpaint.paint.edit, "decode_mask_data_url", spy)
    return seen


def test_session_strokes_and_websocket_masks_decode_off_the_loop_within_the_budget(make_app, monkeypatch):
    import json

    from fastapi.testclient import TestClient

    seen = _spy_decoding(monkeypatch)
    with TestClient(make_app(max_request_mask_pixels=64 * 64)) as c:
        sid = c.post("/api/sessions", json={"model": "tiny", "seed": 1}).json()["id"]
        assert c.post(f"/api/sessions/{sid}/strokes", json={"concept": "tree", "mask": mask_url(64)}).status_code == 200
        big = c.post(f"/api/sessions/{sid}/strokes", json={"concept": "tree", "mask": mask_url(128)})
        assert big.status_code == 413 and "16,384" in big.json()["detail"]
        with c.websocket_connect(f"/api/sessions/{sid}/ws?format=png") as ws:
            for size in (64, 128):
                ws.send_text(json.dumps({"type": "stroke", "final": True,
                                         "stroke": {"concept": "tree", "mask": mask_url(size)}}))
            errors, states = [], []
            while not errors or len(states) < 2:
                m = ws.receive()
                if m.get("text"):
                    msg = json.loads(m["text"])
                    (errors if msg["type"] == "error" else states).append(msg)
        assert "4,096 pixels" in errors[0]["detail"]
        assert len(c.get(f"/api/sessions/{sid}").json()["strokes"]) == 2
    assert seen == ["worker thread"] * 2  # the over-budget masks were never decoded


def test_decoding_works_again_after_close():
    d = Decoding(threads=1)
    assert asyncio.run(d.run("A", sum, [1, 2])) == 3
    d.close()  # the app's lifespan ended; a test client may start it again
    assert asyncio.run(d.run("A", sum, [3, 4])) == 7
    d.close()
