"""Photos in and out: decode an upload safely, fit it to the model's square, composite edits back.

    photo = load_photo(data, size=128, fit="crop")      # bytes → Photo (original + model-size square)
    x = photo.tensor()                                   # (1, 3, 128, 128) in [-1, 1], for inversion
    out = composite(photo, edited_img, strokes)          # full resolution: the photo's own pixels outside the strokes
    out.image                                            # (H, W, 3) uint8
    frame = composite(photo, edited_img, strokes, size=512).image   # what the page shows while painting

Accepted: JPEG, PNG and WebP. EXIF orientation is applied; RGBA / LA / palette transparency is
flattened onto white; greyscale, palette, CMYK and 16-bit images become 8-bit RGB.

Errors (all subclasses of `PhotoError`, messages are safe to show to users) and the HTTP status a
server should answer with:

| exception         | when                                                               |
|-------------------|--------------------------------------------------------------------|
| `PhotoTooLarge`   | more bytes than `max_bytes`, more pixels than `max_pixels`, or a decompression bomb |
| `UnsupportedPhoto`| not an image at all, or an image format other than JPEG/PNG/WebP  |
| `CorruptPhoto`    | a JPEG/PNG/WebP that is truncated or cannot be decoded             |

All are `PhotoError`s (a ValueError) whose message says why; the web layer maps them to statuses.

Geometry: the model's square covers the original-image box `[x0, x0+side) × [y0, y0+side)`
(pixels). Centre-crop uses `side = min(W, H)` (box inside the photo); letterbox uses
`side = max(W, H)` (box overhangs the photo; the overhang is filled with the photo's mean colour).
`composite` maps the painted area back through the same box: each stroke's own footprint (points +
radius, or its mask) at the photo's resolution, plus a feathered seam of 2 % of the shorter side.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..paint.footprint import Footprint, footprint

__all__ = [
    "PhotoError", "PhotoTooLarge", "UnsupportedPhoto", "CorruptPhoto", "Photo", "Geometry", "Composite",
    "load_photo", "decode_photo", "photo_size", "fit_square", "composite", "margin_pixels",
    "FORMATS", "MAX_BYTES", "MAX_PIXELS", "MARGIN",
]

FORMATS = ("JPEG", "PNG", "WEBP")
MAX_BYTES = 20_000_000
MAX_PIXELS = 40_000_000  # ≈ 7700×5200; a 24 MP camera photo fits


class PhotoError(ValueError):
    """A photo that cannot be used; the message says why."""


class PhotoTooLarge(PhotoError):
    """More bytes or pixels than allowed."""


class UnsupportedPhoto(PhotoError):
    """Not an image, or not a format we take."""


class CorruptPhoto(PhotoError):
    """A supported format that cannot be decoded."""


# ----------------------------------------------------------------------------- decoding
def _to_rgb8(im: Image.Image) -> np.ndarray:
    """Any decoded mode → (H, W, 3) uint8 RGB."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: PIL's convert("L") clips at 255 instead of scaling, so scale by hand
        a = np.asarray(im).astype(np.float64)
        top = 65535.0 if mode != "I" or a.max() > 255 else 255.0
        g = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "F":
        a = np.asarray(im, np.float64)
        g = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA")).astype(np.float32)
        a = rgba[..., 3:] / 255.0
        # flatten onto white: transparent areas of logos/screenshots are usually meant as background
        return (rgba[..., :3] * a + 255.0 * (1 - a) + 0.5).astype(np.uint8)
    return np.asarray(im.convert("RGB"))


def decode_photo(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Upload bytes → (H, W, 3) uint8 RGB, upright; raises a PhotoError subclass when unusable."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UnsupportedPhoto("expected the image file's bytes")
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"the file has {len(data):,} bytes; the limit is {max_bytes:,}")
    if len(data) == 0:
        raise UnsupportedPhoto("the file is empty")
    with warnings.catch_warnings():
        # PIL warns (instead of failing) between MAX_IMAGE_PIXELS and twice that: make both fail
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(bytes(data)))
        except UnidentifiedImageError:
            raise UnsupportedPhoto("the file is not an image (use JPEG, PNG or WebP)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoTooLarge("the image declares too many pixels (decompression bomb)") from None
        except (OSError, SyntaxError, ValueError) as e:
            raise CorruptPhoto(f"the image header cannot be read ({e})") from None
        with im:
            if im.format not in FORMATS:
                raise UnsupportedPhoto(f"{im.format or 'this'} images are not supported; use JPEG, PNG or WebP")
            w, h = im.size
            if w < 1 or h < 1:
                raise CorruptPhoto("the image has no pixels")
            if w * h > max_pixels:
                raise PhotoTooLarge(f"the image has {w}×{h} pixels; the limit is {max_pixels:,} pixels")
            try:
                im.load()  # a truncated file fails here (ImageFile.LOAD_TRUNCATED_IMAGES stays False)
                im = ImageOps.exif_transpose(im)
                return _to_rgb8(im)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise PhotoTooLarge("the image declares too many pixels (decompression bomb)") from None
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise CorruptPhoto(f"the image data is truncated or corrupt ({e})") from None


# ----------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Geometry:
    """The model square covers original pixels [x0, x0+side) × [y0, y0+side) (may overhang: letterbox)."""

    width: int
    height: int
    x0: float
    y0: float
    side: float
    size: int  # model resolution
    fit: str

    def to_square(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Original pixel coordinates → model-square coordinates (continuous, 0…size)."""
        k = self.size / self.side
        return (x - self.x0) * k, (y - self.y0) * k


def fit_square(rgb: np.ndarray, size: int, fit: str = "crop") -> tuple[np.ndarray, Geometry]:
    """(H, W, 3) uint8 → (size, size, 3) uint8 by centre-crop or letterbox, plus the geometry."""
    if fit not in ("crop", "letterbox"):
        raise ValueError(f"fit must be 'crop' or 'letterbox', got {fit!r}")
    h, w = rgb.shape[:2]
    im = Image.fromarray(rgb)
    if fit == "crop":
        side = min(w, h)
        x0, y0 = (w - side) // 2, (h - side) // 2
        # crop first: resize(box=…) would let the filter read pixels outside the box
        sq = im.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    else:
        side = max(w, h)
        x0, y0 = (w - side) // 2, (h - side) // 2  # ≤ 0
        fill = tuple(int(v) for v in rgb.reshape(-1, 3).mean(axis=0).round())
        canvas = Image.new("RGB", (side, side), fill)
        canvas.paste(im, (-x0, -y0))
        sq = canvas.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(sq), Geometry(w, h, float(x0), float(y0), float(side), size, fit)


@dataclass
class Photo:
    original: np.ndarray  # (H, W, 3) uint8, upright
    square: np.ndarray  # (size, size, 3) uint8, what the model sees
    geometry: Geometry
    _displays: dict = field(default_factory=dict, repr=False)

    @property
    def nbytes(self) -> int:
        """Bytes of pixels this photo holds (the upload budget counts these)."""
        arrays = {id(a): a for a in (self.original, self.square, *self._displays.values())}  # a released photo shares
        return sum(a.nbytes for a in arrays.values())

    def released(self) -> "Photo":
        """This photo without its full-resolution pixels: only the model's square, as a photo of its own
        (for a session whose adaptation ended without a result: it still shows what was uploaded)."""
        n = self.geometry.size
        return Photo(self.square, self.square, Geometry(n, n, 0.0, 0.0, float(n), n, "crop"))

    def display(self, size: int) -> np.ndarray:
        """(size, size, 3) uint8: the model's square of the photo at another size (frames the page shows)."""
        if size == self.geometry.size:
            return self.square
        if size not in self._displays:
            self._displays.clear()  # one display size in use at a time: keep memory per photo bounded
            self._displays[size] = fit_square(self.original, size, self.geometry.fit)[0]
        return self._displays[size]

    def tensor(self) -> torch.Tensor:
        """(1, 3, size, size) float in [-1, 1]."""
        return torch.from_numpy(self.square.copy()).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)


def photo_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the image's header alone, before decoding (None when it cannot be read:
    decode_photo then says why). A memory budget can refuse a photo before its pixels exist."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(bytes(data))) as im:
                return im.size
    except Exception:
        return None


def load_photo(data: bytes, size: int, *, fit: str = "crop", max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> Photo:
    rgb = decode_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)
    square, geometry = fit_square(rgb, size, fit)
    return Photo(rgb, square, geometry)


# ----------------------------------------------------------------------------- compositing
MARGIN = 0.02  # the feathered seam around a stroke, as a share of the photo's shorter side


def margin_pixels(geometry: Geometry, margin: float = MARGIN) -> float:
    """The seam's width in the photo's own pixels."""
    return margin * min(geometry.width, geometry.height)


@dataclass
class Composite:
    image: np.ndarray  # (H, W, 3) uint8: the photo (or its display square) with the edit blended in
    model: np.ndarray  # (size, size, 3) uint8, the generator's own output
    footprint: Footprint  # where image differs from the base: box + weights in the base's pixels


def composite(photo: Photo, model_image: torch.Tensor | np.ndarray, strokes: Sequence, *,
              size: int | None = None, margin: float = MARGIN) -> Composite:
    """The photo with the painted area taken from the (upsampled) model output.

    size=None: at the photo's full resolution (the download); size=N: on the N×N square the model sees,
    as the page shows it while painting. The footprint is each stroke's own shape (points + radius, or
    its mask) at that resolution, grown by `margin` × the photo's shorter side over which it is
    feathered; every other pixel is the base image's, bit for bit.
    """
    if isinstance(model_image, torch.Tensor):
        from ..paint.imaging import to_uint8

        model_image = to_uint8(model_image[0] if model_image.dim() == 4 else model_image)
    g = photo.geometry
    assert model_image.shape == (g.size, g.size, 3), model_image.shape
    m = margin_pixels(g, margin)
    if size is None:
        base, x0, y0, side = photo.original, g.x0, g.y0, g.side
    else:
        base, x0, y0, side, m = photo.display(size), 0.0, 0.0, float(size), m * size / g.side
    out = base.copy()
    fp = footprint(strokes, out.shape[:2], x0=x0, y0=y0, side=side, margin=m)
    if fp.empty:
        return Composite(out, model_image, fp)
    oy0, oy1, ox0, ox1 = fp.box
    wgt = fp.weight
    if size is not None and g.fit == "letterbox":  # only the photo's own pixels are ever edited
        k = size / g.side
        ys = (np.arange(oy0, oy1) + 0.5) / k + g.y0
        xs = (np.arange(ox0, ox1) + 0.5) / k + g.x0
        wgt = wgt * (((ys >= 0) & (ys < g.height))[:, None] & ((xs >= 0) & (xs < g.width))[None, :])
    # the box in model-square pixels; PIL's resize(box=…) maps pixel centres and reads around the box: no seams
    k = g.size / side
    box = tuple(float(min(max(v, 0.0), g.size)) for v in
                ((ox0 - x0) * k, (oy0 - y0) * k, (ox1 - x0) * k, (oy1 - y0) * k))
    up = np.asarray(Image.fromarray(model_image).resize((ox1 - ox0, oy1 - oy0), Image.Resampling.BICUBIC, box=box))
    patch = out[oy0:oy1, ox0:ox1]  # a view: writes go to `out`
    full = wgt >= 1.0
    patch[full] = up[full]
    band = (wgt > 0) & ~full  # only the feathered seam needs arithmetic
    w = wgt[band][:, None]
    p = patch[band].astype(np.float32)
    patch[band] = np.clip(p + w * (up[band].astype(np.float32) - p) + 0.5, 0, 255).astype(np.uint8)
    return Composite(out, model_image, fp)
