"""The dissection explorer in a real browser (Chromium via Playwright, as tests/test_frontend_page.py):
inspector → custom brush from two units → paint → reload and find it; placement overlay; edited-cell
outline; artifact toggle; a photo's omissions.

    GANPAINT_SHOTS=/tmp/shots .venv/bin/pytest tests/test_frontend_explorer.py   # also saves screenshots

Runs the shipped model (its unit inspector ships with it) when present, else skips.
"""
from __future__ import annotations

import io
import os
from functools import partial
from pathlib import Path

import pytest
from PIL import Image

from browser_helpers import drag, new_page, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "models" / "scenes"
TIMEOUT_MS = 60_000
ADAPT = {"adapt_h_steps": 30, "adapt_coarse_steps": 10, "adapt_fine_steps": 20, "adapt_init_candidates": 2}


def shot(pg, name: str) -> None:
    folder = os.environ.get("GANPAINT_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(Path(folder) / f"{name}.png"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not (SHIPPED / "generator.safetensors").is_file():
        pytest.skip("the shipped model is not here")
    from ganpaint.paint.model import PaintModel
    from server.app import create_app
    from server.settings import Settings
    from server.testing import serve_in_thread

    os.environ.setdefault("GANPAINT_HOME", str(tmp_path_factory.mktemp("home")))
    app = create_app(Settings(device="cpu", **ADAPT), models={"scenes": PaintModel.load(SHIPPED)})
    with serve_in_thread(app, log_level="warning") as url:
        yield {"url": url, "app": app}


@pytest.fixture
def context(browser):
    # the page forbids eval (CSP); Playwright evaluates its wait conditions as strings
    ctx = browser.new_context(viewport={"width": 1200, "height": 1100}, bypass_csp=True)
    yield ctx
    ctx.close()


def open_shipped(ctx, server, errors, path="/"):
    return open_page(new_page(ctx, errors, TIMEOUT_MS), server["url"], path)


drag = partial(drag, y=0.75, x0=0.15, x1=0.6, steps=12)


def test_inspector_custom_brush_paint_and_reload(context, server):
    errors = []
    pg = open_shipped(context, server, errors)
    pg.get_by_text("units (inspector)").click()
    pg.wait_for_function("document.getElementById('unit-list').dataset.loaded === 'true'")
    pg.get_by_role("searchbox", name="search units").fill("tree")
    rows = pg.locator("#unit-list .unit-show")
    assert rows.count() >= 2 and all("tree" in t for t in rows.all_inner_texts())
    first, second = (int(rows.nth(i).get_attribute("data-unit")) for i in (0, 1))
    rows.nth(0).click()  # details: top samples with the unit's region outlined
    pg.wait_for_function("document.getElementById('unit-examples').naturalWidth > 0")
    assert pg.locator("#unit-title").inner_text().startswith(f"unit {first}: tree")
    for u in (first, second):
        pg.locator(f"#unit-list .unit-pick[data-unit='{u}']").click()
    assert pg.locator("#picked .chip").count() == 2
    pg.get_by_role("textbox", name="brush name").fill("my trees")
    pg.get_by_role("button", name="save brush").click()
    assert pg.locator("#custom-brushes button[data-custom='my trees']").get_attribute("aria-pressed") == "true"
    shot(pg, "inspector")

    before = int(pg.eval_on_selector("#stage", "el => el.dataset.frame"))
    drag(pg, release=False)
    assert int(pg.eval_on_selector("#cells", "el => el.dataset.cells")) > 0  # the edited cells are outlined
    shot(pg, "cells-outline")
    pg.mouse.up()
    pg.wait_for_function(f"Number(document.getElementById('stage').dataset.frame) > {before}")
    assert pg.locator("#history li").first.inner_text().startswith(f"1. units {first}, {second}")
    state = pg.evaluate("(id) => fetch(`/api/sessions/${id}`).then((r) => r.json())",
                        pg.eval_on_selector("#stage", "el => el.dataset.session"))
    assert state["strokes"][0]["units"] == [first, second]

    pg.reload()
    pg.wait_for_function("document.getElementById('stage').dataset.frame >= 1")
    assert pg.locator("#custom-brushes button[data-custom='my trees']").count() == 1  # kept across reloads
    exported = pg.evaluate("localStorage.getItem('ganpaint.unitBrushes.scenes')")
    assert '"units":[%d,%d]' % (first, second) in exported
    assert not errors, errors


def test_placement_overlay_toggles(context, server):
    errors = []
    pg = open_shipped(context, server, errors)
    pg.locator("#brushes button[data-brush='door']").click()
    pg.get_by_label("show where the brush works").check()
    pg.wait_for_function("!document.getElementById('placement').hidden")
    assert pg.locator("#placement").get_attribute("data-concept") == "door"
    assert "door" in pg.locator("#placement-note").inner_text()
    img = Image.open(io.BytesIO(pg.locator("#placement").screenshot()))
    assert img.size[0] > 100
    shot(pg, "placement-door")
    pg.locator("#brushes button[data-brush='tree']").click()
    pg.wait_for_function("document.getElementById('placement').dataset.concept === 'tree'")
    pg.get_by_label("show where the brush works").uncheck()
    pg.wait_for_function("document.getElementById('placement').hidden")
    assert not errors, errors


def _photo_png() -> bytes:
    from ganpaint.world.world import render_scene

    arr = render_scene(11, 128)[0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    """A tiny random 32 px model that reads images with the shipped segmenter: adapting a photo takes
    seconds even on a busy machine, and its reconstruction loses most of the photo's classes."""
    if not (SHIPPED / "segmenter.safetensors").is_file():
        pytest.skip("the shipped segmenter is not here")
    from ganpaint.paint.model import PaintModel
    from ganpaint.segmenters.segmenter import load_segmenter
    from server.app import create_app
    from server.settings import Settings
    from server.testing import serve_in_thread

    tiny = PaintModel.random(resolution=32, widths=(32, 32, 16, 16), model_id="tiny")
    tiny.segmenter = load_segmenter(SHIPPED / "segmenter.safetensors")
    app = create_app(Settings(device="cpu", **ADAPT), models={"tiny": tiny})
    with serve_in_thread(app, log_level="warning") as url:
        yield {"url": url, "app": app}


def test_a_photo_shows_what_the_model_could_not_draw(context, tiny_server):
    errors = []
    pg = open_shipped(context, tiny_server, errors)
    assert pg.locator("#omissions").is_hidden()
    with pg.expect_file_chooser() as chooser:
        pg.get_by_role("button", name="upload photo").click()
    chooser.value.set_files(files=[{"name": "scene.png", "mimeType": "image/png", "buffer": _photo_png()}])
    pg.wait_for_function("!document.getElementById('omissions').hidden", timeout=120_000)
    text = pg.locator("#omissions").inner_text()
    assert text.startswith("this model could not draw:") or text.startswith("everything the segmenter sees")
    sid = pg.eval_on_selector("#stage", "el => el.dataset.session")
    r = pg.evaluate("(id) => fetch(`/api/sessions/${id}/omissions`).then((r) => r.json())", sid)
    assert r["classes"] and all(0 <= v["photo"] <= 1 for v in r["classes"].values())
    assert ("could not draw" in text) == bool(r["missing"])
    shot(pg, "photo-omissions")
    assert not errors, errors


@pytest.fixture(scope="module")
def artifact_server(tmp_path_factory):
    """The unit-image test model with a stored artifact ranking (unit 2, its blue channel, is the artifact)."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from fakes import unit_image_model
    from planted import blue_artifact_score
    from ganpaint.dissect.analysis_store import AnalysisStore
    from ganpaint.dissect.artifact_units import ArtifactConfig, rank_artifact_units
    from server.app import create_app
    from server.settings import Settings
    from server.testing import serve_in_thread

    m = unit_image_model()
    ranking = rank_artifact_units(m, blue_artifact_score, config=ArtifactConfig(samples=24, batch=12))
    AnalysisStore.for_model(m).save("artifacts.json", ranking)
    app = create_app(Settings(device="cpu"), models={"units": m})
    with serve_in_thread(app, log_level="warning") as url:
        yield {"url": url, "app": app}


def test_artifact_toggle_changes_the_picture_and_the_session(context, artifact_server):
    errors = []
    pg = open_shipped(context, artifact_server, errors, "/?format=png")  # lossless frames: exact colours
    box = pg.get_by_label("remove artifact units (1)")
    pg.wait_for_function("!document.getElementById('remove-artifacts').disabled")
    before = int(pg.eval_on_selector("#stage", "el => el.dataset.frame"))
    box.check()
    pg.wait_for_function(f"Number(document.getElementById('stage').dataset.frame) > {before}")
    sid = pg.eval_on_selector("#stage", "el => el.dataset.session")
    state = pg.evaluate("(id) => fetch(`/api/sessions/${id}`).then((r) => r.json())", sid)
    assert state["options"] == {"remove_artifacts": True}
    blue = pg.evaluate("""() => {
        const o = document.createElement('canvas'); o.width = o.height = 16;
        const ctx = o.getContext('2d'); ctx.drawImage(document.getElementById('image'), 0, 0, 16, 16);
        const d = ctx.getImageData(0, 0, 16, 16).data; const b = [];
        for (let i = 2; i < d.length; i += 4) b.push(d[i]);
        return [Math.min(...b), Math.max(...b)];
    }""")
    assert blue[1] - blue[0] <= 6, blue  # the artifact unit (the blue channel) is gone: flat blue
    shot(pg, "artifacts-removed")
    pg.reload()
    pg.wait_for_function("document.getElementById('stage').dataset.frame >= 1")
    assert pg.locator("#remove-artifacts").is_checked()  # the session's option, shown after a reload
    box = pg.get_by_label("remove artifact units (1)")
    before = int(pg.eval_on_selector("#stage", "el => el.dataset.frame"))
    box.uncheck()
    pg.wait_for_function(f"Number(document.getElementById('stage').dataset.frame) > {before}")
    assert pg.evaluate("(id) => fetch(`/api/sessions/${id}`).then((r) => r.json())", sid)["options"] == {"remove_artifacts": False}
    assert not errors, errors
