// Photos: upload one (POST /api/photos), follow its adaptation job (websocket progress messages, with
// GET /api/jobs/{id} polling as the fallback), show progress, and draw the original for before/after.
//   const out = await uploadPhoto(file, { model: "scenes" });      // {session, job, width, height, fit}
//   const w = new JobWatcher(out.job, { onUpdate: (job) => bar.show(job), onEnd: (job) => ... });
//   w.start(); socketProgressMessage && w.update(msg); w.stop();
//   const bar = new ProgressBar(barEl, labelEl); bar.show({ state, stage, progress, eta_s }); bar.hide();
//   etaText({ state: "running", eta_s: 12 })                  // "about 12 s left"
//   drawSquare(canvas, bitmap, { width, height, fit });   // the part of the photo the model sees

import { ApiError, errorMessage } from "./api.js";

export const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];

const STAGE_TEXT = {
  queued: "waiting for a free worker",
  starting: "starting",
  encoder: "encoding the photo",
  h4: "fitting the scene layout",
  coarse: "adapting coarse layers",
  fine: "adapting fine details",
  cancelling: "cancelling",
  done: "ready to paint",
  failed: "adaptation failed",
  cancelled: "cancelled",
};

/** A short human label for a job's stage (and its queue position while waiting). */
export function stageLabel(job) {
  if (job.state === "queued" && job.position > 0) {
    return job.position === 1 ? "waiting: next in line" : `waiting: ${job.position - 1} photos ahead`;
  }
  return STAGE_TEXT[job.stage] ?? STAGE_TEXT[job.state] ?? String(job.stage ?? "working");
}

/** "about 12 s left" (or minutes) from a job's eta_s while it waits or runs; "" when unknown or ended. */
export function etaText(job) {
  const eta = job?.eta_s;
  if (eta == null || !Number.isFinite(eta) || isFinished(job)) return "";
  if (eta < 1.5) return "almost done";
  if (eta < 90) return `about ${Math.round(eta)} s left`;
  return `about ${Math.round(eta / 60)} min left`;
}

export const isFinished = (job) => ["done", "failed", "cancelled"].includes(job.state);

/** Is this a file the server accepts? (The server decides; this only spares a useless upload.) */
export function looksLikePhoto(file) {
  return Boolean(file) && (PHOTO_TYPES.includes(file.type) || /\.(jpe?g|png|webp)$/i.test(file.name ?? ""));
}

export async function uploadPhoto(file, { model, fit, fetchImpl = globalThis.fetch } = {}) {
  const form = new FormData();
  form.append("file", file, file.name || "photo");
  if (model) form.append("model", model);
  if (fit) form.append("fit", fit);
  let res;
  try {
    res = await fetchImpl("/api/photos", { method: "POST", body: form });
  } catch {
    throw new ApiError("cannot reach the server", 0);
  }
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON */ }
    const retry = Number(res.headers.get("retry-after"));
    const hint = (res.status === 503 || res.status === 429) && retry > 0 ? ` (try again in ${retry} s)` : "";
    throw new ApiError(errorMessage(res.status, body) + hint, res.status);
  }
  return res.json();
}

/** Follows one job: socket messages when they come, polling otherwise; onEnd fires exactly once. */
export class JobWatcher {
  constructor(jobId, { onUpdate = () => {}, onEnd = () => {}, pollMs = 1000, fetchImpl = globalThis.fetch,
    setTimer = (f, ms) => setTimeout(f, ms), clearTimer = (t) => clearTimeout(t) } = {}) {
    Object.assign(this, { jobId, onUpdate, onEnd, pollMs, fetchImpl, setTimer, clearTimer });
    this.timer = null;
    this.ended = false;
    this.last = null;
  }

  start() {
    this.#schedule();
  }

  stop() {
    this.ended = true;
    if (this.timer !== null) { this.clearTimer(this.timer); this.timer = null; }
  }

  /** A progress message ({job, state, stage, progress, ...}) or a GET /api/jobs answer. */
  update(job) {
    if (this.ended || (job.job ?? job.id) !== this.jobId) return;
    // Socket and polling answers can cross: never move backwards within a running job.
    if (this.last && !isFinished(job) && job.state === this.last.state && job.progress < this.last.progress) return;
    this.last = job;
    this.onUpdate(job);
    if (isFinished(job)) {
      this.stop();
      this.onEnd(job);
    }
  }

  #schedule() {
    if (this.ended) return;
    this.timer = this.setTimer(() => this.#poll(), this.pollMs);
  }

  async #poll() {
    this.timer = null;
    if (this.ended) return;
    try {
      const res = await this.fetchImpl(`/api/jobs/${encodeURIComponent(this.jobId)}`);
      if (res.status === 404) {
        this.update({ id: this.jobId, state: "failed", stage: "failed", progress: 0, error: "the server forgot this job" });
        return;
      }
      if (res.ok) this.update(await res.json());
    } catch { /* offline for a moment: the next poll tries again */ }
    this.#schedule();
  }
}

/** The progress bar (role=progressbar) and its stage label. */
export class ProgressBar {
  constructor(box, bar, label) {
    Object.assign(this, { box, bar, label });
  }

  show(job) {
    const pct = Math.round(100 * Math.max(0, Math.min(1, job.progress ?? 0)));
    const text = stageLabel(job);
    this.box.hidden = false;
    this.box.dataset.state = job.state;
    this.bar.setAttribute("aria-valuenow", String(pct));
    this.bar.setAttribute("aria-valuetext", `${pct}%: ${text}${etaText(job) ? `, ${etaText(job)}` : ""}`);
    this.bar.style.setProperty("--done", `${pct}%`);
    const eta = etaText(job);
    this.label.textContent = `${text} — ${pct}%${eta ? ` · ${eta}` : ""}`;
  }

  hide() {
    this.box.hidden = true;
  }
}

/** Source rectangle of the original that the model's square covers (crop), or where the photo sits in it (letterbox). */
export function squareGeometry({ width, height, fit = "crop" }) {
  if (fit === "letterbox") {
    const side = Math.max(width, height);
    return { fit, side, dx: (side - width) / 2, dy: (side - height) / 2 };
  }
  const side = Math.min(width, height);
  return { fit: "crop", side, sx: Math.floor((width - side) / 2), sy: Math.floor((height - side) / 2) };
}

/** Draw a photo the way the model sees it onto a square canvas (whatever the canvas's size). */
export function drawSquare(canvas, image, source) {
  const g = squareGeometry(source);
  const ctx = canvas.getContext("2d");
  const k = canvas.width / g.side;
  ctx.imageSmoothingQuality = "high";
  ctx.fillStyle = "#20242b";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (g.fit === "letterbox") ctx.drawImage(image, g.dx * k, g.dy * k, source.width * k, source.height * k);
  else ctx.drawImage(image, g.sx, g.sy, g.side, g.side, 0, 0, canvas.width, canvas.height);
}
