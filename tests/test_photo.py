import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from ganpaint.paint.edit import Stroke
from ganpaint.photo.photo import (
    CorruptPhoto, PhotoTooLarge, UnsupportedPhoto, composite, decode_photo, fit_square, load_photo,
)

torch.set_num_threads(1)


def _bytes(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _halves(w=40, h=20) -> Image.Image:
    """Left half red, right half blue."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)
    a[:, w // 2:] = (0, 0, 255)
    return Image.fromarray(a)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size but holds (almost) no pixel data: what a decompression bomb looks like to open()."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_supported_formats_decode_to_rgb8(fmt):
    rgb = decode_photo(_bytes(_halves(), fmt, **({"quality": 95} if fmt != "PNG" else {})))
    assert rgb.shape == (20, 40, 3) and rgb.dtype == np.uint8
    assert rgb[10, 5, 0] > 200 and rgb[10, 5, 2] < 60  # red stays left
    assert rgb[10, 35, 2] > 200 and rgb[10, 35, 0] < 60


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(fmt):
    im = _halves(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the stored left edge ends up on top
    rgb = decode_photo(_bytes(im, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {})))
    assert rgb.shape == (40, 20, 3)
    assert rgb[5, 10, 0] > 200 and rgb[5, 10, 2] < 60  # red on top
    assert rgb[35, 10, 2] > 200 and rgb[35, 10, 0] < 60  # blue below


def test_modes_are_converted():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 1] = 200
    rgba[:2, :, 3] = 255  # top opaque green, bottom fully transparent
    out = decode_photo(_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == (0, 200, 0) and tuple(out[3, 3]) == (255, 255, 255)  # flattened onto white

    grey = decode_photo(_bytes(Image.fromarray(np.full((3, 5), 77, np.uint8), "L"), "PNG"))
    assert grey.shape == (3, 5, 3) and (grey == 77).all()

    pal = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), "P")
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    p = decode_photo(_bytes(pal, "PNG"))
    assert tuple(p[0, 0]) == (10, 20, 30) and tuple(p[0, 1]) == (200, 100, 50)

    deep = np.array([[0, 32768, 65535]], np.uint16)
    d = decode_photo(_bytes(Image.fromarray(deep), "PNG"))
    assert list(d[0, :, 0]) == [0, 128, 255]  # scaled, not clipped

    cmyk = Image.new("CMYK", (6, 6), (0, 255, 255, 0))  # pure red in CMYK
    c = decode_photo(_bytes(cmyk, "JPEG", quality=95))
    assert c.shape == (6, 6, 3) and c[3, 3, 0] > 200 and c[3, 3, 1] < 60


def test_bad_files_raise_specific_errors():
    with pytest.raises(UnsupportedPhoto):
        decode_photo(b"this is not an image at all")
    with pytest.raises(UnsupportedPhoto):
        decode_photo(b"")
    with pytest.raises(UnsupportedPhoto):  # a real image in a format we do not take
        decode_photo(_bytes(_halves(), "GIF"))
    for fmt in ("PNG", "JPEG"):
        data = _bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)), fmt)
        with pytest.raises(CorruptPhoto):
            decode_photo(data[: len(data) // 2])
    with pytest.raises(PhotoTooLarge):
        decode_photo(_bytes(_halves(), "PNG"), max_bytes=50)
    with pytest.raises(PhotoTooLarge):
        decode_photo(_bytes(_halves(), "PNG"), max_pixels=100)


@pytest.mark.parametrize("side", [10_000, 20_000])  # PIL's warning range, then its error range
def test_decompression_bombs_are_refused(side):
    with pytest.raises(PhotoTooLarge):
        decode_photo(_png_header_only(side, side), max_pixels=10**12)  # PIL's own guard must trip
    with pytest.raises(PhotoTooLarge):
        decode_photo(_png_header_only(side, side))


def test_fit_square_geometry():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:, :50] = 255  # white left quarter
    sq, g = fit_square(rgb, 16, "crop")
    assert sq.shape == (16, 16, 3) and (g.x0, g.y0, g.side) == (50, 0, 100)
    assert sq.max() == 0  # the white quarter was cropped away
    sq, g = fit_square(rgb, 16, "letterbox")
    assert (g.x0, g.y0, g.side) == (0, -50, 200)
    assert sq[8, 1].min() > 200 and sq[8, 14].max() < 80
    with pytest.raises(ValueError):
        fit_square(rgb, 16, "stretch")


def test_composite_letterbox_edits_only_the_photo():
    orig = np.full((60, 120, 3), 40, np.uint8)
    photo = load_photo(_bytes(Image.fromarray(orig), "PNG"), 16, fit="letterbox")
    white = np.full((16, 16, 3), 255, np.uint8)
    top = Stroke.from_dict({"concept": "sky", "points": [[0.1, 0.05], [0.9, 0.05]], "radius": 0.04})
    assert (composite(photo, white, [top]).image == orig).all()  # only the padding above the photo
    middle = Stroke.from_dict({"concept": "sky", "points": [[0.05, 0.5], [0.95, 0.5]], "radius": 0.1})
    out = composite(photo, white, [middle], margin=0).image
    rows = np.nonzero((out != orig).any(axis=(1, 2)))[0]
    # the square's rows 0.4…0.6 of 120 px → photo rows 48−30…72−30
    assert rows.min() >= 17 and rows.max() <= 43 and (out[20:40, 10:110] == 255).all()
    frame = composite(photo, white, [middle], size=64).image  # the display square: padding stays padding
    assert (frame[:14] == frame[0, 0]).all() and (frame[30, 8:56] == 255).all()
