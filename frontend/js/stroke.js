// Strokes as data, the way the API defines them: {concept, mode, strength, radius, points}. The
// canvas feeds pointer positions into a StrokeBuilder; the app sends `builder.toData()` as previews
// and, on release, as the final stroke.
//   const b = new StrokeBuilder({ concept: "tree", mode: "draw", strength: 1, radius: 0.06 });
//   b.add([0.2, 0.7]); b.add([0.5, 0.72]);
//   socket.send({ type: "stroke", stroke: b.toData(), final: false });
//   const input = new StrokeInput({ brush: () => panel.current, onPreview, onCommit, onDraw });
//   canvas: onStrokeStart: (p) => input.start(p), onStrokeMove: (ps) => input.move(ps), onStrokeEnd: (p) => input.end(p)

import { distance2, round4 } from "./geometry.js";
import { throttle } from "./throttle.js";

// The server rejects strokes with more points than this (ganpaint.paint.edit.StrokeLimits.max_points).
export const MAX_POINTS = 2048;

export class StrokeBuilder {
  /**
   * minStep: smallest move (fraction of the picture) that adds a point; defaults to a quarter of the
   * radius, since closer points do not change the rasterized mask but do grow every message.
   */
  constructor({ concept, units = null, mode = "draw", strength = 1, radius = 0.06, minStep = null, maxPoints = MAX_POINTS }) {
    if (!concept && !units) throw new Error("a stroke needs a concept or units");
    this.concept = concept;
    this.units = units;
    this.mode = mode;
    this.strength = round4(strength);
    this.radius = round4(radius);
    this.minStep = minStep ?? Math.max(radius / 4, 0.002);
    this.maxPoints = maxPoints;
    this.points = [];
  }

  /** Add a normalized point; returns true when the stroke changed. */
  add(point) {
    const p = [round4(point[0]), round4(point[1])];
    const n = this.points.length;
    if (n > 0 && distance2(this.points[n - 1], p) < this.minStep ** 2) return false;
    if (n >= this.maxPoints) {
      // Keep the stroke valid rather than dropping the user's latest movement: move the last point.
      this.points[n - 1] = p;
      return true;
    }
    this.points.push(p);
    return true;
  }

  get length() {
    return this.points.length;
  }

  toData() {
    const d = this.units ? { units: [...this.units] } : { concept: this.concept };
    return { ...d, mode: this.mode, strength: this.strength, radius: this.radius, points: this.points.map((p) => [...p]) };
  }
}

/**
 * Pointer input → one stroke at a time: previews while it is drawn (throttled, the last one never
 * lost), the final stroke on release. `brush()` gives {concept, mode, strength, radius}, or null
 * when no stroke may start (onRefused says why).
 */
export class StrokeInput {
  constructor({ brush, onPreview = () => {}, onCommit = () => {}, onDraw = () => {}, onRefused = () => {},
    previewMs = 70, throttleOptions = {} }) {
    Object.assign(this, { brush, onCommit, onDraw, onRefused });
    this.builder = null; // the stroke under the pointer
    this.preview = throttle(() => { if (this.builder) onPreview(this.builder.toData()); }, previewMs, throttleOptions);
  }

  /** The stroke being drawn, as data (null when none). */
  get drawing() {
    return this.builder?.toData() ?? null;
  }

  start(p) {
    const brush = this.brush();
    if (!brush) { this.onRefused(); return; }
    this.builder = new StrokeBuilder(brush);
    this.builder.add(p);
    this.onDraw();
    this.preview();
  }

  move(points) {
    if (!this.builder) return;
    let changed = false;
    for (const p of points) changed = this.builder.add(p) || changed;
    if (changed) { this.onDraw(); this.preview(); }
  }

  end(p) {
    if (!this.builder) return;
    this.builder.add(p);
    this.preview.cancel();
    const stroke = this.builder.toData();
    this.builder = null;
    this.onCommit(stroke);
  }
}

// Overlay colours for the demo's concepts; others get a stable hue from their name.
const COLORS = {
  tree: "#2e9d3a", grass: "#8bd346", door: "#8a5a2b", sky: "#4aa3ff", cloud: "#e8eef5",
  brick: "#b5452f", dome: "#d9a520", window: "#7fd6e6", roof: "#8f3f6e", road: "#777777",
};

export function conceptColor(name) {
  if (name && COLORS[name]) return COLORS[name];
  let h = 0;
  for (const ch of String(name ?? "")) h = (h * 31 + ch.codePointAt(0)) % 360;
  return `hsl(${h}, 65%, 55%)`;
}

// Removal shows as a neutral crossed colour whatever the concept, so draw and remove never look alike.
export const REMOVE_COLOR = "#ff3b6b";

export function strokeColor(stroke) {
  return stroke.mode === "remove" ? REMOVE_COLOR : conceptColor(stroke.concept);
}

/** Palette order: the demo's brushes first (when the model has them), then the rest as the model lists them. */
export const PREFERRED_BRUSHES = ["tree", "grass", "door", "sky", "cloud", "brick", "dome"];

export function orderBrushes(names, preferred = PREFERRED_BRUSHES) {
  const unique = [...new Set(names)];
  const first = preferred.filter((n) => unique.includes(n));
  return [...first, ...unique.filter((n) => !first.includes(n))];
}

/**
 * Brush names from a model description. Accepts the shapes a server may use: a `brushes` list of
 * names, and/or `concepts` as a list of {name, ...} or an object keyed by name.
 */
export function brushNames(model) {
  const names = [];
  if (Array.isArray(model?.brushes)) names.push(...model.brushes.map((b) => (typeof b === "string" ? b : b?.name)));
  const c = model?.concepts;
  if (Array.isArray(c)) names.push(...c.map((x) => (typeof x === "string" ? x : x?.name)));
  else if (c && typeof c === "object") names.push(...Object.keys(c));
  return orderBrushes(names.filter((n) => typeof n === "string" && n.length > 0));
}
