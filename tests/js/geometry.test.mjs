// Unit tests of frontend/js/geometry.js (run: node --test tests/js/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { backingSize, displaySize, toNormalized, radiusToPixels } from "../../frontend/js/geometry.js";

const rect = { left: 100, top: 50, width: 400, height: 400 };

test("client pixels map to normalized picture coordinates", () => {
  assert.deepEqual(toNormalized(100, 50, rect), [0, 0]);
  assert.deepEqual(toNormalized(500, 450, rect), [1, 1]);
  assert.deepEqual(toNormalized(300, 350, rect), [0.5, 0.75]);
});

test("points outside the picture are clamped onto its edge", () => {
  assert.deepEqual(toNormalized(20, 900, rect), [0, 1]);
  assert.deepEqual(toNormalized(650, -10, rect), [1, 0]);
});

test("normalized coordinates are rounded to four decimals", () => {
  const [x, y] = toNormalized(100 + 400 / 3, 50 + 400 / 7, rect);
  assert.equal(x, 0.3333);
  assert.equal(y, 0.1429);
});

test("a non-square rectangle scales each axis by its own size", () => {
  assert.deepEqual(toNormalized(50, 25, { left: 0, top: 0, width: 100, height: 200 }), [0.5, 0.125]);
});

test("brush radii are fractions of the picture's width", () => {
  assert.equal(radiusToPixels(0.06, 500), 30);
  assert.equal(radiusToPixels(0.25, 128), 32);
});

test("the backing store follows devicePixelRatio", () => {
  assert.equal(backingSize(512, 1), 512);
  assert.equal(backingSize(512, 2), 1024);
  assert.equal(backingSize(333, 1.5), 500);
  assert.equal(backingSize(100, 0), 100); // a nonsense ratio falls back to 1
  assert.equal(backingSize(100, NaN), 100);
});

test("display size stays within bounds and prefers whole multiples of the resolution", () => {
  assert.equal(displaySize(1000, 2000, { max: 640 }), 640);
  assert.equal(displaySize(100, 100, { min: 160 }), 160);
  assert.equal(displaySize(520, 900, { resolution: 128 }), 512); // 4× is within 10 %
  assert.equal(displaySize(360, 900, { resolution: 128 }), 360); // 2× (256) would waste too much
  assert.equal(displaySize(500, 300, { resolution: 0 }), 300); // the smaller side decides
});
