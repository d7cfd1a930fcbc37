"""The page works under its own Content-Security-Policy (the other browser tests bypass it, since
Playwright's string predicates count as eval): it loads, connects and paints with no violation."""
from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server():
    from ganpaint.paint.model import PaintModel
    from server.app import create_app
    from server.settings import Settings
    from server.testing import serve_in_thread

    tiny = PaintModel.random(resolution=32, widths=(32, 32, 16, 16), model_id="tiny")
    with serve_in_thread(create_app(Settings(device="cpu"), models={"tiny": tiny})) as url:
        yield url


def _until(pg, expr: str, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while not (value := pg.evaluate(expr)):  # evaluate runs outside the page's policy; wait_for_function does not
        assert time.monotonic() < deadline, f"timed out waiting for {expr}"
        time.sleep(0.05)
    return value


def test_page_paints_under_its_content_security_policy(browser, server):
    ctx = browser.new_context(viewport={"width": 1000, "height": 800}, bypass_csp=False)
    pg = ctx.new_page()
    violations, errors = [], []
    pg.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    response = pg.goto(server + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    _until(pg, "Number(document.getElementById('stage').dataset.frame) >= 1")
    _until(pg, "document.getElementById('status').dataset.state === 'open'")
    before = pg.evaluate("Number(document.getElementById('stage').dataset.frame)")
    box = pg.get_by_role("img", name="painting canvas").bounding_box()
    pg.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.7 * box["height"])
    pg.mouse.down()
    for i in range(1, 10):
        pg.mouse.move(box["x"] + (0.2 + 0.06 * i) * box["width"], box["y"] + 0.7 * box["height"])
    pg.mouse.up()
    _until(pg, f"Number(document.getElementById('stage').dataset.frame) > {before}")
    ctx.close()
    assert violations == [] and errors == [], (violations, errors)
