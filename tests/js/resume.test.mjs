// Unit tests of frontend/js/resume.js: the session in the URL hash, and replaying a forgotten session.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../../frontend/js/api.js";
import { ensureSession, restoredMessage, resumeSession, sessionHash, sessionIdFromHash, startModel } from "../../frontend/js/resume.js";

// A fake REST API over a map of sessions; `down` makes every call fail as if the server were unreachable.
function fakeApi({ sessions = {}, refuse = () => false } = {}) {
  const calls = [];
  let next = 1;
  const api = {
    down: false,
    calls,
    sessions,
    async getJSON(path) {
      calls.push(["GET", path]);
      if (api.down) throw new ApiError("cannot reach the server", 0);
      const id = decodeURIComponent(path.split("/")[3]);
      if (!sessions[id]) throw new ApiError("unknown session", 404);
      return { ...sessions[id] };
    },
    async postJSON(path, body) {
      calls.push(["POST", path, body]);
      const id = `new${next++}`;
      sessions[id] = { id, model: body.model, seed: body.seed ?? 5, strokes: [] };
      return { ...sessions[id] };
    },
    async postForBlob(path, stroke) {
      calls.push(["POST", path, stroke]);
      if (refuse(stroke)) throw new ApiError("bad stroke", 422);
      sessions[decodeURIComponent(path.split("/")[3])].strokes.push(stroke);
      return "image";
    },
  };
  return api;
}

test("the session id round-trips through the URL hash", () => {
  assert.equal(sessionIdFromHash(sessionHash("ab/c d")), "ab/c d");
  assert.equal(sessionIdFromHash("#session=abc&x=1"), "abc");
  assert.equal(sessionIdFromHash(""), null);
  assert.equal(sessionIdFromHash("#other=1"), null);
});

test("resuming: the server's state, or null when it forgot the session", async () => {
  const api = fakeApi({ sessions: { s1: { model: "scenes", seed: 3, strokes: [] } } });
  assert.deepEqual(await resumeSession("s1", { api }), { id: "s1", model: "scenes", seed: 3, strokes: [] });
  assert.equal(await resumeSession("gone", { api }), null);
  assert.equal(await resumeSession(null, { api }), null);
  assert.equal(api.calls.length, 2);
});

test("the start model: the resumed or asked-for one when loaded, else scenes, else the first", () => {
  assert.equal(startModel(["a", "scenes"], "a", "b"), "a");
  assert.equal(startModel(["a", "scenes"], undefined, "zzz"), "scenes");
  assert.equal(startModel(["a", "b"], null, null), "a");
});

test("a session the server still has is left alone", async () => {
  const api = fakeApi({ sessions: { s1: { model: "scenes", seed: 3, strokes: [] } } });
  assert.equal(await ensureSession({ id: "s1", model: "scenes", seed: 3 }, [{ concept: "tree" }], { api }), null);
  assert.deepEqual(api.calls.map((c) => c[0]), ["GET"]);
});

test("a forgotten session is started again on the same picture with its strokes", async () => {
  const api = fakeApi();
  const strokes = [{ concept: "tree" }, { concept: "sky" }];
  const out = await ensureSession({ id: "old", model: "church", seed: 104 }, strokes, { api });
  assert.equal(out.session.id, "new1");
  assert.deepEqual(api.calls[1], ["POST", "/api/sessions", { model: "church", seed: 104 }]);
  assert.deepEqual(api.sessions.new1.strokes, strokes);
  assert.deepEqual(out.restored, strokes);
  assert.equal(restoredMessage(out), "the server had forgotten this picture; restored 2 strokes");
});

test("a stroke the new session refuses is skipped; an unreachable server throws", async () => {
  const api = fakeApi({ refuse: (s) => s.concept === "unicorn" });
  const out = await ensureSession({ id: "old", model: "m", seed: 1 },
    [{ concept: "tree" }, { concept: "unicorn" }], { api });
  assert.deepEqual(out.restored, [{ concept: "tree" }]);
  assert.equal(out.skipped, 1);
  assert.equal(restoredMessage(out), "the server had forgotten this picture; restored 1 stroke (1 could not be restored)");
  assert.equal(restoredMessage({ restored: [], skipped: 0 }), "");
  api.down = true;
  await assert.rejects(ensureSession({ id: "old", model: "m", seed: 1 }, [], { api }), (e) => e.status === 0);
});
