// Frames on screen in the order they were made, and the strokes kept on the overlay until the frame
// that contains them arrives.
//   const frames = new FrameQueue({ show: (bitmap, seq) => canvas.showImage(bitmap) });
//   socket onFrame: frames.fromSocket(blob);  REST: await frames.fromRest(api.getBlob(url));
//   const pending = new PendingStrokes({ onChange: (strokes) => overlay.draw(strokes) });
//   pending.add(stroke); pending.stateArrived(); pending.frameShown(); pending.clear();

/**
 * Decoding is async and can reorder frames, and a REST image can be overtaken by a socket frame of a
 * newer state: every frame gets a sequence number and only a newer one than the last shown is drawn.
 */
export class FrameQueue {
  constructor({ show, decode = (blob) => createImageBitmap(blob), onDecodeError = () => {} }) {
    Object.assign(this, { show, decode, onDecodeError });
    this.received = 0; // frames received (websocket and REST)
    this.shown = 0; // the newest frame drawn
  }

  fromSocket(blob) {
    this.received += 1;
    return this.#display(blob, this.received);
  }

  /** A frame fetched over REST; dropped if a websocket frame arrived while it was on its way. */
  async fromRest(promise) {
    const seqAtStart = this.received;
    const blob = await promise;
    if (this.received !== seqAtStart) return;
    this.received += 1;
    await this.#display(blob, this.received);
  }

  async #display(blob, seq) {
    let bitmap;
    try {
      bitmap = await this.decode(blob);
    } catch {
      this.onDecodeError("received an image the browser cannot decode");
      return;
    }
    if (seq <= this.shown) { bitmap.close?.(); return; }
    this.shown = seq;
    this.show(bitmap, seq);
  }
}

/**
 * Committed strokes stay drawn on the overlay until the server's picture shows them: after their
 * state message, the next frame clears them (or a timeout, when the frame came before the state).
 */
export class PendingStrokes {
  constructor({ onChange = () => {}, settleMs = 600, setTimer = (f, ms) => setTimeout(f, ms) } = {}) {
    Object.assign(this, { onChange, settleMs, setTimer });
    this.strokes = [];
    this.clearOnFrame = false;
  }

  add(stroke) {
    this.#set([...this.strokes, stroke]);
  }

  clear() {
    this.#set([]);
  }

  stateArrived() {
    this.clearOnFrame = true;
    this.setTimer(() => { if (this.clearOnFrame) this.clear(); }, this.settleMs);
  }

  frameShown() {
    if (this.clearOnFrame) this.clear();
  }

  #set(strokes) {
    this.strokes = strokes;
    this.clearOnFrame = false;
    this.onChange(strokes);
  }
}
