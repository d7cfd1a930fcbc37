// Unit tests of frontend/js/history.js: the page's mirror of the server's undoable history.
import { test } from "node:test";
import assert from "node:assert/strict";
import { History, describeStroke, normalizeState, sameStrokes } from "../../frontend/js/history.js";

const s = (concept, n = 2, mode = "draw") => ({ concept, mode, points: Array.from({ length: n }, (_, i) => [i / 10, 0.5]) });

test("commit, undo and redo walk the history like the server does", () => {
  const h = new History();
  assert.ok(!h.canUndo && !h.canRedo);
  h.commit(s("tree"));
  h.commit(s("sky"));
  assert.deepEqual(h.strokes.map((x) => x.concept), ["tree", "sky"]);
  assert.ok(h.undo());
  assert.deepEqual(h.strokes.map((x) => x.concept), ["tree"]);
  assert.ok(h.canRedo);
  assert.ok(h.redo());
  assert.deepEqual(h.strokes.map((x) => x.concept), ["tree", "sky"]);
  assert.ok(!h.redo());
});

test("a new commit after an undo drops the redo branch", () => {
  const h = new History();
  h.commit(s("tree"));
  h.undo();
  h.commit(s("grass"));
  assert.ok(!h.canRedo);
  assert.deepEqual(h.strokes.map((x) => x.concept), ["grass"]);
});

test("delete and reset are themselves undoable", () => {
  const h = new History();
  h.commit(s("tree")); h.commit(s("sky")); h.commit(s("door"));
  assert.ok(h.remove(1));
  assert.deepEqual(h.strokes.map((x) => x.concept), ["tree", "door"]);
  assert.ok(h.reset());
  assert.equal(h.strokes.length, 0);
  assert.ok(!h.reset()); // nothing to reset: no extra undo step, as the server
  h.undo();
  assert.deepEqual(h.strokes.map((x) => x.concept), ["tree", "door"]);
  h.undo();
  assert.deepEqual(h.strokes.map((x) => x.concept), ["tree", "sky", "door"]);
  assert.ok(!h.remove(7) && !h.remove(-1) && !h.remove(0.5));
});

test("sync keeps local snapshots when they agree with the server", () => {
  const h = new History();
  h.commit(s("tree"));
  h.commit(s("sky"));
  h.sync({ strokes: [s("tree"), s("sky")], undoDepth: 2, redoDepth: 0 });
  assert.ok(h.undo());
  assert.deepEqual(h.strokes.map((x) => x.concept), ["tree"]);
});

test("sync with a different history takes the server's list and only knows the depths", () => {
  const h = new History();
  h.commit(s("tree"));
  h.sync({ strokes: [s("dome"), s("brick")], undoDepth: 3, redoDepth: 1 });
  assert.deepEqual(h.strokes.map((x) => x.concept), ["dome", "brick"]);
  assert.ok(h.canUndo && h.canRedo);
  assert.ok(!h.undo()); // the previous list is only on the server
  assert.deepEqual(h.strokes.map((x) => x.concept), ["dome", "brick"]);
});

test("strokes echoed with normalized numbers still count as the same", () => {
  const a = [{ concept: "tree", mode: "draw", points: [[0.1, 0.2]], radius: 0.06 }];
  const b = [{ concept: "tree", mode: "draw", strength: 1.0, points: [[0.1000001, 0.2]], radius: 0.06 }];
  assert.ok(sameStrokes(a, b));
  assert.ok(!sameStrokes(a, [{ ...b[0], mode: "remove" }]));
  assert.ok(!sameStrokes(a, []));
});

test("server state messages normalize to one shape", () => {
  const st = normalizeState({ type: "state", id: "abc", model: "scenes", seed: 104, strokes: [s("tree")], undo_depth: 1, redo_depth: 2 });
  assert.deepEqual(st, { strokes: [s("tree")], undoDepth: 1, redoDepth: 2, seed: 104, model: "scenes", id: "abc" });
  const photo = normalizeState({ strokes: [], source: { kind: "photo" } });
  assert.equal(photo.seed, null);
  assert.equal(photo.undoDepth, 0);
  assert.equal(normalizeState({ source: { kind: "seed", seed: 9 } }).seed, 9);
});

test("history labels are short and say what a stroke does", () => {
  assert.equal(describeStroke({ concept: "tree", mode: "draw" }, 0), "1. tree");
  assert.equal(describeStroke({ concept: "sky", mode: "remove" }, 1), "2. remove sky");
  assert.equal(describeStroke({ units: [4, 17, 20, 33], mode: "draw" }, 2), "3. units 4, 17, 20…");
  assert.equal(describeStroke({ concept: "door", mask: "data:image/png;base64,xx" }, 3), "4. door (mask)");
});
