// Keeping a picture across reloads and server restarts: the session id lives in the URL hash, and a
// session the server has forgotten is started again on the same picture with its strokes replayed.
//   const resumed = await resumeSession(sessionIdFromHash(location.hash), { api });   // state or null
//   const modelId = startModel(["scenes", "church"], resumed?.model, params.get("model"));
//   history.replaceState(null, "", sessionHash(id));
//   const out = await ensureSession({ id, model, seed }, strokes, { api });
//   // null: the server still has it; else { session: the new state, restored: [strokes], skipped: n }

const sessionPath = (id) => `/api/sessions/${encodeURIComponent(id)}`;

export function sessionIdFromHash(hash) {
  return new URLSearchParams(String(hash ?? "").replace(/^#/, "")).get("session") || null;
}

export const sessionHash = (id) => `#session=${encodeURIComponent(id)}`;

/** The state of the session named in the URL, or null when there is none or the server forgot it. */
export async function resumeSession(id, { api }) {
  if (!id) return null;
  try {
    const s = await api.getJSON(sessionPath(id));
    return { ...s, id: s.id ?? id };
  } catch {
    return null; // gone: the page starts anew
  }
}

/** The first of the preferred model ids the server has, else "scenes", else its first model. */
export function startModel(ids, ...preferred) {
  return [...preferred, "scenes", ids[0]].find((m) => m && ids.includes(m));
}

/**
 * Is the session still there? If the server forgot it (restart, expiry), start a new one on the same
 * picture and send the strokes again, so nothing the user did is lost. A stroke the new session
 * refuses (4xx) is skipped rather than blocking the rest; an unreachable server throws (the caller
 * tries again later).
 */
export async function ensureSession(session, strokes, { api }) {
  try {
    await api.getJSON(sessionPath(session.id));
    return null;
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  const fresh = await api.postJSON("/api/sessions", { model: session.model, seed: session.seed });
  const restored = [];
  let skipped = 0;
  for (const stroke of strokes) {
    try {
      await api.postForBlob(`${sessionPath(fresh.id)}/strokes`, stroke);
      restored.push(stroke);
    } catch (err) {
      if (!(err.status >= 400 && err.status < 500)) throw err;
      skipped += 1;
    }
  }
  return { session: fresh, restored, skipped };
}

/** The message that tells the user what a replay did ("" when there was nothing to restore). */
export function restoredMessage({ restored, skipped }) {
  if (!restored.length && !skipped) return "";
  const n = restored.length;
  let text = `the server had forgotten this picture; restored ${n} stroke${n === 1 ? "" : "s"}`;
  if (skipped) text += ` (${skipped} could not be restored)`;
  return text;
}
