// Unit tests of frontend/js/api.js: error bodies become short messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError, errorMessage, getJSON, postJSON } from "../../frontend/js/api.js";

test("the server's detail is the message", () => {
  assert.equal(errorMessage(404, { detail: "unknown session" }), "unknown session");
  assert.equal(errorMessage(422, { detail: [{ msg: "seed must be >= 0" }, { msg: "bad format" }] }), "seed must be >= 0; bad format");
  assert.equal(errorMessage(503, null), "the server is busy, try again in a moment");
  assert.equal(errorMessage(500, "oops"), "the server failed (500)");
  assert.equal(errorMessage(400, {}), "request failed (400)");
});

const reply = (status, body) => async () => ({ ok: status < 400, status, json: async () => body });

test("failed requests throw ApiError with status and detail", async () => {
  await assert.rejects(getJSON("/x", { fetchImpl: reply(404, { detail: "no such model" }) }),
    (e) => e instanceof ApiError && e.status === 404 && e.message === "no such model");
  await assert.rejects(getJSON("/x", { fetchImpl: async () => { throw new TypeError("Failed to fetch"); } }),
    (e) => e instanceof ApiError && e.status === 0 && e.message === "cannot reach the server");
});

test("JSON bodies are sent as JSON", async () => {
  let seen;
  const fetchImpl = async (path, init) => { seen = { path, init }; return { ok: true, status: 200, json: async () => ({ id: "s" }) }; };
  assert.deepEqual(await postJSON("/api/sessions", { model: "scenes", seed: 3 }, { fetchImpl }), { id: "s" });
  assert.equal(seen.init.method, "POST");
  assert.equal(seen.init.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(seen.init.body), { model: "scenes", seed: 3 });
});
