// Unit tests of frontend/js/photo.js: stage labels, the square's geometry, the job watcher, upload errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { JobWatcher, etaText, looksLikePhoto, squareGeometry, stageLabel, uploadPhoto } from "../../frontend/js/photo.js";

test("stages read as words, the queue as a place in line", () => {
  assert.equal(stageLabel({ state: "running", stage: "h4" }), "fitting the scene layout");
  assert.equal(stageLabel({ state: "queued", stage: "queued", position: 1 }), "waiting: next in line");
  assert.equal(stageLabel({ state: "queued", stage: "queued", position: 3 }), "waiting: 2 photos ahead");
  assert.equal(stageLabel({ state: "running", stage: "something-new" }), "something-new");
});

test("the time estimate reads as words while the job waits or runs, and disappears once it ends", () => {
  assert.equal(etaText({ state: "running", eta_s: 12.4 }), "about 12 s left");
  assert.equal(etaText({ state: "queued", eta_s: 150 }), "about 3 min left");
  assert.equal(etaText({ state: "running", eta_s: 0.4 }), "almost done");
  assert.equal(etaText({ state: "running", eta_s: null }), "");
  assert.equal(etaText({ state: "done", eta_s: 3 }), "");
  assert.equal(etaText(null), "");
});

test("the model's square: centre crop or letterbox, as the server fits it", () => {
  assert.deepEqual(squareGeometry({ width: 96, height: 64, fit: "crop" }), { fit: "crop", side: 64, sx: 16, sy: 0 });
  assert.deepEqual(squareGeometry({ width: 64, height: 97 }), { fit: "crop", side: 64, sx: 0, sy: 16 });
  assert.deepEqual(squareGeometry({ width: 96, height: 64, fit: "letterbox" }), { fit: "letterbox", side: 96, dx: 0, dy: 16 });
});

test("only JPEG, PNG and WebP files are sent", () => {
  assert.ok(looksLikePhoto({ type: "image/webp", name: "a" }));
  assert.ok(looksLikePhoto({ type: "", name: "IMG_1.JPG" }));
  assert.ok(!looksLikePhoto({ type: "application/pdf", name: "a.pdf" }));
  assert.ok(!looksLikePhoto(null));
});

test("the watcher polls until the job ends, ignores other jobs and stale progress, ends once", async () => {
  const answers = [
    { id: "j", state: "running", stage: "h4", progress: 0.5 },
    { id: "j", state: "running", stage: "h4", progress: 0.4 }, // crossed with a newer socket message
    { id: "j", state: "done", stage: "done", progress: 1 },
  ];
  const timers = [];
  const updates = [];
  const ends = [];
  const w = new JobWatcher("j", {
    fetchImpl: async () => ({ ok: true, status: 200, json: async () => answers.shift() }),
    setTimer: (f) => { timers.push(f); return timers.length; },
    clearTimer: () => {},
    onUpdate: (job) => updates.push(job.progress),
    onEnd: (job) => ends.push(job.state),
  });
  w.start();
  w.update({ job: "other", state: "done", progress: 1 });
  while (timers.length) await timers.shift()();
  assert.deepEqual(updates, [0.5, 1]);
  assert.deepEqual(ends, ["done"]);
  w.update({ job: "j", state: "failed", progress: 0 });
  assert.deepEqual(ends, ["done"]);
});

test("a refused upload says why, with Retry-After when busy", async () => {
  const fetchImpl = async () => ({
    ok: false, status: 503, headers: { get: (h) => (h === "retry-after" ? "30" : null) },
    json: async () => ({ detail: "the server is busy adapting other photos" }),
  });
  await assert.rejects(uploadPhoto(new File(["x"], "a.png", { type: "image/png" }), { fetchImpl }), (err) => {
    assert.equal(err.status, 503);
    assert.match(err.message, /busy adapting other photos \(try again in 30 s\)/);
    return true;
  });
});
