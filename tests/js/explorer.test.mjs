// Unit tests of the explorer's pure parts: the cells a stroke edits (as ganpaint/paint/edit.py) and the
// custom unit brushes' storage, export and import.
import { test } from "node:test";
import assert from "node:assert/strict";
import { strokeCells, unionCells } from "../../frontend/js/cells.js";
import { UnitBrushes, cleanBrush } from "../../frontend/js/unitbrushes.js";

const on = (cells, size) => [...cells].map((v, i) => (v ? [Math.floor(i / size), i % size] : null)).filter(Boolean);

test("a dot edits the cell under it and the cells its radius reaches", () => {
  assert.deepEqual(on(strokeCells({ points: [[0.3, 0.3]], radius: 0 }, 8), 8), [[2, 2]]);
  // radius 0.06 around (0.25, 0.25), exactly on a cell corner: the four cells around it
  assert.deepEqual(on(strokeCells({ points: [[0.25, 0.25]], radius: 0.06 }, 8), 8), [[1, 1], [1, 2], [2, 1], [2, 2]]);
});

test("a horizontal line edits one row of cells across", () => {
  const cells = on(strokeCells({ points: [[0.05, 0.55], [0.95, 0.55]], radius: 0.02 }, 8), 8);
  assert.deepEqual(cells, [0, 1, 2, 3, 4, 5, 6, 7].map((x) => [4, x]));
});

test("union of strokes and empty strokes", () => {
  const u = unionCells([{ points: [[0.05, 0.05]], radius: 0 }, { points: [[0.95, 0.95]], radius: 0 }], 4);
  assert.deepEqual(on(u, 4), [[0, 0], [3, 3]]);
  assert.equal(strokeCells({ mask: "data:..." }, 4).reduce((a, b) => a + b, 0), 0);
});

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)) };
}

test("brushes are kept per model, replaced by name, and survive a new store (a reload)", () => {
  const storage = memoryStorage();
  const a = new UnitBrushes(storage, "scenes", { maxUnit: 128 });
  a.save({ name: " trees ", units: [11, 34, 11] });
  a.save({ name: "domes", units: [36] });
  a.save({ name: "trees", units: [126] });
  const again = new UnitBrushes(storage, "scenes", { maxUnit: 128 });
  assert.deepEqual(again.list(), [{ name: "domes", units: [36] }, { name: "trees", units: [126] }]);
  assert.deepEqual(new UnitBrushes(storage, "other").list(), []);
  again.remove("domes");
  assert.deepEqual(again.list().map((b) => b.name), ["trees"]);
});

test("export then import round-trips; bad files say why", () => {
  const a = new UnitBrushes(memoryStorage(), "scenes", { maxUnit: 128 });
  a.save({ name: "mix", units: [1, 2] });
  const b = new UnitBrushes(memoryStorage(), "scenes", { maxUnit: 128 });
  assert.equal(b.importJSON(a.exportJSON()), 1);
  assert.deepEqual(b.list(), [{ name: "mix", units: [1, 2] }]);
  assert.throws(() => b.importJSON("nope"), /not JSON/);
  assert.throws(() => b.importJSON('{"brushes": [{"name": "x", "units": [999]}]}'), /0 to 127/);
  assert.throws(() => b.importJSON('{"other": 1}'), /expected/);
  assert.ok(cleanBrush({ name: "", units: [1] }) instanceof Error);
});

test("a damaged storage entry reads as no brushes", () => {
  const s = memoryStorage();
  s.setItem("ganpaint.unitBrushes.scenes", "{broken");
  assert.deepEqual(new UnitBrushes(s, "scenes").list(), []);
});
