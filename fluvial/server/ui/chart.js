// Metric charts (uPlot): any metric against step, wall time or relative time, several runs overlaid, log
// scale, smoothing; zooming refetches the zoomed range at full resolution, sized to the chart's width.
import { html, useState, useEffect, useRef, api, post, ErrorBox, queryList, setQuery, href } from "./lib.js";
import uPlot from "./vendor/uplot.js";
import { history } from "./sparkline.js";

export const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

// Exponential moving average with TensorBoard-style debiasing (weight 0 = raw values).
function smooth(ys, weight) {
  if (!weight) return ys;
  const out = []; let acc = 0; let n = 0;
  for (const y of ys) {
    if (y === null || !Number.isFinite(y)) { out.push(y); continue; }
    acc = acc * weight + (1 - weight) * y; n++;
    out.push(acc / (1 - Math.pow(weight, n)));
  }
  return out;
}

// Points of one run -> [xs, ys] for the chosen axis.
function toXY(points, xAxis, startTime, logY, weight) {
  const xs = []; const ys = [];
  for (const p of points) {
    const x = xAxis === "step" ? Number(p.step) : xAxis === "wall" ? Number(p.timestamp) / 1000 : (Number(p.timestamp) - startTime) / 1000;
    let y = typeof p.value === "number" ? p.value : Number(p.value);
    if (logY && !(y > 0)) y = null;
    xs.push(x); ys.push(y);
  }
  const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  return [order.map((i) => xs[i]), smooth(order.map((i) => ys[i]), weight)];
}

// `onSettings({x_axis, y_axis_scale})`: told when the user changes the axes (the metric page keeps them in
// its address, so the view can be bookmarked).
export function MetricChart({ runs, metricKey, height = 360, initialXAxis = "step", initialLog = false, onSettings }) {
  const [xAxis, setXAxis] = useState(["step", "wall", "relative"].includes(initialXAxis) ? initialXAxis : "step");
  const [logY, setLogY] = useState(!!initialLog);
  const [weight, setWeight] = useState(0);
  const [range, setRange] = useState(null);   // zoomed x range in the axis' units, or null
  const [series, setSeries] = useState(null); // [{run, points, reduced, total}]
  const [error, setError] = useState(null);
  const box = useRef(null);
  const plot = useRef(null);
  const width = () => Math.max(300, (box.current?.clientWidth || 900) - 2);

  useEffect(() => {
    let live = true;
    const maxPoints = Math.min(5000, Math.round(width() * 2));
    Promise.all(runs.map(async (run) => {
      const t0 = Number(run.info.start_time) || 0;
      let start, end;
      if (range) {
        if (xAxis === "step") [start, end] = [Math.floor(range[0]), Math.ceil(range[1])];
        else if (xAxis === "wall") [start, end] = [Math.floor(range[0] * 1000), Math.ceil(range[1] * 1000)];
        else [start, end] = [Math.floor(t0 + range[0] * 1000), Math.ceil(t0 + range[1] * 1000)];
      }
      const h = await history(run.info.run_id, metricKey, { xAxis: xAxis === "step" ? "step" : "timestamp", start, end, maxPoints });
      return { run, ...h };
    })).then((s) => { if (live) { setSeries(s); setError(null); } }, (e) => live && setError(e));
    return () => { live = false; };
  }, [runs.map((r) => r.info.run_id).join(), metricKey, xAxis, range && range.join()]);

  useEffect(() => {
    if (!series || !box.current) return;
    const tables = series.map((s) => toXY(s.points, xAxis, Number(s.run.info.start_time) || 0, logY, weight));
    const data = tables.length ? uPlot.join(tables) : [[]];
    const xLabel = xAxis === "step" ? "step" : xAxis === "wall" ? "time" : "seconds since run start";
    const opts = {
      width: width(), height,
      scales: { x: { time: xAxis === "wall", ...(range ? { min: range[0], max: range[1], auto: false } : {}) }, y: logY ? { distr: 3 } : {} },
      axes: [{ label: xLabel }, { label: metricKey, size: 70 }],
      series: [{ label: xLabel }, ...series.map((s, i) => ({ label: s.run.info.run_name || s.run.info.run_id, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, points: { show: false } }))],
      cursor: { drag: { x: true, y: false } },
      hooks: { setSelect: [(u) => {
        if (u.select.width < 3) return;
        const lo = u.posToVal(u.select.left, "x"); const hi = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ width: 0, height: 0 }, false);
        setRange([lo, hi]);
      }] },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, box.current);
    return () => { plot.current?.destroy(); plot.current = null; };
  }, [series, logY, weight]);

  const reduced = series?.some((s) => s.reduced);
  const total = series?.reduce((a, s) => a + (s.total || 0), 0);
  return html`<div class="chart">
    <div class="chart-controls" role="group" aria-label=${"Chart controls for " + metricKey}>
      <label>X axis <select aria-label="X axis" value=${xAxis} onChange=${(e) => { setRange(null); setXAxis(e.target.value); onSettings?.({ x_axis: e.target.value }); }}>
        <option value="step">Step</option><option value="wall">Wall time</option><option value="relative">Relative time</option></select></label>
      <label><input type="checkbox" checked=${logY} onChange=${(e) => { setLogY(e.target.checked); onSettings?.({ y_axis_scale: e.target.checked ? "log" : "" }); }} /> Log scale</label>
      <label>Smoothing <input type="range" min="0" max="0.99" step="0.01" value=${weight} aria-label="Smoothing" onInput=${(e) => setWeight(Number(e.target.value))} /> ${weight.toFixed(2)}</label>
      ${range ? html`<button onClick=${() => setRange(null)}>Reset zoom</button>` : html`<span class="muted">Drag across the chart to zoom.</span>`}
      <span class="muted">${series ? `${total.toLocaleString()} points${reduced ? ", reduced to the chart's width" : ""}` : "loading…"}</span>
    </div>
    <${ErrorBox} error=${error} />
    <div ref=${box} class="plot-box" data-testid="chart"></div>
  </div>`;
}

// Runs by id in one request per 1,000 (the UI's compare endpoint), in the order asked for.
export async function fetchRuns(runIds) {
  const out = [];
  for (let i = 0; i < runIds.length; i += 1000) {
    const r = await post("/ajax-api/2.0/fluvial/ui/compare", { run_ids: runIds.slice(i, i + 1000) });
    out.push(...(r.runs || []));
  }
  const index = new Map(out.map((r) => [r.info.run_id, r]));
  return runIds.map((id) => index.get(id)).filter(Boolean);
}

// The current address with some query keys replaced, without telling the router (the chart keeps its state).
function withQuery(change) {
  const [path, qs = ""] = location.hash.split("?", 2);
  const q = new URLSearchParams(qs);
  for (const [k, v] of Object.entries(change)) { if (v) q.set(k, v); else q.delete(k); }
  const text = q.toString();
  return path + (text ? "?" + text : "");
}

export function MetricPage({ metricKey, query }) {
  const runIds = queryList(query, "runs");
  const exps = queryList(query, "experiments");
  const [runs, setRuns] = useState(null);
  const [error, setError] = useState(null);
  const [keys, setKeys] = useState([]);
  useEffect(() => {
    fetchRuns(runIds).then((rs) => {
      setRuns(rs);
      setKeys([...new Set(rs.flatMap((r) => (r.data?.metrics || []).map((m) => m.key)))].sort());
    }, setError);
  }, [runIds.join(), exps.join()]);
  return html`<div class="page">
    ${exps.length ? html`<p class="muted">${exps.map((id, i) => html`${i ? ", " : ""}<a href=${href(["experiments", id])}>Experiment ${id}</a>`)} ›</p>` : null}
    <h1>${metricKey}</h1>
    ${keys.length > 1 ? html`<label>Metric <select aria-label="Metric" value=${metricKey}
      onChange=${(e) => { location.hash = href(["metric", e.target.value], { runs: JSON.stringify(runIds), experiments: JSON.stringify(exps) }); }}>
      ${keys.map((k) => html`<option value=${k}>${k}</option>`)}</select></label>` : null}
    <p class="muted">${runs ? runs.map((r, i) => html`${i ? ", " : ""}<a href=${href(["experiments", r.info.experiment_id, "runs", r.info.run_id])}>${r.info.run_name || r.info.run_id}</a>`) : null}</p>
    <${ErrorBox} error=${error} />
    ${runs ? html`<${MetricChart} runs=${runs} metricKey=${metricKey} initialXAxis=${query.get("x_axis") || "step"} initialLog=${query.get("y_axis_scale") === "log"}
      onSettings=${(change) => window.history.replaceState(null, "", withQuery(change))} />` : html`<p class="loading">Loading…</p>`}
  </div>`;
}
