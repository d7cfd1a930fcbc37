// Unit tests of frontend/js/socket.js against a fake WebSocket and a hand-driven timer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SessionSocket, backoffDelay } from "../../frontend/js/socket.js";

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.bufferedAmount = 0;
    FakeWS.all.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  // test helpers: what the server side would do
  open() { this.readyState = 1; this.onopen?.(); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code }); }
  receive(data) { this.onmessage?.({ data }); }
}

function harness(extra = {}) {
  FakeWS.all = [];
  const timers = [];
  const log = [];
  const sock = new SessionSocket("ws://x/api/sessions/a/ws", {
    WebSocketImpl: FakeWS,
    setTimer: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
    clearTimer: () => {},
    onStatus: (st, info) => log.push([st, info]),
    onFrame: (b) => log.push(["frame", b]),
    onMessage: (m) => log.push(["msg", m]),
    ...extra,
  });
  const fire = async () => { const t = timers.shift(); await t.fn(); };
  return { sock, timers, log, fire };
}

test("backoff doubles up to a ceiling", () => {
  assert.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, { base: 100, max: 1000 })), [100, 200, 400, 800, 1000]);
});

test("binary messages are frames, text messages are parsed JSON events", () => {
  const { sock, log } = harness();
  sock.connect();
  const ws = FakeWS.all[0];
  ws.open();
  ws.receive({ size: 3 });
  ws.receive('{"type":"state","undo_depth":1}');
  ws.receive("not json"); // ignored, never thrown
  assert.deepEqual(log.filter(([k]) => k === "frame" || k === "msg"), [["frame", { size: 3 }], ["msg", { type: "state", undo_depth: 1 }]]);
});

test("send reports whether the message went out", () => {
  const { sock } = harness();
  sock.connect();
  assert.equal(sock.send({ type: "undo" }), false);
  FakeWS.all[0].open();
  assert.equal(sock.send({ type: "undo" }), true);
  assert.deepEqual(FakeWS.all[0].sent, [{ type: "undo" }]);
});

test("previews are skipped while the connection is backed up", () => {
  const { sock } = harness();
  sock.connect();
  const ws = FakeWS.all[0];
  ws.open();
  ws.bufferedAmount = 1 << 20;
  assert.equal(sock.sendPreview({ type: "stroke", final: false }), false);
  ws.bufferedAmount = 0;
  assert.equal(sock.sendPreview({ type: "stroke", final: false }), true);
});

test("a dropped connection is retried with backoff and reports that it reconnected", async () => {
  const { sock, timers, log, fire } = harness();
  sock.connect();
  FakeWS.all[0].open();
  FakeWS.all[0].drop();
  assert.equal(timers.length, 1);
  assert.equal(timers[0].ms, backoffDelay(0));
  await fire();
  assert.equal(FakeWS.all.length, 2);
  FakeWS.all[1].drop(); // the server is still down
  assert.equal(timers[0].ms, backoffDelay(1));
  await fire();
  FakeWS.all[2].open();
  assert.deepEqual(log.at(-1), ["open", { reconnected: true }]);
  assert.ok(sock.isOpen);
  assert.equal(sock.attempt, 0); // a later drop starts from the short delay again
});

test("beforeReconnect can point the socket at a replacement session", async () => {
  const { sock, fire } = harness({ beforeReconnect: async () => "ws://x/api/sessions/b/ws" });
  sock.connect();
  FakeWS.all[0].open();
  FakeWS.all[0].drop();
  await fire();
  assert.equal(FakeWS.all[1].url, "ws://x/api/sessions/b/ws");
});

test("a failing beforeReconnect check schedules another try instead of connecting", async () => {
  let calls = 0;
  const { sock, timers, fire } = harness({ beforeReconnect: async () => { calls += 1; if (calls === 1) throw new Error("down"); return null; } });
  sock.connect();
  FakeWS.all[0].open();
  FakeWS.all[0].drop();
  await fire();
  assert.equal(FakeWS.all.length, 1);
  assert.equal(timers.length, 1);
  await fire();
  assert.equal(FakeWS.all.length, 2);
});

test("close stops reconnecting; setUrl swaps sessions without a retry storm", async () => {
  const { sock, timers } = harness();
  sock.connect();
  FakeWS.all[0].open();
  sock.setUrl("ws://x/api/sessions/c/ws");
  assert.equal(FakeWS.all.length, 2);
  assert.equal(FakeWS.all[1].url, "ws://x/api/sessions/c/ws");
  assert.equal(timers.length, 0); // the old socket's close is not a drop
  sock.close();
  FakeWS.all[1].drop();
  assert.equal(timers.length, 0);
});
