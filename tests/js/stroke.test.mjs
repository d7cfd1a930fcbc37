// Unit tests of frontend/js/stroke.js: pointer positions → API stroke data, palette order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StrokeBuilder, StrokeInput, brushNames, conceptColor, orderBrushes, strokeColor, REMOVE_COLOR } from "../../frontend/js/stroke.js";

test("a stroke is the API's data: concept, mode, strength, radius, points", () => {
  const b = new StrokeBuilder({ concept: "tree", mode: "draw", strength: 0.5, radius: 0.06 });
  b.add([0.1, 0.7]);
  b.add([0.4, 0.7]);
  assert.deepEqual(b.toData(), { concept: "tree", mode: "draw", strength: 0.5, radius: 0.06, points: [[0.1, 0.7], [0.4, 0.7]] });
});

test("moves shorter than the minimum step add no point", () => {
  const b = new StrokeBuilder({ concept: "sky", radius: 0.08 }); // min step 0.02
  assert.ok(b.add([0.5, 0.5]));
  assert.ok(!b.add([0.51, 0.5]));
  assert.ok(b.add([0.53, 0.5]));
  assert.equal(b.length, 2);
});

test("toData returns a copy that later points do not change", () => {
  const b = new StrokeBuilder({ concept: "tree" });
  b.add([0.1, 0.1]);
  const first = b.toData();
  b.add([0.9, 0.9]);
  assert.equal(first.points.length, 1);
});

test("the point count stays within the server's limit", () => {
  const b = new StrokeBuilder({ concept: "tree", minStep: 0, maxPoints: 5 });
  for (let i = 0; i < 20; i++) b.add([i / 20, 0.5]);
  const d = b.toData();
  assert.equal(d.points.length, 5);
  assert.deepEqual(d.points[4], [0.95, 0.5]); // the newest position is kept
});

test("custom unit brushes send units instead of a concept", () => {
  const d = new StrokeBuilder({ units: [3, 7], mode: "remove" }).toData();
  assert.deepEqual(d.units, [3, 7]);
  assert.equal(d.concept, undefined);
  assert.throws(() => new StrokeBuilder({}));
});

test("the demo's brushes come first in the palette", () => {
  assert.deepEqual(orderBrushes(["road", "sky", "window", "tree", "dome", "sky"]), ["tree", "sky", "dome", "road", "window"]);
});

test("brush names come from a brushes list or a concepts table", () => {
  assert.deepEqual(brushNames({ brushes: ["grass", "tree", "roof"] }), ["tree", "grass", "roof"]);
  assert.deepEqual(brushNames({ concepts: [{ name: "door" }, { name: "window" }] }), ["door", "window"]);
  assert.deepEqual(brushNames({ concepts: { cloud: {}, brick: {} } }), ["cloud", "brick"]);
  assert.deepEqual(brushNames({}), []);
});

test("colours are stable per concept and removal looks different", () => {
  assert.equal(conceptColor("tree"), conceptColor("tree"));
  assert.notEqual(conceptColor("tree"), conceptColor("sky"));
  assert.equal(conceptColor("lamp"), conceptColor("lamp"));
  assert.equal(strokeColor({ concept: "tree", mode: "remove" }), REMOVE_COLOR);
  assert.equal(strokeColor({ concept: "tree", mode: "draw" }), conceptColor("tree"));
});

// StrokeInput with hand-driven time: previews are throttled, the final stroke is sent once on release.
function input(brush = { concept: "tree", mode: "draw", strength: 1, radius: 0.06 }) {
  let t = 0;
  const timers = [];
  const log = { previews: [], commits: [], draws: 0, refused: 0 };
  const i = new StrokeInput({
    brush: () => brush,
    onPreview: (s) => log.previews.push(s),
    onCommit: (s) => log.commits.push(s),
    onDraw: () => { log.draws += 1; },
    onRefused: () => { log.refused += 1; },
    previewMs: 50,
    throttleOptions: { now: () => t, setTimer: (f) => { timers.push(f); return timers.length; }, clearTimer: () => {} },
  });
  return { i, log, advance: (ms) => { t += ms; }, timers };
}

test("a drag previews (throttled) and commits one stroke on release", () => {
  const { i, log, advance } = input();
  i.start([0.1, 0.5]);
  assert.equal(log.previews.length, 1); // the first preview goes at once
  i.move([[0.2, 0.5], [0.3, 0.5]]);
  assert.equal(log.previews.length, 1); // within the wait: held back
  assert.deepEqual(i.drawing.points, [[0.1, 0.5], [0.2, 0.5], [0.3, 0.5]]);
  advance(10);
  i.end([0.4, 0.5]);
  assert.equal(log.commits.length, 1);
  assert.deepEqual(log.commits[0], { concept: "tree", mode: "draw", strength: 1, radius: 0.06,
    points: [[0.1, 0.5], [0.2, 0.5], [0.3, 0.5], [0.4, 0.5]] });
  assert.equal(i.drawing, null);
  i.move([[0.9, 0.9]]); // no stroke under the pointer: nothing happens
  i.end([0.9, 0.9]);
  assert.equal(log.commits.length, 1);
  assert.equal(log.draws, 2); // start and the move that added points
});

test("no brush: no stroke starts and the refusal is reported", () => {
  const { i, log } = input(null);
  i.start([0.5, 0.5]);
  i.end([0.6, 0.6]);
  assert.equal(log.refused, 1);
  assert.deepEqual([log.previews.length, log.commits.length], [0, 0]);
});
