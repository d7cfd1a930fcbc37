// The stroke history as the page knows it. The server owns the truth (every committed change comes
// back as a {"type": "state"} message); this mirror lets the list and the undo/redo buttons react at
// once, before the server answers, and replays strokes if the server has forgotten the session.
//   const h = new History();
//   h.commit(stroke);                 // optimistic, right after sending {"final": true}
//   h.undo();                         // true when the previous list was known locally
//   h.sync(normalizeState(message));  // the server's word wins whenever it arrives

export class History {
  constructor() {
    // Snapshots of the stroke list. `null` marks a snapshot only the server knows (after a sync).
    this.past = [];
    this.present = [];
    this.future = [];
  }

  get strokes() {
    return this.present;
  }
  get canUndo() {
    return this.past.length > 0;
  }
  get canRedo() {
    return this.future.length > 0;
  }

  #change(next) {
    this.past.push(this.present);
    this.present = next;
    this.future = [];
  }

  commit(stroke) {
    this.#change([...this.present, stroke]);
  }

  remove(index) {
    if (!Number.isInteger(index) || index < 0 || index >= this.present.length) return false;
    this.#change(this.present.filter((_, i) => i !== index));
    return true;
  }

  reset() {
    if (this.present.length === 0) return false;
    this.#change([]);
    return true;
  }

  /** Step back; returns true when the local list changed (false: nothing to undo or only the server knows). */
  undo() {
    if (!this.canUndo || this.past[this.past.length - 1] === null) return false;
    this.future.push(this.present);
    this.present = this.past.pop();
    return true;
  }

  redo() {
    if (!this.canRedo || this.future[this.future.length - 1] === null) return false;
    this.past.push(this.present);
    this.present = this.future.pop();
    return true;
  }

  /** Adopt the server's state {strokes, undoDepth, redoDepth}; keep local snapshots only if they agree. */
  sync({ strokes, undoDepth, redoDepth }) {
    const agrees = this.past.length === undoDepth && this.future.length === redoDepth && sameStrokes(this.present, strokes);
    this.present = strokes.slice();
    if (!agrees) {
      this.past = new Array(undoDepth).fill(null);
      this.future = new Array(redoDepth).fill(null);
    }
  }

  /** Forget everything (a new picture). */
  clear() {
    this.past = [];
    this.present = [];
    this.future = [];
  }
}

// Strokes echoed by the server may be normalized (defaults filled in, numbers re-rounded), so compare
// what identifies them rather than every field.
function strokeKey(s) {
  return JSON.stringify([s?.concept ?? null, s?.units ?? null, s?.mode ?? "draw", s?.points?.length ?? 0, s?.mask ? s.mask.length : 0]);
}

export function sameStrokes(a, b) {
  return a.length === b.length && a.every((s, i) => strokeKey(s) === strokeKey(b[i]));
}

const firstNumber = (...xs) => xs.find((x) => typeof x === "number" && Number.isFinite(x));

/** A session state from GET /api/sessions/{id} or a websocket {"type": "state"} message, in one shape. */
export function normalizeState(raw = {}) {
  const strokes = Array.isArray(raw.strokes) ? raw.strokes : [];
  let undoDepth = firstNumber(raw.undo_depth, raw.undoDepth, raw.undo, raw.can_undo === true ? 1 : undefined);
  if (undoDepth === undefined) undoDepth = raw.can_undo === false ? 0 : strokes.length;
  let redoDepth = firstNumber(raw.redo_depth, raw.redoDepth, raw.redo, raw.can_redo === true ? 1 : undefined);
  if (redoDepth === undefined) redoDepth = 0;
  const seed = firstNumber(raw.seed, raw.source?.seed);
  return { strokes, undoDepth, redoDepth, seed: seed ?? null, model: raw.model ?? null, id: raw.id ?? null };
}

/** Short text for the history list: "1. tree", "2. remove sky", "3. units 4, 17, 20…", "4. mask". */
export function describeStroke(stroke, index) {
  let what;
  if (stroke?.concept) what = stroke.concept;
  else if (Array.isArray(stroke?.units)) what = `units ${stroke.units.slice(0, 3).join(", ")}${stroke.units.length > 3 ? "…" : ""}`;
  else what = "stroke";
  if (stroke?.mask && !stroke?.points) what += " (mask)";
  return `${index + 1}. ${stroke?.mode === "remove" ? "remove " : ""}${what}`;
}
