// The pictures the page has left, so that choosing another picture never loses work: undo past the first
// stroke of a picture goes back to the picture before it (its session, strokes and photo intact), redo
// comes forward again. A picture with nothing to lose (a generated one without history) leaves no trace.
//   const trail = new PictureTrail();
//   if (worthKeeping(session, history, isPhoto)) trail.leave(session);   // before switching to another picture
//   if (!history.canUndo && trail.canBack) await show(trail.back(current));   // the undo button
//   if (!history.canRedo && trail.canForward) await show(trail.forward(current));

/** Would switching away from this picture lose something? Strokes, undo/redo steps or a photo. */
export function worthKeeping(session, history, isPhoto) {
  if (!session) return false;
  return Boolean(isPhoto) || session.seed === null || history.strokes.length > 0 || history.canUndo || history.canRedo;
}

export class PictureTrail {
  constructor({ max = 20 } = {}) {
    this.max = max;
    this.behind = []; // oldest first: {id, model, seed}
    this.ahead = []; // pictures left by going back, nearest last
  }

  get canBack() { return this.behind.length > 0; }
  get canForward() { return this.ahead.length > 0; }

  /** Switching from `picture` to a new one: it becomes the picture to go back to; forward history ends. */
  leave(picture) {
    this.behind.push({ ...picture });
    if (this.behind.length > this.max) this.behind.shift(); // the server forgets old sessions anyway
    this.ahead = [];
  }

  /** The picture to show instead of `current` (which becomes the one to come forward to), or null. */
  back(current) {
    const to = this.behind.pop() ?? null;
    if (to && current) this.ahead.push({ ...current });
    return to;
  }

  forward(current) {
    const to = this.ahead.pop() ?? null;
    if (to && current) this.behind.push({ ...current });
    return to;
  }

  /** A picture the server no longer has (it expired): forget it wherever it is. */
  forget(id) {
    this.behind = this.behind.filter((p) => p.id !== id);
    this.ahead = this.ahead.filter((p) => p.id !== id);
  }

  /** The ids the page still points to, so that it does not delete them on the server. */
  has(id) {
    return this.behind.some((p) => p.id === id) || this.ahead.some((p) => p.id === id);
  }
}
