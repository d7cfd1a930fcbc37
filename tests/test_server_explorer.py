"""The explorer's routes: unit inspector, artifacts, placement, omissions (tiny planted models)."""
import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fakes import RedTreeSegmenter
from planted import context_model


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANPAINT_HOME", str(tmp_path / "home"))


@pytest.fixture
def planted_client(make_app):
    m = context_model()
    m.id, m.segmenter = "ctx", RedTreeSegmenter()
    with TestClient(make_app(models={"ctx": m})) as c:
        yield c


def _ready(client, path, model):
    r = client.get(path)
    if r.status_code == 202:
        body = r.json()
        assert body["state"] == "running" and 0 <= body["progress"] <= 1 and r.headers["retry-after"]
        name = path.split("/")[4].split("?")[0]
        client.app.state.analyses.wait(model, "units" if name == "units" else name, timeout=120)
        r = client.get(path)
    return r


def test_units_are_computed_once_then_served(planted_client):
    r = _ready(planted_client, "/api/models/ctx/units", "ctx")
    assert r.status_code == 200
    units = r.json()
    assert len(units) == 8 and units[0]["label"] == "tree" and units[0]["iou"] > 0.2
    assert all(u["iou"] < units[0]["iou"] for u in units[2:] if u["label"] == "tree")
    assert set(units[0]) == {"unit", "label", "iou", "q99", "artifact", "brushes"}
    d = planted_client.get("/api/models/ctx/units/0").json()
    assert d["ious"]["tree"] == units[0]["iou"] and len(d["examples"]) == 6
    assert d["examples_png"] == "/api/models/ctx/units/0/examples.png"
    png = planted_client.get(d["examples_png"] + "?count=3")
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (3 * 128 + 2 * 4, 128)
    assert planted_client.get("/api/models/ctx/units/8").status_code == 404
    assert planted_client.get("/api/models/ctx/units/-1").status_code == 422
    assert planted_client.get("/api/models/nope/units").status_code == 404


def test_units_of_a_model_without_segmenter_are_unlabelled(client):
    r = _ready(client, "/api/models/tiny/units", "tiny")
    assert r.status_code == 200 and all(u["label"] is None for u in r.json())


def test_placement_finds_the_ground_stateless_and_in_a_session(planted_client):
    m = planted_client.app.state.models["ctx"]
    ground = (m.features(m.z_for_seed(3))[0, 1] > 0).numpy()
    r = planted_client.post("/api/models/ctx/placement", json={"seed": 3, "concept": "tree"})
    assert r.status_code == 200
    grid = np.array(r.json()["grid"])
    assert grid.shape == (8, 8) and grid[ground].mean() > 0.9 and grid[~ground].max() == 0
    im = Image.open(io.BytesIO(base64.b64decode(r.json()["map"].split(",", 1)[1])))
    assert im.mode == "RGBA" and im.size == (16, 16)
    sid = planted_client.post("/api/sessions", json={"model": "ctx", "seed": 3}).json()["id"]
    s = planted_client.get(f"/api/sessions/{sid}/placement", params={"concept": "tree"})
    assert s.status_code == 200 and s.json()["grid"] == r.json()["grid"]
    # a stroke that removes the ground everywhere leaves nowhere for a tree
    planted_client.post(f"/api/sessions/{sid}/strokes", json={"units": [1], "mode": "remove", "points": [[0, 0.5], [1, 0.5]], "radius": 0.5})
    assert np.array(planted_client.get(f"/api/sessions/{sid}/placement?concept=tree").json()["grid"]).max() == 0


def test_placement_errors_are_readable(planted_client, client):
    r = planted_client.post("/api/models/ctx/placement", json={"seed": 3, "concept": "dragon"})
    assert r.status_code == 422 and "dragon" in r.json()["detail"]
    assert planted_client.post("/api/models/ctx/placement", json={"concept": "tree"}).status_code == 422
    r = client.post("/api/models/tiny/placement", json={"seed": 3, "concept": "tree"})
    assert r.status_code == 409 and "segmenter" in r.json()["detail"]
    assert planted_client.get("/api/sessions/nope/placement?concept=tree").status_code == 404


def test_artifacts_are_served_once_computed_never_computed_by_a_request(client):
    r = client.get("/api/models/tiny/artifacts")
    assert r.status_code == 409 and "ganpaint artifacts --model tiny" in r.json()["detail"]


def test_session_omissions_need_a_photo(planted_client):
    sid = planted_client.post("/api/sessions", json={"model": "ctx", "seed": 3}).json()["id"]
    r = planted_client.get(f"/api/sessions/{sid}/omissions")
    assert r.status_code == 409 and "photo" in r.json()["detail"]


def test_explorer_routes_are_in_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/api/models/{model}/units", "/api/models/{model}/units/{unit}", "/api/models/{model}/units/{unit}/examples.png",
              "/api/models/{model}/artifacts", "/api/models/{model}/placement", "/api/sessions/{session_id}/placement",
              "/api/models/{model}/omissions", "/api/sessions/{session_id}/omissions"):
        assert p in paths, p


@pytest.fixture
def artifact_client(make_app):
    """The unit-image model with its artifact ranking stored: unit 2 (the blue channel) is the artifact."""
    from fakes import unit_image_model
    from planted import blue_artifact_score
    from ganpaint.dissect.analysis_store import AnalysisStore
    from ganpaint.dissect.artifact_units import ArtifactConfig, rank_artifact_units

    m = unit_image_model()
    ranking = rank_artifact_units(m, blue_artifact_score, config=ArtifactConfig(samples=24, batch=12))
    AnalysisStore.for_model(m).save("artifacts.json", ranking)
    with TestClient(make_app(models={"units": m})) as c:
        yield c


def _img(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    return np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), dtype=np.int16)


def test_remove_artifacts_renders_without_them_and_strokes_and_undo_work_as_before(artifact_client):
    c = artifact_client
    assert c.get("/api/models/units/artifacts").json()["artifacts"] == [2]
    units = _ready(c, "/api/models/units/units", "units").json()
    assert [u["unit"] for u in units if u["artifact"]] == [2]  # the inspector flags what the ranking found
    sid = c.post("/api/sessions", json={"model": "units", "seed": 5}).json()["id"]
    plain = _img(c.get(f"/api/sessions/{sid}/image?format=png"))
    assert plain[..., 2].std() > 10  # unit 2 paints the blue channel
    r = c.patch(f"/api/sessions/{sid}", json={"remove_artifacts": True})
    assert r.status_code == 200 and r.json()["options"]["remove_artifacts"] is True
    clean = _img(c.get(f"/api/sessions/{sid}/image?format=png"))
    assert (clean[..., 2] == 127).all() or np.abs(clean[..., 2] - 127.5).max() <= 1  # tanh(0): flat blue
    assert np.array_equal(clean[..., :2], plain[..., :2])  # the other units untouched
    stroke = {"units": [0], "mode": "draw", "points": [[0.5, 0.5]], "radius": 0.2}
    painted = _img(c.post(f"/api/sessions/{sid}/strokes", json=stroke))
    assert (painted[..., 0] != clean[..., 0]).any() and np.abs(painted[..., 2] - 127.5).max() <= 1
    undone = _img(c.post(f"/api/sessions/{sid}/undo"))
    assert np.array_equal(undone, clean)
    c.patch(f"/api/sessions/{sid}", json={"remove_artifacts": False})
    assert np.array_equal(_img(c.get(f"/api/sessions/{sid}/image?format=png")), plain)


def test_remove_artifacts_over_the_websocket(artifact_client):
    c = artifact_client
    sid = c.post("/api/sessions", json={"model": "units", "seed": 5}).json()["id"]
    with c.websocket_connect(f"/api/sessions/{sid}/ws?format=png") as ws:
        first = [ws.receive() for _ in range(2)]  # state + first frame, in either order
        ws.send_json({"type": "options", "remove_artifacts": True})
        got = {}
        while "bytes" not in got or "state" not in got:
            m = ws.receive()
            if m.get("bytes"):
                got["bytes"] = m["bytes"]
            elif m.get("text") and '"state"' in m["text"]:
                got["state"] = m["text"]
        frame = np.asarray(Image.open(io.BytesIO(got["bytes"])).convert("RGB"), dtype=np.int16)
        assert np.abs(frame[..., 2] - 127.5).max() <= 1 and '"remove_artifacts": true' in got["state"]
    assert first


def test_remove_artifacts_without_a_ranking_is_kept_and_changes_nothing(planted_client):
    c = planted_client
    sid = c.post("/api/sessions", json={"model": "ctx", "seed": 3}).json()["id"]
    before = c.get(f"/api/sessions/{sid}/image?format=png").content
    r = c.patch(f"/api/sessions/{sid}", json={"remove_artifacts": True})
    assert r.status_code == 200 and r.json()["options"]["remove_artifacts"] is True
    assert c.get(f"/api/sessions/{sid}/image?format=png").content == before
