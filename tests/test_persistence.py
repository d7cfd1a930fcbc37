"""The record store interface against memory, SQLite and a real redis-server."""
import time

import pytest

from server.persistence import MemoryStore, SQLiteStore, StoreError, open_store

from redis_server import redis_server


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        s = SQLiteStore(tmp_path / "s.sqlite3")
        yield s
        s.close()
    else:
        with redis_server() as url:
            s = open_store(url, tmp_path)
            yield s
            s.close()


def test_put_get_replace_delete(store):
    assert store.get("a") is None
    store.put("a", b"\x00one", ttl_s=60)
    store.put("b", b"two", ttl_s=60)
    assert store.get("a") == b"\x00one" and store.get("b") == b"two"
    store.put("a", b"three", ttl_s=60)
    assert store.get("a") == b"three"
    store.delete("a")
    store.delete("missing")
    assert store.get("a") is None and store.get("b") == b"two"


def test_records_expire_and_touch_extends_them(store):
    store.put("x", b"short", ttl_s=0.3)
    store.put("y", b"kept", ttl_s=0.3)
    store.touch("y", ttl_s=60)
    store.touch("absent", ttl_s=60)
    time.sleep(0.6)
    assert store.get("x") is None
    assert store.get("y") == b"kept"


def test_large_record_round_trips(store):
    data = bytes(range(256)) * 40_000  # 10 MB, like a photo with its adapted layers
    store.put("big", data, ttl_s=60)
    assert store.get("big") == data


def test_sqlite_survives_reopening(tmp_path):
    s = SQLiteStore(tmp_path / "x.sqlite3")
    s.put("kept", b"data", ttl_s=60)
    s.put("gone", b"data", ttl_s=0.01)
    s.close()
    time.sleep(0.05)
    again = SQLiteStore(tmp_path / "x.sqlite3")
    assert again.get("kept") == b"data" and again.get("gone") is None and len(again) == 1
    again.close()


def test_open_store_names(tmp_path):
    assert isinstance(open_store(None, tmp_path), SQLiteStore)
    assert (tmp_path / "sessions.sqlite3").exists()
    assert isinstance(open_store("memory:", tmp_path), MemoryStore)
    assert isinstance(open_store(f"sqlite:///{tmp_path}/other.db", tmp_path), SQLiteStore)
    with pytest.raises(StoreError, match="GANPAINT_STORE"):
        open_store("postgres://x", tmp_path)


def test_unreachable_redis_is_a_clear_error(tmp_path):
    pytest.importorskip("redis")
    with pytest.raises(StoreError, match="Redis"):
        open_store("redis://127.0.0.1:1/0", tmp_path)
