"""Switching pictures in the real page loses nothing: a picture with strokes or a photo stays reachable by
undo (and redo comes forward again), the seed field and ?seed= follow the picture shown, and a generated
picture offers a larger, labelled, upscaled download.

    .venv/bin/pytest tests/test_frontend_pictures.py
"""
from __future__ import annotations

import io
from functools import partial
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image

from browser_helpers import drag, new_page, open_page, session_id, tiny_server, wait_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000
ADAPT = {"adapt_h_steps": 10, "adapt_coarse_steps": 5, "adapt_fine_steps": 10, "adapt_init_candidates": 2}


@pytest.fixture(scope="module")
def server():
    with tiny_server(**ADAPT) as s:
        yield s


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1200, "height": 860})
    errors = []
    yield open_page(new_page(ctx, errors, TIMEOUT_MS), server["url"], "/?seed=425")
    ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


drag = partial(drag, y=0.5, x0=0.25, x1=0.75, steps=10)


def thumbnail(pg, seed: int):
    return pg.locator(f'#thumbs button[data-seed="{seed}"]')


def seed_shown(pg) -> tuple[str, list[str]]:
    """(the seed field, ?seed= in the address)."""
    url = pg.evaluate("location.href")
    return pg.input_value("#seed"), parse_qs(urlsplit(url).query).get("seed", [])


def _photo_png() -> bytes:
    from ganpaint.world.world import render_scene

    buf = io.BytesIO()
    Image.fromarray(render_scene(3, 64)[0]).save(buf, "PNG")
    return buf.getvalue()


def _ready_photo_session(app, timeout_s: float = 90.0) -> str:
    """The id of the app's photo session once its adaptation is done (fails with its status otherwise)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            photos = [s for s in app.state.sessions if getattr(s.source, "status", None) is not None]
        except RuntimeError:  # the server thread changed the store while this thread copied it
            continue
        ready = [s.id for s in photos if s.source.status == "ready"]
        if ready:
            return ready[0]
        assert time.monotonic() < deadline, f"no photo session became ready: {[s.source for s in photos]}"
        time.sleep(0.05)


def test_thumbnail_click_in_a_photo_session_keeps_the_photo_reachable(page, server):
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="upload photo").click()
    chooser.value.set_files(files=[{"name": "scene.png", "mimeType": "image/png", "buffer": _photo_png()}])
    photo = _ready_photo_session(server["app"])  # the server's word, then the page's
    wait_session(page, is_id=photo)
    page.wait_for_function("document.getElementById('stage').dataset.adapting === 'false'")
    page.wait_for_function("document.getElementById('photo-stage').innerText.includes('ready to paint')")
    assert page.get_by_role("link", name="upscaled").is_hidden()  # a photo downloads at its own size already
    assert seed_shown(page) == ("", [])  # a photo has no seed

    thumbnail(page, 457).click()
    generated = wait_session(page, not_id=photo)
    assert seed_shown(page) == ("457", ["457"])
    sessions = server["app"].state.sessions
    assert sessions.get(photo) is not None  # not replaced: still on the server
    # the page says so once the switch is done, a moment after the new session is on the stage
    page.wait_for_function("document.getElementById('message').innerText.includes('kept')")
    undo = page.get_by_role("button", name="undo")
    assert undo.is_enabled() and "back" in undo.get_attribute("title")

    undo.click()
    wait_session(page, is_id=photo)
    page.wait_for_function("document.getElementById('photo-stage').innerText.includes('ready to paint')")
    assert seed_shown(page) == ("", [])
    assert "view=composite" in page.get_attribute("#download", "href") and photo in page.get_attribute("#download", "href")
    redo = page.get_by_role("button", name="redo")
    assert redo.is_enabled()
    redo.click()
    wait_session(page, is_id=generated)
    assert seed_shown(page) == ("457", ["457"])


def test_strokes_survive_choosing_another_picture(page):
    first = session_id(page)
    drag(page)
    page.wait_for_function("document.querySelectorAll('#history li').length === 1")
    thumbnail(page, 489).click()
    second = wait_session(page, not_id=first)
    assert page.locator("#history li").count() == 0 and seed_shown(page) == ("489", ["489"])

    page.get_by_role("button", name="undo").click()  # nothing to undo on this picture: back to the painted one
    wait_session(page, is_id=first)
    page.wait_for_function("document.querySelectorAll('#history li').length === 1")
    assert seed_shown(page) == ("425", ["425"])
    page.get_by_role("button", name="undo").click()  # now an ordinary undo of that picture's stroke
    page.wait_for_function("document.querySelectorAll('#history li').length === 0")
    assert session_id(page) == first
    page.keyboard.press("Control+Shift+Z")
    page.wait_for_function("document.querySelectorAll('#history li').length === 1")
    page.keyboard.press("Control+Shift+Z")  # past its history: forward to the picture chosen after it
    wait_session(page, is_id=second)


def test_an_untouched_picture_switches_in_place_and_the_seed_follows(page):
    first = session_id(page)
    thumbnail(page, 570).click()
    page.wait_for_function("document.getElementById('seed').value === '570'")
    assert session_id(page) == first  # nothing to keep: the same session shows the new picture
    assert seed_shown(page) == ("570", ["570"]) and page.get_by_role("button", name="undo").is_disabled()
    page.fill("#seed", "705")
    page.get_by_role("button", name="load", exact=True).click()
    page.wait_for_function("new URLSearchParams(location.search).get('seed') === '705'")
    page.reload()
    page.wait_for_function("document.getElementById('stage').dataset.frame >= 1")
    assert seed_shown(page) == ("705", ["705"])


def test_a_generated_picture_offers_a_labelled_upscaled_download(page):
    link = page.get_by_role("link", name="upscaled")
    assert link.is_visible() and "128 px" in link.inner_text() and "no new detail" in link.get_attribute("title")
    href, name = link.get_attribute("href"), link.get_attribute("download")
    assert "scale=4" in href and "upscaled-4x" in name
    data = page.evaluate("async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()))", href)
    assert Image.open(io.BytesIO(bytes(data))).size == (128, 128)
    small = np.asarray(Image.open(io.BytesIO(bytes(page.evaluate(
        "async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()))",
        page.get_attribute("#download", "href"))))))
    assert small.shape[:2] == (32, 32)
