"""Footprint composites on real photographs: only the painted pixels plus a 2 % seam ever change."""
import base64
import io

import numpy as np
import pytest
import torch
from geometry import distance_beyond
from PIL import Image

from ganpaint.paint.edit import Stroke
from ganpaint.paint.footprint import footprint
from ganpaint.photo.photo import composite, load_photo, margin_pixels

skdata = pytest.importorskip("skimage.data")  # the `test` extra installs it: real photos no one here made
torch.set_num_threads(1)


def _mask_url(mask: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(_png(np.where(mask, 0, 255).astype(np.uint8))).decode()


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


STROKES = [
    Stroke.from_dict({"concept": "tree", "points": [[0.15, 0.3], [0.3, 0.32], [0.42, 0.4]], "radius": 0.05}),
    Stroke.from_dict({"concept": "sky", "mode": "remove", "points": [[0.8, 0.75]], "radius": 0.03}),
]


@pytest.mark.parametrize("name,scale,fit", [("astronaut", 4, "crop"), ("chelsea", 3, "crop"),
                                            ("rocket", 2, "letterbox"), ("camera", 1, "crop")])
def test_full_resolution_download_changes_only_footprint_and_margin(name, scale, fit):
    rgb = getattr(skdata, name)()
    if rgb.ndim == 2:  # the greyscale camera man: any colour cast outside the strokes would show
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    rgb = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] * scale, rgb.shape[0] * scale), Image.BICUBIC))
    photo = load_photo(_png(rgb), 128, fit=fit)
    model = np.zeros((128, 128, 3), np.uint8)
    model[..., 1] = 255  # a pure green "edit": no photo pixel is pure green
    out = composite(photo, model, STROKES)
    g = photo.geometry
    beyond = distance_beyond(STROKES, rgb.shape[:2], g.x0, g.y0, g.side)
    changed = (out.image != rgb).any(axis=2)
    margin = margin_pixels(g)
    assert margin == pytest.approx(0.02 * min(rgb.shape[:2]))
    assert not changed[beyond > margin].any()  # bit-identical outside footprint + margin
    painted = beyond <= -1.0
    assert painted.any() and (out.image[painted] == (0, 255, 0)).all()
    share = changed.mean()
    assert share < 3 * painted.mean() + 0.02  # the old cell composite changed a third of the photo


def test_display_frame_is_the_same_composite_downscaled():
    rgb = skdata.astronaut()
    photo = load_photo(_png(rgb), 128, fit="crop")
    model = np.zeros((128, 128, 3), np.uint8)
    model[..., 0] = 255
    full = composite(photo, model, STROKES).image
    frame = composite(photo, model, STROKES, size=256).image
    assert frame.shape == (256, 256, 3)
    assert (frame == composite(photo, model, STROKES, size=256).image).all()  # deterministic
    down = np.asarray(Image.fromarray(full).resize((256, 256), Image.Resampling.BOX)).astype(int)
    diff = np.abs(frame.astype(int) - down)
    assert np.median(diff) <= 1 and np.percentile(diff, 99) < 40  # only the seam's resampling differs
    painted = distance_beyond(STROKES, (256, 256), 0, 0, 256) <= -1
    assert (frame[painted] == (255, 0, 0)).all()
    untouched = distance_beyond(STROKES, (256, 256), 0, 0, 256) > margin_pixels(photo.geometry) * 256 / 512
    assert (frame[untouched] == photo.display(256)[untouched]).all()


def test_mask_strokes_feather_within_the_margin():
    mask = np.zeros((64, 64), bool)
    mask[20:30, 10:50] = True
    st = Stroke.from_dict({"concept": "tree", "mask": _mask_url(mask)})
    for side, margin in [(256, 8.0), (2048, 40.0)]:  # exact grid, then the interpolated coarse grid
        fp = footprint([st], (side, side), x0=0, y0=0, side=side, margin=margin)
        y0, y1, x0, x1 = fp.box
        w = np.zeros((side, side), np.float32)
        w[y0:y1, x0:x1] = fp.weight
        k = side / 64
        assert (w[int(21 * k):int(29 * k), int(11 * k):int(49 * k)] == 1).all()
        yy, xx = np.mgrid[0:side, 0:side] + 0.5
        dy = np.maximum(np.maximum(20 * k - yy, yy - 30 * k), 0)
        dx = np.maximum(np.maximum(10 * k - xx, xx - 50 * k), 0)
        assert w[np.hypot(dx, dy) > margin].max() == 0
        assert 0 < w[int(25 * k), int(50 * k + margin / 2)] < 1  # feathered, not cut


def test_footprint_nothing_painted():
    assert footprint([], (10, 10), x0=0, y0=0, side=10, margin=1).empty
    weak = Stroke.from_dict({"concept": "tree", "points": [[0.5, 0.5]], "strength": 0})
    assert footprint([weak], (10, 10), x0=0, y0=0, side=10, margin=1).empty
    off = Stroke.from_dict({"concept": "tree", "points": [[0.5, 0.5]], "radius": 0.01})
    assert footprint([off], (10, 10), x0=100, y0=0, side=10, margin=1).empty  # the square lies beside the image
