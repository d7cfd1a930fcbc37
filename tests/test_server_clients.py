"""Per-client limits: a flood from one address gets 429 + Retry-After, other addresses keep working."""
from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from starlette.testclient import WebSocketDenialResponse

from server.clients import Clients, TooMany
from server.settings import Settings


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def test_a_session_flood_gets_429_and_does_not_push_out_an_idle_user(make_app):
    app = make_app(max_sessions=16, client_session_burst=5, client_sessions_per_min=6)
    user = TestClient(app, client=("10.0.0.1", 1000))
    flood = TestClient(app, client=("10.0.0.66", 1000))
    with user:
        mine = user.post("/api/sessions", json={"model": "tiny", "seed": 4}).json()["id"]
        answers = [flood.post("/api/sessions", json={"model": "tiny"}) for _ in range(40)]
        codes = [r.status_code for r in answers]
        assert codes[:5] == [201] * 5 and set(codes[5:]) == {429}
        refused = answers[-1]
        assert 1 <= int(refused.headers["retry-after"]) <= 10 and "too many new sessions" in refused.json()["detail"]
        assert user.get(f"/api/sessions/{mine}").status_code == 200  # still there
        assert user.post("/api/sessions", json={"model": "tiny"}).status_code == 201  # others keep working
        assert "429" in user.get("/openapi.json").json()["paths"]["/api/sessions"]["post"]["responses"]


def test_uploads_are_metered_per_client(make_app):
    app = make_app(client_upload_burst=2, client_uploads_per_min=1, adapt_h_steps=0, adapt_coarse_steps=0,
                   adapt_fine_steps=0)
    a, b = TestClient(app, client=("10.0.0.1", 1)), TestClient(app, client=("10.0.0.2", 1))
    with a:
        files = {"file": ("p.png", _png(), "image/png")}
        assert [a.post("/api/photos", files=files).status_code for _ in range(3)] == [202, 202, 429]
        r = a.post("/api/models/tiny/segment", files=files)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 30
        assert b.post("/api/photos", files=files).status_code == 202


def test_sockets_per_client_are_capped(make_app):
    app = make_app(client_sockets=2)
    a, b = TestClient(app, client=("10.0.0.1", 1)), TestClient(app, client=("10.0.0.2", 1))
    with a:
        sid = a.post("/api/sessions", json={"model": "tiny", "seed": 1}).json()["id"]
        url = f"/api/sessions/{sid}/ws?format=png"
        with a.websocket_connect(url) as w1, a.websocket_connect(url) as w2:
            assert w1.receive_json()["type"] == w2.receive_json()["type"] == "state"
            with pytest.raises(WebSocketDenialResponse) as refused:
                with a.websocket_connect(url):
                    pass
            assert refused.value.status_code == 429 and "retry-after" in refused.value.headers
            with b.websocket_connect(url) as other:  # another address is not affected
                assert other.receive_json()["type"] == "state"
        assert app.state.clients.sockets == {}
        with a.websocket_connect(url) as again:  # closing frees the slots
            assert again.receive_json()["type"] == "state"


def test_buckets_refill_at_their_rate():
    now = [0.0]
    c = Clients(Settings(client_session_burst=2, client_sessions_per_min=30), clock=lambda: now[0])
    c.take("a", "sessions"), c.take("a", "sessions")
    with pytest.raises(TooMany) as e:
        c.take("a", "sessions")
    assert e.value.retry_after == 2  # one token every 2 s
    now[0] = 2.0
    c.take("a", "sessions")
    c.take("b", "sessions")
