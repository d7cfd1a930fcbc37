"""The shared store for replicas: Redis (`GANPAINT_STORE=redis://host:port/db`), TTLs kept by Redis itself."""
from __future__ import annotations

from .base import StoreError

_PREFIX = "ganpaint:session:"


class RedisStore:
    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        try:
            import redis
        except ImportError:
            raise StoreError("GANPAINT_STORE names Redis but the 'redis' package is not installed "
                             "(pip install redis)") from None
        self._errors = (redis.RedisError, OSError)
        self._r = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._call("ping")

    def _call(self, name: str, *args, **kwargs):
        try:
            return getattr(self._r, name)(*args, **kwargs)
        except self._errors as e:
            raise StoreError(f"the session store (Redis) failed: {e}") from None

    @staticmethod
    def _ms(ttl_s: float) -> int:
        return max(1, int(ttl_s * 1000))

    def put(self, sid: str, data: bytes, *, ttl_s: float) -> None:
        self._call("set", _PREFIX + sid, data, px=self._ms(ttl_s))

    def get(self, sid: str) -> bytes | None:
        return self._call("get", _PREFIX + sid)

    def touch(self, sid: str, *, ttl_s: float) -> None:
        self._call("pexpire", _PREFIX + sid, self._ms(ttl_s))

    def delete(self, sid: str) -> None:
        self._call("delete", _PREFIX + sid)

    def close(self) -> None:
        self._r.close()
