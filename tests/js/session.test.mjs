// Unit tests of frontend/js/session.js: commands go over the socket or, when it is down, over REST;
// the local history is optimistic and the server's state wins; a forgotten session is replayed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../../frontend/js/api.js";
import { PendingStrokes } from "../../frontend/js/frames.js";
import { PaintSession } from "../../frontend/js/session.js";

class FakeSocket {
  constructor() { this.url = null; this.open = true; this.sent = []; this.previews = []; this.connects = 0; }
  send(msg) { if (!this.open) return false; this.sent.push(msg); return true; }
  sendPreview(msg) { this.previews.push(msg); }
  connect() { this.connects += 1; }
  setUrl(url) { this.url = url; }
}

function fakeApi() {
  const calls = [];
  let next = 1;
  const sessions = {};
  return {
    calls,
    sessions,
    async postJSON(path, body) {
      calls.push(["POST", path, body]);
      const id = `s${next++}`;
      sessions[id] = { id, model: body.model, seed: body.seed, strokes: [], undo_depth: 0, redo_depth: 0, source: { kind: "seed", seed: body.seed } };
      return { ...sessions[id] };
    },
    async getJSON(path) {
      calls.push(["GET", path]);
      const s = sessions[decodeURIComponent(path.split("/")[3])];
      if (!s) throw new ApiError("unknown session", 404);
      return { ...s };
    },
    async getBlob(path) { calls.push(["GET", path]); return `blob:${path}`; },
    async postForBlob(path, body) {
      calls.push(["POST", path, body]);
      const s = sessions[decodeURIComponent(path.split("/")[3])];
      s.strokes = [...s.strokes, body];
      s.undo_depth += 1;
      return "painted";
    },
    async postEmptyForBlob(path) { calls.push(["POST", path]); return "image"; },
    async del(path) { calls.push(["DELETE", path]); return { blob: async () => "image" }; },
  };
}

function harness() {
  const socket = new FakeSocket();
  const api = fakeApi();
  const log = { sessions: [], states: 0, sources: [], progress: [], images: [], errors: [], info: [] };
  const pending = new PendingStrokes({ setTimer: () => {} });
  const ps = new PaintSession({
    socket, api, pending, wsUrl: (id) => `ws://x/${id}`,
    onSession: (s) => log.sessions.push({ ...s }),
    onState: () => { log.states += 1; },
    onSource: (src) => log.sources.push(src),
    onProgress: (m) => log.progress.push(m),
    onImage: async (p) => { log.images.push(await p); },
    onError: (t) => log.errors.push(t),
    onInfo: (t) => log.info.push(t),
  });
  return { ps, socket, api, log, pending };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const TREE = { concept: "tree", points: [[0.5, 0.5]] };

test("start creates a session, connects its socket once and shows its image", async () => {
  const { ps, socket, api, log } = harness();
  await ps.start("scenes", 104);
  assert.deepEqual(ps.session, { id: "s1", model: "scenes", seed: 104 });
  assert.equal(socket.url, "ws://x/s1");
  assert.equal(socket.connects, 1);
  assert.deepEqual(log.images, ["blob:/api/sessions/s1/image?format=png&view=model"]);
  await ps.start("scenes", 5); // a second session reuses the socket with a new URL
  assert.equal(socket.url, "ws://x/s2");
  assert.equal(socket.connects, 1);
  assert.deepEqual(api.calls[0], ["POST", "/api/sessions", { model: "scenes", seed: 104 }]);
});

test("commands go over the socket, with the history updated at once", async () => {
  const { ps, socket, pending } = harness();
  await ps.start("scenes", 104);
  ps.commitStroke(TREE);
  assert.deepEqual(socket.sent.at(-1), { type: "stroke", stroke: TREE, final: true });
  assert.deepEqual(pending.strokes, [TREE]);
  assert.equal(ps.history.strokes.length, 1);
  ps.command("undo");
  assert.deepEqual(socket.sent.at(-1), { type: "undo" });
  assert.equal(ps.history.strokes.length, 0);
  const sent = socket.sent.length;
  ps.command("undo"); // nothing left to undo: nothing is sent
  assert.equal(socket.sent.length, sent);
  ps.command("redo");
  ps.command("delete", { index: 0 });
  assert.deepEqual(socket.sent.slice(-2), [{ type: "redo" }, { type: "delete", index: 0 }]);
  ps.sendPreview(TREE);
  assert.deepEqual(socket.previews, [{ type: "stroke", stroke: TREE, final: false }]);
});

test("with the socket down, commands fall back to REST and then fetch the state", async () => {
  const { ps, socket, api, log, pending } = harness();
  await ps.start("scenes", 104);
  socket.open = false;
  ps.commitStroke(TREE);
  await tick(); await tick(); await tick();
  assert.deepEqual(api.calls.slice(-2), [["POST", "/api/sessions/s1/strokes", TREE], ["GET", "/api/sessions/s1"]]);
  assert.equal(log.images.at(-1), "painted");
  assert.deepEqual(pending.strokes, []);
  ps.command("undo");
  ps.command("delete", { index: 0 });
  await tick();
  assert.ok(api.calls.some((c) => c[0] === "POST" && c[1] === "/api/sessions/s1/undo"));
  assert.ok(api.calls.some((c) => c[0] === "DELETE" && c[1] === "/api/sessions/s1/strokes/0"));
});

test("the server's state message wins; its source and progress are passed on", async () => {
  const { ps, log, pending } = harness();
  await ps.start("scenes", 104);
  ps.commitStroke(TREE);
  ps.handleMessage({ type: "state", seed: 7, strokes: [TREE, TREE], undo_depth: 2, redo_depth: 0, source: { kind: "seed", seed: 7 } });
  assert.equal(ps.history.strokes.length, 2);
  assert.equal(ps.session.seed, 7);
  assert.deepEqual(log.sources.at(-1), { kind: "seed", seed: 7 });
  assert.ok(pending.clearOnFrame); // the next frame shows the committed strokes
  ps.handleMessage({ type: "progress", job: "j", progress: 0.5 });
  assert.deepEqual(log.progress, [{ type: "progress", job: "j", progress: 0.5 }]);
});

test("an error message is shown and the state is fetched again", async () => {
  const { ps, api, log, pending } = harness();
  await ps.start("scenes", 104);
  ps.commitStroke(TREE); // optimistic; the server refuses it
  ps.handleMessage({ type: "error", detail: "bad stroke: unknown concept" });
  assert.deepEqual(log.errors, ["bad stroke: unknown concept"]);
  assert.deepEqual(pending.strokes, []);
  await tick();
  assert.deepEqual(api.calls.at(-1), ["GET", "/api/sessions/s1"]);
  assert.equal(ps.history.strokes.length, 0); // the server's word
});

test("choosing a picture: the same session over the socket, a new session without it", async () => {
  const { ps, socket, api } = harness();
  await ps.start("scenes", 104);
  ps.commitStroke(TREE);
  await ps.chooseSeed(700);
  assert.deepEqual(socket.sent.at(-1), { type: "seed", seed: 700 });
  assert.equal(ps.session.seed, 700);
  assert.equal(ps.history.strokes.length, 0);
  const calls = api.calls.length;
  await ps.chooseSeed(700); // already shown and clean: nothing happens
  assert.equal(api.calls.length, calls);
  socket.open = false;
  await ps.chooseSeed(5);
  assert.deepEqual(ps.session, { id: "s2", model: "scenes", seed: 5 });
});

test("before a reconnect, a forgotten session is replaced and its strokes replayed", async () => {
  const { ps, api, log } = harness();
  await ps.start("scenes", 104);
  ps.commitStroke(TREE);
  assert.equal(await ps.ensure(), null); // still there
  delete api.sessions.s1;
  assert.equal(await ps.ensure(), "ws://x/s2");
  assert.deepEqual(ps.session, { id: "s2", model: "scenes", seed: 104 });
  assert.deepEqual(api.sessions.s2.strokes, [TREE]);
  assert.deepEqual(ps.history.strokes, [TREE]);
  assert.deepEqual(log.info, ["the server had forgotten this picture; restored 1 stroke"]);
});
