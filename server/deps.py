"""FastAPI dependencies as Annotated aliases: routes (and the websocket) declare what they need by type.

    @router.get("/api/sessions/{session_id}")
    def get_state(session: SessionDep) -> SessionOut: ...

The app's services live on `app.state` (create_app puts them there); only this module reads it.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path
from starlette.requests import HTTPConnection

from ganpaint.paint.model import PaintModel

from .analyses import Analyses
from .decoding import Decoding
from .jobs import JobRunner
from .photos import Photos
from .render import Renderer
from .sessions import Session
from .settings import Settings
from .store import SessionStore

__all__ = ["SettingsDep", "ModelsDep", "ModelDep", "SessionsDep", "SessionDep", "RendererDep", "JobsDep",
           "PhotosDep", "DeviceDep", "DecodingDep", "ClientDep", "AnalysesDep", "client_of", "lookup_model"]


def _settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


def _models(conn: HTTPConnection) -> dict[str, PaintModel]:
    return conn.app.state.models


def _sessions(conn: HTTPConnection) -> SessionStore:
    return conn.app.state.sessions


def _renderer(conn: HTTPConnection) -> Renderer:
    return conn.app.state.renderer


def _jobs(conn: HTTPConnection) -> JobRunner:
    return conn.app.state.jobs


def _photos(conn: HTTPConnection) -> Photos:
    return conn.app.state.photos


def _analyses(conn: HTTPConnection) -> Analyses:
    return conn.app.state.analyses


def _device(conn: HTTPConnection) -> str:
    return conn.app.state.device


def client_of(conn: HTTPConnection) -> str:
    """Who sent a request, for per-client limits: the peer address (uvicorn puts a trusted proxy's
    X-Forwarded-For client there)."""
    return conn.client.host if conn.client else "unknown"


def _decoding(conn: HTTPConnection) -> Decoding:
    return conn.app.state.decoding


SettingsDep = Annotated[Settings, Depends(_settings)]
ClientDep = Annotated[str, Depends(client_of)]
DecodingDep = Annotated[Decoding, Depends(_decoding)]
ModelsDep = Annotated[dict[str, PaintModel], Depends(_models)]
SessionsDep = Annotated[SessionStore, Depends(_sessions)]
RendererDep = Annotated[Renderer, Depends(_renderer)]
JobsDep = Annotated[JobRunner, Depends(_jobs)]
PhotosDep = Annotated[Photos, Depends(_photos)]
DeviceDep = Annotated[str, Depends(_device)]
AnalysesDep = Annotated[Analyses, Depends(_analyses)]


def lookup_model(models: dict[str, PaintModel], model_id: str | None) -> tuple[str, PaintModel]:
    if not models:
        raise HTTPException(503, "no model is loaded on this server", headers={"Retry-After": "30"})
    if model_id is None:
        model_id = next(iter(models))
    if model_id not in models:
        raise HTTPException(404, f"unknown model {model_id!r}; loaded: {', '.join(models)}")
    return model_id, models[model_id]


def _model(models: ModelsDep,
           model: Annotated[str, Path(description="model id, e.g. scenes", max_length=200)]) -> PaintModel:
    return lookup_model(models, model)[1]


SessionId = Annotated[str, Path(description="the id returned by POST /api/sessions", max_length=200)]


def _session(sessions: SessionsDep, session_id: SessionId) -> Session:
    s = sessions.get(session_id)
    if s is None:
        raise HTTPException(404, "unknown session (it may have expired or been deleted)")
    return s


ModelDep = Annotated[PaintModel, Depends(_model)]
SessionDep = Annotated[Session, Depends(_session)]
