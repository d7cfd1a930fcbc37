"""The painting page in a real browser: Debian's Chromium (headless) driven by Playwright, talking to a
real uvicorn server on a free port.

    .venv/bin/pytest -m browser                                   # these tests only
    GANPAINT_SCREENSHOT=1 .venv/bin/pytest tests/test_frontend_page.py   # also writes docs/screenshot.png

The server runs the shipped model (models/scenes) when its weights and concept table exist, else a
tiny random one; a second tiny model makes the model switcher appear. Without Chromium the tests skip,
except under CI (env CI set), where they fail.
"""
from __future__ import annotations

import os
from functools import partial
import time
from pathlib import Path

import numpy as np
import pytest

from browser_helpers import drag, new_page, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "models" / "scenes"
MAX_STROKES = 3  # small, so that the error path is cheap to reach
TIMEOUT_MS = 15_000






# ---------------------------------------------------------------------------------------------- server
def _models() -> dict:
    from ganpaint.paint.model import PaintModel

    tiny = PaintModel.random(resolution=32, widths=(32, 32, 16, 16), model_id="tiny")
    if (SHIPPED / "generator.safetensors").is_file() and (SHIPPED / "concepts.json").is_file():
        return {"scenes": PaintModel.load(SHIPPED), "tiny": tiny}
    return {"tiny": tiny, "tiny2": PaintModel.random(resolution=32, widths=(32, 32, 16, 16), seed=1, model_id="tiny2")}




@pytest.fixture(scope="module")
def server():
    from server.app import create_app
    from server.settings import Settings
    from server.testing import serve_in_thread

    models = _models()
    app = create_app(Settings(device="cpu", max_strokes=MAX_STROKES), models=models)
    with serve_in_thread(app, log_level="warning") as url:
        yield {"url": url, "models": list(models)}




@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1200, "height": 860})
    errors = []
    yield open_page(new_page(ctx, errors, TIMEOUT_MS), server["url"])
    ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# ---------------------------------------------------------------------------------------------- helpers
def frame_no(pg) -> int:
    return int(pg.eval_on_selector("#stage", "el => el.dataset.frame || 0"))


def wait_new_frame(pg, after: int) -> None:
    pg.wait_for_function(f"Number(document.getElementById('stage').dataset.frame) > {after}")


def pixels(pg, size=64) -> np.ndarray:
    """The painting canvas, downsampled in the page to size×size RGB (float)."""
    data = pg.evaluate("""(size) => {
        const o = document.createElement('canvas'); o.width = o.height = size;
        const ctx = o.getContext('2d');
        ctx.drawImage(document.getElementById('image'), 0, 0, size, size);
        return Array.from(ctx.getImageData(0, 0, size, size).data);
    }""", size)
    return np.array(data, dtype=np.float64).reshape(size, size, 4)[..., :3]


drag = partial(drag, y=0.75, x0=0.12, x1=0.88, steps=24)


def strokes_listed(pg) -> int:
    return pg.locator("#history li").count()


def wait_committed(pg, n: int) -> None:
    """n strokes listed and the committed stroke's own frame on screen (the overlay cleared)."""
    pg.wait_for_function(
        f"document.querySelectorAll('#history li').length === {n} && document.getElementById('stage').dataset.pending === '0'")


def wait_listed(pg, n: int) -> None:
    pg.wait_for_function(f"document.querySelectorAll('#history li').length === {n}")


def settle(pg, quiet_ms=400) -> None:
    """Wait until no frame has arrived for quiet_ms (late previews or the connect-time frame)."""
    last, since = frame_no(pg), time.monotonic()
    while time.monotonic() - since < quiet_ms / 1000:
        pg.wait_for_timeout(50)
        now = frame_no(pg)
        if now != last:
            last, since = now, time.monotonic()


def session_state(pg, server) -> dict:
    sid = pg.eval_on_selector("#stage", "el => el.dataset.session")
    r = pg.request.get(f"{server['url']}/api/sessions/{sid}")
    assert r.ok, r.status
    return r.json()


# ---------------------------------------------------------------------------------------------- tests
def test_page_shows_brushes_and_labelled_controls(page, server):
    assert page.locator("#message").is_hidden(), page.locator("#message").inner_text()
    names = [n.strip() for n in page.locator("#brushes button").all_inner_texts()]
    model = page.get_by_role("combobox", name="model").input_value()
    brushes = page.request.get(f"{server['url']}/api/models/{model}").json()["brushes"]
    demo_first = [b for b in ["tree", "grass", "door", "sky", "cloud", "brick", "dome"] if b in brushes]
    assert len(demo_first) >= 3 and names[:len(demo_first)] == demo_first
    assert sorted(names) == sorted(brushes)
    assert page.get_by_role("button", name=names[0], exact=True).get_attribute("aria-pressed") == "true"
    # Every control is reachable by its visible label.
    for role, name in [("button", "draw"), ("button", "remove"), ("button", "undo"), ("button", "redo"),
                       ("button", "reset"), ("link", "download"), ("button", "random"), ("button", "load"),
                       ("slider", "strength"), ("slider", "brush size"), ("spinbutton", "seed"),
                       ("combobox", "model"), ("img", "painting canvas"), ("button", "picture 104")]:
        assert page.get_by_role(role, name=name, exact=True).count() == 1, (role, name)
    assert page.get_by_role("combobox", name="model").is_visible()  # two models are loaded
    # The brush-size slider (here by keyboard) shows its size as a circle on the picture.
    size = page.get_by_role("slider", name="brush size")
    size.focus()
    for _ in range(4):
        size.press("ArrowRight")
    assert page.locator("#size-value").inner_text() == "10%"
    cursor = page.locator("#cursor")
    assert cursor.is_visible()
    css = page.eval_on_selector("#image", "c => c.getBoundingClientRect().width")
    assert abs(cursor.bounding_box()["width"] - 2 * 0.10 * css) < 2
    # Download gives the current picture as a PNG file.
    with page.expect_download() as dl:
        page.get_by_role("link", name="download", exact=True).click()
    assert dl.value.suggested_filename.endswith(".png")
    assert Path(dl.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The canvas's backing store follows devicePixelRatio and the picture is a comfortable size.
    w, css = page.eval_on_selector("#image", "c => [c.width, c.getBoundingClientRect().width]")
    assert css >= 320 and w == round(css * page.evaluate("devicePixelRatio"))


def test_painting_changes_the_painted_area_and_undo_restores_it(page, server, tmp_path):
    page.get_by_role("button", name="tree", exact=True).click()
    settle(page)
    before = pixels(page)
    n = frame_no(page)
    drag(page, y=0.78, release=False)
    # Previews are rendered while the button is still down, and the stroke shows on the overlay.
    wait_new_frame(page, n)
    assert page.eval_on_selector("#overlay", "c => c.getContext('2d').getImageData(c.width / 2, c.height * 0.78, 1, 1).data[3]") > 0
    assert strokes_listed(page) == 0
    page.mouse.up()
    wait_committed(page, 1)
    after = pixels(page)
    diff = np.abs(after - before).sum(axis=2)
    lower, upper = diff[32:].sum(), diff[:32].sum()
    assert diff.max() > 40, "the picture did not change"
    assert lower > 3 * upper, f"the change is not mostly where the stroke was ({lower:.0f} lower vs {upper:.0f} upper)"
    assert page.locator("#history li").first.inner_text().startswith("1. tree")

    shot = tmp_path / "painted.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("GANPAINT_SCREENSHOT"):
        (ROOT / "docs").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))

    n = frame_no(page)
    page.get_by_role("button", name="undo", exact=True).click()
    wait_listed(page, 0)
    wait_new_frame(page, n)
    restored = np.abs(pixels(page) - before).sum(axis=2)
    assert restored.mean() < 0.1 * diff.mean() + 1.0, "undo did not bring the previous picture back"
    assert page.get_by_role("button", name="redo", exact=True).is_enabled()
    assert session_state(page, server)["strokes"] == []


def test_keyboard_shortcuts_and_keyboard_reach(page, server):
    drag(page, y=0.7)
    wait_committed(page, 1)
    page.locator("h1").click()  # focus on nothing in particular
    page.keyboard.press("Control+z")
    wait_listed(page, 0)
    page.wait_for_function("document.getElementById('redo').disabled === false")
    page.keyboard.press("Control+Shift+z")
    wait_listed(page, 1)
    page.keyboard.press("Meta+z")  # Cmd on a Mac
    wait_listed(page, 0)
    page.keyboard.press("Control+Shift+z")
    wait_listed(page, 1)
    page.wait_for_function("document.getElementById('undo').disabled === false")
    assert len(session_state(page, server)["strokes"]) == 1

    # Tab reaches every kind of control, and the focused one shows a visible outline.
    page.locator("h1").click()
    reached, no_outline = set(), []
    for _ in range(45):
        page.keyboard.press("Tab")
        name, outline = page.evaluate("""() => {
            const el = document.activeElement;
            if (el === document.body) return ['', true];  // focus wrapped around past the last control
            const label = el.labels && el.labels[0] ? el.labels[0].textContent : '';
            const img = el.querySelector && el.querySelector('img');
            const cs = getComputedStyle(el);
            return [(el.getAttribute('aria-label') || label || (img && img.alt) || el.textContent || '').trim(),
                    cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2];
        }""")
        reached.add(name)
        if not outline:
            no_outline.append(name)
    for name in ["tree", "dome", "draw", "remove", "strength", "brush size", "delete", "undo", "reset", "download",
                 "random", "seed", "load", "picture 104", "model"]:
        assert name in reached, f"{name!r} cannot be reached with the keyboard ({sorted(reached)})"
    assert not no_outline, f"focused controls without a visible outline: {no_outline}"


def test_a_different_picture_loads(page, server):
    settle(page)
    before = pixels(page)
    n = frame_no(page)
    page.get_by_role("button", name="picture 425").click()
    wait_new_frame(page, n)
    assert page.get_by_role("spinbutton", name="seed").input_value() == "425"
    assert page.get_by_role("button", name="picture 425").get_attribute("aria-current") == "true"
    assert np.abs(pixels(page) - before).mean() > 5, "the picture did not change"
    assert session_state(page, server)["seed"] == 425

    n = frame_no(page)
    seed = page.get_by_role("spinbutton", name="seed")
    seed.fill("700")
    seed.press("Enter")
    wait_new_frame(page, n)
    page.wait_for_function("document.querySelector('#thumbs [data-seed=\"700\"]').getAttribute('aria-current') === 'true'")
    assert session_state(page, server)["seed"] == 700

    n = frame_no(page)
    page.get_by_role("button", name="random", exact=True).click()
    wait_new_frame(page, n)
    assert page.get_by_role("spinbutton", name="seed").input_value() != "700"


def test_model_switcher_starts_a_session_on_the_other_model(page, server):
    other = server["models"][1]
    sid = page.eval_on_selector("#stage", "el => el.dataset.session")
    page.get_by_role("combobox", name="model").select_option(other)
    page.wait_for_function(f"document.getElementById('stage').dataset.session !== '{sid}'")
    page.wait_for_function("document.getElementById('status').dataset.state === 'open'")
    assert session_state(page, server)["model"] == other
    # The brush settings travel with the stroke.
    page.get_by_role("button", name="sky", exact=True).click()
    page.get_by_role("button", name="remove", exact=True).click()
    page.get_by_role("slider", name="strength").fill("50")
    drag(page, y=0.5)
    wait_committed(page, 1)
    (stroke,) = session_state(page, server)["strokes"]
    assert (stroke["concept"], stroke["mode"], stroke["strength"]) == ("sky", "remove", 0.5)
    assert page.locator("#history li").first.inner_text().startswith("1. remove sky")
    # A reload keeps the session (its id is in the URL hash) with its strokes and model.
    sid = page.eval_on_selector("#stage", "el => el.dataset.session")
    page.reload()
    open_page(page, None)
    wait_listed(page, 1)
    assert page.eval_on_selector("#stage", "el => el.dataset.session") == sid
    assert page.get_by_role("combobox", name="model").input_value() == other


def test_socket_drop_recovers_with_the_strokes(browser, server):
    ctx = browser.new_context(viewport={"width": 1000, "height": 800})
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    routes = []

    def through(ws):  # a transparent proxy that the test can cut
        routes.append(ws)
        ws.connect_to_server()

    pg.route_web_socket("**/api/sessions/*/ws*", through)
    open_page(pg, server["url"])
    drag(pg, y=0.8)
    wait_committed(pg, 1)

    routes[-1].close(code=1011, reason="test drop")
    pg.wait_for_function("document.getElementById('status').dataset.state === 'reconnecting'")
    pg.wait_for_function("document.getElementById('status').dataset.state === 'open'")
    assert len(routes) >= 2, "the page did not open a new socket"
    assert strokes_listed(pg) == 1
    drag(pg, y=0.3)
    wait_committed(pg, 2)
    assert len(session_state(pg, server)["strokes"]) == 2

    # The server forgets the session (restart, expiry): the page starts a new one and replays the strokes.
    old = pg.eval_on_selector("#stage", "el => el.dataset.session")
    assert pg.request.delete(f"{server['url']}/api/sessions/{old}").status == 204
    pg.wait_for_function(f"document.getElementById('stage').dataset.session !== '{old}'")
    pg.wait_for_function("document.getElementById('status').dataset.state === 'open'")
    assert "restored 2 strokes" in pg.locator("#message").inner_text()
    assert len(session_state(pg, server)["strokes"]) == 2
    assert strokes_listed(pg) == 2
    ctx.close()


def test_errors_show_as_messages_and_the_page_keeps_working(page, server):
    for i in range(MAX_STROKES):
        drag(page, y=0.15 + 0.25 * i, steps=6)
        wait_committed(page, i + 1)
    drag(page, y=0.9, steps=6)  # one more than the server allows
    message = page.get_by_role("alert")
    message.wait_for(state="visible")
    assert f"at most {MAX_STROKES} strokes" in message.inner_text()
    wait_committed(page, MAX_STROKES)  # the optimistic entry is taken back
    page.locator("#history li").nth(1).hover()
    assert page.eval_on_selector("#overlay", "c => c.getContext('2d').getImageData(2, 2, 1, 1).data[3]") > 0, \
        "hovering a stroke should dim the rest of the picture"
    page.locator("#history li").nth(1).get_by_role("button", name="delete").click()
    wait_listed(page, MAX_STROKES - 1)
    page.wait_for_function("document.getElementById('undo').disabled === false")
    assert len(session_state(page, server)["strokes"]) == MAX_STROKES - 1
    page.get_by_role("button", name="reset", exact=True).click()
    wait_listed(page, 0)
    page.wait_for_function("document.getElementById('reset').disabled === true")
    assert session_state(page, server)["strokes"] == []


def test_phone_width_and_touch(browser, server):
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True,
                              device_scale_factor=2)
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    open_page(pg, server["url"])
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    box = pg.get_by_role("img", name="painting canvas").bounding_box()
    assert 300 <= box["width"] <= 375 and box["x"] >= 0
    backing = pg.eval_on_selector("#image", "c => c.width")
    assert backing == round(box["width"] * 2), "the canvas should have one pixel per device pixel"
    pg.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6)
    wait_committed(pg, 1)
    (x, y), = session_state(pg, server)["strokes"][0]["points"]
    assert abs(x - 0.5) < 0.01 and abs(y - 0.6) < 0.01
    ctx.close()
