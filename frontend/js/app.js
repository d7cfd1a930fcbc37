// Wires the page's controls to the modules: PaintCanvas (pointer → strokes, frames on screen),
// SessionSocket (previews, commits, frames, state), History (the list and undo/redo), PictureStrip
// (other pictures), photos (upload, adaptation progress, before/after) and the REST API (start-up,
// fallbacks when the socket is down, recovery).
// Loaded by index.html as a module; URL options: ?model=ID, ?seed=N, ?format=webp|jpeg|png (frames).
// The session id lives in the URL hash (#session=…) so a reload keeps the picture and its strokes.

import * as api from "./api.js";
import { PaintCanvas } from "./canvas.js";
import { History, normalizeState } from "./history.js";
import { Notices, markPressed, renderBrushButtons, renderStrokeList, shortcutFor } from "./panels.js";
import { JobWatcher, ProgressBar, drawSquare, looksLikePhoto, uploadPhoto } from "./photo.js";
import { DEMO_IDS, PictureStrip, randomSeed } from "./pictures.js";
import { Explorer } from "./explorer.js";
import { SessionSocket } from "./socket.js";
import { StrokeBuilder, brushNames, strokeColor } from "./stroke.js";
import { throttle } from "./throttle.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const FRAME_FORMAT = ["webp", "jpeg", "png"].includes(params.get("format")) ? params.get("format") : "webp";
const PREVIEW_MS = 70; // about one preview per rendered frame of the 128 px model on a small CPU
const MESSAGE_MS = 6000;

const app = {
  models: [],
  model: null, // description from GET /api/models/{id}
  session: null, // {id, model, seed}
  brush: null,
  custom: null, // a custom unit brush {name, units} chosen in the explorer; replaces the concept brush
  mode: "draw",
  strength: 1,
  radius: 0.06,
  history: new History(),
  drawing: null, // StrokeBuilder of the stroke under the pointer
  pending: [], // committed strokes whose frame has not arrived yet (kept on the overlay)
  clearPendingOnFrame: false,
  frameSeq: 0, // frames received (websocket and REST)
  shownSeq: 0, // the newest frame drawn
  photo: null, // photo sessions: {source, bitmap (the uploaded file, for before/after), watcher}
};

// ------------------------------------------------------------------ messages and status
const notices = new Notices($("message"), $("status"), { showMs: MESSAGE_MS });
const showMessage = (text, kind) => notices.show(text, kind);
const setStatus = (state) => notices.status(state);

window.addEventListener("error", (ev) => {
  if (/ResizeObserver loop/.test(ev.message)) return; // benign: layout settles on the next frame
  showMessage(`something went wrong: ${ev.message}`);
});
window.addEventListener("unhandledrejection", (ev) => showMessage(ev.reason?.message || "something went wrong"));

// ------------------------------------------------------------------ frames
const canvas = new PaintCanvas({
  stage: $("stage"), image: $("image"), overlay: $("overlay"), cursor: $("cursor"),
  onStrokeStart: startStroke, onStrokeMove: moveStroke, onStrokeEnd: endStroke,
});

/** Decode and show a frame unless a newer one was shown meanwhile (decoding is async and can reorder). */
async function showFrame(blob, seq) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    showMessage("received an image the browser cannot decode");
    return;
  }
  if (seq <= app.shownSeq) { bitmap.close(); return; }
  app.shownSeq = seq;
  canvas.showImage(bitmap);
  $("stage").dataset.frame = String(seq);
  if (app.clearPendingOnFrame) setPending([]);
}

function onSocketFrame(blob) {
  app.frameSeq += 1;
  showFrame(blob, app.frameSeq);
}

/** A frame fetched over REST; dropped if a websocket frame arrived while it was on its way. */
async function showRestImage(promise) {
  const seqAtStart = app.frameSeq;
  const blob = await promise;
  if (app.frameSeq !== seqAtStart) return;
  app.frameSeq += 1;
  await showFrame(blob, app.frameSeq);
}

function redrawOverlay() {
  canvas.drawStrokes([...app.pending, app.drawing?.toData()]);
  explorer.drawing(app.drawing?.toData() ?? null);
}

/** Committed strokes still shown on the overlay; data-pending tells tests (and styles) when none are left. */
function setPending(strokes) {
  app.pending = strokes;
  app.clearPendingOnFrame = false;
  $("stage").dataset.pending = String(strokes.length);
  redrawOverlay();
}

// ------------------------------------------------------------------ sessions and the socket
const sessionPath = () => `/api/sessions/${encodeURIComponent(app.session.id)}`;
function wsUrl(id) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  return `${proto}://${location.host}/api/sessions/${encodeURIComponent(id)}/ws?format=${FRAME_FORMAT}`;
}

const socket = new SessionSocket(null, {
  onFrame: onSocketFrame,
  onMessage: onSocketMessage,
  onStatus: (status, info) => {
    setStatus(status);
    if (status === "open" && info.reconnected) resync().catch((err) => showMessage(err.message));
  },
  beforeReconnect: ensureSession,
});

const explorer = new Explorer({
  $, api, showMessage,
  getSession: () => app.session,
  getBrush: () => ({ concept: app.custom ? null : app.brush, mode: app.mode }),
  onCustomBrush: selectCustom,
  // a session option (the server stores it with the session; frames follow)
  sendOptions: (options) => {
    if (!app.session) return;
    if (!socket.send({ type: "options", ...options })) {
      act(api.patchJSON(sessionPath(), options).then(() => api.getBlob(`${sessionPath()}/image?format=png&view=model`)));
    }
  },
});

function onSocketMessage(msg) {
  if (msg.type === "progress") {
    app.photo?.watcher?.update(msg);
  } else if (msg.type === "state") {
    adoptState(normalizeState(msg));
    adoptSource(msg.source);
    explorer.pictureChanged();
    app.clearPendingOnFrame = true;
    // If the frame came before the state message, nothing else will clear the overlay.
    setTimeout(() => { if (app.clearPendingOnFrame) setPending([]); }, 600);
  } else if (msg.type === "error") {
    showMessage(msg.detail || "the server rejected that");
    // An optimistic change may not have happened: ask for the truth.
    refreshState().catch(() => {});
    setPending([]);
  }
}

function adoptState(s) {
  app.history.sync(s);
  if (s.seed !== null && app.session && s.seed !== app.session.seed) {
    app.session.seed = s.seed;
    showSeed();
  }
  renderHistory();
}

async function refreshState() {
  if (!app.session) return;
  const s = await api.getJSON(sessionPath());
  adoptState(normalizeState(s));
  adoptSource(s.source);
}

/** After a reconnect: the server's strokes and image replace whatever the page last saw. */
async function resync() {
  await Promise.all([refreshState(), showRestImage(api.getBlob(`${sessionPath()}/image?format=png&view=model`))]);
}

/**
 * Before each reconnect: is the session still there? If the server forgot it (restart, expiry),
 * start a new one on the same picture and replay the strokes, so nothing the user did is lost.
 */
async function ensureSession() {
  if (!app.session) return null;
  try {
    await api.getJSON(sessionPath());
    return null;
  } catch (err) {
    if (err.status !== 404) throw err; // server unreachable: the socket tries again later
  }
  const strokes = app.history.strokes.slice();
  const fresh = await api.postJSON("/api/sessions", { model: app.session.model, seed: app.session.seed });
  adoptSession(fresh, { connect: false });
  for (const stroke of strokes) {
    await api.postForBlob(`${sessionPath()}/strokes`, stroke);
    app.history.commit(stroke);
  }
  renderHistory();
  if (strokes.length) showMessage(`the server had forgotten this picture; restored ${strokes.length} stroke${strokes.length > 1 ? "s" : ""}`, "info");
  return wsUrl(app.session.id);
}

function adoptSession(s, { connect = true } = {}) {
  app.session = { id: s.id, model: s.model ?? app.model?.id, seed: s.seed ?? normalizeState(s).seed };
  app.history.clear();
  setPending([]);
  history.replaceState(null, "", `#session=${encodeURIComponent(s.id)}`);
  const a = $("download");
  // view=composite: a photo at its own resolution with the edit blended in (generated images ignore it)
  a.href = `${sessionPath()}/image?format=png&view=composite`;
  a.download = `ganpaint-${app.session.model}-${app.session.seed ?? "photo"}.png`;
  a.setAttribute("aria-disabled", "false");
  $("stage").dataset.session = s.id;
  showSeed();
  renderHistory();
  if (connect) {
    if (socket.url === null) { socket.url = wsUrl(s.id); socket.connect(); } else socket.setUrl(wsUrl(s.id));
  }
}

async function startSession(modelId, seed) {
  const s = await api.postJSON("/api/sessions", { model: modelId, seed });
  adoptSession(s);
  await showRestImage(api.getBlob(`${sessionPath()}/image?format=png&view=model`));
}

// ------------------------------------------------------------------ photos
const progress = new ProgressBar($("photo-progress"), $("photo-bar"), $("photo-stage"));

/** The session's source (from a state message or GET): enters or leaves photo mode, follows its job. */
function adoptSource(source) {
  if (!source) return;
  if (source.kind !== "photo") { leavePhoto(); return; }
  if (!app.photo || app.photo.source.job !== source.job) {
    leavePhoto();
    app.photo = { source, bitmap: null, watcher: null };
  }
  app.photo.source = source;
  const adapting = source.status === "adapting";
  setAdapting(adapting);
  updatePaintable();
  if (adapting && !app.photo.watcher) watchJob(source.job);
  $("before-after").hidden = false;
  $("before-after").disabled = !app.photo.bitmap;
}

function leavePhoto() {
  if (!app.photo) return;
  explorer.clearPhoto();
  app.photo.watcher?.stop();
  app.photo.bitmap?.close?.();
  app.photo = null;
  setAdapting(false);
  updatePaintable();
  showBefore(false);
  progress.hide();
  $("before-after").hidden = true;
}

function setAdapting(on) {
  $("stage").dataset.adapting = String(on);
}

/** Until the generator is fitted to the photo the server refuses strokes, and "before" is not for painting. */
function updatePaintable() {
  canvas.enabled = (!app.photo || app.photo.source.status === "ready") && $("before").hidden;
}

function watchJob(jobId) {
  const watcher = new JobWatcher(jobId, {
    onUpdate: (job) => progress.show(job),
    onEnd: (job) => {
      if (job.state === "done") {
        showMessage("the photo is ready: paint on it", "info");
        explorer.photoReady(sessionPath());
        setTimeout(() => { if (app.photo?.watcher === watcher) progress.hide(); }, 2500);
      } else if (job.state === "cancelled" && job.error === "cancelled") {
        showMessage("photo adaptation cancelled; upload it again to edit it", "info");
      } else {
        showMessage(job.error ? `the photo could not be prepared: ${job.error}` : `adaptation ${job.state}`);
      }
      refreshState().catch(() => {});
    },
  });
  app.photo.watcher = watcher;
  watcher.start();
}

function showBefore(on) {
  const before = $("before");
  on = on && Boolean(app.photo?.bitmap);
  if (on) {
    before.width = $("image").width;
    before.height = $("image").height;
    drawSquare(before, app.photo.bitmap, app.photo.source);
  }
  before.hidden = !on;
  $("before-after").setAttribute("aria-pressed", String(on));
  updatePaintable();
}

async function startPhoto(file) {
  if (!file) return;
  if (!looksLikePhoto(file)) { showMessage("choose a JPEG, PNG or WebP photo"); return; }
  const old = app.session;
  progress.show({ state: "queued", stage: "starting", progress: 0 });
  $("photo-stage").textContent = `uploading ${file.name || "the photo"}…`;
  let out;
  try {
    out = await uploadPhoto(file, { model: app.model?.id });
  } catch (err) {
    progress.hide();
    throw err;
  }
  const s = await api.getJSON(`/api/sessions/${encodeURIComponent(out.session)}`);
  leavePhoto();
  app.photo = { source: s.source, bitmap: null, watcher: null };
  try {
    app.photo.bitmap = await createImageBitmap(file); // EXIF orientation applies, as on the server
  } catch { /* before/after stays off; everything else works */ }
  adoptSession(s);
  adoptSource(s.source);
  await showRestImage(api.getBlob(`${sessionPath()}/image?format=png&view=model`));
  if (old && old.id !== s.id) api.del(`/api/sessions/${encodeURIComponent(old.id)}`).catch(() => {});
}

$("upload").addEventListener("click", () => $("photo-file").click());
$("photo-file").addEventListener("change", (ev) => {
  const file = ev.target.files?.[0];
  ev.target.value = ""; // choosing the same file again still fires change
  startPhoto(file).catch((err) => showMessage(err.message));
});
$("before-after").addEventListener("click", () => showBefore($("before").hidden));
$("photo-cancel").addEventListener("click", () => {
  const job = app.photo?.source.job;
  if (job) api.del(`/api/jobs/${encodeURIComponent(job)}`).then((r) => r.json()).then((j) => app.photo?.watcher?.update(j))
    .catch((err) => showMessage(err.message));
});
for (const type of ["dragenter", "dragover"]) {
  $("stage").addEventListener(type, (ev) => {
    if (![...(ev.dataTransfer?.types ?? [])].includes("Files")) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "copy";
    $("stage").classList.add("dropping");
  });
}
$("stage").addEventListener("dragleave", (ev) => {
  if (!$("stage").contains(ev.relatedTarget)) $("stage").classList.remove("dropping");
});
$("stage").addEventListener("drop", (ev) => {
  ev.preventDefault();
  $("stage").classList.remove("dropping");
  startPhoto(ev.dataTransfer?.files?.[0]).catch((err) => showMessage(err.message));
});

function showSeed() {
  const seed = app.session?.seed;
  if (typeof seed === "number") $("seed").value = String(seed);
  strip.markCurrent(seed);
}

async function chooseSeed(seed) {
  if (!app.session) return;
  if (app.session.seed === seed && app.history.strokes.length === 0) return;
  if (socket.send({ type: "seed", seed })) {
    app.session.seed = seed;
    app.history.clear();
    setPending([]);
    $("download").download = `ganpaint-${app.session.model}-${seed}.png`;
    showSeed();
    renderHistory();
  } else {
    await startSession(app.session.model, seed);
  }
}

// ------------------------------------------------------------------ painting
function startStroke(p) {
  if (!app.session) return;
  if (!app.brush && !app.custom) { showMessage("choose a brush first", "info"); return; }
  const what = app.custom ? { units: app.custom.units } : { concept: app.brush };
  app.drawing = new StrokeBuilder({ ...what, mode: app.mode, strength: app.strength, radius: app.radius });
  app.drawing.add(p);
  redrawOverlay();
  sendPreview();
}

function moveStroke(points) {
  if (!app.drawing) return;
  let changed = false;
  for (const p of points) changed = app.drawing.add(p) || changed;
  if (changed) { redrawOverlay(); sendPreview(); }
}

function endStroke(p) {
  if (!app.drawing) return;
  app.drawing.add(p);
  sendPreview.cancel();
  const stroke = app.drawing.toData();
  app.drawing = null;
  setPending([...app.pending, stroke]);
  app.history.commit(stroke);
  renderHistory();
  if (!socket.send({ type: "stroke", stroke, final: true })) {
    act(api.postForBlob(`${sessionPath()}/strokes`, stroke), () => setPending([]));
  }
}

const sendPreview = throttle(() => {
  if (app.drawing) socket.sendPreview({ type: "stroke", stroke: app.drawing.toData(), final: false });
}, PREVIEW_MS);

/** A REST fallback: show the returned image, then fetch the state; on failure resync and say why. */
function act(imagePromise, after = () => {}) {
  showRestImage(imagePromise)
    .then(() => refreshState())
    .catch((err) => { showMessage(err.message); refreshState().catch(() => {}); })
    .finally(after);
}

function command(type, extra = {}) {
  if (!app.session) return;
  const h = app.history;
  // Nothing to step to: say nothing rather than make the server answer with an error.
  if ((type === "undo" && !h.canUndo) || (type === "redo" && !h.canRedo)) return;
  if (type === "undo") h.undo();
  else if (type === "redo") h.redo();
  else if (type === "reset") h.reset();
  else if (type === "delete") h.remove(extra.index);
  renderHistory();
  if (socket.send({ type, ...extra })) return;
  const path = sessionPath();
  if (type === "delete") act(api.del(`${path}/strokes/${extra.index}`).then((r) => r.blob()));
  else act(api.postEmptyForBlob(`${path}/${type}`));
}

// ------------------------------------------------------------------ the history list
function renderHistory() {
  const strokes = app.history.strokes;
  renderStrokeList($("history"), strokes, {
    onDelete: (index) => command("delete", { index }),
    // Hover or keyboard focus shows which part of the picture the stroke covers.
    onHighlight: (stroke) => canvas.highlight(stroke),
  });
  $("history-empty").hidden = strokes.length > 0;
  $("undo").disabled = !app.history.canUndo;
  $("redo").disabled = !app.history.canRedo;
  $("reset").disabled = strokes.length === 0;
}

// ------------------------------------------------------------------ controls
function renderBrushes(names) {
  renderBrushButtons($("brushes"), names, selectBrush);
  app.brush = names.includes(app.brush) ? app.brush : names[0] ?? null;
  if (app.brush) selectBrush(app.brush);
}

function selectBrush(name, { keepCustom = false } = {}) {
  app.brush = name;
  if (!keepCustom && app.custom) { app.custom = null; explorer.select(null); }
  markPressed($("brushes"), "brush", app.custom ? null : name);
  canvas.setBrush({ color: strokeColor(app.custom ? { concept: app.custom.name, mode: app.mode } : { concept: name, mode: app.mode }) });
  explorer.pictureChanged({ now: true });
}

function selectCustom(brush) {
  app.custom = brush;
  selectBrush(app.brush, { keepCustom: true });
}

function selectMode(mode) {
  app.mode = mode;
  markPressed(document.querySelector(".modes"), "mode", mode);
  if (app.brush) selectBrush(app.brush, { keepCustom: true });
}

$("mode-draw").addEventListener("click", () => selectMode("draw"));
$("mode-remove").addEventListener("click", () => selectMode("remove"));
$("undo").addEventListener("click", () => command("undo"));
$("redo").addEventListener("click", () => command("redo"));
$("reset").addEventListener("click", () => command("reset"));
$("download").addEventListener("click", (ev) => { if (!app.session) ev.preventDefault(); });

$("strength").addEventListener("input", (ev) => {
  app.strength = Number(ev.target.value) / 100;
  $("strength-value").textContent = `${ev.target.value}%`;
});
let cursorTimer = null;
$("size").addEventListener("input", (ev) => {
  app.radius = Number(ev.target.value) / 100;
  $("size-value").textContent = `${ev.target.value}%`;
  canvas.setBrush({ radius: app.radius });
  // Show the new size on the picture while the slider moves.
  canvas.showCursorAt();
  clearTimeout(cursorTimer);
  cursorTimer = setTimeout(() => canvas.hideCursor(), 900);
});

document.addEventListener("keydown", (ev) => {
  const action = shortcutFor(ev);
  if (action) { ev.preventDefault(); command(action); }
});

const strip = new PictureStrip($("thumbs"), {
  onChoose: (seed) => chooseSeed(seed).catch((err) => showMessage(err.message)),
  onError: (text) => showMessage(text),
});
$("random").addEventListener("click", () => chooseSeed(randomSeed()).catch((err) => showMessage(err.message)));
$("seed-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const seed = Number($("seed").value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2147483647) { showMessage("a seed is a whole number from 0 to 2147483647"); return; }
  chooseSeed(seed).catch((err) => showMessage(err.message));
});

$("model").addEventListener("change", (ev) => switchModel(ev.target.value).catch((err) => showMessage(err.message)));

async function loadModel(id) {
  app.model = await api.getJSON(`/api/models/${encodeURIComponent(id)}`);
  app.model.id ??= id;
  canvas.setResolution(app.model.resolution || 0);
  renderBrushes(brushNames(app.model));
  explorer.setModel(app.model);
  $("model").value = id;
  strip.load(id);
}

async function switchModel(id) {
  const old = app.session;
  await loadModel(id);
  await startSession(id, old?.seed ?? DEMO_IDS[0]);
  if (old) api.del(`/api/sessions/${encodeURIComponent(old.id)}`).catch(() => {}); // free it now, not at expiry
}

// ------------------------------------------------------------------ start-up
async function main() {
  const listed = await api.getJSON("/api/models");
  const models = (Array.isArray(listed) ? listed : listed.models ?? []).map((m) => (typeof m === "string" ? { id: m } : m));
  if (models.length === 0) throw new Error("the server has no models loaded");
  app.models = models;
  const select = $("model");
  select.replaceChildren(...models.map((m) => new Option(m.title && m.title !== m.id ? `${m.id} — ${m.title}` : m.id, m.id)));
  $("model-switch").hidden = models.length < 2;

  // A session from the URL hash survives reloads; otherwise start one.
  const hashId = new URLSearchParams(location.hash.slice(1)).get("session");
  let resumed = null;
  if (hashId) {
    try { resumed = await api.getJSON(`/api/sessions/${encodeURIComponent(hashId)}`); } catch { /* gone: start anew */ }
  }
  const ids = models.map((m) => m.id);
  const modelId = [resumed?.model, params.get("model"), "scenes", ids[0]].find((m) => m && ids.includes(m));
  await loadModel(modelId);
  if (resumed && (resumed.model ?? modelId) === modelId) {
    adoptSession({ ...resumed, id: resumed.id ?? hashId });
    adoptState(normalizeState(resumed));
    adoptSource(resumed.source);
    await showRestImage(api.getBlob(`${sessionPath()}/image?format=png&view=model`));
  } else {
    const seed = Number.parseInt(params.get("seed") ?? "", 10);
    await startSession(modelId, Number.isInteger(seed) && seed >= 0 ? seed : DEMO_IDS[0]);
  }
}

window.addEventListener("online", () => { if (!socket.isOpen && app.session) socket.setUrl(socket.url); });

main().catch((err) => {
  setStatus("closed");
  showMessage(`could not start: ${err.message}`);
});
