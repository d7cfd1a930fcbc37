"""REST routes: sessions, edits and their images, stateless render, models, segment, limits, errors."""
from __future__ import annotations

import io
import json
import logging
import os

import numpy as np
import torch
from fastapi.testclient import TestClient
from PIL import Image
from safetensors.torch import save_file

from ganpaint.cli import main as cli_main

TREE_TOP_LEFT = {"concept": "tree", "radius": 0.1, "points": [[0.15, 0.15], [0.3, 0.3]]}


def png(resp) -> np.ndarray:
    assert resp.status_code == 200, resp.text
    return np.asarray(Image.open(io.BytesIO(resp.content)).convert("RGB")).astype(int)


def new_session(client, seed=3) -> str:
    r = client.post("/api/sessions", json={"model": "tiny", "seed": seed})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_health_models_and_openapi(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["models"] == {"tiny": {"device": "cpu", "resolution": 16}}
    assert h["renderer"]["threads"] == len(os.sched_getaffinity(0))  # default: one render thread per core
    assert [m["id"] for m in client.get("/api/models").json()] == ["tiny"]
    m = client.get("/api/models/tiny").json()
    assert m["edit_layer"] == "layer4" and m["concepts"][0]["name"] == "tree" and len(m["concepts"][0]["units"]) == 6
    assert m["concepts"][0]["remove_units"] == []  # this table has no ablation ranking: remove uses `units`
    assert client.get("/api/models/nope").json() == {"detail": "unknown model 'nope'; loaded: tiny"}
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/sessions/{session_id}/strokes/{index}" in paths and "/api/models/{model}/segment" in paths
    assert client.get("/docs").status_code == 200


def test_stroke_changes_the_painted_region_and_undo_is_byte_identical(client):
    sid = new_session(client)
    info = client.get(f"/api/sessions/{sid}").json()
    assert info["source"] == {"kind": "seed", "seed": 3} and (info["width"], info["height"]) == (16, 16)
    before = client.get(f"/api/sessions/{sid}/image").content
    painted = client.post(f"/api/sessions/{sid}/strokes", json=TREE_TOP_LEFT)
    diff = np.abs(png(painted) - np.asarray(Image.open(io.BytesIO(before))).astype(int)).sum(-1)
    assert diff.sum() > 0
    assert diff[:9, :9].sum() / diff.sum() > 0.8  # the top-left quarter (plus a cell of spread) holds the change
    second = client.post(f"/api/sessions/{sid}/strokes", json={"concept": "sky", "points": [[0.8, 0.8]]})
    assert second.content != painted.content
    assert client.post(f"/api/sessions/{sid}/undo").content == painted.content
    assert client.post(f"/api/sessions/{sid}/undo").content == before
    assert client.post(f"/api/sessions/{sid}/undo").json() == {"detail": "nothing to undo"}
    assert client.post(f"/api/sessions/{sid}/redo").content == painted.content
    # with the frame cache dropped, the state is rendered again, to the same bytes
    client.app.state.sessions.get(sid).cache.clear_frames()
    assert client.get(f"/api/sessions/{sid}/image").content == painted.content
    assert client.post(f"/api/sessions/{sid}/redo").content == second.content
    for fmt, mime in (("webp", "image/webp"), ("jpeg", "image/jpeg")):
        r = client.get(f"/api/sessions/{sid}/image?format={fmt}")
        assert r.headers["content-type"] == mime and Image.open(io.BytesIO(r.content)).size == (16, 16)


def test_a_stroke_changes_the_picture_only_within_its_reach(client):
    from ganpaint.paint.edit import Stroke
    from ganpaint.paint.footprint import reach_map

    sid = new_session(client)
    blank = np.asarray(Image.open(io.BytesIO(client.get(f"/api/sessions/{sid}/image?format=png").content)))
    stroke = {"concept": "tree", "points": [[0.3, 0.3], [0.5, 0.4]], "radius": 0.1}
    painted = np.asarray(Image.open(io.BytesIO(client.post(f"/api/sessions/{sid}/strokes", json=stroke).content)))
    reach = reach_map([Stroke.from_dict(stroke)], 16).numpy()
    assert (painted[reach == 0] == blank[reach == 0]).all()
    assert (painted[reach == 1] != blank[reach == 1]).any()


def test_delete_stroke_reset_and_forget(client):
    sid = new_session(client)
    blank = client.get(f"/api/sessions/{sid}/image").content
    sky = {"concept": "sky", "points": [[0.8, 0.8]]}
    only_sky = client.post("/api/models/tiny/render", json={"seed": 3, "strokes": [sky]}).content
    client.post(f"/api/sessions/{sid}/strokes", json=TREE_TOP_LEFT)
    both = client.post(f"/api/sessions/{sid}/strokes", json={"concept": "sky", "points": [[0.8, 0.8]]}).content
    assert client.delete(f"/api/sessions/{sid}/strokes/0").content == only_sky
    state = client.get(f"/api/sessions/{sid}").json()
    assert [s["concept"] for s in state["strokes"]] == ["sky"] and state["undo_depth"] == 3
    assert client.post(f"/api/sessions/{sid}/undo").content == both  # deleting is undoable
    assert client.delete(f"/api/sessions/{sid}/strokes/7").status_code == 404
    assert client.post(f"/api/sessions/{sid}/reset").content == blank
    assert client.post(f"/api/sessions/{sid}/undo").content == both
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    for method, path in (("get", ""), ("get", "/image"), ("post", "/undo"), ("delete", "")):
        r = getattr(client, method)(f"/api/sessions/{sid}{path}")
        assert r.status_code == 404 and "unknown session" in r.json()["detail"]


def test_options_are_patched_reported_and_undo_neutral(client):
    sid = new_session(client)
    assert client.get(f"/api/sessions/{sid}").json()["options"] == {"remove_artifacts": False}
    client.post(f"/api/sessions/{sid}/strokes", json=TREE_TOP_LEFT)
    r = client.patch(f"/api/sessions/{sid}", json={"remove_artifacts": True})
    assert r.status_code == 200 and r.json()["options"] == {"remove_artifacts": True}
    assert r.json()["undo_depth"] == 1  # not a history step
    client.post(f"/api/sessions/{sid}/undo")
    state = client.get(f"/api/sessions/{sid}").json()
    assert state["options"] == {"remove_artifacts": True} and state["undo_depth"] == 0
    assert client.patch(f"/api/sessions/{sid}", json={}).json()["options"] == {"remove_artifacts": True}
    for body in ({"remove_artifacts": "maybe"}, {"remove_artefacts": True}):
        r = client.patch(f"/api/sessions/{sid}", json=body)
        assert r.status_code == 422 and "remove_art" in r.json()["detail"]
    assert client.patch("/api/sessions/nope", json={}).status_code == 404
    assert "patch" in client.get("/openapi.json").json()["paths"]["/api/sessions/{session_id}"]


def test_bad_input_is_4xx_with_a_detail(client):
    sid = new_session(client)
    cases = [
        ({"concept": "unicorn", "points": [[0.5, 0.5]]}, 422, "unknown concept"),
        ({"concept": "tree", "points": [[0.5, 1.5]]}, 422, "less than or equal to 1"),
        ({"concept": "tree"}, 422, "exactly one of 'points' or 'mask'"),
        ({"concept": "tree", "mask": "data:image/png;base64,@@"}, 422, "mask"),
        ({"points": [[0.5, 0.5]]}, 422, "exactly one of 'concept' or 'units'"),
        ({"units": [0, 99999], "points": [[0.5, 0.5]]}, 422, "unit 99999 does not exist"),
    ]
    for body, status, words in cases:
        r = client.post(f"/api/sessions/{sid}/strokes", json=body)
        assert r.status_code == status and words in r.json()["detail"], (body, r.text)
    r = client.post(f"/api/sessions/{sid}/strokes", content=b'{"concept": "tree", "points": [[NaN, 0.5]]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert client.post("/api/sessions", json={"model": "tiny", "seed": -1}).status_code == 422
    assert client.post("/api/models/tiny/render", json={"strokes": []}).status_code == 422
    assert "z must have 512" in client.post("/api/models/tiny/render", json={"z": [0.1, 0.2]}).json()["detail"]
    assert client.get(f"/api/sessions/{sid}/image?format=gif").status_code == 422
    big = b'{"seed": 1, "strokes": [], "pad": "' + b"x" * (5 * 2**20) + b'"}'
    r = client.post("/api/models/tiny/render", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit still holds while streaming
        for _ in range(6):
            yield b" " * 2**20

    r = client.post("/api/models/tiny/render", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_stateless_render_is_deterministic_and_matches_sessions_and_cli(client, tiny, tmp_path):
    body = {"seed": 11, "strokes": [TREE_TOP_LEFT, {"concept": "sky", "mode": "remove", "points": [[0.7, 0.2]]}]}
    a = client.post("/api/models/tiny/render", json=body)
    assert a.headers["content-type"] == "image/png"
    assert client.post("/api/models/tiny/render", json=body).content == a.content
    z = tiny.z_for_seed(11)[0].tolist()
    assert client.post("/api/models/tiny/render", json={**body, "seed": None, "z": z}).content == a.content
    sid = new_session(client, seed=11)
    client.post(f"/api/sessions/{sid}/strokes", json=body["strokes"][0])
    assert client.post(f"/api/sessions/{sid}/strokes", json=body["strokes"][1]).content == a.content
    # `ganpaint render` from a saved copy of the same model writes the same bytes
    folder = tmp_path / "tiny"
    folder.mkdir()
    save_file(tiny.generator.state_dict(), str(folder / "generator.safetensors"))
    tiny.table.save(folder / "concepts.json")
    (folder / "model.json").write_text(json.dumps({"id": "tiny", "weights": "generator.safetensors"}))
    (tmp_path / "strokes.json").write_text(json.dumps(body["strokes"]))
    cli_main(["render", "--model", str(folder), "--seed", "11", "--strokes", str(tmp_path / "strokes.json"),
              "--out", str(tmp_path / "out.png")])
    assert (tmp_path / "out.png").read_bytes() == a.content


def test_models_load_from_folder_and_missing_weights_are_skipped(tiny, tmp_path, caplog):
    from server.app import create_app
    from server.settings import Settings

    good = tmp_path / "good"
    good.mkdir()
    save_file(tiny.generator.state_dict(), str(good / "generator.safetensors"))
    (good / "model.json").write_text(json.dumps({"id": "good"}))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "model.json").write_text(json.dumps({"id": "empty"}))
    settings = Settings(models_dir=tmp_path, models=["good", "empty", "absent"], device="cpu",
                        frontend_dir=tmp_path / "no-frontend")
    with caplog.at_level(logging.WARNING, "ganpaint.server"), TestClient(create_app(settings)) as c:
        assert list(c.get("/api/health").json()["models"]) == ["good"]
        assert c.post("/api/sessions", json={}).json()["model"] == "good"
        assert "No frontend" in c.get("/").text
    assert "'empty' skipped" in caplog.text and "'absent' skipped" in caplog.text


def test_session_cap_and_ttl_over_http(make_app):
    now = [0.0]
    app = make_app(max_sessions=2, session_ttl_s=60)
    app.state.sessions.clock = lambda: now[0]
    with TestClient(app) as c:
        ids = [new_session(c, seed=i) for i in range(3)]
        assert c.get(f"/api/sessions/{ids[0]}").status_code == 404  # the oldest idle session made room
        assert c.get(f"/api/sessions/{ids[2]}").status_code == 200
        now[0] = 1000
        assert c.get(f"/api/sessions/{ids[2]}").status_code == 404


class FakeSegmenter:
    id = "fake"
    labels = ["sky", "grass"]

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        out = torch.zeros(n, h, w, dtype=torch.long)
        out[:, h // 2 :] = 1  # bottom half is grass
        return out


def test_segment(make_app, tiny):
    def upload(c, data, name="x.png"):
        return c.post("/api/models/tiny/segment", files={"file": (name, data, "image/png")})

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 128, 255)).save(buf, "PNG")
    with TestClient(make_app()) as c:
        r = upload(c, buf.getvalue())
        assert r.status_code == 404 and r.json()["detail"] == "model 'tiny' has no segmenter"
    tiny.segmenter = FakeSegmenter()
    with TestClient(make_app(max_upload_bytes=2048)) as c:
        out = upload(c, buf.getvalue()).json()
        assert out["labels"] == ["sky", "grass"] and out["fractions"] == {"sky": 0.5, "grass": 0.5}
        import base64

        seg = np.asarray(Image.open(io.BytesIO(base64.b64decode(out["map"].split(",", 1)[1]))))
        assert seg.shape == (16, 16) and seg[0, 0] == 0 and seg[-1, 0] == 1
        assert upload(c, b"not an image").status_code == 415
        assert upload(c, b"x" * 4096).status_code == 413
        assert c.post("/api/models/tiny/segment").status_code == 422


def _bad_images() -> dict[str, tuple[bytes, int]]:
    def save(im, fmt, **kw) -> bytes:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    good = save(Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)), "PNG")
    small = Image.new("RGB", (8, 8), (200, 30, 30))
    return {
        "bomb": (save(Image.new("L", (6000, 6000), 0), "PNG", optimize=True), 413),
        "truncated": (good[: len(good) // 2], 422),
        "gif": (save(small, "GIF"), 415), "bmp": (save(small, "BMP"), 415), "tiff": (save(small, "TIFF"), 415),
        "text": (b"not an image", 415),
    }


def test_segment_decodes_exactly_like_photo_uploads(make_app, tiny):
    tiny.segmenter = FakeSegmenter()
    with TestClient(make_app(adapt_h_steps=0, adapt_coarse_steps=0, adapt_fine_steps=0, client_upload_burst=20)) as c:
        for name, (data, status) in _bad_images().items():
            seg = c.post("/api/models/tiny/segment", files={"file": ("x.png", data, "image/png")})
            up = c.post("/api/photos", files={"file": ("x.png", data, "image/png")})
            assert (name, seg.status_code, up.status_code) == (name, status, status), seg.text
            assert seg.json()["detail"] == up.json()["detail"]


def test_upscaled_download_of_a_generated_picture(make_app):
    with TestClient(make_app(adapt_h_steps=0, adapt_coarse_steps=0, adapt_fine_steps=0)) as c:
        sid = new_session(c)
        small = png(c.get(f"/api/sessions/{sid}/image?view=model"))
        r = c.get(f"/api/sessions/{sid}/image?view=model&scale=4")
        big = png(r)
        assert small.shape == (16, 16, 3) and big.shape == (64, 64, 3) and "4x" in r.headers["x-upscaled"]
        expected = Image.fromarray(small.astype(np.uint8)).resize((64, 64), Image.Resampling.LANCZOS)
        assert (big == np.asarray(expected)).all()  # the same picture, only larger (PNG: lossless)
        assert c.get(f"/api/sessions/{sid}/image?scale=9").status_code == 422
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (0, 128, 255)).save(buf, "PNG")
        photo = c.post("/api/photos", files={"file": ("p.png", buf.getvalue(), "image/png")}).json()["session"]
        r = c.get(f"/api/sessions/{photo}/image?scale=2")
        assert r.status_code == 422 and "view=model" in r.json()["detail"]
