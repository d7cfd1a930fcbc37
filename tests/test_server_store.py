"""The store's eviction is fair: idle sessions go before recently used ones, and a client beyond its
share of sessions recycles its own."""
from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from server.clients import TooMany
from server.commands import Undo
from server.sessions import SessionError
from server.settings import Settings
from server.store import SessionStore, StoreFull


def _store(tiny, **settings):
    now = [0.0]
    store = SessionStore(Settings(**settings), clock=lambda: now[0])
    z = tiny.z_for_seed(0)
    h = tiny.features(z)
    return store, now, lambda client=None: store.create("tiny", tiny, seed=0, z=z, h=h, client=client)


def test_a_recently_painted_session_outlives_an_idle_one(tiny):
    store, now, new = _store(tiny, max_sessions=2, session_protect_s=300)
    painted = new("u")
    now[0] = 10
    idle = new("v")
    now[0] = 900
    with pytest.raises(SessionError):  # a websocket command: touches the session without a store lookup
        asyncio.run(painted.apply(Undo()))
    new("w")
    assert store.get(idle.id) is None and store.get(painted.id) is painted


def test_without_idle_sessions_the_busiest_client_makes_room(tiny):
    store, now, new = _store(tiny, max_sessions=4, session_protect_s=300, client_sessions=10)
    mine = new("user")
    now[0] = 1
    flood = [new("flood") for _ in range(3)]
    now[0] = 2
    other = new("other")
    assert store.get(mine.id) is mine and store.get(other.id) is other
    assert sum(store.get(s.id) is not None for s in flood) == 2  # the flood paid for the newcomer
    for s in store:
        s.connections = 1
    with pytest.raises(StoreFull):  # open sockets are never evicted
        new("late")


def test_a_client_over_its_share_recycles_its_own_sessions(tiny):
    store, now, new = _store(tiny, max_sessions=8, client_sessions=3)
    user = new("user")
    flood = []
    for i in range(10):
        now[0] = i + 1
        flood.append(new("flood"))
    assert store.get(user.id) is user and len(store) == 4
    assert [store.get(s.id) is not None for s in flood] == [False] * 7 + [True] * 3
    for s in flood[-3:]:
        s.connections = 1
    with pytest.raises(TooMany):  # all of its own are in use: it must close one
        new("flood")


def test_session_flood_over_http_leaves_other_users_alone(make_app):
    app = make_app(max_sessions=4, client_sessions=2, client_session_burst=100)
    users = [TestClient(app, client=(f"10.0.0.{i}", 1)) for i in (1, 2)]
    flood = TestClient(app, client=("10.0.0.66", 1))
    with users[0]:
        ids = [u.post("/api/sessions", json={"model": "tiny"}).json()["id"] for u in users]
        codes = {flood.post("/api/sessions", json={"model": "tiny"}).status_code for _ in range(20)}
        assert codes == {201}
        assert all(u.get(f"/api/sessions/{sid}").status_code == 200 for u, sid in zip(users, ids))
        assert len(app.state.sessions) == 4
