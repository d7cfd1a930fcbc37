"""What the browser tests share: a server with a tiny model, a page that is painting, a mouse drag, and
the session on the stage.

    with tiny_server(adapt_h_steps=10) as server: ...        # {"url", "app"}
    pg = new_page(context, errors, timeout_ms=20_000)        # page errors collected into `errors`
    open_page(pg, server["url"], "/?seed=425")                # waits for the first frame and the socket
    drag(pg, y=0.5)                                           # a human-ish drag across the canvas
"""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def tiny_server(**settings):
    """The app on a random 32 px model ("tiny"), served in a thread: {"url", "app"}."""
    from ganpaint.paint.model import PaintModel
    from server.app import create_app
    from server.settings import Settings
    from server.testing import serve_in_thread

    tiny = PaintModel.random(resolution=32, widths=(32, 32, 16, 16), model_id="tiny")
    app = create_app(Settings(device="cpu", **settings), models={"tiny": tiny})
    with serve_in_thread(app, log_level="warning") as url:
        yield {"url": url, "app": app}


def new_page(ctx, errors: list, timeout_ms: int):
    """A page of `ctx` whose uncaught errors land in `errors`."""
    pg = ctx.new_page()
    pg.set_default_timeout(timeout_ms)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    return pg


def open_page(pg, url: str | None, path: str = "/"):
    """Go to url + path (None: the page is already loading, e.g. a reload) and wait until it paints."""
    if url is not None:
        pg.goto(url + path)
    pg.wait_for_function("document.getElementById('stage').dataset.frame >= 1")
    pg.wait_for_function("document.getElementById('status').dataset.state === 'open'")
    return pg


def drag(pg, y=0.5, x0=0.25, x1=0.75, steps=12, release=True, pause_ms=15) -> None:
    """Press at (x0, y) of the canvas, move to (x1, y) in `steps`, release unless told not to."""
    box = pg.get_by_role("img", name="painting canvas").bounding_box()
    at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # noqa: E731
    pg.mouse.move(*at(x0, y))
    pg.mouse.down()
    for i in range(1, steps + 1):
        pg.mouse.move(*at(x0 + (x1 - x0) * i / steps, y))
        pg.wait_for_timeout(pause_ms)  # so that previews go out while it lasts
    if release:
        pg.mouse.up()


def session_id(pg) -> str:
    return pg.eval_on_selector("#stage", "el => el.dataset.session")


def wait_session(pg, not_id: str | None = None, is_id: str | None = None) -> str:
    """Wait until the stage shows session `is_id`, or any session but `not_id`; return its id."""
    if is_id is not None:
        pg.wait_for_function(f"document.getElementById('stage').dataset.session === '{is_id}'")
    else:
        pg.wait_for_function(f"document.getElementById('stage').dataset.session !== '{not_id}'")
    return session_id(pg)
