"""Sessions outlive the process: a restarted server (SQLite) or another replica (shared store) goes on
with the same strokes, history, options and photo; deleted sessions stay gone; a failing store is a 503."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.persistence import MemoryStore, StoreError
from test_server_photos import FAST, ENDLESS, _png, _scene, _upload, wait_job

STROKE = {"concept": "tree", "points": [[0.3, 0.4], [0.6, 0.5]], "radius": 0.1}


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path}/sessions.sqlite3"


def _state(c: TestClient, sid: str) -> dict:
    r = c.get(f"/api/sessions/{sid}")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_restarted_server_keeps_strokes_history_and_options(make_app, store_url):
    with TestClient(make_app(store=store_url)) as c:
        sid = c.post("/api/sessions", json={"seed": 5}).json()["id"]
        for x in (0.2, 0.5, 0.8):
            assert c.post(f"/api/sessions/{sid}/strokes", json={**STROKE, "points": [[x, 0.5]]}).status_code == 200
        assert c.post(f"/api/sessions/{sid}/undo").status_code == 200
        assert c.patch(f"/api/sessions/{sid}", json={"remove_artifacts": True}).status_code == 200
        gone = c.post("/api/sessions", json={"seed": 6}).json()["id"]
        assert c.delete(f"/api/sessions/{gone}").status_code == 204
        before, image = _state(c, sid), c.get(f"/api/sessions/{sid}/image").content
    with TestClient(make_app(store=store_url)) as c:  # a new process: nothing in memory
        after = _state(c, sid)
        assert after == before
        assert after["undo_depth"] == 2 and after["redo_depth"] == 1 and len(after["strokes"]) == 2
        assert c.get(f"/api/sessions/{sid}/image").content == image
        assert c.post(f"/api/sessions/{sid}/redo").status_code == 200
        assert len(_state(c, sid)["strokes"]) == 3
        assert c.get(f"/api/sessions/{gone}").status_code == 404


def test_a_session_set_aside_for_others_comes_back(make_app, store_url):
    with TestClient(make_app(store=store_url, max_sessions=2)) as c:
        first = c.post("/api/sessions", json={"seed": 1}).json()["id"]
        c.post(f"/api/sessions/{first}/strokes", json=STROKE)
        for seed in (2, 3):
            c.post("/api/sessions", json={"seed": seed})
        assert first not in [s.id for s in c.app.state.sessions]  # evicted from memory ...
        assert len(_state(c, first)["strokes"]) == 1  # ... but not lost


def test_an_evicted_photo_session_leaves_nothing_of_itself_in_memory(make_app, store_url):
    with TestClient(make_app(store=store_url, max_sessions=2, **FAST)) as c:
        up = _upload(c, _png(_scene())).json()
        assert wait_job(c, up["job"])["state"] == "done"
        sid = up["session"]
        persistence = c.app.state.sessions.persistence
        assert sid in persistence._photo_written  # its photo record holds this adaptation
        for seed in (2, 3):
            c.post("/api/sessions", json={"seed": seed})
        assert sid not in [s.id for s in c.app.state.sessions]  # evicted ...
        assert sid not in persistence._photo_written and sid not in persistence._touched  # ... its adapted layers too
        assert _state(c, sid)["source"]["status"] == "ready"  # and it comes back from the store
        assert sid in persistence._photo_written


def test_a_photo_session_comes_back_adapted_with_its_edits(make_app, store_url):
    with TestClient(make_app(store=store_url, **FAST)) as c:
        up = _upload(c, _png(_scene())).json()
        assert up["job"].startswith(up["session"])  # a load balancer routing by session id finds the job
        assert wait_job(c, up["job"])["state"] == "done"
        sid = up["session"]
        assert c.post(f"/api/sessions/{sid}/strokes", json=STROKE).status_code == 200
        before = _state(c, sid)
        composite = c.get(f"/api/sessions/{sid}/image?view=composite").content
        model_view = c.get(f"/api/sessions/{sid}/image?view=model").content
    with TestClient(make_app(store=store_url, **FAST)) as c:
        after = _state(c, sid)
        assert after["source"]["status"] == "ready" and after == before
        assert c.get(f"/api/sessions/{sid}/image?view=model").content == model_view
        assert c.get(f"/api/sessions/{sid}/image?view=composite").content == composite


def test_a_photo_still_adapting_at_a_crash_comes_back_as_interrupted(make_app, store_url, tmp_path):
    from server.persistence import SQLiteStore

    with TestClient(make_app(store=store_url, **ENDLESS)) as c:
        up = _upload(c, _png(_scene())).json()
        sid = up["session"]
        record = c.app.state.sessions.persistence.records.get(sid)  # what a kill -9 now would leave behind
    crashed = SQLiteStore(tmp_path / "crashed.sqlite3")
    crashed.put(sid, record, ttl_s=600)
    crashed.close()
    with TestClient(make_app(store=f"sqlite:///{tmp_path}/crashed.sqlite3", **FAST)) as c:
        src = _state(c, sid)["source"]
        assert src["kind"] == "photo" and src["status"] == "failed" and "upload it again" in src["error"]
        r = c.post(f"/api/sessions/{sid}/strokes", json=STROKE)
        assert r.status_code == 409 and "upload it again" in r.json()["detail"]


class _BrokenStore(MemoryStore):
    def put(self, sid, data, *, ttl_s):
        raise StoreError("disk full")


def test_a_change_the_store_cannot_take_is_a_503_not_a_silent_loss(make_app):
    app = make_app(store="memory:")
    with TestClient(app) as c:
        sid = c.post("/api/sessions", json={"seed": 2}).json()["id"]
        app.state.sessions.persistence.records = _BrokenStore()
        r = c.post(f"/api/sessions/{sid}/strokes", json=STROKE)
        assert r.status_code == 503 and "store" in r.json()["detail"]
        r = c.post("/api/sessions", json={"seed": 3})
        assert r.status_code == 503


def test_two_servers_sharing_a_store_serve_one_session(make_app, tmp_path):
    shared = f"sqlite:///{tmp_path}/shared.sqlite3"
    with TestClient(make_app(store=shared)) as a, TestClient(make_app(store=shared)) as b:
        sid = a.post("/api/sessions", json={"seed": 9}).json()["id"]
        a.post(f"/api/sessions/{sid}/strokes", json=STROKE)
        assert len(_state(b, sid)["strokes"]) == 1  # b restores what a wrote
        assert b.get(f"/api/sessions/{sid}/image").content == a.get(f"/api/sessions/{sid}/image").content
