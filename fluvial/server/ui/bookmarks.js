// MLflow 2.x's UI addresses (what users bookmarked or shared) rewritten to fluvial's pages.
// canonical(parts, query) -> {parts, query} of fluvial's address, or null when the address is fluvial's.

// MLflow's start-time presets (its experiment page's `startTime`) -> fluvial's time presets
const START_TIMES = { LAST_HOUR: "1h", LAST_24_HOURS: "24h", LAST_7_DAYS: "7d", LAST_30_DAYS: "30d", ALL: "" };
// MLflow's run-page tabs (`#/experiments/1/runs/<run>/<tab>`)
const RUN_TABS = new Set(["overview", "model-metrics", "system-metrics", "artifacts", "artifactPath", "traces", "evaluations"]);

function jsonString(v) {
  if (v === null) return null;
  try { const parsed = JSON.parse(v); return typeof parsed === "string" ? parsed : String(parsed); } catch { return v; }
}

// MLflow's experiment page state in its query string (searchFilter, orderByKey/orderByAsc, lifecycleFilter,
// startTime, compareRunsMode) -> fluvial's runs page keys; keys fluvial does not know are dropped.
function runsQuery(query) {
  const known = ["searchFilter", "orderByKey", "orderByAsc", "lifecycleFilter", "startTime", "compareRunsMode",
    "viewStateShareKey", "isComparingRuns", "modelVersionFilter", "datasetsFilter", "searchInput"];
  if (!known.some((k) => query.has(k))) return null;
  const out = new URLSearchParams();
  for (const [k, v] of query) if (!known.includes(k)) out.set(k, v);
  const filter = query.get("searchFilter") ?? query.get("searchInput");
  if (filter) out.set("filter", filter);
  const orderKey = query.get("orderByKey");
  if (orderKey) out.set("order", `${orderKey} ${query.get("orderByAsc") === "true" ? "ASC" : "DESC"}`);
  if ((query.get("lifecycleFilter") || "").toLowerCase() === "deleted") out.set("deleted", "only");
  const time = START_TIMES[query.get("startTime") || ""];
  if (time) out.set("time", time);
  if (query.get("compareRunsMode") === "CHART") out.set("charts", "1");
  return out;
}

export function canonical(parts, query) {
  const [a, b, c, d, ...rest] = parts;
  // #/metric?runs=[..]&metric="key"&experiments=[..]&x_axis=..&y_axis_scale=.. (MLflow 2.x's metric page)
  if (a === "metric" && !b && query.has("metric")) {
    const key = jsonString(query.get("metric"));
    const out = new URLSearchParams();
    for (const k of ["runs", "experiments"]) if (query.has(k)) out.set(k, query.get(k));
    if (["step", "wall", "relative"].includes(query.get("x_axis"))) out.set("x_axis", query.get("x_axis"));
    if (query.get("y_axis_scale") === "log") out.set("y_axis_scale", "log");
    return { parts: ["metric", key], query: out };
  }
  if (a === "experiments" && b) {
    // #/experiments/1/runs/<run>/<tab>[/<artifact path>]
    if (c === "runs" && d && rest.length && RUN_TABS.has(rest[0])) {
      const out = new URLSearchParams();
      const path = rest.slice(1).join("/");
      if ((rest[0] === "artifacts" || rest[0] === "artifactPath") && path) out.set("artifact", path);
      return { parts: ["experiments", b, "runs", d], query: out };
    }
    // #/experiments/1/s?..., #/experiments/1/<tab> (runs, chart, traces, models ...): the runs page
    if (c && c !== "runs") return { parts: ["experiments", b], query: runsQuery(query) || query };
    if (!c) { const q = runsQuery(query); return q ? { parts: ["experiments", b], query: q } : null; }
  }
  if (a === "compare-experiments") {
    const q = runsQuery(query);
    if (b || q) return { parts: ["compare-experiments"], query: q || query };
  }
  // #/compare-model-versions?name="model"&runs={"<run id>":"<version>"}: compare of the versions' runs
  if (a === "compare-model-versions") {
    let runs = {};
    try { runs = JSON.parse(query.get("runs") || "{}") || {}; } catch { /* no runs */ }
    return { parts: ["compare-runs"], query: new URLSearchParams({ runs: JSON.stringify(Object.keys(runs)) }) };
  }
  return null;
}
