// The REST half of the API (see /docs): small fetch wrappers that turn failures into ApiError with
// the server's human-readable `detail`, so the page can show it as a short message.
//   const model = await api.getJSON(`/api/models/${id}`);
//   const blob = await api.postForBlob(`/api/models/${id}/render`, { seed: 104, format: "jpeg" });

export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** A short message from an error response body ({"detail": "..."} or FastAPI's list of problems). */
export function errorMessage(status, body) {
  const d = body?.detail;
  if (typeof d === "string" && d) return d;
  if (Array.isArray(d) && d.length) {
    return d.map((e) => (typeof e === "string" ? e : e?.msg)).filter(Boolean).join("; ") || `request failed (${status})`;
  }
  if (status === 404) return "not found";
  if (status === 429 || status === 503) return "the server is busy, try again in a moment";
  if (status >= 500) return `the server failed (${status})`;
  return `request failed (${status})`;
}

async function request(path, { method = "GET", body, fetchImpl = globalThis.fetch, signal } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  let res;
  try {
    res = await fetchImpl(path, init);
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError("cannot reach the server", 0);
  }
  if (!res.ok) {
    let parsed = null;
    try { parsed = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(errorMessage(res.status, parsed), res.status);
  }
  return res;
}

export const getJSON = async (path, opts) => (await request(path, opts)).json();
export const postJSON = async (path, body, opts) => (await request(path, { ...opts, method: "POST", body })).json();
export const getBlob = async (path, opts) => (await request(path, opts)).blob();
export const postForBlob = async (path, body, opts) => (await request(path, { ...opts, method: "POST", body })).blob();
export const del = async (path, opts) => request(path, { ...opts, method: "DELETE" });
export const postEmptyForBlob = async (path, opts) => (await request(path, { ...opts, method: "POST" })).blob();
export const patchJSON = async (path, body, opts) => (await request(path, { ...opts, method: "PATCH", body })).json();
