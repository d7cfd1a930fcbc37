// Unit tests of frontend/js/trail.js: pictures left behind stay reachable by undo/redo.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PictureTrail, worthKeeping } from "../../frontend/js/trail.js";

const pic = (id, seed = 1) => ({ id, model: "m", seed });
const hist = (strokes = 0, canUndo = strokes > 0, canRedo = false) => ({ strokes: Array(strokes).fill({}), canUndo, canRedo });

test("strokes, undo steps and photos are worth keeping; an untouched generated picture is not", () => {
  assert.equal(worthKeeping(pic("a"), hist(0), false), false);
  assert.equal(worthKeeping(pic("a"), hist(2), false), true);
  assert.equal(worthKeeping(pic("a"), hist(0, true), false), true); // after a reset: undo brings strokes back
  assert.equal(worthKeeping(pic("a"), hist(0, false, true), false), true);
  assert.equal(worthKeeping(pic("a"), hist(0), true), true);
  assert.equal(worthKeeping({ id: "p", model: "m", seed: null }, hist(0), false), true); // a photo or a latent
  assert.equal(worthKeeping(null, hist(3), true), false);
});

test("back and forward walk the pictures left, like undo and redo", () => {
  const t = new PictureTrail();
  assert.ok(!t.canBack && !t.canForward);
  t.leave(pic("a"));
  t.leave(pic("b"));
  assert.deepEqual(t.back(pic("c")), pic("b"));
  assert.deepEqual(t.back(pic("b")), pic("a"));
  assert.equal(t.back(pic("a")), null);
  assert.ok(t.canForward && t.has("c") && t.has("b"));
  assert.deepEqual(t.forward(pic("a")), pic("b"));
  assert.deepEqual(t.forward(pic("b")), pic("c"));
  assert.ok(!t.canForward && t.canBack);
});

test("leaving a picture after going back ends the forward branch; expired pictures are forgotten", () => {
  const t = new PictureTrail({ max: 2 });
  t.leave(pic("a"));
  t.back(pic("b"));
  t.leave(pic("a"));
  assert.ok(!t.canForward && !t.has("b"));
  t.leave(pic("x")); t.leave(pic("y"));
  assert.equal(t.behind.length, 2); // the oldest fell off
  t.forget("y");
  assert.deepEqual(t.back(pic("z")), pic("x"));
});
