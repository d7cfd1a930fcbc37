// The picture being edited, as the page knows it: which session (id, model, seed), its stroke history
// (mirrored optimistically, corrected by the server's state messages), and every command on it, sent
// over the websocket or, when that is down, over REST.
//   const ps = new PaintSession({ socket, api, wsUrl: (id) => "...", pending: new PendingStrokes(...),
//                                 onImage: (blobPromise) => frames.fromRest(blobPromise),
//                                 onSession, onState, onSource, onProgress, onError, onInfo });
//   await ps.start("scenes", 104);     // POST /api/sessions, then the socket
//   ps.commitStroke(stroke);           // optimistic; {"type": "stroke", "final": true}
//   ps.command("undo");                // also "redo", "reset", "delete" ({index}); ignored when impossible
//   await ps.chooseSeed(700);          // {"type": "seed"} on the same session, or a new session
//   socket onMessage: ps.handleMessage(msg);   beforeReconnect: () => ps.ensure()

import { PendingStrokes } from "./frames.js";
import { History, normalizeState } from "./history.js";
import { ensureSession, restoredMessage } from "./resume.js";

export class PaintSession {
  constructor({ socket, api, wsUrl, pending = new PendingStrokes(), onSession = () => {}, onState = () => {},
    onSource = () => {}, onProgress = () => {}, onImage = async () => {}, onError = () => {}, onInfo = () => {} }) {
    Object.assign(this, { socket, api, wsUrl, pending, onSession, onState, onSource, onProgress, onImage, onError,
      onInfo });
    this.session = null; // {id, model, seed}
    this.history = new History();
  }

  get path() {
    return `/api/sessions/${encodeURIComponent(this.session.id)}`;
  }

  /** The model's own output of the current state (REST), e.g. after start-up or a reconnect. */
  image() {
    return this.onImage(this.api.getBlob(`${this.path}/image?format=png&view=model`));
  }

  // ------------------------------------------------------------------ which session
  /** Make `s` (a session state from the server) the picture being edited; connect its socket. */
  adopt(s, { connect = true } = {}) {
    this.session = { id: s.id, model: s.model, seed: s.seed ?? normalizeState(s).seed };
    this.history.clear();
    this.pending.clear();
    this.onSession(this.session);
    this.onState();
    if (!connect) return;
    if (this.socket.url === null) {
      this.socket.url = this.wsUrl(s.id);
      this.socket.connect();
    } else this.socket.setUrl(this.wsUrl(s.id));
  }

  /** A session found again (the URL hash): its strokes and source come with it. */
  async resume(s) {
    this.adopt(s);
    this.adoptState(s);
    await this.image();
  }

  async start(modelId, seed) {
    this.adopt(await this.api.postJSON("/api/sessions", { model: modelId, seed }));
    await this.image();
  }

  /** Before each reconnect: a forgotten session is started again with its strokes (resume.js). */
  async ensure() {
    if (!this.session) return null;
    const out = await ensureSession(this.session, this.history.strokes.slice(), { api: this.api });
    if (out === null) return null;
    this.adopt(out.session, { connect: false });
    for (const stroke of out.restored) this.history.commit(stroke);
    this.onState();
    const text = restoredMessage(out);
    if (text) this.onInfo(text);
    return this.wsUrl(this.session.id);
  }

  // ------------------------------------------------------------------ what the server says
  handleMessage(msg) {
    if (msg.type === "progress") {
      this.onProgress(msg);
    } else if (msg.type === "state") {
      this.adoptState(msg);
      this.pending.stateArrived();
    } else if (msg.type === "error") {
      this.onError(msg.detail || "the server rejected that");
      // An optimistic change may not have happened: ask for the truth.
      this.refresh().catch(() => {});
      this.pending.clear();
    }
  }

  /** The server's state (a state message or GET) wins over the local mirror. */
  adoptState(raw) {
    const s = normalizeState(raw);
    this.history.sync(s);
    if (s.seed !== null && this.session && s.seed !== this.session.seed) this.session.seed = s.seed;
    this.onState();
    this.onSource(raw.source);
  }

  async refresh() {
    if (!this.session) return;
    this.adoptState(await this.api.getJSON(this.path));
  }

  /** After a reconnect: the server's strokes and image replace whatever the page last saw. */
  async resync() {
    await Promise.all([this.refresh(), this.image()]);
  }

  // ------------------------------------------------------------------ commands
  commitStroke(stroke) {
    this.pending.add(stroke);
    this.history.commit(stroke);
    this.onState();
    if (!this.socket.send({ type: "stroke", stroke, final: true })) {
      this.#viaRest(this.api.postForBlob(`${this.path}/strokes`, stroke), () => this.pending.clear());
    }
  }

  sendPreview(stroke) {
    this.socket.sendPreview({ type: "stroke", stroke, final: false });
  }

  command(type, extra = {}) {
    if (!this.session) return;
    const h = this.history;
    // Nothing to step to: say nothing rather than make the server answer with an error.
    if ((type === "undo" && !h.canUndo) || (type === "redo" && !h.canRedo)) return;
    if (type === "undo") h.undo();
    else if (type === "redo") h.redo();
    else if (type === "reset") h.reset();
    else if (type === "delete") h.remove(extra.index);
    this.onState();
    if (this.socket.send({ type, ...extra })) return;
    if (type === "delete") this.#viaRest(this.api.del(`${this.path}/strokes/${extra.index}`).then((r) => r.blob()));
    else this.#viaRest(this.api.postEmptyForBlob(`${this.path}/${type}`));
  }

  /** Another picture: on the same session over the socket, else a new session. */
  async chooseSeed(seed) {
    if (!this.session) return;
    if (this.session.seed === seed && this.history.strokes.length === 0) return;
    if (this.socket.send({ type: "seed", seed })) {
      this.session.seed = seed;
      this.history.clear();
      this.pending.clear();
      this.onSession(this.session);
      this.onState();
    } else {
      await this.start(this.session.model, seed);
    }
  }

  /** A REST fallback: show the returned image, then fetch the state; on failure resync and say why. */
  #viaRest(imagePromise, after = () => {}) {
    return this.onImage(imagePromise)
      .then(() => this.refresh())
      .catch((err) => { this.onError(err.message); this.refresh().catch(() => {}); })
      .finally(after);
  }
}
