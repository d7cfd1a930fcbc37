// The session's websocket, kept alive: binary messages are frames, text messages are JSON events, and
// a dropped connection is retried with growing delays (an optional async `beforeReconnect` hook may
// check or replace the session first and return a new URL).
//   const s = new SessionSocket(url, { onFrame: (blob) => ..., onMessage: (msg) => ..., onStatus: (st, info) => ... });
//   s.connect();
//   s.send({ type: "undo" });   // false when not connected: the caller falls back to REST
// Statuses: "connecting", "open" (info.reconnected), "reconnecting" (info.attempt, info.delay), "closed".

export function backoffDelay(attempt, { base = 250, max = 4000 } = {}) {
  return Math.min(max, base * 2 ** Math.max(0, attempt));
}

// Previews are skipped while this much is still unsent: a slow link should not queue stale strokes.
const PREVIEW_BUFFER_LIMIT = 64 * 1024;

export class SessionSocket {
  constructor(url, {
    WebSocketImpl = globalThis.WebSocket, setTimer = (f, ms) => setTimeout(f, ms), clearTimer = (t) => clearTimeout(t),
    onFrame = () => {}, onMessage = () => {}, onStatus = () => {}, beforeReconnect = null, backoff = backoffDelay,
  } = {}) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.onFrame = onFrame;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.beforeReconnect = beforeReconnect;
    this.backoff = backoff;
    this.ws = null;
    this.attempt = 0;
    this.everOpened = false;
    this.stopped = true;
    this.timer = null;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === 1;
  }

  connect() {
    this.stopped = false;
    this.#open();
  }

  /** Point at another session (a new picture or model): drop the current connection and connect anew. */
  setUrl(url) {
    this.url = url;
    this.everOpened = false;
    this.attempt = 0;
    this.#detach();
    if (!this.stopped) this.#open();
  }

  close() {
    this.stopped = true;
    this.#detach();
    this.onStatus("closed", {});
  }

  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send unless the connection is backed up; previews are disposable, commits are not. */
  sendPreview(message) {
    if (!this.isOpen || this.ws.bufferedAmount > PREVIEW_BUFFER_LIMIT) return false;
    return this.send(message);
  }

  #detach() {
    if (this.timer !== null) { this.clearTimer(this.timer); this.timer = null; }
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch { /* already closing */ }
    }
  }

  #open() {
    this.onStatus(this.everOpened ? "reconnecting" : "connecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      this.#scheduleReconnect();
      return;
    }
    ws.binaryType = "blob";
    this.ws = ws;
    ws.onopen = () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.onStatus("open", { reconnected });
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        let msg;
        try { msg = JSON.parse(ev.data); } catch { return; } // not ours to interpret
        this.onMessage(msg);
      } else {
        this.onFrame(ev.data);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.stopped) this.#scheduleReconnect(ev?.code);
    };
    ws.onerror = () => {}; // a close event always follows; reconnecting happens there
  }

  #scheduleReconnect(code) {
    const delay = this.backoff(this.attempt);
    this.attempt += 1;
    // Counts as "reconnecting" even before the first open: the first connect failed.
    this.everOpened = this.everOpened || this.attempt > 0;
    this.onStatus("reconnecting", { attempt: this.attempt, delay, code });
    this.timer = this.setTimer(async () => {
      this.timer = null;
      if (this.stopped) return;
      if (this.beforeReconnect) {
        try {
          const url = await this.beforeReconnect(this.attempt);
          if (url) this.url = url;
        } catch {
          // The check itself failed (server still down): try again later.
          if (!this.stopped) this.#scheduleReconnect(code);
          return;
        }
      }
      if (!this.stopped && this.ws === null) this.#open();
    }, delay);
  }
}
