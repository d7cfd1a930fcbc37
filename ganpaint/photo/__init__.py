"""Photos (runtime): reading an upload into the model's square (photo, re-exported here), the encoder
that gives a first guess of its activations (invert), adapting a per-photo copy of the generator to
it (adapt), and how well the model can draw it (photo_fit).

    from ganpaint.photo import load_photo, fit_square      # as before the package existed
"""
from .photo import (
    FORMATS, MARGIN, MAX_BYTES, MAX_PIXELS, Composite, CorruptPhoto, Geometry, Photo, PhotoError, PhotoTooLarge,
    UnsupportedPhoto, composite, decode_photo, fit_square, load_photo, margin_pixels, photo_size,
)

__all__ = [
    "PhotoError", "PhotoTooLarge", "UnsupportedPhoto", "CorruptPhoto", "Photo", "Geometry", "Composite",
    "load_photo", "decode_photo", "photo_size", "fit_square", "composite", "margin_pixels",
    "FORMATS", "MAX_BYTES", "MAX_PIXELS", "MARGIN",
]
