// The painting surface: the current frame on a devicePixelRatio-aware canvas, a translucent overlay
// canvas for the stroke being drawn (and for highlighting a stroke from the history list), and a
// round cursor that shows the brush size. Pointer input (mouse, pen, touch) arrives as one event
// type and leaves as normalized points through three callbacks:
//   const pc = new PaintCanvas({ stage, image, overlay, cursor,
//     onStrokeStart: (p) => ..., onStrokeMove: (points) => ..., onStrokeEnd: () => ... });
//   pc.setResolution(128); pc.showImage(bitmap); pc.setBrush({ radius: 0.06, color: "#2e9d3a" });
//   pc.drawStrokes([stroke]);    // overlay; pc.highlight(stroke) dims everything else

import { backingSize, displaySize, radiusToPixels, toNormalized } from "./geometry.js";
import { strokeColor } from "./stroke.js";

const OVERLAY_ALPHA = 0.38;

export class PaintCanvas {
  constructor({ stage, image, overlay, cursor, onStrokeStart = () => {}, onStrokeMove = () => {}, onStrokeEnd = () => {},
    onRefused = () => {} }) {
    // onRefused: a stroke began while painting is off (a photo still being prepared): say so, never drop it silently
    Object.assign(this, { stage, image, overlay, cursor, onStrokeStart, onStrokeMove, onStrokeEnd, onRefused });
    this.resolution = 0;
    this.cssSize = 0;
    this.dpr = 1;
    this.source = null; // the frame last shown, kept to redraw after a resize
    this.brush = { radius: 0.06, color: "#fff" };
    this.activePointer = null;
    this.enabled = true;
    this.overlayStrokes = [];
    this.highlighted = null;
    this.#listen();
    // Deferred to the next frame: resizing the stage inside the observer would resize the observed
    // parent again in the same frame, which browsers report as a "ResizeObserver loop" error.
    new ResizeObserver(() => requestAnimationFrame(() => this.layout())).observe(stage.parentElement);
    // A change of devicePixelRatio (zoom, moving the window to another screen) needs a new backing store.
    const watchDpr = () => {
      matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`).addEventListener("change", () => { this.layout(); watchDpr(); }, { once: true });
    };
    watchDpr();
    this.layout();
  }

  setResolution(resolution) {
    this.resolution = resolution;
    this.layout();
  }

  layout() {
    const parent = this.stage.parentElement;
    const top = this.stage.getBoundingClientRect().top + window.scrollY;
    // On wide screens keep the picture within the window height; on phones the width decides.
    const roomH = window.innerWidth > 720 ? window.innerHeight - Math.min(top, 140) - 24 : Infinity;
    const size = displaySize(parent.clientWidth, roomH, { resolution: this.resolution, min: 160, max: 640 });
    const dpr = window.devicePixelRatio || 1;
    if (size === this.cssSize && dpr === this.dpr) return;
    this.cssSize = size;
    this.dpr = dpr;
    this.stage.style.width = this.stage.style.height = `${size}px`;
    for (const c of [this.image, this.overlay]) {
      c.width = c.height = backingSize(size, dpr);
    }
    this.#paintImage();
    this.#paintOverlay();
    this.#sizeCursor();
  }

  /** Draw a decoded frame (ImageBitmap, HTMLImageElement or canvas) at display size. */
  showImage(source) {
    const old = this.source;
    this.source = source;
    this.#paintImage();
    if (old && old !== source && typeof old.close === "function") old.close(); // free ImageBitmaps
  }

  #paintImage() {
    const ctx = this.image.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    if (!this.source) {
      ctx.fillStyle = "#20242b";
      ctx.fillRect(0, 0, this.image.width, this.image.height);
      return;
    }
    ctx.drawImage(this.source, 0, 0, this.image.width, this.image.height);
  }

  setBrush({ radius, color }) {
    this.brush = { radius: radius ?? this.brush.radius, color: color ?? this.brush.color };
    this.cursor.style.borderColor = this.brush.color;
    this.#sizeCursor();
  }

  #sizeCursor() {
    const d = 2 * radiusToPixels(this.brush.radius, this.cssSize);
    this.cursor.style.width = this.cursor.style.height = `${d}px`;
  }

  /** Show the brush outline at a normalized position (or the centre), e.g. while the size slider moves. */
  showCursorAt([x, y] = [0.5, 0.5]) {
    this.cursor.style.left = `${x * this.cssSize}px`;
    this.cursor.style.top = `${y * this.cssSize}px`;
    this.cursor.hidden = false;
  }

  hideCursor() {
    this.cursor.hidden = true;
  }

  /** Strokes to show translucently over the picture (the one being drawn, ones not yet rendered). */
  drawStrokes(strokes) {
    this.overlayStrokes = strokes.filter(Boolean);
    this.#paintOverlay();
  }

  /** Dim everything but one stroke's area (null: stop). */
  highlight(stroke) {
    this.highlighted = stroke;
    this.#paintOverlay();
  }

  #tracePath(ctx, stroke, scale) {
    const pts = stroke.points;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = 2 * radiusToPixels(stroke.radius ?? 0.06, scale);
    ctx.beginPath();
    ctx.moveTo(pts[0][0] * scale, pts[0][1] * scale);
    // A single point still needs a segment for the round cap to draw a dot.
    if (pts.length === 1) ctx.lineTo(pts[0][0] * scale + 0.01, pts[0][1] * scale);
    for (const [x, y] of pts.slice(1)) ctx.lineTo(x * scale, y * scale);
  }

  #paintOverlay() {
    const ctx = this.overlay.getContext("2d");
    const scale = this.overlay.width;
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    for (const s of this.overlayStrokes) {
      if (!s.points?.length) continue;
      ctx.save();
      // One path per stroke, so overlapping segments do not stack their transparency.
      ctx.globalAlpha = OVERLAY_ALPHA;
      ctx.strokeStyle = strokeColor(s);
      this.#tracePath(ctx, s, scale);
      ctx.stroke();
      ctx.restore();
    }
    const h = this.highlighted;
    if (h) {
      ctx.save();
      ctx.fillStyle = "rgba(0, 0, 0, 0.55)";
      ctx.fillRect(0, 0, this.overlay.width, this.overlay.height);
      if (h.points?.length) {
        ctx.globalCompositeOperation = "destination-out";
        ctx.strokeStyle = "#000";
        this.#tracePath(ctx, h, scale);
        ctx.stroke();
        ctx.globalCompositeOperation = "source-over";
        ctx.setLineDash([6 * this.dpr, 4 * this.dpr]);
        ctx.lineWidth = 1.5 * this.dpr;
        ctx.strokeStyle = "#fff";
        ctx.strokeRect(1, 1, this.overlay.width - 2, this.overlay.height - 2);
      }
      ctx.restore();
    }
  }

  #listen() {
    const el = this.image;
    const point = (ev) => toNormalized(ev.clientX, ev.clientY, el.getBoundingClientRect());
    const moveCursor = (ev) => {
      if (ev.pointerType === "touch") return; // a finger hides the cursor anyway
      const rect = el.getBoundingClientRect();
      this.cursor.style.left = `${ev.clientX - rect.left}px`;
      this.cursor.style.top = `${ev.clientY - rect.top}px`;
      this.cursor.hidden = false;
    };
    el.addEventListener("pointerdown", (ev) => {
      if (this.activePointer !== null || (ev.pointerType === "mouse" && ev.button !== 0)) return;
      if (!this.enabled) { this.onRefused(); return; }
      ev.preventDefault();
      this.activePointer = ev.pointerId;
      try { el.setPointerCapture(ev.pointerId); } catch { /* synthetic events have no capture */ }
      moveCursor(ev);
      this.onStrokeStart(point(ev));
    });
    el.addEventListener("pointermove", (ev) => {
      moveCursor(ev);
      if (ev.pointerId !== this.activePointer) return;
      // Coalesced events keep fast curves smooth on screens that batch pointer moves per frame.
      const events = typeof ev.getCoalescedEvents === "function" ? ev.getCoalescedEvents() : [];
      this.onStrokeMove((events.length ? events : [ev]).map(point));
    });
    const end = (ev) => {
      if (ev.pointerId !== this.activePointer) return;
      this.activePointer = null;
      this.onStrokeEnd(point(ev));
    };
    el.addEventListener("pointerup", end);
    el.addEventListener("pointercancel", end);
    el.addEventListener("lostpointercapture", end);
    el.addEventListener("pointerleave", (ev) => {
      if (ev.pointerId !== this.activePointer) this.hideCursor();
    });
    el.addEventListener("contextmenu", (ev) => ev.preventDefault());
  }
}
