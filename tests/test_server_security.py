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
