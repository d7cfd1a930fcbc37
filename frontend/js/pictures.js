// The "choose a different picture" strip: small renders of the original demo's image ids, fetched a
// couple at a time from POST /api/models/{model}/render, each a button that calls `onChoose(seed)`.
//   const strip = new PictureStrip(listElement, { onChoose: (seed) => app.chooseSeed(seed) });
//   strip.load("scenes");  strip.markCurrent(104);

import { postForBlob } from "./api.js";

// Image ids of the original GANPaint demo's picture strip (rows of RandomState(1) latents).
export const DEMO_IDS = [104, 425, 457, 489, 495, 570, 584, 644, 700, 705, 719, 726, 816, 1085, 1146, 1362];

// Seeds below 10000 are the original id table; stay there so a seed means the same picture everywhere.
export function randomSeed(rng = Math.random, limit = 10000) {
  return Math.floor(rng() * limit);
}

/** Run async `task(item)` over items with at most `limit` running at once; stops early when aborted. */
export async function mapLimited(items, limit, task, signal) {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++];
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class PictureStrip {
  constructor(list, { onChoose, onError = () => {}, ids = DEMO_IDS, concurrency = 2 }) {
    Object.assign(this, { list, onChoose, onError, ids, concurrency });
    this.abort = null;
    this.urls = [];
    this.current = null;
  }

  load(modelId) {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.list.replaceChildren();
    const images = new Map();
    for (const seed of this.ids) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.seed = String(seed);
      const img = document.createElement("img");
      img.alt = `picture ${seed}`;
      img.width = img.height = 72;
      button.append(img);
      button.addEventListener("click", () => this.onChoose(seed));
      li.append(button);
      this.list.append(li);
      images.set(seed, img);
    }
    this.markCurrent(this.current);
    let failed = false;
    return mapLimited(this.ids, this.concurrency, async (seed) => {
      try {
        const blob = await postForBlob(`/api/models/${encodeURIComponent(modelId)}/render`, { seed, format: "jpeg" }, { signal: abort.signal });
        if (abort.signal.aborted) return;
        const url = URL.createObjectURL(blob);
        this.urls.push(url);
        images.get(seed).src = url;
      } catch (err) {
        if (err?.name === "AbortError" || abort.signal.aborted) return;
        // One message for the whole strip is enough; the buttons still work without their images.
        if (!failed) this.onError(`could not load the picture strip: ${err.message}`);
        failed = true;
      }
    }, abort.signal);
  }

  markCurrent(seed) {
    this.current = seed;
    for (const b of this.list.querySelectorAll("button")) {
      b.setAttribute("aria-current", String(Number(b.dataset.seed) === seed));
    }
  }
}
