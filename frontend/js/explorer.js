// The dissection explorer's panel: the unit inspector (list, search, details with top samples),
// custom unit brushes (pick units, name, keep, export/import), the placement overlay ("where does this
// brush work?"), the edited-cell outline, the artifact-removal toggle and a photo's omissions.
// app.js only wires it:
//   const ex = new Explorer({ $, api, getSession, getBrush, onCustomBrush, sendOptions, showMessage });
//   ex.setModel(model);  ex.pictureChanged();  ex.drawing(strokeOrNull);  ex.sourceChanged(source, sessionPath);

import { drawCellOutline, strokeCells } from "./cells.js";
import { UnitBrushes } from "./unitbrushes.js";

const PLACEMENT_DELAY_MS = 250; // a burst of changes (undo, undo, undo) asks for one map

export class Explorer {
  constructor({ $, api, getSession, getBrush, onCustomBrush, sendOptions, showMessage, storage = globalThis.localStorage }) {
    Object.assign(this, { $, api, getSession, getBrush, onCustomBrush, sendOptions, showMessage, storage });
    this.model = null;
    this.units = [];
    this.picked = [];
    this.brushes = null;
    this.placementSeq = 0;
    this.placementTimer = null;
    this.#wire();
  }

  #wire() {
    const $ = this.$;
    $("unit-search").addEventListener("input", () => this.#renderUnits());
    $("inspector").addEventListener("toggle", () => { if ($("inspector").open) this.#loadUnits(); });
    $("brush-save").addEventListener("click", () => this.#saveBrush());
    $("brush-name").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); this.#saveBrush(); } });
    $("brushes-export").addEventListener("click", () => this.#export());
    $("brushes-import").addEventListener("click", () => $("brushes-file").click());
    $("brushes-file").addEventListener("change", (ev) => {
      const file = ev.target.files?.[0];
      ev.target.value = "";
      if (file) file.text().then((t) => this.#import(t)).catch((err) => this.showMessage(err.message));
    });
    $("show-placement").addEventListener("change", () => this.pictureChanged({ now: true }));
    $("show-cells").addEventListener("change", () => this.drawing(null));
    $("remove-artifacts").addEventListener("change", (ev) => this.sendOptions({ remove_artifacts: ev.target.checked }));
  }

  // ---------------------------------------------------------------- model
  async setModel(model) {
    this.model = model;
    this.units = [];
    this.picked = [];
    this.brushes = new UnitBrushes(this.storage, model.id, { maxUnit: model.units || Infinity });
    this.$("unit-detail").hidden = true;
    this.$("omissions").hidden = true;
    this.#renderPicked();
    this.#renderBrushes();
    if (this.$("inspector").open) this.#loadUnits();
    this.#loadArtifacts();
  }

  async #loadUnits() {
    if (!this.model || this.units.length) return;
    const list = this.$("unit-list");
    list.replaceChildren(hint("loading units…"));
    const path = `/api/models/${encodeURIComponent(this.model.id)}/units`;
    for (let i = 0; i < 120; i++) {
      let res;
      try { res = await fetch(path); } catch { list.replaceChildren(hint("cannot reach the server")); return; }
      if (res.status === 202) {
        const p = await res.json();
        list.replaceChildren(hint(`computing the unit inspector (once per model): ${p.stage} ${Math.round(p.progress * 100)}%`));
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      if (!res.ok) { list.replaceChildren(hint((await res.json().catch(() => ({}))).detail || "no units")); return; }
      this.units = await res.json();
      list.dataset.loaded = "true";
      this.#renderUnits();
      return;
    }
  }

  async #loadArtifacts() {
    const box = this.$("remove-artifacts");
    const label = this.$("artifacts-label");
    box.disabled = true;
    label.textContent = "remove artifact units";
    try {
      const res = await fetch(`/api/models/${encodeURIComponent(this.model.id)}/artifacts`);
      if (res.status !== 200) {
        box.title = res.status === 202 ? "the artifact ranking is being computed" : "this model has no artifact ranking";
        return;
      }
      const r = await res.json();
      box.disabled = r.artifacts.length === 0;
      label.textContent = `remove artifact units (${r.artifacts.length})`;
      box.title = r.method;
      this.artifacts = r.artifacts;
    } catch { /* the toggle stays off */ }
  }

  #renderUnits() {
    const q = this.$("unit-search").value.trim().toLowerCase();
    const shown = this.units.filter((u) => !q || String(u.unit) === q || (u.label ?? "").toLowerCase().includes(q));
    this.$("unit-list").replaceChildren(...shown.slice(0, 200).map((u) => {
      const li = document.createElement("li");
      const pick = document.createElement("button");
      pick.type = "button";
      pick.className = "unit-pick";
      pick.dataset.unit = String(u.unit);
      pick.setAttribute("aria-pressed", String(this.picked.includes(u.unit)));
      pick.setAttribute("aria-label", `use unit ${u.unit} in a custom brush`);
      pick.textContent = this.picked.includes(u.unit) ? "✓" : "+";
      pick.addEventListener("click", () => this.#toggleUnit(u.unit));
      const show = document.createElement("button");
      show.type = "button";
      show.className = "unit-show";
      show.dataset.unit = String(u.unit);
      show.textContent = `${u.unit} · ${u.label ?? "unlabelled"}${u.iou != null ? ` ${u.iou.toFixed(2)}` : ""}${u.artifact ? " · artifact" : ""}`;
      show.addEventListener("click", () => this.#showUnit(u.unit));
      li.append(pick, show);
      return li;
    }));
    if (shown.length === 0) this.$("unit-list").replaceChildren(hint("no unit matches"));
  }

  async #showUnit(unit) {
    const d = await this.api.getJSON(`/api/models/${encodeURIComponent(this.model.id)}/units/${unit}`);
    const box = this.$("unit-detail");
    const ious = Object.entries(d.ious ?? {}).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([c, v]) => `${c} ${v.toFixed(2)}`);
    const brushes = d.brushes.map((b) => `${b.mode} ${b.concept} #${b.rank + 1}${b.score != null ? ` (${b.score})` : ""}`);
    this.$("unit-title").textContent = `unit ${d.unit}: ${d.label ?? "unlabelled"}`;
    this.$("unit-facts").textContent = [`q99 ${d.q99.toFixed(2)}`, ious.length ? `IoU ${ious.join(", ")}` : "",
      brushes.length ? `in brushes: ${brushes.join(", ")}` : "in no brush", d.artifact ? "flagged as an artifact unit" : ""]
      .filter(Boolean).join(" · ");
    const img = this.$("unit-examples");
    img.alt = `top samples of unit ${d.unit}, where it fires outlined (seeds ${d.examples.join(", ")})`;
    img.src = d.examples_png;
    box.hidden = false;
    box.dataset.unit = String(d.unit);
  }

  // ---------------------------------------------------------------- custom brushes
  #toggleUnit(unit) {
    this.picked = this.picked.includes(unit) ? this.picked.filter((u) => u !== unit) : [...this.picked, unit];
    this.#renderPicked();
    this.#renderUnits();
  }

  #renderPicked() {
    const box = this.$("picked");
    box.replaceChildren(...(this.picked.length ? this.picked.map((u) => chip(`unit ${u}`, () => this.#toggleUnit(u)))
      : [hint("pick units in the list (+) to build a brush")]));
    this.$("brush-save").disabled = this.picked.length === 0;
  }

  #saveBrush() {
    const name = this.$("brush-name").value.trim() || `units ${this.picked.slice(0, 3).join(",")}`;
    try {
      const b = this.brushes.save({ name, units: this.picked });
      this.$("brush-name").value = "";
      this.#renderBrushes();
      this.select(b.name);
    } catch (err) {
      this.showMessage(err.message);
    }
  }

  #renderBrushes() {
    const list = this.brushes?.list() ?? [];
    const box = this.$("custom-brushes");
    box.replaceChildren(...list.map((b) => {
      const wrap = document.createElement("span");
      wrap.className = "custom-brush";
      const btn = document.createElement("button");
      btn.type = "button";
      btn.dataset.custom = b.name;
      btn.setAttribute("aria-pressed", String(this.selected === b.name));
      btn.title = `units ${b.units.join(", ")}`;
      btn.textContent = b.name;
      btn.addEventListener("click", () => this.select(b.name));
      const del = document.createElement("button");
      del.type = "button";
      del.className = "forget";
      del.setAttribute("aria-label", `forget brush ${b.name}`);
      del.textContent = "×";
      del.addEventListener("click", () => { this.brushes.remove(b.name); if (this.selected === b.name) this.select(null); this.#renderBrushes(); });
      wrap.append(btn, del);
      return wrap;
    }));
    this.$("brushes-export").disabled = list.length === 0;
  }

  /** Select a saved custom brush by name (null: none; the app's concept brushes take over). */
  select(name) {
    const b = name ? this.brushes.list().find((x) => x.name === name) : null;
    this.selected = b?.name ?? null;
    for (const btn of this.$("custom-brushes").querySelectorAll("button[data-custom]")) {
      btn.setAttribute("aria-pressed", String(btn.dataset.custom === this.selected));
    }
    if (b) this.onCustomBrush(b);
    this.pictureChanged({ now: true });
  }

  #export() {
    const blob = new Blob([this.brushes.exportJSON()], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `ganpaint-brushes-${this.model.id}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  #import(text) {
    try {
      const n = this.brushes.importJSON(text);
      this.#renderBrushes();
      this.showMessage(`imported ${n} brush${n === 1 ? "" : "es"}`, "info");
    } catch (err) {
      this.showMessage(`import failed: ${err.message}`);
    }
  }

  // ---------------------------------------------------------------- overlays
  /** The picture or the brush changed: refresh the placement map (if shown). */
  pictureChanged({ now = false } = {}) {
    clearTimeout(this.placementTimer);
    this.placementTimer = setTimeout(() => this.#placement(), now ? 0 : PLACEMENT_DELAY_MS);
  }

  async #placement() {
    const img = this.$("placement");
    const seq = ++this.placementSeq;
    const brush = this.getBrush();
    const session = this.getSession();
    const note = this.$("placement-note");
    if (!this.$("show-placement").checked || !session) { img.hidden = true; note.textContent = ""; return; }
    if (this.selected || !brush?.concept) { img.hidden = true; note.textContent = "the map is for concept brushes"; return; }
    note.textContent = `finding where ${brush.concept} can go…`;
    try {
      const r = await this.api.getJSON(`/api/sessions/${encodeURIComponent(session.id)}/placement?concept=${encodeURIComponent(brush.concept)}`);
      if (seq !== this.placementSeq) return; // a newer picture or brush asked meanwhile
      img.src = r.map;
      img.hidden = false;
      img.dataset.concept = r.concept;
      const best = Math.max(...r.grid.flat());
      note.textContent = `bright cells: where inserting ${r.concept} makes it appear (best cell ${Math.round(best * 100)}%)`;
    } catch (err) {
      if (seq !== this.placementSeq) return;
      img.hidden = true;
      note.textContent = err.message;
    }
  }

  /** While painting: outline the edit layer's cells the stroke changes (null clears). */
  drawing(stroke) {
    const c = this.$("cells");
    const size = this.model?.layer_size || 8;
    const px = Math.round(c.clientWidth * (window.devicePixelRatio || 1)) || 1;
    if (c.width !== px) { c.width = px; c.height = px; }
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, px, px);
    c.dataset.cells = "0";
    if (!stroke || !this.$("show-cells").checked) return;
    const cells = strokeCells(stroke, size);
    c.dataset.cells = String(cells.reduce((a, b) => a + b, 0));
    drawCellOutline(ctx, cells, size, px);
  }

  /** The session's options (e.g. after a reload): the toggles show them. */
  setOptions(options) {
    this.$("remove-artifacts").checked = Boolean(options?.remove_artifacts);
  }

  // ---------------------------------------------------------------- photos
  /** The session's source: once a photo is adapted, say what its reconstruction lost (once per photo). */
  sourceChanged(source, sessionPath) {
    if (source?.kind !== "photo") { this.photoJob = null; this.clearPhoto(); return; }
    if (source.status !== "ready" || this.photoJob === source.job) return;
    this.photoJob = source.job;
    this.photoReady(sessionPath);
  }

  async photoReady(sessionPath) {
    const p = this.$("omissions");
    try {
      const r = await this.api.getJSON(`${sessionPath}/omissions`);
      const missing = r.missing ?? [];
      p.textContent = missing.length ? `this model could not draw: ${missing.join(", ")}`
        : "everything the segmenter sees in the photo survives in the model's reconstruction";
      p.title = Object.entries(r.classes ?? {}).map(([c, v]) => `${c}: photo ${pct(v.photo)}, reconstruction ${pct(v.reconstruction)}`).join("\n");
      p.hidden = false;
    } catch (err) {
      p.textContent = `omissions: ${err.message}`;
      p.hidden = false;
    }
  }

  clearPhoto() {
    this.$("omissions").hidden = true;
  }
}

const pct = (v) => (typeof v === "number" ? `${Math.round(v * 1000) / 10}%` : "?");

function hint(text) {
  const s = document.createElement("span");
  s.className = "hint";
  s.textContent = text;
  return s;
}

function chip(text, onRemove) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "chip";
  b.textContent = `${text} ×`;
  b.setAttribute("aria-label", `remove ${text} from the brush`);
  b.addEventListener("click", onRemove);
  return b;
}
