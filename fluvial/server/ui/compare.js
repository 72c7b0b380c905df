// Compare runs (2..1000), loaded in one runs/search request per 1,000 runs: diff table with differences
// highlighted, parallel coordinates, scatter, box plots and overlaid metric charts.
import { html, useState, useEffect, ErrorBox, queryList, fmtNum, href, tagMap } from "./lib.js";
import { fetchRuns, MetricChart } from "./chart.js";
import { ParallelCoordinates, Scatter, BoxPlot } from "./plots.js";

const TABLE_RUNS = 200; // columns shown in the diff table; the plots take every run

function rowsOf(runs) {
  return runs.map((r) => {
    const values = {};
    for (const p of r.data?.params || []) values["param:" + p.key] = p.value;
    for (const m of r.data?.metrics || []) values["metric:" + m.key] = m.value;
    return { id: r.info.run_id, label: r.info.run_name || r.info.run_id, values, run: r };
  });
}

function Select({ label, value, options, onChange, allowEmpty }) {
  return html`<label>${label} <select aria-label=${label} value=${value} onChange=${(e) => onChange(e.target.value)}>
    ${allowEmpty ? html`<option value="">(none)</option>` : null}
    ${options.map((o) => html`<option value=${o}>${o.replace(/^(param|metric):/, "$1 ")}</option>`)}</select></label>`;
}

export function ComparePage({ query }) {
  const runIds = queryList(query, "runs");
  const exps = queryList(query, "experiments");
  const [runs, setRuns] = useState(null);
  const [error, setError] = useState(null);
  const [onlyDiff, setOnlyDiff] = useState(false);
  const [axes, setAxes] = useState(null);
  const [sx, setSx] = useState(""); const [sy, setSy] = useState("");
  const [boxValue, setBoxValue] = useState(""); const [boxGroup, setBoxGroup] = useState("");
  const [chartKey, setChartKey] = useState("");
  useEffect(() => { fetchRuns(runIds).then(setRuns, setError); }, [runIds.join(), exps.join()]);
  if (error) return html`<div class="page"><${ErrorBox} error=${error} /></div>`;
  if (!runs) return html`<p class="loading">Loading ${runIds.length} runs…</p>`;
  const rows = rowsOf(runs);
  const paramKeys = [...new Set(rows.flatMap((r) => Object.keys(r.values).filter((k) => k.startsWith("param:"))))].sort();
  const metricKeys = [...new Set(rows.flatMap((r) => Object.keys(r.values).filter((k) => k.startsWith("metric:"))))].sort();
  const all = [...paramKeys, ...metricKeys];
  const chosenAxes = axes || [...paramKeys.slice(0, 5), ...metricKeys.slice(0, 1)];
  const shown = rows.slice(0, TABLE_RUNS);
  const differs = (k) => new Set(rows.map((r) => String(r.values[k] ?? ""))).size > 1;
  const tableKeys = (onlyDiff ? all.filter(differs) : all);
  const x = sx || paramKeys[0] || all[0] || ""; const y = sy || metricKeys[0] || all[1] || "";
  const bv = boxValue || metricKeys[0] || ""; const ck = chartKey || (metricKeys[0] || "").replace(/^metric:/, "");
  return html`<div class="page compare">
    <h1>Comparing ${runs.length} runs</h1>
    ${runs.length < runIds.length ? html`<p class="muted">${runIds.length - runs.length} of the requested runs were not found.</p>` : null}
    <h2>Parameters and metrics</h2>
    <label><input type="checkbox" checked=${onlyDiff} onChange=${(e) => setOnlyDiff(e.target.checked)} /> Only rows that differ</label>
    ${rows.length > TABLE_RUNS ? html`<p class="muted">The table shows the first ${TABLE_RUNS} runs; the plots show all ${rows.length}.</p>` : null}
    <div class="table-scroll"><table class="data diff"><thead><tr><th scope="col">Run</th>
      ${shown.map((r) => html`<th scope="col" key=${r.id}><a href=${href(["experiments", r.run.info.experiment_id, "runs", r.id])}>${r.label}</a></th>`)}</tr></thead>
      <tbody>${tableKeys.map((k) => {
        const d = differs(k);
        return html`<tr key=${k} class=${d ? "differs" : ""}><th scope="row">${k.replace(/^(param|metric):/, "$1 ")}</th>
          ${shown.map((r) => html`<td key=${r.id} class=${d ? "diff" : ""}>${k.startsWith("metric:") ? fmtNum(r.values[k]) : r.values[k] ?? ""}</td>`)}</tr>`;
      })}
      <tr><th scope="row">start time</th>${shown.map((r) => html`<td key=${r.id}>${new Date(Number(r.run.info.start_time)).toISOString().slice(0, 19).replace("T", " ")}</td>`)}</tr>
      <tr><th scope="row">user</th>${shown.map((r) => html`<td key=${r.id}>${tagMap(r.run.data?.tags)["mlflow.user"] || r.run.info.user_id}</td>`)}</tr>
      </tbody></table></div>
    <h2>Parallel coordinates</h2>
    <div class="picker-inline" role="group" aria-label="Parallel coordinates columns">
      ${all.map((k) => html`<label key=${k}><input type="checkbox" checked=${chosenAxes.includes(k)}
        onChange=${(e) => setAxes(e.target.checked ? [...chosenAxes, k] : chosenAxes.filter((a) => a !== k))} /> ${k.replace(/^(param|metric):/, "$1 ")}</label>`)}
    </div>
    <${ParallelCoordinates} rows=${rows} axes=${chosenAxes} />
    <div class="cols">
      <section><h2>Scatter</h2>
        <div class="toolbar"><${Select} label="X" value=${x} options=${all} onChange=${setSx} /><${Select} label="Y" value=${y} options=${all} onChange=${setSy} /></div>
        ${x && y ? html`<${Scatter} rows=${rows} xKey=${x} yKey=${y} />` : null}</section>
      <section><h2>Box plot</h2>
        <div class="toolbar"><${Select} label="Value" value=${bv} options=${metricKeys} onChange=${setBoxValue} />
          <${Select} label="Group by" value=${boxGroup} options=${paramKeys} onChange=${setBoxGroup} allowEmpty /></div>
        ${bv ? html`<${BoxPlot} rows=${rows} valueKey=${bv} groupKey=${boxGroup} />` : html`<p class="muted">No metrics.</p>`}</section>
    </div>
    <h2>Metric history</h2>
    ${ck ? html`<${Select} label="Metric" value=${"metric:" + ck} options=${metricKeys} onChange=${(v) => setChartKey(v.replace(/^metric:/, ""))} />
      ${runs.length > 20 ? html`<p class="muted">Overlaying the first 20 runs; <a href=${href(["metric", ck], { runs: JSON.stringify(runIds.slice(0, 100)) })}>open the chart page</a> for more.</p>` : null}
      <${MetricChart} runs=${runs.slice(0, 20)} metricKey=${ck} height=${300} />` : html`<p class="muted">No metrics.</p>`}
  </div>`;
}
