"""Shared server fixtures: a tiny seeded model, an app factory, a REST client and a live server."""
from __future__ import annotations

import os

import pytest
import torch

# Starlette's TestClient calls itself "testserver"; servers in tests are otherwise on loopback
os.environ.setdefault("GANPAINT_ALLOWED_HOSTS", '["localhost", "127.0.0.1", "::1", "testserver"]')

from ganpaint.paint.model import PaintModel

torch.set_num_threads(1)
# apps made in tests keep sessions in memory unless a test names a store (no file under ~/.cache)
os.environ.setdefault("GANPAINT_STORE", "none")


@pytest.fixture
def tiny() -> PaintModel:
    return PaintModel.random(resolution=16, widths=(32, 32, 16), seed=0)


@pytest.fixture
def make_app(tiny):
    from server.app import create_app
    from server.settings import Settings

    def make(models=None, **overrides):
        return create_app(Settings(**{"models": ["tiny"], "store": "none", **overrides}), models=models or {"tiny": tiny})

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


# ------------------------------------------------------------------------------------------ browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def browser_unavailable(reason: str):
    """Skip locally; fail under CI (env CI set), where the browser tests must run."""
    import os

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI: apt-get install chromium; pip install playwright)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (GANPAINT_CHROMIUM overrides the path)."""
    import os
    import shutil
    from pathlib import Path

    path = os.environ.get("GANPAINT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        browser_unavailable("Debian's chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield _CspBypass(b)
        b.close()


class _CspBypass:
    """The browser, whose contexts by default ignore the page's Content-Security-Policy: Playwright's
    string predicates (wait_for_function("…")) are evaluated like eval(), which the policy forbids.
    tests/test_frontend_security.py loads the page under its policy (bypass_csp=False)."""

    def __init__(self, browser) -> None:
        self._browser = browser

    def new_context(self, **kw):
        kw.setdefault("bypass_csp", True)
        return self._browser.new_context(**kw)

    def __getattr__(self, name):
        return getattr(self._browser, name)
