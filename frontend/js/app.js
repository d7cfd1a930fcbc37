// Wires the page's controls to the modules and nothing more: PaintCanvas (pointer → strokes, frames on
// screen), StrokeInput (a stroke under the pointer), PaintSession (the session, its history and
// commands over the socket or REST), resume.js (the session in the URL hash), PhotoMode (uploads and
// adaptation), FrameQueue/PendingStrokes (frames in order, strokes on the overlay), BrushPanel,
// PictureStrip, PictureTrail (pictures left with work on them, reachable by undo), the panels and the
// dissection explorer (Explorer: inspector, custom unit brushes, overlays).
// Loaded by index.html as a module; URL options: ?model=ID, ?seed=N, ?format=webp|jpeg|png (frames).

import * as api from "./api.js";
import { PaintCanvas } from "./canvas.js";
import { FrameQueue, PendingStrokes } from "./frames.js";
import { BrushPanel, Notices, markPressed, renderStrokeList, shortcutFor } from "./panels.js";
import { ProgressBar } from "./photo.js";
import { PhotoMode, acceptDroppedFiles } from "./photomode.js";
import { Explorer } from "./explorer.js";
import { DEMO_IDS, PictureStrip, randomSeed } from "./pictures.js";
import { resumeSession, sessionHash, sessionIdFromHash, startModel } from "./resume.js";
import { PaintSession } from "./session.js";
import { SessionSocket } from "./socket.js";
import { StrokeInput, brushNames, conceptColor } from "./stroke.js";
import { PictureTrail, worthKeeping } from "./trail.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const FRAME_FORMAT = ["webp", "jpeg", "png"].includes(params.get("format")) ? params.get("format") : "webp";
const PREVIEW_MS = 70; // about one preview per rendered frame of the 128 px model on a small CPU
const MESSAGE_MS = 6000;
const UPSCALE = 4; // the larger download: the model's output enlarged this many times

/** This page's address for a picture: the session in the hash, ?seed= following the picture shown. */
function pageUrl(s) {
  const url = new URL(location.href);
  if (typeof s.seed === "number") url.searchParams.set("seed", String(s.seed));
  else url.searchParams.delete("seed");
  if (url.searchParams.has("model")) url.searchParams.set("model", s.model);
  url.hash = sessionHash(s.id);
  return url.pathname + url.search + url.hash;
}

// ------------------------------------------------------------------ messages and status
const notices = new Notices($("message"), $("status"), { showMs: MESSAGE_MS });
const showMessage = (text, kind) => notices.show(text, kind);
const reportError = (err) => showMessage(err.message);

window.addEventListener("error", (ev) => {
  if (/ResizeObserver loop/.test(ev.message)) return; // benign: layout settles on the next frame
  showMessage(`something went wrong: ${ev.message}`);
});
window.addEventListener("unhandledrejection", (ev) => showMessage(ev.reason?.message || "something went wrong"));

// ------------------------------------------------------------------ the explorer
let custom = null; // a custom unit brush {name, units} picked in the explorer: it replaces the concept brush
const explorer = new Explorer({
  $, api, showMessage,
  getSession: () => session.session,
  getBrush: () => ({ concept: custom ? null : brushes.brush, mode: brushes.mode }),
  onCustomBrush: (b) => {
    custom = b;
    markPressed($("brushes"), "brush", null);
    canvas.setBrush({ color: conceptColor(b.name) });
  },
  // a session option: over the socket, else REST; the server answers with a new frame either way
  sendOptions: (options) => {
    if (!session.session || socket.send({ type: "options", ...options })) return;
    api.patchJSON(session.path, options).then(() => session.image()).catch(reportError);
  },
});
// choosing a concept brush leaves the custom one
$("brushes").addEventListener("click", (ev) => {
  if (!ev.target.closest("button[data-brush]")) return;
  custom = null;
  explorer.select(null);
});
document.querySelector(".modes").addEventListener("click", () => explorer.pictureChanged({ now: true }));

// ------------------------------------------------------------------ the picture
const canvas = new PaintCanvas({
  stage: $("stage"), image: $("image"), overlay: $("overlay"), cursor: $("cursor"),
  onStrokeStart: (p) => input.start(p), onStrokeMove: (ps) => input.move(ps), onStrokeEnd: (p) => input.end(p),
  onRefused: () => showMessage(photos.refusal(), "info"),
});
const redrawOverlay = () => {
  canvas.drawStrokes([...pending.strokes, input.drawing]);
  explorer.drawing(input.drawing);
};
const pending = new PendingStrokes({
  onChange: (strokes) => { $("stage").dataset.pending = String(strokes.length); redrawOverlay(); }, // tests wait on it
});
const frames = new FrameQueue({
  show: (bitmap, seq) => { canvas.showImage(bitmap); $("stage").dataset.frame = String(seq); pending.frameShown(); },
  onDecodeError: showMessage,
});

// ------------------------------------------------------------------ the session
const wsUrl = (id) => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/sessions/${encodeURIComponent(id)}/ws?format=${FRAME_FORMAT}`;
const socket = new SessionSocket(null, {
  onFrame: (blob) => frames.fromSocket(blob),
  onMessage: (msg) => session.handleMessage(msg),
  onStatus: (status, info) => {
    notices.status(status);
    if (status === "open" && info.reconnected) session.resync().catch(reportError);
  },
  beforeReconnect: () => session.ensure(),
});
const session = new PaintSession({
  socket, api, wsUrl, pending,
  onImage: (blobPromise) => frames.fromRest(blobPromise),
  onSession: (s) => {
    history.replaceState(null, "", pageUrl(s));
    const path = `/api/sessions/${encodeURIComponent(s.id)}/image?format=png`;
    const a = $("download");
    // view=composite: a photo at its own resolution with the edit blended in (generated images ignore it)
    a.href = `${path}&view=composite`;
    a.download = `ganpaint-${s.model}-${s.seed ?? "photo"}.png`;
    a.setAttribute("aria-disabled", "false");
    // a generated picture is small (the model's resolution): offer it enlarged, and say that it is
    const large = $("download-large");
    large.hidden = s.seed === null;
    large.href = `${path}&view=model&scale=${UPSCALE}`;
    large.download = `ganpaint-${s.model}-${s.seed}-upscaled-${UPSCALE}x.png`;
    const side = currentModel?.resolution;
    large.textContent = side ? `download ${side * UPSCALE} px (upscaled)` : `download ${UPSCALE}× (upscaled)`;
    large.title = side ? `the ${side} × ${side} picture enlarged ${UPSCALE}× (Lanczos): larger, no new detail` : "";
    $("stage").dataset.session = s.id;
    shownSeed = undefined; // a new picture: show its seed even if it is the same number
  },
  onState: () => {
    renderHistory();
    showSeed();
    explorer.pictureChanged();
    if (session.session) history.replaceState(null, "", pageUrl(session.session));
  },
  onSource: (source) => { photos.adoptSource(source); explorer.sourceChanged(source, session.path); },
  onProgress: (msg) => photos.update(msg),
  onError: showMessage,
  onInfo: (text) => showMessage(text, "info"),
});

const input = new StrokeInput({
  brush: () => (!session.session ? null : custom
    ? { units: custom.units, mode: brushes.mode, strength: brushes.strength, radius: brushes.radius } : brushes.current),
  onRefused: () => { if (session.session) showMessage("choose a brush first", "info"); },
  onDraw: redrawOverlay,
  onPreview: (stroke) => session.sendPreview(stroke),
  onCommit: (stroke) => session.commitStroke(stroke),
  previewMs: PREVIEW_MS,
});

function renderHistory() {
  const strokes = session.history.strokes;
  renderStrokeList($("history"), strokes, {
    onDelete: (index) => session.command("delete", { index }),
    // Hover or keyboard focus shows which part of the picture the stroke covers.
    onHighlight: (stroke) => canvas.highlight(stroke),
  });
  $("history-empty").hidden = strokes.length > 0;
  // past the picture's own history, undo and redo walk the pictures left with work on them
  const back = !session.history.canUndo && trail.canBack;
  const forward = !session.history.canRedo && trail.canForward;
  $("undo").disabled = !session.history.canUndo && !back;
  $("redo").disabled = !session.history.canRedo && !forward;
  $("undo").title = back ? "undo: back to the picture you edited before" : "undo (Ctrl+Z)";
  $("redo").title = forward ? "redo: forward to the next picture" : "redo (Ctrl+Shift+Z)";
  $("reset").disabled = strokes.length === 0;
}

function command(type) {
  if (type === "undo" && !session.history.canUndo && trail.canBack) return stepPicture("back").catch(reportError);
  if (type === "redo" && !session.history.canRedo && trail.canForward) return stepPicture("forward").catch(reportError);
  session.command(type);
}
for (const type of ["undo", "redo", "reset"]) $(type).addEventListener("click", () => command(type));
document.addEventListener("keydown", (ev) => {
  const action = shortcutFor(ev);
  if (action) { ev.preventDefault(); command(action); }
});

// ------------------------------------------------------------------ switching pictures, losing nothing
const trail = new PictureTrail();

/** Show another picture. One with work on it (strokes, undo steps, a photo) is kept on the server and
 *  stays reachable by undo; `start(keep)` makes the new picture (a new session when keeping). */
async function switchPicture(start) {
  const old = session.session;
  const keep = worthKeeping(old, session.history, photos.photo !== null);
  if (keep) trail.leave(old);
  try {
    await start(keep);
  } catch (err) {
    if (keep) trail.back(null); // still on the old picture: nothing was left
    throw err;
  }
  renderHistory();
  if (keep) showMessage("your edited picture is kept: undo brings it back", "info");
  return { old, keep };
}

/** Undo/redo past a picture's own history: show the picture left before (or after) this one. */
async function stepPicture(direction) {
  const current = session.session;
  const to = direction === "back" ? trail.back(current) : trail.forward(current);
  if (!to) return;
  let state;
  try {
    state = await api.getJSON(`/api/sessions/${encodeURIComponent(to.id)}`);
  } catch (err) {
    (direction === "back" ? trail.ahead : trail.behind).pop(); // the current picture stays where it was
    trail.forget(to.id);
    renderHistory();
    throw new Error(err.status === 404 ? "that picture has expired on the server and cannot come back" : err.message);
  }
  if (state.model !== currentModel?.id) await loadModel(state.model);
  await session.resume(state);
  photos.adoptSource(state.source);
  renderHistory();
  showMessage(direction === "back" ? "back to the picture you edited: redo goes forward again"
    : "forward to the next picture: undo goes back", "info");
}
$("download").addEventListener("click", (ev) => { if (!session.session) ev.preventDefault(); });

// ------------------------------------------------------------------ photos
const photos = new PhotoMode({
  stage: $("stage"), before: $("before"), image: $("image"), toggle: $("before-after"),
  progress: new ProgressBar($("photo-progress"), $("photo-bar"), $("photo-stage")), fitNote: $("photo-fit"),
  onPaintable: (on) => { canvas.enabled = on; },
  onMessage: showMessage,
  onRefresh: () => session.refresh().catch(() => {}),
});

async function startPhoto(file) {
  if (!file) return;
  const { old, keep } = await switchPicture(async () => {
    const s = await photos.upload(file, { model: currentModel?.id });
    session.adopt(s);
    photos.adoptSource(s.source);
    await session.image();
  });
  forgetUnlessKept(old, keep);
}

/** Free a session on the server now (not at expiry) unless the page can still come back to it. */
function forgetUnlessKept(old, keep) {
  if (!old || keep || trail.has(old.id) || old.id === session.session?.id) return;
  api.del(`/api/sessions/${encodeURIComponent(old.id)}`).catch(() => {});
}

$("upload").addEventListener("click", () => $("photo-file").click());
$("photo-file").addEventListener("change", (ev) => {
  const file = ev.target.files?.[0];
  ev.target.value = ""; // choosing the same file again still fires change
  startPhoto(file).catch(reportError);
});
$("before-after").addEventListener("click", () => photos.showBefore($("before").hidden));
$("photo-cancel").addEventListener("click", () => photos.cancel().catch(reportError));
acceptDroppedFiles($("stage"), (file) => startPhoto(file).catch(reportError));

// ------------------------------------------------------------------ brushes and pictures
let cursorTimer = null;
const brushes = new BrushPanel({
  brushes: $("brushes"), modes: document.querySelector(".modes"), strength: $("strength"),
  strengthValue: $("strength-value"), size: $("size"), sizeValue: $("size-value"),
  onColor: (color) => canvas.setBrush({ color }),
  onRadius: (radius) => {
    canvas.setBrush({ radius });
    // Show the new size on the picture while the slider moves.
    canvas.showCursorAt();
    clearTimeout(cursorTimer);
    cursorTimer = setTimeout(() => canvas.hideCursor(), 900);
  },
});

let shownSeed; // the seed field is only rewritten when the picture changes, not while someone types in it
function showSeed() {
  const seed = session.session?.seed;
  if (seed === shownSeed) return;
  shownSeed = seed;
  $("seed").value = typeof seed === "number" ? String(seed) : ""; // a photo has no seed: do not show the last one
  strip.markCurrent(seed);
}

const chooseSeed = (seed) => switchPicture((keep) => (keep
  ? session.start(session.session.model, seed) // a new session: the edited one stays as it is
  : session.chooseSeed(seed))).catch(reportError);
const strip = new PictureStrip($("thumbs"), { onChoose: chooseSeed, onError: showMessage });
$("random").addEventListener("click", () => chooseSeed(randomSeed()));
$("seed-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const seed = Number($("seed").value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2147483647) { showMessage("a seed is a whole number from 0 to 2147483647"); return; }
  chooseSeed(seed);
});

// ------------------------------------------------------------------ models and start-up
let currentModel = null; // description from GET /api/models/{id}

async function loadModel(id) {
  currentModel = await api.getJSON(`/api/models/${encodeURIComponent(id)}`);
  currentModel.id ??= id;
  canvas.setResolution(currentModel.resolution || 0);
  brushes.setBrushes(brushNames(currentModel));
  custom = null;
  explorer.setModel(currentModel);
  $("model").value = id;
  strip.load(id);
}

$("model").addEventListener("change", async (ev) => {
  try {
    const { old, keep } = await switchPicture(async () => {
      const seed = session.session?.seed ?? DEMO_IDS[0];
      await loadModel(ev.target.value);
      await session.start(ev.target.value, seed);
    });
    forgetUnlessKept(old, keep);
  } catch (err) { reportError(err); }
});

async function main() {
  const listed = await api.getJSON("/api/models");
  const models = (Array.isArray(listed) ? listed : listed.models ?? []).map((m) => (typeof m === "string" ? { id: m } : m));
  if (models.length === 0) throw new Error("the server has no models loaded");
  $("model").replaceChildren(...models.map((m) => new Option(m.title && m.title !== m.id ? `${m.id} — ${m.title}` : m.id, m.id)));
  $("model-switch").hidden = models.length < 2;

  // A session from the URL hash survives reloads; otherwise start one.
  const resumed = await resumeSession(sessionIdFromHash(location.hash), { api });
  const modelId = startModel(models.map((m) => m.id), resumed?.model, params.get("model"));
  await loadModel(modelId);
  if (resumed && (resumed.model ?? modelId) === modelId) {
    await session.resume({ ...resumed, model: resumed.model ?? modelId });
    explorer.setOptions(resumed.options);
  } else {
    const seed = Number.parseInt(params.get("seed") ?? "", 10);
    await session.start(modelId, Number.isInteger(seed) && seed >= 0 ? seed : DEMO_IDS[0]);
  }
}

window.addEventListener("online", () => { if (!socket.isOpen && session.session) socket.setUrl(socket.url); });

main().catch((err) => {
  notices.status("closed");
  showMessage(`could not start: ${err.message}`);
});
