// Unit tests of frontend/js/frames.js: frames shown newest-only, strokes kept on the overlay until shown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FrameQueue, PendingStrokes } from "../../frontend/js/frames.js";

// A decoder whose results the test releases in any order.
function manualDecoder() {
  const waiting = new Map();
  const decode = (blob) => new Promise((resolve, reject) => waiting.set(blob, { resolve, reject }));
  const finish = async (blob, fail = false) => {
    const w = waiting.get(blob);
    if (fail) w.reject(new Error("bad image")); else w.resolve({ blob, close() { this.closed = true; } });
    await new Promise((r) => setTimeout(r, 0));
  };
  return { decode, finish };
}

test("a frame decoded after a newer one is dropped (decoding can reorder)", async () => {
  const { decode, finish } = manualDecoder();
  const shown = [];
  const q = new FrameQueue({ decode, show: (bitmap, seq) => shown.push([bitmap.blob, seq]) });
  q.fromSocket("a");
  q.fromSocket("b");
  await finish("b");
  await finish("a");
  assert.deepEqual(shown, [["b", 2]]);
  assert.equal(q.shown, 2);
});

test("a REST image overtaken by a socket frame is not shown", async () => {
  const { decode, finish } = manualDecoder();
  const shown = [];
  const q = new FrameQueue({ decode, show: (bitmap) => shown.push(bitmap.blob) });
  let deliver;
  const rest = q.fromRest(new Promise((r) => { deliver = r; }));
  q.fromSocket("socket");
  await finish("socket");
  deliver("rest");
  await rest;
  assert.deepEqual(shown, ["socket"]);
  // with no socket frame in between, the REST image is shown
  const later = q.fromRest(Promise.resolve("rest2"));
  await new Promise((r) => setTimeout(r, 0));
  await finish("rest2");
  await later;
  assert.deepEqual(shown, ["socket", "rest2"]);
});

test("an undecodable frame is reported, not thrown", async () => {
  const { decode, finish } = manualDecoder();
  const errors = [];
  const q = new FrameQueue({ decode, show: () => assert.fail("nothing to show"), onDecodeError: (t) => errors.push(t) });
  const done = q.fromSocket("junk");
  await finish("junk", true);
  await done;
  assert.deepEqual(errors, ["received an image the browser cannot decode"]);
});

test("pending strokes clear on the first frame after their state, or after a while", () => {
  const timers = [];
  const seen = [];
  const p = new PendingStrokes({ onChange: (s) => seen.push(s.length), setTimer: (f) => timers.push(f) });
  p.add({ concept: "tree" });
  p.add({ concept: "sky" });
  p.frameShown(); // a preview frame of the old state: the strokes stay
  assert.equal(p.strokes.length, 2);
  p.stateArrived();
  p.frameShown();
  assert.equal(p.strokes.length, 0);
  assert.deepEqual(seen, [1, 2, 0]);
  p.add({ concept: "door" });
  p.stateArrived(); // the frame came before the state: the timer clears them
  timers.at(-1)();
  assert.equal(p.strokes.length, 0);
  p.add({ concept: "grass" }); // a stale timer does not clear a newer stroke
  timers[0]();
  assert.equal(p.strokes.length, 1);
});
