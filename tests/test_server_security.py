"""Hardening at the edges: methods, hosts, origins, headers, slow requests."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/api/sessions", "POST"),
    ("GET", "/api/models/tiny/render", "POST"),
    ("PATCH", "/api/health", "GET"),
    ("POST", "/api/jobs/0123456789abcdef", "GET, DELETE"),
])
def test_wrong_method_on_an_api_path_is_405_with_its_methods(client, method, path, allow):
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allow, (r.status_code, r.headers, r.text)
    assert method in r.json()["detail"]


def test_unknown_api_path_is_a_json_404_and_the_page_still_loads(client):
    r = client.put("/api/nothing/here")
    assert r.status_code == 404 and r.json()["detail"].startswith("no API route")
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/").status_code == 200 and "text/html" in client.get("/").headers["content-type"]
    assert "/api/{rest}" not in str(client.get("/openapi.json").json()["paths"])


# ----------------------------------------------------------------------------------------------- hosts
def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("bind, host, ok", [
    ("127.0.0.1", "localhost:8000", True), ("127.0.0.1", "127.0.0.1:8000", True), ("127.0.0.1", "[::1]:8000", True),
    ("127.0.0.1", "rebound.example:8000", False), ("::1", "evil.example", False),
    ("0.0.0.0", "paint.example.org", True),
])
def test_host_allow_list_defaults_to_localhost_names_on_loopback(make_app, bind, host, ok):
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    with TestClient(make_app(host=bind, allowed_hosts=None), base_url=f"http://{host}") as c:
        r = c.get("/api/health")
        assert r.status_code == (200 if ok else 400) and (ok or "Host" in r.json()["detail"])
        m = c.app.state.models["tiny"]
        sid = c.app.state.sessions.create("tiny", m, seed=1, z=None, h=m.features(m.z_for_seed(1))).id
        ws_url = f"ws://{host}/api/sessions/{sid}/ws?format=png"  # the test client's default host is its own
        if ok:
            with c.websocket_connect(ws_url) as ws:
                assert ws.receive_json()["type"] == "state"
        else:
            with pytest.raises(WebSocketDisconnect):
                with c.websocket_connect(ws_url) as ws:
                    ws.receive_json()


def test_allowed_hosts_setting_with_wildcards(make_app):
    from fastapi.testclient import TestClient

    app = make_app(allowed_hosts=["*.example.org"])
    assert TestClient(app, base_url="http://paint.example.org").get("/api/health").status_code == 200
    assert TestClient(app, base_url="http://example.org.evil").get("/api/health").status_code == 400


# --------------------------------------------------------------------------------------------- headers
def test_security_headers_on_every_response(client):
    sid = client.post("/api/sessions", json={"model": "tiny", "seed": 1}).json()["id"]
    for r in (client.get("/"), client.get("/api/health"), client.get(f"/api/sessions/{sid}/image"),
              client.get("/api/nope"), client.post("/api/sessions", json={"seed": "x"}), client.get("/js/app.js")):
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY", r.url
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"
    page_csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in page_csp and "unsafe" not in page_csp
    assert "cdn.jsdelivr.net" in client.get("/docs").headers["content-security-policy"]  # Swagger UI still loads


# --------------------------------------------------------------------------------------------- origins
def test_uploads_and_changes_from_other_sites_pages_are_refused(client):
    files = {"file": ("p.png", _png(), "image/png")}
    evil = {"Origin": "http://evil.example"}
    r = client.post("/api/photos", files=files, headers=evil)
    assert r.status_code == 403 and "other sites" in r.json()["detail"]
    assert len(client.app.state.sessions) == 0
    assert client.post("/api/sessions", json={"model": "tiny"}, headers=evil).status_code == 403
    assert client.get("/api/health", headers=evil).status_code == 200  # reading is what CORS governs
    same = client.post("/api/photos", files=files, headers={"Origin": "http://testserver"})
    assert same.status_code == 202, same.text
    assert client.post("/api/photos", files=files).status_code == 202  # no Origin: not a browser page


def test_websocket_from_another_sites_page_is_refused(client):
    from starlette.websockets import WebSocketDisconnect

    sid = client.post("/api/sessions", json={"model": "tiny", "seed": 1}).json()["id"]
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(f"/api/sessions/{sid}/ws", headers={"Origin": "http://evil.example"}) as ws:
            ws.receive_json()
    assert refused.value.code == 1008
    with client.websocket_connect(f"/api/sessions/{sid}/ws", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "state"


def test_cors_origins_setting_lets_a_named_site_in(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(cors_origins=["https://tools.example.org"])) as c:
        r = c.post("/api/sessions", json={"model": "tiny"}, headers={"Origin": "https://tools.example.org"})
        assert r.status_code == 201
        assert r.headers["access-control-allow-origin"] == "https://tools.example.org"


# -------------------------------------------------------------------------------------------- timeouts
def _raw(url: str, data: bytes, wait_s: float = 5.0) -> tuple[bytes, float]:
    """Send `data` on a fresh connection; what comes back until the server closes it, and when it did."""
    import socket
    import time

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as s:
        t0 = time.monotonic()
        s.sendall(data)
        got = b""
        try:
            while chunk := s.recv(4096):
                got += chunk
        except TimeoutError:
            return got + b"<still open>", time.monotonic() - t0
        return got, time.monotonic() - t0


def test_half_sent_headers_and_slow_bodies_time_out(make_app):
    from server.testing import serve_in_thread

    with serve_in_thread(make_app(header_timeout_s=0.5, body_timeout_s=0.5)) as url:
        got, took = _raw(url, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert got.startswith(b"HTTP/1.1 408") and took < 3, (got, took)
        body = b'{"model": "tiny", "seed": 1}'
        got, took = _raw(url, b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
        assert got.startswith(b"HTTP/1.1 408") and b"did not arrive" in got and took < 3, (got, took)
        # a request in time, on a kept-alive connection, then the next one half sent: that one times out
        ok = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        got, took = _raw(url, ok + b"GET /api/health HTTP/1.1\r\nHost: 12")
        assert got.startswith(b"HTTP/1.1 200") and got.count(b"HTTP/1.1 408") == 1 and took < 3, (got, took)
