"""Page layout on a phone and a desktop: the model switcher only with several models, nothing wider than
the screen, touch targets of 44 px on touch screens."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LONG = "Procedural scenes (embedded) with a rather long title"
PHONE = dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)


def _model(model_id: str, seed: int = 0):
    from ganpaint.paint.model import PaintModel

    m = PaintModel.random(resolution=32, widths=(32, 32, 16, 16), seed=seed, model_id=model_id)
    m.title = LONG
    return m


@pytest.fixture(scope="module", params=[1, 2], ids=["one model", "two models"])
def served(request):
    from server.app import create_app
    from server.settings import Settings
    from server.testing import serve_in_thread

    models = {f"m{i}": _model(f"m{i}", i) for i in range(request.param)}
    with serve_in_thread(create_app(Settings(device="cpu"), models=models)) as url:
        yield url, request.param


def _open(browser, url, **kw):
    ctx = browser.new_context(**kw)
    pg = ctx.new_page()
    pg.goto(url + "/")
    pg.wait_for_function("document.getElementById('stage').dataset.frame >= 1", timeout=15_000)
    return ctx, pg


def test_model_switcher_only_with_several_models_and_the_phone_layout_fits(browser, served):
    url, n = served
    ctx, pg = _open(browser, url, **PHONE)
    shown = pg.evaluate("getComputedStyle(document.getElementById('model-switch')).display !== 'none'")
    width = pg.evaluate("document.documentElement.scrollWidth")
    ctx.close()
    assert shown == (n > 1)
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"


def test_touch_targets_are_44_px_on_a_touch_screen(browser, served):
    url, _ = served
    ctx, pg = _open(browser, url, **PHONE)
    small = pg.evaluate("""() => [...document.querySelectorAll('button, a.button, select, input[type=number]')]
        .filter((e) => e.offsetParent !== null && !e.closest('.thumbs'))
        .map((e) => [e.id || e.textContent.trim(), Math.round(e.getBoundingClientRect().height)])
        .filter(([, h]) => h < 44)""")
    ctx.close()
    assert small == []
