"""Image encoding and decoding at the edges: tensors ↔ PNG/JPEG/WebP bytes, data-URL masks.

    data = encode_image(G(z)[0], "webp")               # (3, H, W) in [-1, 1] → bytes
    arr = to_uint8(G(z))                               # (N, H, W, 3) uint8
    mask = decode_mask_data_url("data:image/png;base64,...")   # (H, W) bool, painted = True
"""
from __future__ import annotations

import base64
import binascii
import io

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = ["ImageError", "FORMATS", "to_uint8", "encode_image", "encode_array", "decode_mask_data_url",
           "mask_data_url_size", "upscale_encoded", "MEDIA_TYPES"]

FORMATS = ("webp", "jpeg", "png")
MEDIA_TYPES = {"webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png"}


class ImageError(ValueError):
    """An image that cannot be used; the message says why."""


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) or (3, H, W) in [-1, 1] → (N, H, W, 3) or (H, W, 3) uint8, as the original encoder."""
    x = ((img.detach().float().cpu() + 1) / 2 * 255).clamp(0, 255).round().to(torch.uint8)
    return x.movedim(-3, -1).numpy()


def encode_array(arr: np.ndarray, fmt: str = "png", quality: int = 90) -> bytes:
    if fmt not in FORMATS:
        raise ImageError(f"unsupported format {fmt!r}; use one of {', '.join(FORMATS)}")
    buf = io.BytesIO()
    im = Image.fromarray(arr)
    if fmt == "png":
        im.save(buf, "PNG", compress_level=1)
    elif fmt == "jpeg":
        im.save(buf, "JPEG", quality=quality)
    else:
        im.save(buf, "WEBP", quality=quality, method=0)
    return buf.getvalue()


def encode_image(img: torch.Tensor, fmt: str = "png", quality: int = 90) -> bytes:
    return encode_array(to_uint8(img), fmt, quality)


def upscale_encoded(data: bytes, factor: int, fmt: str = "png", quality: int = 90) -> bytes:
    """An encoded image `factor`× larger (Lanczos): a bigger download of a small generated picture. It adds
    no detail the generator did not draw; callers label it as upscaled."""
    with Image.open(io.BytesIO(data)) as im:
        big = im.convert("RGB").resize((im.width * factor, im.height * factor), Image.Resampling.LANCZOS)
    return encode_array(np.asarray(big), fmt, quality)


def _mask_bytes(url: str, max_bytes: int) -> bytes:
    prefix, sep, payload = url.partition(",")
    if not sep or not prefix.startswith("data:image/") or ";base64" not in prefix:
        raise ImageError("expected a data:image/...;base64,... URL")
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise ImageError(f"mask is larger than {max_bytes} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("mask is not valid base64") from None


def mask_data_url_size(url: str, *, max_bytes: int = 2_000_000) -> tuple[int, int]:
    """(width, height) a mask declares, read from its header only: what decoding it would cost."""
    raw = _mask_bytes(url, max_bytes)
    try:
        with Image.open(io.BytesIO(raw)) as im:  # lazy: reads the header, decodes no pixels
            return im.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        raise ImageError("mask is not a readable image") from None


def decode_mask_data_url(url: str, *, max_bytes: int = 2_000_000, max_pixels: int = 4096 * 4096) -> np.ndarray:
    """A painted mask from a data URL: alpha > 0 where the image has transparency, else dark pixels."""
    raw = _mask_bytes(url, max_bytes)
    try:
        with Image.open(io.BytesIO(raw)) as im:
            if im.width * im.height > max_pixels:
                raise ImageError(f"mask has {im.width}×{im.height} pixels, more than {max_pixels}")
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                alpha = np.asarray(im.convert("RGBA"))[..., 3]
                if alpha.min() < 255:
                    return alpha > 0
            grey = np.asarray(im.convert("L"))
            return grey < 128
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        raise ImageError("mask is not a readable image") from None
