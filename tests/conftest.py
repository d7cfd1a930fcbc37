"""Shared server fixtures: a tiny seeded model, an app factory, a REST client and a live server."""
from __future__ import annotations

import pytest
import torch

from ganpaint.model import PaintModel

torch.set_num_threads(1)


@pytest.fixture
def tiny() -> PaintModel:
    return PaintModel.random(resolution=16, widths=(32, 32, 16), seed=0)


@pytest.fixture
def make_app(tiny):
    from server.app import create_app
    from server.settings import Settings

    def make(models=None, **overrides):
        return create_app(Settings(models=["tiny"], **overrides), models=models or {"tiny": tiny})

    return make


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as c:
        yield c


@pytest.fixture
def live(make_app):
    """(base url, app) of a real uvicorn server in a thread."""
    from server.testing import serve_in_thread

    app = make_app()
    with serve_in_thread(app) as url:
        yield url, app
