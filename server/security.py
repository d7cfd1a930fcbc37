"""Security defaults at the ASGI edge: which Host names are served, which Origins may change things,
and the headers every response carries.

    app.add_middleware(Guard, hosts=allowed_hosts(settings), origins=settings.cors_origins)

- Host allow-list: a page on an attacker's domain that re-resolves its name to 127.0.0.1 (DNS rebinding)
  sends its own name as Host; bound to loopback, only localhost names are served (400 otherwise).
- Origin: browsers send it with every cross-site POST and websocket. Multipart uploads and websockets
  need no CORS preflight, so any page could otherwise upload or paint here in a visitor's browser: a
  request whose Origin is neither this server nor an allowed CORS origin is refused (403). Requests
  without an Origin (curl, scripts) are not browsers' and pass.
- Headers: CSP (the page loads only its own files), no framing, no MIME sniffing, no referrer.
"""
from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Guard", "allowed_hosts", "LOCAL_HOSTS", "PAGE_CSP"]

LOCAL_HOSTS = ["localhost", "127.0.0.1", "::1"]
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; script-src 'self'; "
            "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# FastAPI's /docs and /redoc load Swagger UI / ReDoc from a CDN and start them with an inline script
DOCS_CSP = ("default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' "
            "https://cdn.jsdelivr.net https://fonts.googleapis.com; font-src https://fonts.gstatic.com; "
            "worker-src blob:; frame-ancestors 'none'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer"), (b"cross-origin-opener-policy", b"same-origin")]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(settings) -> list[str]:
    """settings.allowed_hosts, or by default: localhost names when bound to loopback, else any ("*")."""
    if settings.allowed_hosts is not None:
        return list(settings.allowed_hosts)
    return list(LOCAL_HOSTS) if _is_loopback(settings.host) else ["*"]


def _host_name(value: str) -> str:
    """'example.org:8000' → 'example.org'; '[::1]:8000' → '::1'."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _host_ok(name: str, hosts: list[str]) -> bool:
    for pattern in hosts:
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


class Guard:
    def __init__(self, app: ASGIApp, hosts: list[str], origins: list[str]) -> None:
        self.app, self.hosts = app, [h.lower() for h in hosts]
        self.origins = {o.rstrip("/").lower() for o in origins}

    def _origin_ok(self, origin: str, host: str) -> bool:
        origin = origin.lower()
        if origin in self.origins or "*" in self.origins:
            return True
        # the page's own host:port; the scheme is not compared, since a TLS proxy may sit in front
        return urlsplit(origin).netloc == host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k: v for k, v in scope.get("headers") or []}
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if not _host_ok(_host_name(host), self.hosts):
            return await self._refuse(scope, receive, send, 400, "this server does not serve that Host name "
                                      "(set GANPAINT_ALLOWED_HOSTS to the names it is reached by)")
        origin = headers.get(b"origin")
        checked = scope["type"] == "websocket" or scope.get("method") in UNSAFE_METHODS
        if checked and origin is not None and not self._origin_ok(origin.decode("latin-1"), host):
            return await self._refuse(scope, receive, send, 403, "requests from other sites' pages are refused "
                                      "(allow their origin with GANPAINT_CORS_ORIGINS)")
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        csp = (DOCS_CSP if scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect") else PAGE_CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS + [(b"content-security-policy", csp)] if k not in present]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, with_headers)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        if scope["type"] == "websocket":  # closing before accepting: the handshake gets a 403
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                *HEADERS, (b"content-security-policy", PAGE_CSP.encode())]})
        await send({"type": "http.response.body", "body": body})
