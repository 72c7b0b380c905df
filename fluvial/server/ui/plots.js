// Hand-written canvas plots for compare: parallel coordinates, scatter, box plots. Values come in as
// strings or numbers; an axis is numeric when every present value parses as a number, else categorical.
import { html, useRef, useEffect } from "./lib.js";
import { COLORS } from "./chart.js";

const PAD = { l: 64, r: 70, t: 32, b: 40 };

const name = (k) => k.replace(/^(param|metric):/, "");

function setup(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = width * dpr; canvas.height = height * dpr;
  canvas.style.width = width + "px"; canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = "#1d2430"; ctx.strokeStyle = "#c8cfda";
  return ctx;
}

// values -> {pos(v) in [0,1] or null, ticks: [[pos,label]...]}
export function makeAxis(values) {
  const present = values.filter((v) => v !== undefined && v !== null && v !== "");
  const nums = present.map(Number);
  if (present.length && nums.every(Number.isFinite)) {
    let lo = Math.min(...nums), hi = Math.max(...nums);
    if (lo === hi) { lo -= 1; hi += 1; }
    const pos = (v) => (v === undefined || v === null || v === "" ? null : (Number(v) - lo) / (hi - lo));
    // enough significant digits to tell ticks apart on a narrow range
    const digits = Math.min(12, Math.max(3, Math.ceil(Math.log10(Math.max(Math.abs(lo), Math.abs(hi)) / (hi - lo))) + 2));
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => [t, String(Number((lo + t * (hi - lo)).toPrecision(digits)))]);
    return { pos, ticks, numeric: true };
  }
  const cats = [...new Set(present.map(String))].sort();
  const pos = (v) => (v === undefined || v === null || v === "" ? null : cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1));
  return { pos, ticks: cats.slice(0, 30).map((c) => [pos(c), c.length > 14 ? c.slice(0, 13) + "…" : c]), numeric: false };
}

function colorScale(values) {
  const ax = makeAxis(values);
  return (v) => {
    const p = ax.pos(v);
    if (p === null) return "#bbb";
    const r = Math.round(40 + 200 * p), b = Math.round(220 - 180 * p);
    return `rgb(${r},90,${b})`;
  };
}

function useCanvas(draw, deps) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) draw(ref.current); }, deps);
  return ref;
}

// rows: [{label, values: {axisName: value}}], axes: [names]; colored by the last axis.
export function ParallelCoordinates({ rows, axes, width = Math.max(600, Math.min(1400, window.innerWidth - 60)), height = 340 }) {
  const ref = useCanvas((canvas) => {
    const ctx = setup(canvas, width, height);
    if (axes.length < 2) { ctx.fillText("Choose at least two columns.", 20, 30); return; }
    const scales = axes.map((a) => makeAxis(rows.map((r) => r.values[a])));
    const color = colorScale(rows.map((r) => r.values[axes[axes.length - 1]]));
    const x = (i) => PAD.l + (i * (width - PAD.l - PAD.r)) / (axes.length - 1);
    const y = (p) => height - PAD.b - p * (height - PAD.t - PAD.b);
    ctx.globalAlpha = rows.length > 200 ? 0.35 : 0.8; ctx.lineWidth = 1.2;
    for (const r of rows) {
      ctx.strokeStyle = color(r.values[axes[axes.length - 1]]); ctx.beginPath();
      let pen = false;
      axes.forEach((a, i) => {
        const p = scales[i].pos(r.values[a]);
        if (p === null) { pen = false; return; }
        pen ? ctx.lineTo(x(i), y(p)) : ctx.moveTo(x(i), y(p)); pen = true;
      });
      ctx.stroke();
    }
    ctx.globalAlpha = 1; ctx.strokeStyle = "#556"; ctx.fillStyle = "#1d2430";
    axes.forEach((a, i) => {
      ctx.beginPath(); ctx.moveTo(x(i), y(0)); ctx.lineTo(x(i), y(1)); ctx.stroke();
      ctx.textAlign = "center"; ctx.fillText(name(a).length > 22 ? name(a).slice(0, 21) + "…" : name(a), x(i), PAD.t - 8);
      ctx.textAlign = "left";
      for (const [p, label] of scales[i].ticks) ctx.fillText(label, x(i) + 4, y(p) + 4);
    });
  }, [rows, axes.join("\u0000"), width, height]);
  return html`<canvas class="plot" ref=${ref} role="img" aria-label=${"Parallel coordinates of " + axes.join(", ")}></canvas>`;
}

export function Scatter({ rows, xKey, yKey, width = 560, height = 360 }) {
  const ref = useCanvas((canvas) => {
    const ctx = setup(canvas, width, height);
    const xs = makeAxis(rows.map((r) => r.values[xKey])); const ys = makeAxis(rows.map((r) => r.values[yKey]));
    const X = (p) => PAD.l + p * (width - PAD.l - PAD.r); const Y = (p) => height - PAD.b - p * (height - PAD.t - PAD.b);
    ctx.strokeStyle = "#556"; ctx.beginPath(); ctx.moveTo(X(0), Y(1)); ctx.lineTo(X(0), Y(0)); ctx.lineTo(X(1), Y(0)); ctx.stroke();
    ctx.textAlign = "center";
    for (const [p, l] of xs.ticks) ctx.fillText(l, X(p), Y(0) + 14);
    ctx.fillText(name(xKey), X(0.5), height - 6);
    ctx.textAlign = "right";
    for (const [p, l] of ys.ticks) ctx.fillText(l, X(0) - 4, Y(p) + 4);
    ctx.textAlign = "left"; ctx.fillText(name(yKey), 4, PAD.t - 8);
    ctx.fillStyle = COLORS[0]; ctx.globalAlpha = 0.75;
    for (const r of rows) {
      const px = xs.pos(r.values[xKey]), py = ys.pos(r.values[yKey]);
      if (px === null || py === null) continue;
      ctx.beginPath(); ctx.arc(X(px), Y(py), 3.5, 0, 2 * Math.PI); ctx.fill();
    }
  }, [rows, xKey, yKey, width, height]);
  return html`<canvas class="plot" ref=${ref} role="img" aria-label=${`Scatter of ${yKey} against ${xKey}`}></canvas>`;
}

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q; const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

// Box plot of `valueKey` for each group of `groupKey` (one box for all when groupKey is empty).
export function BoxPlot({ rows, valueKey, groupKey, width = 560, height = 360 }) {
  const ref = useCanvas((canvas) => {
    const ctx = setup(canvas, width, height);
    const groups = new Map();
    for (const r of rows) {
      const v = Number(r.values[valueKey]);
      if (r.values[valueKey] === undefined || !Number.isFinite(v)) continue;
      const g = groupKey ? String(r.values[groupKey] ?? "(none)") : "all runs";
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(v);
    }
    if (!groups.size) { ctx.fillText(`No numeric values of ${valueKey}.`, 20, 30); return; }
    const all = [...groups.values()].flat();
    const ax = makeAxis(all);
    const names = [...groups.keys()].sort().slice(0, 40);
    const Y = (v) => height - PAD.b - ax.pos(v) * (height - PAD.t - PAD.b);
    const slot = (width - PAD.l - PAD.r) / names.length;
    ctx.textAlign = "right";
    for (const [p, l] of ax.ticks) ctx.fillText(l, PAD.l - 6, height - PAD.b - p * (height - PAD.t - PAD.b) + 4);
    ctx.textAlign = "left"; ctx.fillText(name(valueKey), 4, PAD.t - 8);
    names.forEach((group, i) => {
      const xs = groups.get(group).sort((a, b) => a - b);
      const [q1, med, q3] = [0.25, 0.5, 0.75].map((q) => quantile(xs, q));
      const cx = PAD.l + slot * (i + 0.5), w = Math.min(60, slot * 0.6);
      ctx.strokeStyle = COLORS[i % COLORS.length]; ctx.fillStyle = COLORS[i % COLORS.length] + "33"; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(cx, Y(xs[0])); ctx.lineTo(cx, Y(q1)); ctx.moveTo(cx, Y(q3)); ctx.lineTo(cx, Y(xs[xs.length - 1])); ctx.stroke();
      ctx.fillRect(cx - w / 2, Y(q3), w, Y(q1) - Y(q3)); ctx.strokeRect(cx - w / 2, Y(q3), w, Y(q1) - Y(q3));
      ctx.beginPath(); ctx.moveTo(cx - w / 2, Y(med)); ctx.lineTo(cx + w / 2, Y(med)); ctx.stroke();
      ctx.fillStyle = "#1d2430"; ctx.textAlign = "center";
      ctx.fillText(`${group.length > 12 ? group.slice(0, 11) + "…" : group} (${xs.length})`, cx, height - PAD.b + 16);
    });
  }, [rows, valueKey, groupKey, width, height]);
  return html`<canvas class="plot" ref=${ref} role="img" aria-label=${`Box plot of ${valueKey}${groupKey ? " by " + groupKey : ""}`}></canvas>`;
}
