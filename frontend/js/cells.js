// Which cells of the edit layer a stroke touches, computed as the server does (ganpaint/paint/edit.py):
// the stroke is rasterized on a grid `oversample`× finer than the layer, anti-aliased (a fine cell has
// some coverage when its centre lies closer than radius + half a fine cell to the polyline; each
// point's own cell counts too), and a layer cell is edited when any of its fine cells has coverage. The page outlines these cells while painting, so a stroke maps visibly to the edit.
//   const on = strokeCells(stroke, 8);        // Uint8Array(64), row-major, 1 = edited
//   drawCellOutline(ctx, on, 8, canvasSize);

/** (size·size) Uint8Array: 1 where the stroke edits the cell. */
export function strokeCells(stroke, size, oversample = 4) {
  const out = new Uint8Array(size * size);
  const pts = stroke?.points;
  if (!Array.isArray(pts) || pts.length === 0 || !(size > 0)) return out;
  const n = size * oversample;
  const r = Number(stroke.radius ?? 0.06);
  const reach = r + 0.5 / n; // beyond this the server's coverage ramp is 0
  const r2 = reach * reach;
  const mark = (fy, fx) => { out[Math.floor(fy / oversample) * size + Math.floor(fx / oversample)] = 1; };
  const segs = pts.length > 1 ? pts.slice(0, -1).map((a, i) => [a, pts[i + 1]]) : [[pts[0], pts[0]]];
  for (let fy = 0; fy < n; fy++) {
    const y = (fy + 0.5) / n;
    for (let fx = 0; fx < n; fx++) {
      const x = (fx + 0.5) / n;
      for (const [a, b] of segs) {
        const dx = b[0] - a[0], dy = b[1] - a[1];
        const len2 = Math.max(dx * dx + dy * dy, 1e-12);
        const t = Math.min(1, Math.max(0, ((x - a[0]) * dx + (y - a[1]) * dy) / len2));
        const ex = x - (a[0] + t * dx), ey = y - (a[1] + t * dy);
        if (ex * ex + ey * ey < r2) { mark(fy, fx); break; }
      }
    }
  }
  for (const [x, y] of pts) {
    mark(Math.min(n - 1, Math.max(0, Math.floor(y * n))), Math.min(n - 1, Math.max(0, Math.floor(x * n))));
  }
  return out;
}

/** Union of several strokes' cells. */
export function unionCells(strokes, size) {
  const out = new Uint8Array(size * size);
  for (const s of strokes) strokeCells(s, size).forEach((v, i) => { if (v) out[i] = 1; });
  return out;
}

/** Outline the border of the edited region on a canvas context `px` pixels wide. */
export function drawCellOutline(ctx, cells, size, px, color = "#ffe14d") {
  const c = px / size;
  const on = (y, x) => y >= 0 && x >= 0 && y < size && x < size && cells[y * size + x] === 1;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = Math.max(2, px / 160);
  ctx.setLineDash([c / 4, c / 8]);
  ctx.beginPath();
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!on(y, x)) continue;
      if (!on(y - 1, x)) { ctx.moveTo(x * c, y * c); ctx.lineTo((x + 1) * c, y * c); }
      if (!on(y + 1, x)) { ctx.moveTo(x * c, (y + 1) * c); ctx.lineTo((x + 1) * c, (y + 1) * c); }
      if (!on(y, x - 1)) { ctx.moveTo(x * c, y * c); ctx.lineTo(x * c, (y + 1) * c); }
      if (!on(y, x + 1)) { ctx.moveTo((x + 1) * c, y * c); ctx.lineTo((x + 1) * c, (y + 1) * c); }
    }
  }
  ctx.stroke();
  ctx.restore();
}
