"""Replicas behind a real HAProxy with a real Redis: a session goes on when the replica holding it dies."""
from __future__ import annotations

import json
import os
import shutil
import time

import httpx
import pytest

pytestmark = pytest.mark.slow

STROKE = {"concept": "tree", "points": [[0.3, 0.7], [0.5, 0.72]], "radius": 0.08}


def _need(*names):
    for n in names:
        if shutil.which(n) is None and not os.path.exists(f"/usr/sbin/{n}"):
            if os.environ.get("CI"):
                pytest.fail(f"{n} is missing in CI: .ci/run installs it from Debian")
            pytest.skip(f"{n} is not installed (apt-get install {n}); CI installs it")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    _need("redis-server", "haproxy")
    from server.cluster import Cluster

    with Cluster(replicas=2, env={"GANPAINT_THREADS": "1", "OMP_NUM_THREADS": "1"},
                 log_dir=tmp_path_factory.mktemp("cluster")) as c:
        yield c


def _stroke_until_ok(client: httpx.Client, sid: str, timeout_s: float = 15.0) -> float:
    """POST a stroke through the balancer until it is accepted; seconds it took."""
    t0 = time.monotonic()
    while True:
        try:
            r = client.post(f"/api/sessions/{sid}/strokes", json=STROKE)
            if r.status_code == 200:
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        assert time.monotonic() - t0 < timeout_s, "the session did not come back through the balancer"
        time.sleep(0.1)


def test_new_sessions_are_spread_evenly_and_stay_with_the_replica_that_made_them(cluster):
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        made = [client.post("/api/sessions", json={"seed": k}) for k in range(16)]
        makers = [m.headers["x-ganpaint-replica"] for m in made]
        # no session id yet: the replica with the fewest connections, in turn when they are equally idle
        # (hashing the absent key had put them 10/6)
        assert makers.count("r1") == makers.count("r2") == 8
        for m, maker in zip(made, makers):  # the stick entry learned from the answer names the maker
            assert client.get(f"/api/sessions/{m.json()['id']}").headers["x-ganpaint-replica"] == maker


def test_a_session_continues_on_another_replica_after_a_kill(cluster):
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        made = client.post("/api/sessions", json={"seed": 104})
        assert made.status_code == 201
        sid = made.json()["id"]
        assert made.headers["x-ganpaint-session"] == sid
        assert client.post(f"/api/sessions/{sid}/strokes", json=STROKE).status_code == 200
        for i in range(2):  # kill each replica in turn: wherever the session was, it survives
            cluster.kill(i)
            _stroke_until_ok(client, sid)
            cluster.start_replica(i)
        state = client.get(f"/api/sessions/{sid}").json()
        assert len(state["strokes"]) == 3 and state["seed"] == 104


def test_the_websocket_paints_through_the_balancer(cluster):
    from websockets.sync.client import connect

    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        sid = client.post("/api/sessions", json={"seed": 7}).json()["id"]
    ws_url = cluster.url.replace("http://", "ws://") + f"/api/sessions/{sid}/ws?format=png"
    with connect(ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "stroke", "stroke": STROKE, "final": True}))
        got_frame = got_state = False
        deadline = time.monotonic() + 20
        while not (got_frame and got_state) and time.monotonic() < deadline:
            msg = ws.recv(timeout=20)
            if isinstance(msg, bytes):
                got_frame = msg[:8] == b"\x89PNG\r\n\x1a\n"
            elif json.loads(msg).get("type") == "state":
                got_state = json.loads(msg).get("strokes") is not None
        assert got_frame and got_state
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        assert len(client.get(f"/api/sessions/{sid}").json()["strokes"]) == 1
