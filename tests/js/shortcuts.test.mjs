// Unit tests of the keyboard shortcut mapping in frontend/js/panels.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { shortcutFor } from "../../frontend/js/panels.js";

const key = (k, mods = {}, target = { tagName: "BODY" }) => ({ key: k, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, target, ...mods });

test("Ctrl or Cmd + Z undoes, with Shift redoes", () => {
  assert.equal(shortcutFor(key("z", { ctrlKey: true })), "undo");
  assert.equal(shortcutFor(key("z", { metaKey: true })), "undo");
  assert.equal(shortcutFor(key("Z", { ctrlKey: true, shiftKey: true })), "redo");
  assert.equal(shortcutFor(key("Z", { metaKey: true, shiftKey: true })), "redo");
  assert.equal(shortcutFor(key("y", { ctrlKey: true })), "redo");
});

test("other keys and plain or Alt combinations do nothing", () => {
  assert.equal(shortcutFor(key("z")), null);
  assert.equal(shortcutFor(key("z", { ctrlKey: true, altKey: true })), null);
  assert.equal(shortcutFor(key("x", { ctrlKey: true })), null);
  assert.equal(shortcutFor(key("y", { ctrlKey: true, shiftKey: true })), null);
});

test("text fields keep their own undo, sliders and buttons do not", () => {
  assert.equal(shortcutFor(key("z", { ctrlKey: true }, { tagName: "INPUT", type: "number" })), null);
  assert.equal(shortcutFor(key("z", { ctrlKey: true }, { tagName: "TEXTAREA" })), null);
  assert.equal(shortcutFor(key("z", { ctrlKey: true }, { tagName: "DIV", isContentEditable: true })), null);
  assert.equal(shortcutFor(key("z", { ctrlKey: true }, { tagName: "INPUT", type: "range" })), "undo");
  assert.equal(shortcutFor(key("z", { ctrlKey: true }, { tagName: "BUTTON" })), "undo");
});
