// Unit tests of frontend/js/photomode.js on plain stand-ins for the page's elements.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PhotoMode } from "../../frontend/js/photomode.js";

const el = (extra = {}) => ({
  dataset: {}, hidden: false, disabled: false, attrs: {}, width: 0, height: 0,
  setAttribute(k, v) { this.attrs[k] = v; },
  getContext: () => ({ fillRect() {}, drawImage() {} }),
  ...extra,
});

function harness({ uploadFile, decode } = {}) {
  const watchers = [];
  const shown = [];
  const log = { paintable: [], messages: [], refreshed: 0, timers: [] };
  const progress = { label: { textContent: "" }, visible: false, show(job) { this.visible = true; shown.push(job); }, hide() { this.visible = false; } };
  const before = el({ hidden: true });
  const photos = new PhotoMode({
    stage: el(), before, image: el({ width: 256, height: 256 }), toggle: el({ hidden: true }), progress,
    onPaintable: (on) => log.paintable.push(on),
    onMessage: (text, kind) => log.messages.push([text, kind ?? "error"]),
    onRefresh: () => { log.refreshed += 1; },
    uploadFile: uploadFile ?? (async () => ({ session: "p1", job: "j1" })),
    getState: async (path) => ({ id: "p1", path, source: { kind: "photo", status: "adapting", job: "j1", width: 40, height: 30, fit: "crop" } }),
    decode: decode ?? (async () => ({ close() { this.closed = true; } })),
    watch: (jobId, handlers) => {
      const w = { jobId, handlers, started: false, stopped: false, updates: [],
        start() { this.started = true; }, stop() { this.stopped = true; }, update(m) { this.updates.push(m); } };
      watchers.push(w);
      return w;
    },
    setTimer: (f) => log.timers.push(f),
    cancelJob: async (job) => ({ id: job, state: "cancelled" }),
  });
  return { photos, watchers, shown, log, progress, before };
}

const PNG = { name: "a.png", type: "image/png" };

test("an upload becomes a photo session that follows its job and is not paintable yet", async () => {
  const { photos, watchers, log, progress } = harness();
  const state = await photos.upload(PNG, { model: "scenes" });
  assert.equal(state.path, "/api/sessions/p1");
  assert.ok(progress.visible);
  photos.adoptSource(state.source);
  assert.equal(photos.stage.dataset.adapting, "true");
  assert.equal(photos.paintable, false);
  assert.deepEqual(log.paintable.at(-1), false);
  assert.equal(watchers.length, 1);
  assert.ok(watchers[0].started && watchers[0].jobId === "j1");
  assert.equal(photos.toggle.hidden, false);
  assert.equal(photos.toggle.disabled, false); // the uploaded file is there for before/after
  photos.adoptSource({ ...state.source, status: "adapting" }); // the same job: still one watcher
  assert.equal(watchers.length, 1);
  photos.update({ type: "progress", job: "j1", progress: 0.3 });
  assert.deepEqual(watchers[0].updates, [{ type: "progress", job: "j1", progress: 0.3 }]);
  await photos.cancel();
  assert.deepEqual(watchers[0].updates.at(-1), { id: "j1", state: "cancelled" });
});

test("ready: paintable, and the end of the job is told once; before/after blocks painting while shown", async () => {
  const { photos, watchers, log, before } = harness();
  const state = await photos.upload(PNG);
  photos.adoptSource(state.source);
  watchers[0].handlers.onEnd({ state: "done" });
  assert.deepEqual(log.messages, [["the photo is ready: paint on it", "info"]]);
  assert.equal(log.refreshed, 1);
  photos.adoptSource({ ...state.source, status: "ready" });
  assert.equal(photos.stage.dataset.adapting, "false");
  assert.equal(photos.paintable, true);
  photos.showBefore(true);
  assert.equal(before.hidden, false);
  assert.equal(before.width, 256);
  assert.equal(photos.paintable, false);
  assert.equal(photos.toggle.attrs["aria-pressed"], "true");
  photos.showBefore(false);
  assert.equal(photos.paintable, true);
});

test("failures are explained; a seed picture leaves photo mode", async () => {
  const { photos, watchers, log, progress } = harness();
  const state = await photos.upload(PNG);
  photos.adoptSource(state.source);
  watchers[0].handlers.onEnd({ state: "failed", error: "the job failed: out of memory" });
  assert.deepEqual(log.messages.at(-1), ["the photo could not be prepared: the job failed: out of memory", "error"]);
  photos.adoptSource({ kind: "seed", seed: 3 });
  assert.equal(photos.photo, null);
  assert.ok(watchers[0].stopped);
  assert.equal(photos.toggle.hidden, true);
  assert.equal(progress.visible, false);
  assert.equal(photos.paintable, true);
});

test("a file that is not a photo is refused before uploading; a failed upload hides the progress", async () => {
  let uploads = 0;
  const { photos, progress } = harness({ uploadFile: async () => { uploads += 1; throw new Error("too large"); } });
  await assert.rejects(photos.upload({ name: "notes.txt", type: "text/plain" }), /JPEG, PNG or WebP/);
  assert.equal(uploads, 0);
  await assert.rejects(photos.upload(PNG), /too large/);
  assert.equal(progress.visible, false);
});

test("without a decodable file, before/after stays off and the rest works", async () => {
  const { photos } = harness({ decode: async () => { throw new Error("no"); } });
  const state = await photos.upload(PNG);
  photos.adoptSource(state.source);
  assert.equal(photos.toggle.disabled, true);
  photos.showBefore(true);
  assert.equal(photos.before.hidden, true);
});

test("a stroke refused while the photo is prepared says why, with the time left; a poor fit shows a hint", async () => {
  const fitNote = el({ hidden: true, textContent: "" });
  const { photos, watchers } = harness();
  photos.fitNote = fitNote;
  const state = await photos.upload(PNG);
  photos.adoptSource(state.source);
  watchers[0].last = { state: "running", progress: 0.4, eta_s: 7 };
  assert.equal(photos.refusal(), "the photo is still being prepared (about 7 s left): paint when the bar is full");
  assert.equal(fitNote.hidden, true);
  const hint = "The model can draw this photo only roughly, so edits may not blend in well.";
  photos.adoptSource({ ...state.source, status: "ready", model_fit: { level: "rough", hint } });
  assert.equal(fitNote.hidden, false);
  assert.equal(fitNote.textContent, hint);
  assert.equal(fitNote.dataset.level, "rough");
  photos.adoptSource({ ...state.source, status: "cancelled" });
  assert.match(photos.refusal(), /cannot be painted .*cancelled.*upload it again/);
  photos.adoptSource({ kind: "seed", seed: 3 }); // leaving photo mode hides the hint
  assert.equal(fitNote.hidden, true);
});

test("a photo already prepared when the page takes it up says it is ready, then the bar goes", () => {
  const { photos, watchers, shown, log, progress } = harness();
  photos.adoptSource({ kind: "seed", seed: 3 });
  photos.adoptSource({ kind: "photo", status: "ready", job: "j9", width: 40, height: 30, fit: "crop" });
  assert.equal(watchers.length, 0); // nothing to follow
  assert.deepEqual(shown.at(-1), { state: "done", stage: "done", progress: 1 });
  assert.ok(progress.visible && photos.paintable);
  log.timers.at(-1)();
  assert.equal(progress.visible, false);
  photos.adoptSource({ kind: "photo", status: "ready", job: "j9", width: 40, height: 30, fit: "crop" });
  assert.equal(shown.length, 1); // the same photo again: said once
});
