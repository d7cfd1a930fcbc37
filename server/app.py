"""The application factory: settings, models loaded once, sessions, renderer, routes, frontend.

    app = create_app()                                         # uvicorn server.app:create_app --factory
    app = create_app(Settings(max_sessions=4), models={"tiny": PaintModel.random()})   # tests

Models are loaded in the lifespan unless ready ones are injected; a configured model whose files are
missing is skipped with a warning. Every error a client can cause is answered as {"detail": reason}.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

import ganpaint
from ganpaint import zoo
from ganpaint.gan.checkpoint import CheckpointError
from ganpaint.paint.edit import StrokeError
from ganpaint.paint.model import ModelError, PaintModel
from ganpaint.photo.photo import PhotoError, PhotoTooLarge, UnsupportedPhoto

from . import ws
from .clients import ClientLimits, Clients, TooMany, document_limits
from .decoding import Decoding
from .security import Guard, allowed_hosts
from .timeouts import BodyTimeout
from .jobs import JobQueueFull, JobRunner
from .memory import large_blocks_to_os
from .render import Busy, Renderer
from .routes import fallback, health
from .routes import jobs as jobs_routes
from .routes import photos as photos_routes
from .routes import models as models_routes
from .routes import sessions as sessions_routes
from .routes import omissions as omissions_routes
from .routes import placement as placement_routes
from .routes import units as units_routes
from .analyses import Analyses
from .photos import PhotoMemoryFull, Photos
from .sessions import SessionError
from .persist import Persistence
from .persistence import open_store
from .store import SessionStore, StoreFull
from .strokes import MaskBudgetExceeded
from .settings import Settings
from .threads import default_render_threads, single_threaded

__all__ = ["create_app", "load_models", "serving_models", "websocket_options"]

log = logging.getLogger("ganpaint.server")


def load_models(settings: Settings, device: str) -> dict[str, PaintModel]:
    """The configured models that have weights here: shipped ones and those pulled into the cache."""
    available = zoo.available_models(settings.models_dir, settings.home)
    ids = list(available) if settings.models == ["all"] else settings.models
    loaded = {}
    for model_id in ids:
        if model_id not in available:
            log.warning("model %r skipped: no weights here (run `ganpaint models pull %s`)", model_id, model_id)
            continue
        folder, weights = available[model_id]
        try:
            loaded[model_id] = PaintModel.load(folder, weights=weights, device=device)
        except (ModelError, CheckpointError, OSError, ValueError, KeyError) as e:
            log.warning("model %r skipped: %s", model_id, e)
    return loaded


def serving_models(models: dict[str, PaintModel], settings: Settings, device: str) -> dict[str, PaintModel]:
    """The models as the server renders them: through the folded generator on a CPU (ganpaint.gan.folding),
    unless settings.fold is off."""
    if not settings.fold or device != "cpu":
        return dict(models)
    return {k: m if m.fast is not None else m.folded() for k, m in models.items()}


def _resolve_device(settings: Settings) -> str:
    device = settings.resolve_device()
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            log.warning("GANPAINT_DEVICE=cuda but no CUDA device is available; using the CPU")
            return "cpu"
    return device


class BodyLimit:
    """413 for request bodies over the limit, whether announced (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = max(self.max_body, self.max_upload + 65536) if multipart else self.max_body
        detail = f"request body is larger than {limit} bytes"
        try:
            announced = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            announced = 0
        if announced > limit:
            return await JSONResponse({"detail": detail}, 413)(scope, receive, send)
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # raised inside body parsing, so FastAPI passes it on as-is
                    raise StarletteHTTPException(413, detail)
            return message

        await self.app(scope, limited, send)


def photo_status(exc: PhotoError) -> int:
    """413 too large, 415 not an image (or not JPEG/PNG/WebP), 422 corrupt or otherwise unusable."""
    if isinstance(exc, PhotoTooLarge):
        return 413
    if isinstance(exc, UnsupportedPhoto):
        return 415
    return 422


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _install_error_handlers(app: FastAPI) -> None:
    def err(status: int, detail: str, retry: int | None = None) -> JSONResponse:
        return JSONResponse({"detail": detail}, status, headers={"Retry-After": str(retry)} if retry else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()[:20]]
        return JSONResponse({"detail": _validation_detail(exc), "errors": errors}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        if exc.status_code == 400:  # only body parsing says 400 (bad JSON or multipart): a bad shape, 422
            return err(422, f"the request body could not be read: {exc.detail}")
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(MaskBudgetExceeded)
    async def _masks(request, exc: MaskBudgetExceeded):
        return err(413, str(exc))

    @app.exception_handler(StrokeError)
    async def _stroke(request, exc: StrokeError):
        return err(422, f"bad stroke: {exc}")

    @app.exception_handler(ModelError)
    async def _model(request, exc: ModelError):
        return err(422, str(exc))

    @app.exception_handler(SessionError)
    async def _session(request, exc: SessionError):
        return err(exc.status, str(exc))

    @app.exception_handler(TooMany)
    async def _too_many(request, exc: TooMany):
        return err(429, str(exc), retry=exc.retry_after)

    @app.exception_handler(StoreFull)
    async def _full(request, exc: StoreFull):
        return err(503, f"{exc}; try again later", retry=30)

    @app.exception_handler(PhotoError)
    async def _photo(request, exc: PhotoError):
        return err(photo_status(exc), str(exc))

    @app.exception_handler(JobQueueFull)
    async def _jobs_full(request, exc: JobQueueFull):
        return err(503, f"the server is busy adapting other photos ({exc})", retry=exc.retry_after)

    @app.exception_handler(PhotoMemoryFull)
    async def _photo_memory(request, exc: PhotoMemoryFull):
        return err(503, str(exc), retry=exc.retry_after)

    @app.exception_handler(Busy)
    async def _busy(request, exc: Busy):
        return err(503, f"the server is busy ({exc}); try again shortly", retry=1)

    @app.exception_handler(Exception)
    async def _crash(request, exc: Exception):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return err(500, "internal server error")


def websocket_options(settings: Settings) -> dict:
    """uvicorn's websocket options for this app: the protocol limit sits well above the app's, so an
    oversized message gets an error message, not a dropped socket; no per-message deflate, since frames
    are WebP/JPEG/PNG already and deflating them only costs CPU on both ends."""
    return {"ws_max_size": max(16 * 2**20, 4 * settings.max_message_bytes), "ws_per_message_deflate": False}


def create_app(settings: Settings | None = None, models: dict[str, PaintModel] | None = None) -> FastAPI:
    settings = settings or Settings()
    injected = models is not None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # torch runs single-threaded in every server thread but a photo job's; batches of frames spread
        # over `threads` render threads instead (threads.py)
        single_threaded()
        large_blocks_to_os()  # a photo's decoded pixels leave the process with the photo (memory.py)
        app.state.renderer.threads = settings.threads or default_render_threads()
        app.state.jobs.threads = settings.job_threads  # one by default: a team would fight the render threads
        if not injected:
            loaded = await asyncio.to_thread(load_models, settings, app.state.device)
            app.state.models.update(serving_models(loaded, settings, app.state.device))
            if not app.state.models:
                log.warning("no model could be loaded from %s; only /api/health will be useful", settings.models_dir)
        app.state.renderer.start()
        app.state.jobs.start()
        ttl = min(settings.session_ttl_s, settings.photo_ttl_s)  # photo sessions may expire sooner
        sweeper = asyncio.create_task(_sweep(app, max(1.0, min(60.0, ttl / 4))))
        try:
            yield
        finally:
            sweeper.cancel()
            await app.state.jobs.stop()
            app.state.renderer.stop()
            app.state.decoding.close()
            if persistence is not None:
                await persistence.flush()  # the store stays open: an app may be started again (tests)

    app = FastAPI(
        title="GANPaint", version=ganpaint.__version__, lifespan=lifespan,
        description="Paint with concepts on GAN-generated scenes. Frames stream over the websocket "
                    "`/api/sessions/{id}/ws`; everything else is REST. Errors are `{\"detail\": reason}`.",
    )
    app.state.settings = settings
    app.state.device = _resolve_device(settings) if not injected else _injected_device(models)
    app.state.models = serving_models(models or {}, settings, app.state.device)
    records = open_store(settings.store, zoo.home(settings.home))  # StoreError: a clear reason at start-up
    persistence = Persistence(records, app.state.models, settings) if records is not None else None
    app.state.sessions = SessionStore(settings, persistence=persistence)
    app.state.renderer = Renderer(batching=settings.batching, max_batch=settings.max_batch,
                                  max_pending=settings.max_pending)
    app.state.jobs = JobRunner(workers=settings.job_workers, max_queued=settings.job_queue, keep_s=settings.job_keep_s)
    app.state.decoding = Decoding(settings.decode_threads)
    app.state.photos = Photos(settings, app.state.jobs, app.state.sessions)

    _install_error_handlers(app)
    app.add_middleware(BodyLimit, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes)
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_s)
    app.state.clients = Clients(settings)
    app.add_middleware(ClientLimits, limits=app.state.clients)  # inside CORS: its 429s carry CORS headers
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])
    app.add_middleware(Guard, hosts=allowed_hosts(settings), origins=settings.cors_origins)  # outermost
    app.state.analyses = Analyses()  # the explorer's per-model analyses, computed once in the background
    for module in (health, models_routes, sessions_routes, photos_routes, jobs_routes, ws,
                   units_routes, placement_routes, omissions_routes):
        app.include_router(module.router)
    app.include_router(fallback.router)  # after every API router: 404/405 for the /api paths they leave
    # the frontend is mounted at "/" and matches every path: routers must be included before it
    _mount_frontend(app, settings)
    _publish_error_shape(app)
    return app


def _publish_error_shape(app: FastAPI) -> None:
    """Document 422s as what they are: {"detail": str, "errors": [...]}, like every other error."""
    build = app.openapi

    def openapi() -> dict:
        schema = build()  # FastAPI caches it (and rebuilds when routes were added); patching is idempotent
        if "HTTPValidationError" in schema.get("components", {}).get("schemas", {}):
            schema["components"]["schemas"]["HTTPValidationError"] = {
                "title": "HTTPValidationError", "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "string", "title": "Detail"},
                               "errors": {"type": "array", "items": {"type": "object"}, "title": "Errors"}},
            }
        document_limits(schema)
        return schema

    app.openapi = openapi


def _injected_device(models: dict[str, PaintModel]) -> str:
    return str(next(iter(models.values())).device) if models else "cpu"


async def _sweep(app: FastAPI, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        app.state.sessions.sweep()


def _mount_frontend(app: FastAPI, settings: Settings) -> None:
    folder = settings.frontend_dir
    if folder.is_dir() and (folder / "index.html").is_file():
        app.mount("/", StaticFiles(directory=folder, html=True), name="frontend")
        return
    if folder.is_dir():  # being filled right now, or a custom folder: serve what is there
        app.mount("/static", StaticFiles(directory=folder), name="frontend")

    @app.get("/", include_in_schema=False)
    async def _no_frontend() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>GANPaint</title><p>No frontend is installed here "
                            f"({folder}). The API is documented at <a href='/docs'>/docs</a>.</p>")

