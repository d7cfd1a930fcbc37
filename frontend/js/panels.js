// DOM builders for the page's lists and notices, kept out of app.js so that it only wires things:
//   const notices = new Notices(messageEl, statusEl); notices.show("bad stroke"); notices.status("open");
//   renderBrushButtons(box, ["tree", "sky"], (name) => select(name));
//   renderStrokeList(list, strokes, { onDelete: (i) => ..., onHighlight: (strokeOrNull) => ... });
//   shortcutFor(keydownEvent)  // "undo" | "redo" | null
//   const panel = new BrushPanel({ brushes, modes, strength, strengthValue, size, sizeValue, onColor, onRadius });
//   panel.setBrushes(["tree", "sky"]); panel.current  // {concept, mode, strength, radius} or null

import { describeStroke } from "./history.js";
import { conceptColor, strokeColor } from "./stroke.js";

const STATUS_TEXT = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…", closed: "offline" };

export class Notices {
  constructor(messageEl, statusEl, { showMs = 6000 } = {}) {
    Object.assign(this, { messageEl, statusEl, showMs });
    this.timer = null;
  }

  /** A short message that goes away by itself; kind "error" (role=alert styling) or "info". */
  show(text, kind = "error") {
    const el = this.messageEl;
    el.textContent = text;
    el.dataset.kind = kind;
    el.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { el.hidden = true; }, this.showMs);
  }

  status(state) {
    this.statusEl.dataset.state = state;
    this.statusEl.textContent = STATUS_TEXT[state] ?? state;
  }
}

function swatch(color) {
  const s = document.createElement("span");
  s.className = "swatch";
  s.style.background = color;
  s.setAttribute("aria-hidden", "true");
  return s;
}

/** One toggle button per brush; the visible name is the accessible name. */
export function renderBrushButtons(box, names, onSelect) {
  if (names.length === 0) {
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = "This model has no concept table yet, so there is nothing to paint with.";
    box.replaceChildren(hint);
    return;
  }
  box.replaceChildren(...names.map((name) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.brush = name;
    b.setAttribute("aria-pressed", "false");
    b.append(swatch(conceptColor(name)), name);
    b.addEventListener("click", () => onSelect(name));
    return b;
  }));
}

/** The brush controls: which concept, draw or remove, strength and size; `current` is what a new stroke uses. */
export class BrushPanel {
  constructor({ brushes, modes, strength, strengthValue, size, sizeValue, onColor = () => {}, onRadius = () => {} }) {
    Object.assign(this, { brushes, modes, onColor, onRadius });
    this.brush = null;
    this.mode = "draw";
    this.strength = Number(strength.value) / 100;
    this.radius = Number(size.value) / 100;
    for (const b of modes.querySelectorAll("button[data-mode]")) {
      b.addEventListener("click", () => this.selectMode(b.dataset.mode));
    }
    strength.addEventListener("input", () => {
      this.strength = Number(strength.value) / 100;
      strengthValue.textContent = `${strength.value}%`;
    });
    size.addEventListener("input", () => {
      this.radius = Number(size.value) / 100;
      sizeValue.textContent = `${size.value}%`;
      onRadius(this.radius);
    });
  }

  get current() {
    return this.brush ? { concept: this.brush, mode: this.mode, strength: this.strength, radius: this.radius } : null;
  }

  /** A model's brushes; the selected one stays selected when the new model has it too. */
  setBrushes(names) {
    renderBrushButtons(this.brushes, names, (name) => this.select(name));
    this.brush = names.includes(this.brush) ? this.brush : names[0] ?? null;
    if (this.brush) this.select(this.brush);
  }

  select(name) {
    this.brush = name;
    markPressed(this.brushes, "brush", name);
    this.onColor(strokeColor({ concept: name, mode: this.mode }));
  }

  selectMode(mode) {
    this.mode = mode;
    markPressed(this.modes, "mode", mode);
    if (this.brush) this.select(this.brush);
  }
}

/** Mark the buttons in `box` whose data-`key` equals `value` as pressed, the others as not. */
export function markPressed(box, key, value) {
  for (const b of box.querySelectorAll(`button[data-${key}]`)) b.setAttribute("aria-pressed", String(b.dataset[key] === value));
}

/** The stroke history: label + delete button per stroke; hover or focus highlights the stroke's area. */
export function renderStrokeList(list, strokes, { onDelete, onHighlight }) {
  list.replaceChildren(...strokes.map((stroke, i) => {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.className = "label";
    label.id = `stroke-${i}`;
    label.append(swatch(strokeColor(stroke)), describeStroke(stroke, i));
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = "delete";
    del.setAttribute("aria-describedby", label.id); // "delete", described as "2. remove sky"
    del.addEventListener("click", () => { onHighlight(null); onDelete(i); });
    li.append(label, del);
    li.addEventListener("mouseenter", () => onHighlight(stroke));
    li.addEventListener("mouseleave", () => onHighlight(null));
    li.addEventListener("focusin", () => onHighlight(stroke));
    li.addEventListener("focusout", () => onHighlight(null));
    return li;
  }));
}

// Fields whose own undo (typing) must win over the page's.
const TEXT_INPUTS = new Set(["text", "number", "search", "email", "url", "tel", "password"]);

/** Ctrl/Cmd+Z → "undo", Ctrl/Cmd+Shift+Z or Ctrl+Y → "redo", anything else (or typing in a field) → null. */
export function shortcutFor(ev) {
  if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return null;
  const t = ev.target;
  if (t && ((t.tagName === "INPUT" && TEXT_INPUTS.has(t.type)) || t.tagName === "TEXTAREA" || t.isContentEditable)) return null;
  const key = String(ev.key).toLowerCase();
  if (key === "z") return ev.shiftKey ? "redo" : "undo";
  if (key === "y" && !ev.shiftKey) return "redo";
  return null;
}
