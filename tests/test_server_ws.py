"""The painting websocket against a real uvicorn server: frames, state, errors, concurrency, cleanup."""
from __future__ import annotations

import io
import json
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ganpaint.paint.model import PaintModel

STROKE = {"concept": "tree", "radius": 0.1, "points": [[0.2, 0.2], [0.4, 0.4]]}


def ws_url(url: str, sid: str, fmt: str | None = None) -> str:
    return url.replace("http", "ws", 1) + f"/api/sessions/{sid}/ws" + (f"?format={fmt}" if fmt else "")


def session(url: str, seed: int = 3) -> str:
    return httpx.post(url + "/api/sessions", json={"model": "tiny", "seed": seed}).json()["id"]


def recv(ws) -> str | bytes:
    return ws.recv(timeout=10)


def recv_frame(ws) -> tuple[bytes, list[dict]]:
    """Next binary frame, and the JSON messages that came before it."""
    texts = []
    while True:
        m = recv(ws)
        if isinstance(m, bytes):
            return m, texts
        texts.append(json.loads(m))


def opened(url: str, sid: str, fmt: str | None = None):
    ws = connect(ws_url(url, sid, fmt), max_size=None)
    frame, texts = recv_frame(ws)  # on connect: the state, then the current image
    assert [t["type"] for t in texts] == ["state"] and texts[0]["id"] == sid
    return ws, frame


def test_paint_undo_redo_reset_delete_seed(live):
    url, _ = live
    sid = session(url)
    ws, blank = opened(url, sid)
    with ws:
        assert blank[:4] == b"RIFF" and blank[8:12] == b"WEBP"
        ws.send(json.dumps({"type": "stroke", "stroke": STROKE, "final": False}))
        preview, texts = recv_frame(ws)
        assert preview != blank and texts == []  # a preview is not a committed change
        ws.send(json.dumps({"type": "stroke", "stroke": STROKE, "final": True}))
        painted, (state,) = recv_frame(ws)
        assert state["type"] == "state" and state["undo_depth"] == 1 and state["strokes"][0]["concept"] == "tree"
        ws.send(json.dumps({"type": "stroke", "stroke": {"concept": "sky", "points": [[0.8, 0.8]]}}))
        two, _ = recv_frame(ws)
        ws.send('{"type": "undo"}')
        frame, (state,) = recv_frame(ws)
        assert frame == painted and (state["undo_depth"], state["redo_depth"]) == (1, 1)
        ws.send('{"type": "undo"}')
        assert recv_frame(ws)[0] == blank
        ws.send('{"type": "redo"}')
        assert recv_frame(ws)[0] == painted
        ws.send('{"type": "redo"}')
        assert recv_frame(ws)[0] == two
        ws.send('{"type": "delete", "index": 0}')
        frame, (state,) = recv_frame(ws)
        assert [s["concept"] for s in state["strokes"]] == ["sky"]
        ws.send('{"type": "reset"}')
        assert recv_frame(ws)[0] == blank
        # the websocket frame of a state equals the REST image of it
        assert httpx.get(f"{url}/api/sessions/{sid}/image?format=webp").content == blank
        ws.send('{"type": "seed", "seed": 42}')
        frame, (state,) = recv_frame(ws)
        assert state["seed"] == 42 and state["undo_depth"] == 0 and frame != blank


def test_every_malformed_message_gets_an_error_and_the_socket_keeps_painting(live):
    url, app = live
    limit = app.state.settings.max_message_bytes
    sid = session(url)
    ws, _ = opened(url, sid)
    bad = [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"stroke": {}}', "'type'"),
        ('{"type": "paint"}', "unknown message type"),
        ('{"type": "stroke"}', "missing field 'stroke'"),
        ('{"type": "stroke", "stroke": "tree"}', "must be an object"),
        ('{"type": "stroke", "stroke": {"concept": "unicorn", "points": [[0.5, 0.5]]}}', "unknown concept"),
        ('{"type": "stroke", "stroke": {"concept": "tree", "points": [[NaN, 0.5]]}}', "x must be between"),
        ('{"type": "stroke", "stroke": {"concept": "tree", "points": [[0.5, 2.0]]}}', "y must be between"),
        ('{"type": "stroke", "stroke": {"concept": "tree", "points": [[0.5, 0.5, 0.5]]}}', "[x, y] pair"),
        (json.dumps({"type": "stroke", "stroke": {"concept": "tree", "points": [[0.5, 0.5]] * 5000}}),
         "too many points"),
        ('{"type": "stroke", "stroke": {"concept": "tree", "points": [[0.5, 0.5]]}, "final": "yes"}', "'final'"),
        ('{"type": "delete"}', "missing field 'index'"),
        ('{"type": "delete", "index": "0"}', "'index' must be an integer"),
        ('{"type": "delete", "index": 3}', "no stroke 3"),
        ('{"type": "seed", "seed": -5}', "'seed' must be an integer"),
        ('{"type": "undo"}', "nothing to undo"),
        (b"\x00\x01binary", "binary messages are not accepted"),
        ('{"type": "stroke", "pad": "' + "x" * limit + '"}', "larger than"),
        ('[' * 100_000 + ']' * 100_000, "not valid JSON"),
    ]
    with ws:
        for message, words in bad:
            ws.send(message)
            reply = json.loads(recv(ws))
            assert reply["type"] == "error" and words in reply["detail"], (str(message)[:60], reply)
        ws.send(json.dumps({"type": "stroke", "stroke": STROKE}))
        frame, (state,) = recv_frame(ws)
        assert state["undo_depth"] == 1 and len(frame) > 0


def test_previews_match_the_full_render_of_the_same_strokes(live):
    """Previews are rendered by region (only what changed); pixels equal a full render within a level."""
    url, _ = live
    sid = session(url)
    ws, _ = opened(url, sid, "png")
    with ws:
        for k in range(1, 4):
            stroke = {**STROKE, "points": STROKE["points"] + [[0.5, 0.2 * k]]}
            ws.send(json.dumps({"type": "stroke", "stroke": stroke, "final": False}))
            preview = np.asarray(Image.open(io.BytesIO(recv_frame(ws)[0]))).astype(int)
            full = httpx.post(url + "/api/models/tiny/render", json={"seed": 3, "strokes": [stroke]}).content
            assert np.abs(preview - np.asarray(Image.open(io.BytesIO(full))).astype(int)).max() <= 1


def test_bad_connections_are_closed_with_a_reason(live):
    url, _ = live
    with connect(ws_url(url, "0" * 32)) as ws:
        assert "unknown session" in json.loads(recv(ws))["detail"]
        with pytest.raises(ConnectionClosed):
            recv(ws)
        assert ws.close_code == 4404
    sid = session(url)
    with connect(ws_url(url, sid, "gif")) as ws:
        assert "unsupported format" in json.loads(recv(ws))["detail"]


def test_several_sockets_paint_at_once_and_each_gets_its_own_frames(live):
    url, _ = live
    sids = [session(url, seed=s) for s in (1, 2, 3, 4)]
    results, errors = {}, []

    def painter(sid: str, k: int) -> None:
        try:
            ws, _ = opened(url, sid, "png")
            with ws:
                for i in range(6):
                    stroke = {"concept": ["tree", "sky"][i % 2], "points": [[0.1 + 0.1 * i, 0.1 * k + 0.1]]}
                    ws.send(json.dumps({"type": "stroke", "stroke": stroke, "final": i == 5}))
                    frame, _ = recv_frame(ws)
                results[sid] = frame
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=painter, args=(sid, k)) for k, sid in enumerate(sids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    for sid in sids:
        assert results[sid] == httpx.get(f"{url}/api/sessions/{sid}/image?format=png").content
    assert len(set(results.values())) == 4


def test_a_second_socket_on_the_same_session_follows_its_edits(live):
    url, _ = live
    sid = session(url)
    a, _ = opened(url, sid)
    b, _ = opened(url, sid)
    with a, b:
        a.send(json.dumps({"type": "stroke", "stroke": STROKE}))
        fa, _ = recv_frame(a)
        fb, (state,) = recv_frame(b)
        assert fa == fb and state["undo_depth"] == 1
        httpx.post(f"{url}/api/sessions/{sid}/undo")  # REST edits reach open sockets too
        fa0, (state,) = recv_frame(a)
        assert state["undo_depth"] == 0
        assert recv_frame(b)[1][0]["undo_depth"] == 0
        a.send('{"type": "options", "remove_artifacts": true}')  # options reach every socket, as state
        for ws in (a, b):
            frame, (state,) = recv_frame(ws)
            assert state["options"] == {"remove_artifacts": True} and state["undo_depth"] == 0 and frame == fa0
        r = httpx.patch(f"{url}/api/sessions/{sid}", json={"remove_artifacts": False})
        assert r.json()["options"] == {"remove_artifacts": False}
        assert recv_frame(a)[1][0]["options"] == {"remove_artifacts": False}
        assert recv_frame(b)[1][0]["options"] == {"remove_artifacts": False}
        httpx.delete(f"{url}/api/sessions/{sid}")
        assert "deleted" in json.loads(recv(b))["detail"]


@pytest.fixture
def slow_live(make_app):
    """A live server whose renders take ≥ 60 ms, to see latest-wins and mid-render disconnects."""
    from server.testing import serve_in_thread

    model = PaintModel.random(resolution=16, widths=(32, 32, 16), seed=1)
    model.generator.get_submodule(model.generator.config.output_name).register_forward_hook(
        lambda *args: time.sleep(0.06))
    app = make_app(models={"tiny": model})
    with serve_in_thread(app) as url:
        yield url, app


def test_latest_wins_and_a_closed_socket_leaves_nothing_behind(slow_live):
    url, app = slow_live
    sid = session(url)
    ws, _ = opened(url, sid)
    with ws:
        for i in range(20):  # far faster than 60 ms per frame
            stroke = {"concept": "tree", "points": [[0.05 * i, 0.5]]}
            ws.send(json.dumps({"type": "stroke", "stroke": stroke, "final": i == 19}))
        frames = 0
        while True:
            m = recv(ws)
            if isinstance(m, str) and json.loads(m)["type"] == "state":
                break
            frames += 1
        last, _ = recv_frame(ws)
        assert frames < 10  # previews that arrived during a render were skipped, not queued
        assert last == httpx.get(f"{url}/api/sessions/{sid}/image?format=webp").content
        ws.send(json.dumps({"type": "stroke", "stroke": STROKE, "final": False}))
        time.sleep(0.01)
    # closed mid-render: no painter, pending job or connection count stays behind
    deadline = time.monotonic() + 5
    s = app.state.sessions.get(sid)
    while (s.subscribers or app.state.renderer.pending_count()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s.subscribers == 0 and app.state.renderer.pending_count() == 0
    assert s.connections == 0
