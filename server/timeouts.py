"""Deadlines for slow or half-open HTTP requests, so idle sockets cannot pile up or hold workers.

    uvicorn.run(app, **uvicorn_options(settings))     # `ganpaint serve` and server.testing do this
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_s)

- Headers: a connection must deliver a request's headers within `header_timeout_s` of opening (or of
  its previous response). uvicorn alone waits forever once any byte of a request has arrived (its
  keep-alive timer stops at the first byte), so 1,100 half-sent requests stayed open indefinitely.
- Body: a request's body must arrive within `body_timeout_s` of its headers: 408 otherwise.
"""
from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["BodyTimeout", "header_deadline_protocol", "uvicorn_options"]

_TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def header_deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, closing connections whose next request's headers are late."""

    class HeaderDeadline(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        header_timeout_s = seconds
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(self.header_timeout_s, self._late)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _late(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return  # closed, or upgraded to a websocket (which has its own pings)
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is being answered: its headers came in time (its body has BodyTimeout)
            self.transport.write(_TIMEOUT_408)
            self.transport.close()

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadline


def uvicorn_options(settings) -> dict:
    """Everything `uvicorn.run` needs beyond the app, host and port."""
    from .app import websocket_options

    return {**websocket_options(settings), "http": header_deadline_protocol(settings.header_timeout_s),
            "timeout_keep_alive": min(5, max(1, int(settings.header_timeout_s)))}


class BodyTimeout:
    """408 when a request body is still incomplete `seconds` after its headers."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        done = False

        async def timed() -> Message:
            nonlocal done
            if done:  # after the body, receive() waits for a disconnect: no deadline for that
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                detail = f"the request body did not arrive within {self.seconds:g} s"
                raise StarletteHTTPException(408, detail) from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)
