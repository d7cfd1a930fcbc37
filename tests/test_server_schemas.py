"""Request shapes: numbers are numbers (no true/false), and the OpenAPI states the exactly-one-of rules
that the server enforces, so a body is schema-valid exactly when the server accepts its shape."""
from __future__ import annotations

import jsonschema_rs  # schemathesis' own validator
import pytest
from fastapi.testclient import TestClient

STROKE = {"concept": "tree", "points": [[0.2, 0.8]]}


@pytest.mark.parametrize("path, body", [
    ("/api/sessions", {"model": "tiny", "seed": False}),
    ("/api/models/tiny/render", {"seed": True}),
    ("/api/models/tiny/render", {"z": [True] * 8}),
    ("/api/models/tiny/render", {"seed": 1, "strokes": [{**STROKE, "points": [[True, 0.5]]}]}),
    ("/api/models/tiny/render", {"seed": 1, "strokes": [{**STROKE, "strength": True}]}),
    ("/api/models/tiny/render", {"seed": 1, "strokes": [{**STROKE, "radius": False}]}),
    ("/api/models/tiny/render", {"seed": 1, "strokes": [{"units": [True], "points": [[0.5, 0.5]]}]}),
])
def test_rest_refuses_booleans_as_numbers(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 422 and "true/false" in r.json()["detail"], r.text


def test_a_boolean_coordinate_is_refused_on_a_session_like_on_its_websocket(client):
    sid = client.post("/api/sessions", json={"model": "tiny", "seed": 1}).json()["id"]
    stroke = {"concept": "tree", "points": [[True, 0.5]]}
    assert client.post(f"/api/sessions/{sid}/strokes", json=stroke).status_code == 422
    with client.websocket_connect(f"/api/sessions/{sid}/ws?format=png") as ws:
        ws.send_json({"type": "stroke", "stroke": stroke, "final": True})
        while '"error"' not in ((m := ws.receive()).get("text") or ""):  # frames (bytes) may come first
            pass
    assert client.get(f"/api/sessions/{sid}").json()["strokes"] == []  # neither stored [1.0, 0.5]


def _validator(client, name: str) -> jsonschema_rs.Draft202012Validator:
    doc = client.get("/openapi.json").json()
    return jsonschema_rs.Draft202012Validator({"$ref": f"#/components/schemas/{name}", **doc})


@pytest.mark.parametrize("name, path, body", [
    ("RenderIn", "/api/models/tiny/render", {}),
    ("RenderIn", "/api/models/tiny/render", {"seed": 1}),
    ("RenderIn", "/api/models/tiny/render", {"seed": 1, "z": None}),
    ("RenderIn", "/api/models/tiny/render", {"seed": 1, "z": [0.0] * 8}),
    ("RenderIn", "/api/models/tiny/render", {"z": [0.0] * 8}),
    ("SessionIn", "/api/sessions", {}),
    ("SessionIn", "/api/sessions", {"seed": 2, "z": [0.0] * 8}),
    ("SessionIn", "/api/sessions", {"seed": 2, "z": None}),
    ("StrokeIn", "strokes", {"points": [[0.5, 0.5]]}),
    ("StrokeIn", "strokes", {"concept": "tree", "units": [1], "points": [[0.5, 0.5]]}),
    ("StrokeIn", "strokes", {"concept": "tree", "units": None, "points": [[0.5, 0.5]]}),
    ("StrokeIn", "strokes", {"concept": "tree"}),
    ("StrokeIn", "strokes", {"units": [1, 2], "points": [[0.5, 0.5]], "mask": "data:image/png;base64,AAAA"}),
    ("StrokeIn", "strokes", {"units": [1, 2], "points": [[0.5, 0.5]], "mask": None}),
])
def test_exactly_one_of_rules_are_in_the_openapi_schema(client, tiny, name, path, body):
    schema_valid = _validator(client, name).is_valid(body)
    if path == "strokes":
        sid = client.post("/api/sessions", json={"model": "tiny", "seed": 1}).json()["id"]
        path = f"/api/sessions/{sid}/strokes"
    if "z" in body and body["z"] is not None:
        body = {**body, "z": [0.0] * tiny.generator.config.z_dim}
    r = client.post(path, json={"model": "tiny", **body} if name == "SessionIn" else body)
    assert schema_valid == (r.status_code < 400), (body, r.status_code, r.text)
