"""The painting websocket: JSON messages in, binary frames and JSON state/error messages out.

    ws = connect("ws://host/api/sessions/<id>/ws?format=webp")
    ws.send('{"type": "stroke", "stroke": {"concept": "tree", "points": [[0.5, 0.5]]}, "final": false}')
    frame = ws.recv()            # bytes: the image with the preview stroke
    ws.send('{"type": "undo"}')  # → {"type": "state", ...} then a frame

Two tasks per socket: the receiver parses each message into a command and applies it to the session
at once (cheap), the painter renders whatever is newest when it is free. The painter subscribes to
the session, so a change made by any socket or REST call reaches every socket the same way. Messages
arriving during a render only update what the next render shows, so a fast or slow client never
builds a queue. A bad message is answered with {"type": "error", "detail"} and the socket keeps
painting; closing the socket cancels its render. Photo sessions also get {"type": "progress", "job",
"progress", "stage", "state", ...} messages while their adaptation job runs (only the newest per job
is kept for a slow client; a socket that opens mid-job gets where the job stands at once); until it
is done the frame is the photo itself and strokes are refused. A photo's frames are the download's
composite at display size (server.photos.photo_frame).
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ganpaint.paint.edit import Stroke, StrokeError
from ganpaint.paint.imaging import FORMATS
from ganpaint.gan.renderer import RegionRenderer

from .commands import AddStroke, BadMessage, has_mask, parse_message
from .decoding import Decoding
from .deps import DecodingDep, RendererDep, SessionsDep, SettingsDep, client_of
from .photos import photo_frame
from .render import Renderer, session_frame
from .sessions import Changed, Closed, Event, Progress, Session, SessionError
from .settings import Settings

__all__ = ["router", "Painter"]

log = logging.getLogger("ganpaint.server")
router = APIRouter()

CLOSE_UNKNOWN_SESSION = 4404
CLOSE_POLICY = 1008


class Painter:
    """One open websocket on one session."""

    def __init__(self, websocket: WebSocket, session: Session, fmt: str, *, renderer: Renderer,
                 settings: Settings, decoding: Decoding | None = None) -> None:
        self.ws, self.session, self.fmt = websocket, session, fmt
        self.renderer, self.settings = renderer, settings
        self.decoding = decoding or Decoding(1)
        self.client = client_of(websocket)
        self.key = ("ws", uuid.uuid4().hex)  # latest-wins slot of this socket in the renderer
        self.preview: Stroke | None = None
        self.wake = asyncio.Event()
        self.state_due = True  # the first messages are the state and the current frame
        self.frame_due = True
        self.outbox: dict[str, dict] = {}  # job id → newest progress message not sent yet
        self.gone = False
        self.send_lock = asyncio.Lock()
        self._region: tuple[object, RegionRenderer] | None = None  # (generator it renders, renderer)

    def region(self) -> RegionRenderer | None:
        """This socket's region renderer for previews (its previous frame's activations, ~2 MB at 128 px)."""
        if not self.settings.region_previews:
            return None
        gen = self.session.generator or self.session.model.render_generator
        if self.session.model.device.type != "cpu":
            return None  # on a GPU a full render is faster than many small windows (benchmarks/realmodel.py)
        if self._region is None or self._region[0] is not gen:
            try:
                self._region = (gen, RegionRenderer(gen, start=self.session.model.next_layer))
            except TypeError:  # a generator with blocks it cannot window: render previews in full
                self.settings = self.settings.model_copy(update={"region_previews": False})
                return None
        return self._region[1]

    # ------------------------------------------------------------------ the session's news (on the loop)
    def hear(self, event: Event) -> None:
        match event:
            case Changed():
                self.preview = None  # a preview was drawn over the old state; the client sends the next one
                self.state_due = self.frame_due = True
            case Progress(message=message):
                # a newer message for the same job replaces one not sent yet; re-inserted, so messages
                # go out in the order of their news
                self.outbox.pop(message.get("job"), None)
                self.outbox[message.get("job")] = message
            case Closed():
                self.gone = True
        self.wake.set()

    # ------------------------------------------------------------------ sending
    async def send_json(self, obj: dict) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(obj))

    async def error(self, detail: str) -> None:
        # messages quote inputs only in short excerpts; this bounds what any message could ever echo
        await self.send_json({"type": "error", "detail": detail if len(detail) <= 300 else detail[:299] + "…"})

    async def paint_loop(self) -> None:
        """Render the newest state whenever something changed; never more than one render in flight."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.gone:
                await self.error("this session was deleted or has expired")
                await self.ws.close(CLOSE_UNKNOWN_SESSION)
                return
            while self.outbox:
                await self.send_json(self.outbox.pop(next(iter(self.outbox))))
            if self.state_due:
                self.state_due = False
                await self.send_json({"type": "state", **self.session.describe()})
            if not self.frame_due:
                continue
            self.frame_due = False
            session, state, preview = self.session, self.session.state, self.preview
            try:
                if session.photo is not None:  # the composite the download gives, at display size
                    data = await photo_frame(self.renderer, session, state, self.fmt, key=self.key,
                                             preview=preview, quality=self.settings.quality,
                                             region=self.region() if preview is not None else None)
                else:
                    data = await session_frame(self.renderer, session, state, self.fmt, key=self.key,
                                               preview=preview, quality=self.settings.quality,
                                               region=self.region() if preview is not None else None)
            except StrokeError as e:
                await self.error(f"bad stroke: {e}")
                continue
            except (asyncio.CancelledError, WebSocketDisconnect):
                raise
            except Exception as e:  # a failed render is reported; the socket keeps painting
                log.warning("frame for session %s failed: %r", session.id[:8], e)
                await self.error("this frame could not be rendered")
                continue
            if data is not None:
                async with self.send_lock:
                    await self.ws.send_bytes(data)

    # ------------------------------------------------------------------ receiving
    def decode(self, message: dict) -> object:
        text = message.get("text")
        if text is None:
            raise BadMessage("binary messages are not accepted: send JSON text")
        limit = self.settings.max_message_bytes
        if len(text) > limit or len(text.encode("utf-8", "surrogatepass")) > limit:
            raise BadMessage(f"message is larger than {limit} bytes")
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise BadMessage("message is not valid JSON") from None

    async def handle(self, message: dict) -> None:
        """Parse → apply; what the change means for the picture comes back through hear()."""
        msg, model, limits = self.decode(message), self.session.model, self.settings.stroke_limits()
        if has_mask(msg):  # decoding a mask can take a second: in a decode thread, within the message's budget
            command = await self.decoding.run(self.client, parse_message, msg, model, limits,
                                              self.settings.max_request_mask_pixels)
        else:
            command = parse_message(msg, model, limits)
        await self.session.apply(command)
        if isinstance(command, AddStroke) and not command.final:
            self.preview = command.entry.stroke  # previews are this socket's own: no one else sees them
            self.frame_due = True
            self.wake.set()

    async def run(self) -> None:
        self.session.connections += 1
        unsubscribe = self.session.subscribe(self.hear)
        painting = asyncio.create_task(self.paint_loop())
        self.wake.set()
        try:
            while not painting.done():
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    await self.handle(message)
                except (BadMessage, SessionError) as e:
                    await self.error(str(e))
                except StrokeError as e:
                    await self.error(f"bad stroke: {e}")
                except (asyncio.CancelledError, WebSocketDisconnect):
                    raise
                except Exception:  # never a stack trace to the client, and the socket stays usable
                    log.exception("websocket message on session %s failed", self.session.id[:8])
                    await self.error("internal error while handling this message")
        except Exception as e:  # a dropped connection while sending: nothing left to tell the client
            log.debug("websocket of session %s ended: %r", self.session.id[:8], e)
        finally:
            painting.cancel()
            await asyncio.gather(painting, return_exceptions=True)
            self.renderer.cancel(self.key)
            self.session.connections -= 1
            unsubscribe()
        if painting.done() and not painting.cancelled() and painting.exception() is not None:
            log.debug("painter of session %s stopped: %r", self.session.id[:8], painting.exception())


@router.websocket("/api/sessions/{session_id}/ws")
async def paint(websocket: WebSocket, session_id: str, sessions: SessionsDep, renderer: RendererDep,
                settings: SettingsDep, decoding: DecodingDep) -> None:
    await websocket.accept()
    fmt = websocket.query_params.get("format", "webp")
    session = sessions.get(session_id)
    detail, code = None, None
    if session is None:
        detail, code = "unknown session (it may have expired or been deleted)", CLOSE_UNKNOWN_SESSION
    elif fmt not in FORMATS:
        detail, code = f"unsupported format {fmt[:20]!r}; use one of {', '.join(FORMATS)}", CLOSE_POLICY
    if detail is not None:
        await websocket.send_text(json.dumps({"type": "error", "detail": detail}))
        await websocket.close(code)
        return
    await Painter(websocket, session, fmt, renderer=renderer, settings=settings, decoding=decoding).run()
    if websocket.application_state == WebSocketState.CONNECTED and websocket.client_state == WebSocketState.CONNECTED:
        try:
            await websocket.close()
        except RuntimeError:
            pass
