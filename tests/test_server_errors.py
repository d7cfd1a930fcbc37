"""Errors name what was wrong with an input without echoing the input: a short excerpt at most."""
from __future__ import annotations

import json

import pytest

HUGE = "x" * 1_000_000


@pytest.mark.parametrize("stroke", [
    {"concept": HUGE, "points": [[0.5, 0.5]]},
    {"concept": "tree", "mode": HUGE, "points": [[0.5, 0.5]]},
    {"concept": "tree", "strength": HUGE, "points": [[0.5, 0.5]]},
    {"concept": "tree", "mask": "data:image/png;base64," + HUGE},
    {"units": [HUGE], "points": [[0.5, 0.5]]},
])
def test_websocket_errors_are_short_whatever_the_input(client, stroke):
    sid = client.post("/api/sessions", json={"model": "tiny", "seed": 1}).json()["id"]
    with client.websocket_connect(f"/api/sessions/{sid}/ws?format=png") as ws:
        ws.send_text(json.dumps({"type": "stroke", "stroke": stroke, "final": True}))
        while True:
            m = ws.receive()
            if m.get("text") and json.loads(m["text"])["type"] == "error":
                detail = json.loads(m["text"])["detail"]
                break
    assert 10 < len(detail) <= 300, detail[:400]
    r = client.post(f"/api/sessions/{sid}/strokes", json=stroke)  # REST says it as briefly
    assert r.status_code in (413, 422) and len(r.text) <= 2000, r.text[:400]


def test_unknown_message_types_and_fields_are_cut_short(client):
    sid = client.post("/api/sessions", json={"model": "tiny", "seed": 1}).json()["id"]
    with client.websocket_connect(f"/api/sessions/{sid}/ws?format=png") as ws:
        for msg in ({"type": HUGE}, {"type": "delete", "index": HUGE}, {"type": "seed", "seed": [HUGE]}):
            ws.send_text(json.dumps(msg))
            while not ((m := ws.receive()).get("text") and json.loads(m["text"])["type"] == "error"):
                pass
            assert len(json.loads(m["text"])["detail"]) <= 300
