"""Per-client limits, so that no client (IP address) can crowd the others out.

    app.add_middleware(ClientLimits, limits=Clients(settings))

- New sessions and uploads (photos, segment) come from per-client token buckets: a burst, then a steady
  rate. A flood gets 429 with Retry-After (when the next token is due) while other clients go on.
- Open websockets per client are capped; one more is refused with a 429 handshake response (or, where
  the server cannot send one, closed with 1013 "try again later").
The client is the peer address; behind a proxy on this host uvicorn takes it from X-Forwarded-For.
Session slots themselves are shared fairly by the store's eviction order (server.sessions).
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Clients", "ClientLimits", "TooMany", "client_address", "document_limits"]

# which requests draw from which bucket: (method, path pattern, bucket)
_METERED = [("POST", re.compile(r"/api/sessions/?"), "sessions"),
            ("POST", re.compile(r"/api/photos/?"), "uploads"),
            ("POST", re.compile(r"/api/models/[^/]+/segment/?"), "uploads")]
_SOCKET = re.compile(r"/api/sessions/[^/]+/ws/?")
_PRUNE_AT = 4096  # clients remembered before full buckets are forgotten


def document_limits(openapi: dict) -> None:
    """Add the 429 answer to the OpenAPI operations that draw from a bucket (idempotent)."""
    for path, ops in openapi.get("paths", {}).items():
        for method, pattern, _ in _METERED:
            op = ops.get(method.lower())
            if op is not None and pattern.fullmatch(path):
                op.setdefault("responses", {})["429"] = {
                    "description": "too many requests from this client: wait Retry-After seconds",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}


class TooMany(Exception):
    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass
class _Bucket:
    tokens: float
    at: float


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class Clients:
    """The bookkeeping: token buckets per (client, kind) and open sockets per client."""

    def __init__(self, settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rates = {"sessions": (settings.client_session_burst, settings.client_sessions_per_min / 60.0),
                      "uploads": (settings.client_upload_burst, settings.client_uploads_per_min / 60.0)}
        self.max_sockets = settings.client_sockets
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.sockets: dict[str, int] = {}

    def take(self, client: str, kind: str) -> None:
        """One token of `kind` for `client`, or TooMany saying when the next one is due."""
        burst, per_s = self.rates[kind]
        now = self.clock()
        b = self._buckets.get((client, kind))
        if b is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            b = self._buckets[(client, kind)] = _Bucket(float(burst), now)
        b.tokens, b.at = min(float(burst), b.tokens + (now - b.at) * per_s), now
        if b.tokens < 1.0:
            wait = (1.0 - b.tokens) / per_s if per_s > 0 else 3600.0
            noun = "new sessions" if kind == "sessions" else "uploads"
            raise TooMany(f"too many {noun} from your address ({burst} at once, then {per_s * 60:g} a minute); "
                          f"try again in {math.ceil(wait)} s", wait)
        b.tokens -= 1.0

    def _prune(self, now: float) -> None:
        for key, b in list(self._buckets.items()):
            burst, per_s = self.rates[key[1]]
            if b.tokens + (now - b.at) * per_s >= burst:
                del self._buckets[key]

    def open_socket(self, client: str) -> None:
        n = self.sockets.get(client, 0)
        if n >= self.max_sockets:
            raise TooMany(f"your address has {n} painting connections open, the most allowed; close one", 5)
        self.sockets[client] = n + 1

    def close_socket(self, client: str) -> None:
        n = self.sockets.get(client, 0) - 1
        if n > 0:
            self.sockets[client] = n
        else:
            self.sockets.pop(client, None)


class ClientLimits:
    """ASGI middleware applying Clients' limits before a request reaches any route."""

    def __init__(self, app: ASGIApp, limits: Clients) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = client_address(scope)
        if scope["type"] == "websocket" and _SOCKET.fullmatch(scope["path"]):
            try:
                self.limits.open_socket(client)
            except TooMany as e:
                return await self._refuse_socket(scope, send, e)
            try:
                return await self.app(scope, receive, send)
            finally:
                self.limits.close_socket(client)
        if scope["type"] == "http":
            for method, path, kind in _METERED:
                if scope["method"] == method and path.fullmatch(scope["path"]):
                    try:
                        self.limits.take(client, kind)
                    except TooMany as e:
                        return await self._refuse_http(send, e)
        await self.app(scope, receive, send)

    @staticmethod
    def _response(e: TooMany) -> tuple[dict, bytes]:
        body = json.dumps({"detail": str(e)}).encode()
        headers = [(b"content-type", b"application/json"), (b"retry-after", str(e.retry_after).encode()),
                   (b"content-length", str(len(body)).encode())]
        return {"status": 429, "headers": headers}, body

    async def _refuse_http(self, send: Send, e: TooMany) -> None:
        start, body = self._response(e)
        await send({"type": "http.response.start", **start})
        await send({"type": "http.response.body", "body": body})

    async def _refuse_socket(self, scope: Scope, send: Send, e: TooMany) -> None:
        if "websocket.http.response" in scope.get("extensions", {}):
            start, body = self._response(e)
            await send({"type": "websocket.http.response.start", **start})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1013, "reason": str(e)[:120]})
