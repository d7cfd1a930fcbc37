// Custom unit brushes: named lists of units a person picked in the inspector, kept per model in
// localStorage and exported/imported as JSON (the file format is {"ganpaint_brushes": 1, "model", "brushes": [...]}).
//   const store = new UnitBrushes(localStorage, "scenes");
//   store.save({ name: "my trees", units: [11, 34] });   // replaces a brush of the same name
//   store.list();                                      // [{name, units}]
//   const json = store.exportJSON(); store.importJSON(text)  // → how many brushes were added

const KEY = (model) => `ganpaint.unitBrushes.${model}`;
export const MAX_BRUSHES = 50;
export const MAX_UNITS = 512;

/** A brush as stored, or an Error saying what is wrong with it. */
export function cleanBrush(b, maxUnit = Infinity) {
  if (!b || typeof b !== "object") return new Error("a brush must be an object");
  const name = typeof b.name === "string" ? b.name.trim().slice(0, 40) : "";
  if (!name) return new Error("a brush needs a name");
  if (!Array.isArray(b.units) || b.units.length === 0) return new Error(`brush "${name}" has no units`);
  const units = [...new Set(b.units)];
  if (units.length > MAX_UNITS || !units.every((u) => Number.isInteger(u) && u >= 0 && u < maxUnit)) {
    return new Error(`brush "${name}": units must be whole numbers from 0 to ${Number.isFinite(maxUnit) ? maxUnit - 1 : "the layer's last unit"}`);
  }
  return { name, units };
}

export class UnitBrushes {
  constructor(storage, model, { maxUnit = Infinity } = {}) {
    Object.assign(this, { storage, model, maxUnit });
  }

  list() {
    try {
      const raw = JSON.parse(this.storage?.getItem(KEY(this.model)) ?? "[]");
      return Array.isArray(raw) ? raw.map((b) => cleanBrush(b, this.maxUnit)).filter((b) => !(b instanceof Error)) : [];
    } catch {
      return []; // a damaged entry must not break the page
    }
  }

  #write(brushes) {
    this.storage?.setItem(KEY(this.model), JSON.stringify(brushes.slice(0, MAX_BRUSHES)));
  }

  save(brush) {
    const b = cleanBrush(brush, this.maxUnit);
    if (b instanceof Error) throw b;
    this.#write([...this.list().filter((x) => x.name !== b.name), b]);
    return b;
  }

  remove(name) {
    this.#write(this.list().filter((x) => x.name !== name));
  }

  exportJSON() {
    return JSON.stringify({ ganpaint_brushes: 1, model: this.model, brushes: this.list() }, null, 1);
  }

  /** Adds (or replaces by name) the brushes of an exported file; throws an Error with a readable reason. */
  importJSON(text) {
    let data;
    try { data = JSON.parse(text); } catch { throw new Error("that file is not JSON"); }
    const brushes = Array.isArray(data) ? data : data?.brushes;
    if (!Array.isArray(brushes)) throw new Error('expected {"brushes": [{"name", "units"}, ...]}');
    const clean = brushes.map((b) => cleanBrush(b, this.maxUnit));
    const bad = clean.find((b) => b instanceof Error);
    if (bad) throw bad;
    const names = new Set(clean.map((b) => b.name));
    this.#write([...this.list().filter((x) => !names.has(x.name)), ...clean]);
    return clean.length;
  }
}
