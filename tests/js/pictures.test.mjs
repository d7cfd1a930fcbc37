// Unit tests of the DOM-free parts of frontend/js/pictures.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEMO_IDS, mapLimited, randomSeed } from "../../frontend/js/pictures.js";

test("the strip shows the original demo's image ids", () => {
  assert.deepEqual(DEMO_IDS.slice(0, 3), [104, 425, 457]);
  assert.equal(DEMO_IDS.length, 16);
});

test("random seeds stay within the original id table", () => {
  assert.equal(randomSeed(() => 0), 0);
  assert.equal(randomSeed(() => 0.99999), 9999);
});

test("mapLimited runs every item with bounded concurrency", async () => {
  let running = 0, peak = 0;
  const done = [];
  await mapLimited([1, 2, 3, 4, 5], 2, async (x) => {
    running += 1; peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    done.push(x);
    running -= 1;
  });
  assert.equal(peak, 2);
  assert.deepEqual(done.sort(), [1, 2, 3, 4, 5]);
});

test("mapLimited stops taking new items once aborted", async () => {
  const ctl = new AbortController();
  const done = [];
  await mapLimited([1, 2, 3, 4], 1, async (x) => { done.push(x); if (x === 2) ctl.abort(); }, ctl.signal);
  assert.deepEqual(done, [1, 2]);
});
