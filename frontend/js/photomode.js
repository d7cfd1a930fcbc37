// Photo mode: while the picture is an uploaded photo, follow its adaptation job, keep strokes off it
// until it is ready, and offer before/after with the original file.
//   const photos = new PhotoMode({ stage, before, image, toggle, progress: new ProgressBar(...), fitNote,
//                                  onPaintable: (on) => canvas.enabled = on, onMessage, onRefresh });
//   photos.refusal()                      // why no stroke may start now (a photo still being prepared ...)
//   const state = await photos.upload(file, { model: "scenes" });   // the new session's state; then adopt it
//   photos.adoptSource(state.source);     // every state: enters, follows or leaves photo mode
//   photos.update(progressMessage);       // websocket progress; polling is the fallback
//   photos.showBefore(true); photos.cancel();
//   acceptDroppedFiles(stage, (file) => ...);   // drag-and-drop onto the picture

import { del, getJSON } from "./api.js";
import { JobWatcher, drawSquare, etaText, looksLikePhoto, uploadPhoto } from "./photo.js";

const READY_MS = 2500; // how long "ready to paint" stays before the bar goes

export class PhotoMode {
  constructor({ stage, before, image, toggle, progress, fitNote = null, onPaintable = () => {}, onMessage = () => {},
    onRefresh = () => {}, uploadFile = uploadPhoto, getState = getJSON, decode = (file) => createImageBitmap(file),
    watch = (jobId, handlers) => new JobWatcher(jobId, handlers), setTimer = (f, ms) => setTimeout(f, ms),
    cancelJob = (jobId) => del(`/api/jobs/${encodeURIComponent(jobId)}`).then((r) => r.json()) } = {}) {
    Object.assign(this, { stage, before, image, toggle, progress, fitNote, onPaintable, onMessage, onRefresh,
      uploadFile, getState, decode, watch, setTimer, cancelJob });
    this.photo = null; // {source, bitmap (the uploaded file, for before/after), watcher}
  }

  /** Can strokes go on the picture? Not while a photo is adapting, nor while "before" covers it. */
  get paintable() {
    return (!this.photo || this.photo.source.status === "ready") && this.before.hidden;
  }

  /** Why a stroke cannot start now (the canvas is off): said instead of dropping the stroke silently. */
  refusal() {
    if (!this.before.hidden) return "this is the original photo: press before/after to paint again";
    const status = this.photo?.source.status;
    if (status === "adapting") {
      const eta = etaText(this.photo.watcher?.last);
      return `the photo is still being prepared${eta ? ` (${eta})` : ""}: paint when the bar is full`;
    }
    return `this photo cannot be painted (its preparation ${status ?? "failed"}); upload it again`;
  }

  /** A plain hint when the model can draw the photo only poorly (source.model_fit, ganpaint.photo.photo_fit). */
  #showFit(source) {
    if (!this.fitNote) return;
    const hint = source?.kind === "photo" && source.status === "ready" ? source.model_fit?.hint : null;
    this.fitNote.hidden = !hint;
    this.fitNote.textContent = hint ?? "";
    this.fitNote.dataset.level = source?.model_fit?.level ?? "";
  }

  /** Upload a file; the new session's state once the server has it (the caller adopts the session). */
  async upload(file, { model } = {}) {
    if (!looksLikePhoto(file)) throw new Error("choose a JPEG, PNG or WebP photo");
    this.progress.show({ state: "queued", stage: "starting", progress: 0 });
    this.progress.label.textContent = `uploading ${file.name || "the photo"}…`;
    let out;
    try {
      out = await this.uploadFile(file, { model });
    } catch (err) {
      this.progress.hide();
      throw err;
    }
    const state = await this.getState(`/api/sessions/${encodeURIComponent(out.session)}`);
    this.leave();
    // fresh: its job is followed to the end even if it finished before this state was read (a small photo
    // on a fast machine), so the page still says when it is ready
    this.photo = { source: state.source, bitmap: null, watcher: null, fresh: true };
    try {
      this.photo.bitmap = await this.decode(file); // EXIF orientation applies, as on the server
    } catch { /* before/after stays off; everything else works */ }
    return state;
  }

  /** The session's source (from a state message or GET): enters or leaves photo mode, follows its job. */
  adoptSource(source) {
    if (!source) return;
    if (source.kind !== "photo") { this.leave(); return; }
    if (!this.photo || this.photo.source.job !== source.job) {
      this.leave();
      this.photo = { source, bitmap: null, watcher: null };
      // a photo that is already prepared when the page takes it up (undo back to it, another tab, or a late
      // message of the previous picture that closed the upload's own follow-up) says so too
      if (source.status === "ready") this.#showReady(this.photo);
    }
    this.photo.source = source;
    const adapting = source.status === "adapting";
    this.stage.dataset.adapting = String(adapting);
    this.onPaintable(this.paintable);
    if ((adapting || this.photo.fresh) && source.job && !this.photo.watcher) this.#watchJob(source.job);
    this.photo.fresh = false;
    this.#showFit(source);
    this.toggle.hidden = false;
    this.toggle.disabled = !this.photo.bitmap;
  }

  leave() {
    if (!this.photo) return;
    this.photo.watcher?.stop();
    this.photo.bitmap?.close?.();
    this.photo = null;
    this.stage.dataset.adapting = "false";
    this.showBefore(false);
    this.progress.hide();
    this.#showFit(null);
    this.toggle.hidden = true;
  }

  /** A progress message from the websocket. */
  update(message) {
    this.photo?.watcher?.update(message);
  }

  /** Cancel the photo's adaptation job; its answer updates the progress at once. */
  async cancel() {
    const job = this.photo?.source.job;
    if (!job) return;
    this.photo?.watcher?.update(await this.cancelJob(job));
  }

  showBefore(on) {
    on = on && Boolean(this.photo?.bitmap);
    if (on) {
      this.before.width = this.image.width;
      this.before.height = this.image.height;
      drawSquare(this.before, this.photo.bitmap, this.photo.source);
    }
    this.before.hidden = !on;
    this.toggle.setAttribute("aria-pressed", String(on));
    this.onPaintable(this.paintable);
  }

  #showReady(photo) {
    this.progress.show({ state: "done", stage: "done", progress: 1 });
    this.#hideProgressLater(photo);
  }

  /** The finished bar stays a moment, then goes, unless another photo (or job) has taken it meanwhile. */
  #hideProgressLater(photo, watcher = null) {
    this.setTimer(() => { if (this.photo === photo && photo.watcher === watcher) this.progress.hide(); }, READY_MS);
  }

  #watchJob(jobId) {
    const watcher = this.watch(jobId, {
      onUpdate: (job) => this.progress.show(job),
      onEnd: (job) => {
        if (job.state === "done") {
          this.onMessage("the photo is ready: paint on it", "info");
          this.#hideProgressLater(this.photo, watcher);
        } else if (job.state === "cancelled" && job.error === "cancelled") {
          this.onMessage("photo adaptation cancelled; upload it again to edit it", "info");
        } else {
          this.onMessage(job.error ? `the photo could not be prepared: ${job.error}` : `adaptation ${job.state}`);
        }
        this.onRefresh();
      },
    });
    this.photo.watcher = watcher;
    watcher.start();
  }
}

/** Files dragged onto `el` are accepted (the `dropping` class shows it) and handed to onFile. */
export function acceptDroppedFiles(el, onFile) {
  for (const type of ["dragenter", "dragover"]) {
    el.addEventListener(type, (ev) => {
      if (![...(ev.dataTransfer?.types ?? [])].includes("Files")) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
      el.classList.add("dropping");
    });
  }
  el.addEventListener("dragleave", (ev) => {
    if (!el.contains(ev.relatedTarget)) el.classList.remove("dropping");
  });
  el.addEventListener("drop", (ev) => {
    ev.preventDefault();
    el.classList.remove("dropping");
    onFile(ev.dataTransfer?.files?.[0]);
  });
}
