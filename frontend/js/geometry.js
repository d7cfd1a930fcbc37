// Coordinate helpers shared by the canvas code and the node tests: page pixels ↔ normalized image
// coordinates (x right, y down, both in [0, 1], as the API wants), device-pixel canvas sizes and brush
// radii. Pure functions without DOM access, e.g.
//   const [x, y] = toNormalized(event.clientX, event.clientY, canvas.getBoundingClientRect());
//   canvas.width = backingSize(cssSize, window.devicePixelRatio);

export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

// Four decimals are 1/10000 of the image: far finer than any model's pixels, and keeps messages small.
export const round4 = (v) => Math.round(v * 1e4) / 1e4;

/** Client (CSS pixel) coordinates → normalized image coordinates, clamped to the picture. */
export function toNormalized(clientX, clientY, rect) {
  const w = rect.width || 1;
  const h = rect.height || 1;
  return [round4(clamp((clientX - rect.left) / w, 0, 1)), round4(clamp((clientY - rect.top) / h, 0, 1))];
}

/** Pixels of a canvas backing store for a CSS size, so that one canvas pixel is one device pixel. */
export function backingSize(cssSize, dpr = 1) {
  const ratio = Number.isFinite(dpr) && dpr > 0 ? dpr : 1;
  return Math.max(1, Math.round(cssSize * ratio));
}

/**
 * Square display size (CSS pixels) of the picture: as large as the space allows, between `min` and
 * `max`, and a whole multiple of the model's resolution when that is possible without shrinking
 * by more than a few percent, so that the upscaled pixels stay even.
 */
export function displaySize(availableWidth, availableHeight, { resolution = 0, min = 160, max = 640 } = {}) {
  const room = Math.floor(clamp(Math.min(availableWidth, availableHeight), min, max));
  if (resolution > 0 && room >= resolution) {
    const whole = Math.floor(room / resolution) * resolution;
    if (whole >= room * 0.9) return whole;
  }
  return room;
}

/** Brush radius (fraction of the picture's width) → CSS or device pixels for a picture `size` wide. */
export function radiusToPixels(radius, size) {
  return radius * size;
}

/** Squared distance between two points; cheaper than the distance for "moved far enough?" checks. */
export function distance2([ax, ay], [bx, by]) {
  return (ax - bx) ** 2 + (ay - by) ** 2;
}
