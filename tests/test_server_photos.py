"""POST /api/photos and photo sessions: decoding errors, the adaptation's result, views, the photo's lifetime."""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ganpaint.paint.edit import Stroke
from ganpaint.photo.photo import composite
from ganpaint.world.world import render_scene

FAST = {"adapt_h_steps": 4, "adapt_coarse_steps": 3, "adapt_fine_steps": 4, "adapt_init_candidates": 4}
ENDLESS = {"adapt_h_steps": 10**7, "adapt_coarse_steps": 0, "adapt_fine_steps": 0, "adapt_init_candidates": 2}


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _scene() -> np.ndarray:
    """A 96×64 world render: wider than tall, so a centre crop leaves 16 px columns outside the model's square."""
    return render_scene(3, 96)[0][16:80].copy()


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _upload(c: TestClient, data: bytes, name="scene.png", mime="image/png", **form):
    return c.post("/api/photos", files={"file": (name, data, mime)}, data=form)


def wait_job(c: TestClient, job: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        j = c.get(f"/api/jobs/{job}").json()
        if j["state"] in ("done", "failed", "cancelled"):
            return j
        assert time.monotonic() < deadline, f"job still {j['state']} after {timeout} s: {j}"
        time.sleep(0.02)


@pytest.fixture
def fast_client(make_app):
    with TestClient(make_app(**FAST)) as c:
        yield c


# ---------------------------------------------------------------------------------------------- bad uploads
def _truncated_png() -> bytes:
    data = _png(_scene())
    return data[: len(data) // 2]


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "GIF")
    return buf.getvalue()


def _noise_png(size: int) -> bytes:
    return _png(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("data, settings, status, words", [
    (b"this is a text file, not a picture", {}, 415, "not an image"),
    (_gif(), {}, 415, "GIF"),
    (b"", {}, 415, "empty"),
    (_truncated_png(), {}, 422, "truncated"),
    (_noise_png(64), {"max_upload_bytes": 4096}, 413, "limit"),
    (_png(_scene()), {"max_upload_pixels": 64 * 64}, 413, "pixels"),
])
def test_bad_files_get_their_status_and_leave_the_server_healthy(make_app, data, settings, status, words):
    app = make_app(**FAST, **settings)
    with TestClient(app) as c:
        r = _upload(c, data)
        assert r.status_code == status, r.text
        assert words.lower() in r.json()["detail"].lower()
        assert len(app.state.sessions) == 0 and app.state.jobs.counts()["queued"] == 0
        assert c.get("/api/health").json()["status"] == "ok"
        small = _png(_scene()[::2, ::2].copy())  # within every limit above
        ok = _upload(c, small)
        assert ok.status_code == 202, ok.text
        assert wait_job(c, ok.json()["job"])["state"] == "done"


def test_decompression_bomb_is_refused(make_app):
    # 6000×6000 of one colour: a few KB on the wire, 108 MB once decoded
    buf = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(buf, "PNG", optimize=True)
    assert len(buf.getvalue()) < 200_000
    with TestClient(make_app(**FAST)) as c:
        r = _upload(c, buf.getvalue())
        assert r.status_code == 413 and "pixels" in r.json()["detail"]


def test_request_errors(fast_client):
    c = fast_client
    assert _upload(c, _png(_scene()), model="nope").status_code == 404
    r = _upload(c, _png(_scene()), fit="stretch")
    assert r.status_code == 422 and "fit" in r.json()["detail"]
    assert c.post("/api/photos", data={"model": "tiny"}).status_code == 422  # no file
    assert c.get("/api/jobs/0123456789abcdef01234567").status_code == 404
    assert c.delete("/api/jobs/0123456789abcdef01234567").status_code == 404


def test_exif_orientation_is_applied(fast_client):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (250, 20, 20)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif, quality=95)
    r = _upload(fast_client, buf.getvalue(), name="phone.jpg", mime="image/jpeg")
    assert r.status_code == 202, r.text
    assert (r.json()["width"], r.json()["height"]) == (20, 40)
    composite = _decode(fast_client.get(f"/api/sessions/{r.json()['session']}/image").content)
    assert composite.shape == (40, 20, 3)
    assert composite[:15, :, 0].mean() > 200 and composite[25:, :, 0].mean() < 60  # red went to the top


# ---------------------------------------------------------------------------------------------- the whole way
def test_upload_adapt_paint_and_composite(make_app):
    app = make_app(**FAST)
    original = _scene()
    with TestClient(app) as c:
        r = _upload(c, _png(original), model="tiny")
        assert r.status_code == 202, r.text
        out = r.json()
        assert r.headers["location"] == f"/api/jobs/{out['job']}"
        assert (out["width"], out["height"], out["fit"], out["model"]) == (96, 64, "crop", "tiny")
        sid = out["session"]

        j = wait_job(c, out["job"])
        assert j["state"] == "done" and j["progress"] == 1.0 and j["error"] is None
        assert j["metrics"]["l1"] < j["metrics"]["stages"]["encoder"]["l1"]  # adaptation improved the fit
        assert {"psnr", "seconds", "encoder"} <= set(j["metrics"])
        # honest about fit: the PSNR before the fine offset (what the model itself draws) and a verdict
        assert j["metrics"]["psnr_model"] == round(j["metrics"]["stages"]["coarse"]["psnr"], 2)
        assert j["metrics"]["fit"]["level"] in ("good", "rough", "poor") and j["eta_s"] is None
        state = c.get(f"/api/sessions/{sid}").json()
        assert state["source"]["model_fit"] == {k: j["metrics"]["fit"][k] for k in ("level", "hint")}
        assert state["source"]["kind"] == "photo" and state["source"]["status"] == "ready"
        assert state["source"]["job"] == out["job"] and state["seed"] is None

        # no edit yet: the composite is the photo itself
        assert np.array_equal(_decode(c.get(f"/api/sessions/{sid}/image").content), original)
        before = _decode(c.get(f"/api/sessions/{sid}/image?view=model").content)
        assert before.shape == (16, 16, 3)

        stroke = {"concept": "tree", "radius": 0.05, "points": [[0.2, 0.3], [0.25, 0.4]]}
        answer = c.post(f"/api/sessions/{sid}/strokes", json=stroke)
        assert answer.status_code == 200
        after = _decode(c.get(f"/api/sessions/{sid}/image?view=model").content)
        assert after.shape == (16, 16, 3) and not np.array_equal(after, before)

        # what the page shows (edit answers, view=frame, the websocket) is the download's composite at display
        # size: the photo's 64 px square here, with exactly the painted footprint taken from the model
        session = app.state.sessions.get(sid)
        strokes = [Stroke.from_dict(stroke)]
        frame = _decode(answer.content)
        assert frame.shape == (64, 64, 3)
        assert np.array_equal(frame, composite(session.photo, after, strokes, size=64).image)
        assert np.array_equal(_decode(c.get(f"/api/sessions/{sid}/image?view=frame").content), frame)

        comp = _decode(c.get(f"/api/sessions/{sid}/image?view=composite&format=png").content)
        assert comp.shape == original.shape
        assert np.array_equal(comp, composite(session.photo, after, strokes).image)
        # beyond the stroke + a 2 % seam (1.3 px of 64) every pixel is the original's
        yy, xx = np.mgrid[0:64, 0:96] + 0.5
        u, v = (xx - 16) / 64, yy / 64
        a, b = np.array([0.2, 0.3]), np.array([0.25, 0.4])
        t = np.clip(((u - a[0]) * (b - a)[0] + (v - a[1]) * (b - a)[1]) / ((b - a) ** 2).sum(), 0, 1)
        beyond = (np.hypot(u - a[0] - t * (b - a)[0], v - a[1] - t * (b - a)[1]) - 0.05) * 64
        changed = (comp != original).any(axis=2)
        assert changed.any() and not changed[beyond > 0.02 * 64].any()

        # undo returns to the photo; the same history tools work
        assert c.post(f"/api/sessions/{sid}/undo").status_code == 200
        assert np.array_equal(_decode(c.get(f"/api/sessions/{sid}/image").content), original)

        # a seed session ignores view
        s = c.post("/api/sessions", json={"model": "tiny", "seed": 3}).json()
        a = c.get(f"/api/sessions/{s['id']}/image?view=composite").content
        assert a == c.get(f"/api/sessions/{s['id']}/image?view=model").content


def test_letterbox_keeps_the_whole_photo(fast_client):
    original = _scene()
    r = _upload(fast_client, _png(original), fit="letterbox")
    assert r.status_code == 202 and r.json()["fit"] == "letterbox"
    sid = r.json()["session"]
    assert wait_job(fast_client, r.json()["job"])["state"] == "done"
    model_view = _decode(fast_client.get(f"/api/sessions/{sid}/image?view=model").content)
    assert model_view.shape == (16, 16, 3)
    assert _decode(fast_client.get(f"/api/sessions/{sid}/image").content).shape == original.shape


def test_pending_photo_shows_the_photo_and_refuses_strokes(make_app):
    app = make_app(**ENDLESS)
    original = _scene()
    with TestClient(app) as c:
        out = _upload(c, _png(original)).json()
        sid = out["session"]
        assert c.get(f"/api/sessions/{sid}").json()["source"]["status"] == "adapting"
        assert np.array_equal(_decode(c.get(f"/api/sessions/{sid}/image").content), original)
        square = _decode(c.get(f"/api/sessions/{sid}/image?view=model").content)
        assert np.array_equal(square, app.state.sessions.get(sid).photo.square)
        frame = _decode(c.get(f"/api/sessions/{sid}/image?view=frame").content)  # what the page shows meanwhile
        assert np.array_equal(frame, app.state.sessions.get(sid).photo.display(64))
        r = c.post(f"/api/sessions/{sid}/strokes", json={"concept": "tree", "points": [[0.5, 0.5]]})
        assert r.status_code == 409 and "adapted" in r.json()["detail"]
        assert c.delete(f"/api/jobs/{out['job']}").json()["state"] == "cancelled"
        src = c.get(f"/api/sessions/{sid}").json()["source"]
        assert src["status"] == "cancelled" and src["error"] == "cancelled"


def test_deleting_the_session_forgets_the_photo_and_stops_the_job(make_app):
    app = make_app(**ENDLESS)
    with TestClient(app) as c:
        out = _upload(c, _png(_scene())).json()
        session = app.state.sessions.get(out["session"])
        deadline = time.monotonic() + 20
        while c.get(f"/api/jobs/{out['job']}").json()["stage"] not in ("h4",):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert c.delete(f"/api/sessions/{out['session']}").status_code == 204
        j = wait_job(c, out["job"], timeout=5)
        assert j["state"] == "cancelled" and "deleted" in j["error"]
        assert session.photo is None and session.closed
        assert c.get(f"/api/sessions/{out['session']}/image").status_code == 404
        assert app.state.jobs.counts()["running"] == 0


def test_an_expired_photo_session_stops_its_job(make_app):
    app = make_app(**ENDLESS, photo_ttl_s=0.5)
    with TestClient(app) as c:
        out = _upload(c, _png(_scene())).json()
        j = wait_job(c, out["job"], timeout=10)  # the sweeper runs every second
        assert j["state"] == "cancelled" and "expired" in j["error"]
        assert c.get(f"/api/sessions/{out['session']}").status_code == 404


def test_openapi_describes_photos_and_jobs(fast_client):
    paths = fast_client.get("/openapi.json").json()["paths"]
    assert "202" in paths["/api/photos"]["post"]["responses"]
    assert {"get", "delete"} <= set(paths["/api/jobs/{job_id}"])
    params = {p["name"] for p in paths["/api/sessions/{session_id}/image"]["get"]["parameters"]}
    assert "view" in params


def test_photo_errors_get_their_status_from_the_server():
    from ganpaint.photo.photo import CorruptPhoto, PhotoError, PhotoTooLarge, UnsupportedPhoto
    from server.app import photo_status

    assert [photo_status(e("x")) for e in (PhotoTooLarge, UnsupportedPhoto, CorruptPhoto, PhotoError)] == [413, 415, 422, 422]
    assert not hasattr(PhotoError("x"), "http_status")  # HTTP is the web layer's business


# ---------------------------------------------------------------------------------------------- memory
def test_photo_memory_budget_refuses_with_retry_after_and_cancel_frees_at_once(make_app):
    one = (96 * 64 + 16 * 16 + 64 * 64) * 3  # a 96×64 photo, its 16 px square and its 64 px display frame
    app = make_app(**ENDLESS, photo_memory_bytes=one + 1000, job_queue=4)
    with TestClient(app) as c:
        first = _upload(c, _png(_scene()))
        assert first.status_code == 202
        session = app.state.sessions.get(first.json()["session"])
        assert app.state.photos.memory() == session.photo.nbytes <= one
        full = _upload(c, _png(_scene()))
        assert full.status_code == 503 and int(full.headers["retry-after"]) >= 1
        assert "MB" in full.json()["detail"] and len(app.state.sessions) == 1  # nothing was kept
        # cancelling the job frees the photo's pixels at once: only its model-size square stays to show
        assert c.delete(f"/api/jobs/{first.json()['job']}").json()["state"] == "cancelled"
        assert session.photo.original.shape == (16, 16, 3) and app.state.photos.memory() == 16 * 16 * 3
        frame = _decode(c.get(f"/api/sessions/{session.id}/image?view=frame").content)
        assert np.array_equal(frame, session.photo.square)
        job = app.state.jobs.get(first.json()["job"])
        assert job.work is None and job.on_done is None and job.listener is None  # the record holds no photo
        again = _upload(c, _png(_scene()))
        assert again.status_code == 202
        # deleting the session frees it too
        assert c.delete(f"/api/sessions/{again.json()['session']}").status_code == 204
        assert app.state.photos.memory() == 16 * 16 * 3
