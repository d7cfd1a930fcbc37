"""Photos in and out: decode an upload safely, fit it to the model's square, composite edits back.

    photo = load_photo(data, size=128, fit="crop")      # bytes → Photo (original + model-size square)
    x = photo.tensor()                                   # (1, 3, 128, 128) in [-1, 1], for inversion
    out = composite(photo, edited_img, alpha)            # full-resolution result + raw model output
    out.image                                            # (H, W, 3) uint8, the photo's own pixels outside the edit

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
`composite` maps the edited region back through the same box.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "PhotoError", "PhotoTooLarge", "UnsupportedPhoto", "CorruptPhoto", "Photo", "Geometry", "Composite",
    "load_photo", "decode_photo", "fit_square", "edit_region", "region_weights", "composite",
    "FORMATS", "MAX_BYTES", "MAX_PIXELS",
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

    def tensor(self) -> torch.Tensor:
        """(1, 3, size, size) float in [-1, 1]."""
        return torch.from_numpy(self.square.copy()).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)


def load_photo(data: bytes, size: int, *, fit: str = "crop", max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> Photo:
    rgb = decode_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)
    square, geometry = fit_square(rgb, size, fit)
    return Photo(rgb, square, geometry)


# ----------------------------------------------------------------------------- compositing
def edit_region(alpha: torch.Tensor | np.ndarray) -> np.ndarray:
    """Edit alpha (C, h, w), (1, C, h, w) or (h, w) → (h, w) bool: cells where any unit is edited."""
    a = alpha.detach().cpu().numpy() if isinstance(alpha, torch.Tensor) else np.asarray(alpha)
    while a.ndim > 2:
        a = a.max(axis=0)
    return a > 0


def region_weights(region: np.ndarray, size: int, *, grow: float = 1.0, feather: float = 1.0) -> np.ndarray:
    """(h, w) bool cells → (size, size) float32 weights in [0, 1] on the model square.

    Weight 1 within `grow` cells of an edited cell (an edit at layer4 also changes neighbouring
    pixels through the later 3×3 convolutions), then a linear ramp to exactly 0 over `feather` cells.
    """
    h, w = region.shape
    out = np.zeros((size, size), np.float32)
    cells = np.argwhere(region)
    if len(cells) == 0:
        return out
    c = (np.arange(size, dtype=np.float32) + 0.5) / size  # pixel centres, normalized
    ys, xs = c * h, c * w  # in cell units
    # distance from each pixel centre to the nearest edited cell (a unit square), separably per cell
    dist = np.full((size, size), np.inf, np.float32)
    for i, j in cells:
        dy = np.maximum(np.maximum(i - ys, ys - (i + 1)), 0)
        dx = np.maximum(np.maximum(j - xs, xs - (j + 1)), 0)
        dist = np.minimum(dist, np.hypot(dy[:, None], dx[None, :]))
    if feather <= 0:
        return (dist <= grow).astype(np.float32)
    return np.clip((grow + feather - dist) / feather, 0.0, 1.0).astype(np.float32)


@dataclass
class Composite:
    image: np.ndarray  # (H, W, 3) uint8 at the photo's resolution
    model: np.ndarray  # (size, size, 3) uint8, the generator's own output
    weight: np.ndarray  # (size, size) float32, the blend weight on the model square


def composite(photo: Photo, model_image: torch.Tensor | np.ndarray, alpha: torch.Tensor | np.ndarray | None, *,
              grow: float = 1.0, feather: float = 1.0) -> Composite:
    """The photo at full resolution with the edited region taken from the (upsampled) model output.

    Pixels whose weight is 0 (outside the grown + feathered edit region, or outside the model's
    square) are copied from `photo.original` unchanged, bit for bit.
    """
    if isinstance(model_image, torch.Tensor):
        from .imaging import to_uint8

        model_image = to_uint8(model_image[0] if model_image.dim() == 4 else model_image)
    g = photo.geometry
    assert model_image.shape == (g.size, g.size, 3), model_image.shape
    out = photo.original.copy()
    if alpha is None:
        return Composite(out, model_image, np.zeros((g.size, g.size), np.float32))
    wsq = region_weights(edit_region(alpha), g.size, grow=grow, feather=feather)
    nz = np.argwhere(wsq > 0)
    if len(nz) == 0:
        return Composite(out, model_image, wsq)
    # bounding box of the weights, in original pixels, clipped to the photo
    (sy0, sx0), (sy1, sx1) = nz.min(axis=0), nz.max(axis=0) + 1
    k = g.side / g.size
    ox0, ox1 = max(0, int(np.floor(g.x0 + sx0 * k))), min(g.width, int(np.ceil(g.x0 + sx1 * k)))
    oy0, oy1 = max(0, int(np.floor(g.y0 + sy0 * k))), min(g.height, int(np.ceil(g.y0 + sy1 * k)))
    if ox1 <= ox0 or oy1 <= oy0:  # the edit lies in the letterbox padding only
        return Composite(out, model_image, wsq)
    # the same box in square coordinates; it lies within the square (the support came from there).
    # PIL's resize(box=…) uses pixel-centre mapping and lets the filter read around the box: no seams.
    box = ((ox0 - g.x0) / k, (oy0 - g.y0) / k, (ox1 - g.x0) / k, (oy1 - g.y0) / k)
    box = tuple(float(min(max(v, 0.0), g.size)) for v in box)
    size = (ox1 - ox0, oy1 - oy0)
    up = np.asarray(Image.fromarray(model_image).resize(size, Image.Resampling.BICUBIC, box=box))
    # bilinear keeps exact zeros where the weights are zero, and stays within [0, 1]
    wgt = np.asarray(Image.fromarray(wsq).resize(size, Image.Resampling.BILINEAR, box=box))
    patch = out[oy0:oy1, ox0:ox1]  # a view: writes go to `out`
    full = wgt >= 1.0
    patch[full] = up[full]
    band = (wgt > 0) & ~full  # only the feathered seam needs arithmetic
    w = wgt[band][:, None]
    p = patch[band].astype(np.float32)
    patch[band] = np.clip(p + w * (up[band].astype(np.float32) - p) + 0.5, 0, 255).astype(np.uint8)
    return Composite(out, model_image, wsq)
