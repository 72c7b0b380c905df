// Metric history: the reduced endpoint (server-side min/max buckets) and a tiny canvas sparkline.
import { html, useRef, useEffect, api } from "./lib.js";

// -> {points: [{step, timestamp, value}], reduced, total}
// -> {points: [{step, timestamp, value}], reduced, total}
export async function history(runId, key, { xAxis = "step", start, end, maxPoints = 1000 } = {}) {
  const r = await api("/ajax-api/2.0/fluvial/metrics/get-history-reduced",
    { run_id: runId, metric_key: key, x_axis: xAxis === "step" ? "step" : "timestamp", start, end, max_points: maxPoints });
  return { points: r.metrics || [], reduced: !!r.reduced, total: r.total ?? (r.metrics || []).length };
}

export function Sparkline({ runId, metricKey, width = 120, height = 24 }) {
  const ref = useRef(null);
  useEffect(() => {
    let live = true;
    // fetch only once the sparkline scrolls into view (runs can have hundreds of metrics)
    const seen = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      seen.disconnect();
      draw();
    });
    if (ref.current) seen.observe(ref.current);
    const draw = () => history(runId, metricKey, { maxPoints: width }).then(({ points }) => {
      const c = ref.current;
      if (!live || !c || points.length < 2) return;
      const ctx = c.getContext("2d");
      const xs = points.map((p) => Number(p.step)); const ys = points.map((p) => Number(p.value)).filter(Number.isFinite);
      const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
      ctx.clearRect(0, 0, width, height); ctx.strokeStyle = "#1f77b4"; ctx.lineWidth = 1.2; ctx.beginPath();
      points.forEach((p, i) => {
        const x = x1 === x0 ? 0 : ((p.step - x0) / (x1 - x0)) * (width - 2) + 1;
        const y = y1 === y0 ? height / 2 : height - 2 - ((p.value - y0) / (y1 - y0)) * (height - 4);
        i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      });
      ctx.stroke();
    }, () => {});
    return () => { live = false; seen.disconnect(); };
  }, [runId, metricKey]);
  return html`<canvas class="sparkline" ref=${ref} width=${width} height=${height} role="img" aria-label=${"History of " + metricKey}></canvas>`;
}
