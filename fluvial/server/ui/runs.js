// Runs of one or several experiments: a windowed table over keyset pages of runs/search.
import { html, useState, useEffect, useRef, useMemo, api, post, ErrorBox, fmtTime, fmtDuration, fmtNum, tagMap, href, setQuery, queryList } from "./lib.js";

const ROW = 30;          // px per row (windowed rendering relies on a fixed height)
const FIRST_PAGE = 100;  // runs in the first request (what the user sees first)
const PAGE = 500;        // runs per further request
const BASE_TAGS = ["mlflow.user", "mlflow.source.name", "mlflow.source.git.commit", "mlflow.parentRunId", "mlflow.runName"];
const OVERSCAN = 10;
const PRESETS = { "": "All time", "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days" };
const PRESET_MS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const PARENT = "mlflow.parentRunId";

const ATTRS = [
  { id: "name", label: "Run name", order: "attributes.run_name", width: 220 },
  { id: "created", label: "Created", order: "attributes.start_time", width: 165 },
  { id: "duration", label: "Duration", width: 85 },
  { id: "user", label: "User", order: "attributes.user_id", width: 90 },
  { id: "source", label: "Source", width: 130 },
  { id: "status", label: "Status", order: "attributes.status", width: 90 },
  { id: "models", label: "Models", width: 120 },
];
const quoteKey = (k) => "`" + k.replace(/`/g, "") + "`";

function cell(run, col, models, expNames) {
  const { info } = run;
  const tags = run.tagMap;
  switch (col.id) {
    case "experiment": return expNames[info.experiment_id] || info.experiment_id;
    case "created": return fmtTime(info.start_time);
    case "duration": return fmtDuration(info.start_time, info.end_time);
    case "user": return tags["mlflow.user"] || info.user_id || "";
    case "source": {
      const src = (tags["mlflow.source.name"] || "").split("/").pop();
      const commit = tags["mlflow.source.git.commit"];
      return commit ? `${src} @ ${commit.slice(0, 7)}` : src;
    }
    case "status": return info.status;
    case "models": return (models[info.run_id] || []).map((m) => `${m.name} v${m.version}`).join(", ");
    default:
      if (col.kind === "metric") return fmtNum(run.metricMap[col.key]);
      if (col.kind === "param") return run.paramMap[col.key] ?? "";
      if (col.kind === "tag") return tags[col.key] ?? "";
      return "";
  }
}

const CHART_RUNS = 10; // runs overlaid in the experiment's chart view (the first ones in table order)

// One chart per picked metric column, for the first runs of the table (chart.js and uPlot load on demand).
function RunCharts({ runs, metrics, experimentIds }) {
  const [mod, setMod] = useState(null);
  useEffect(() => { import("./chart.js").then(setMod); }, []);
  if (!metrics.length) return html`<p class="muted">Pick metric columns to chart them.</p>`;
  if (!mod || !runs.length) return html`<p class="loading">Loading…</p>`;
  const ids = JSON.stringify(runs.map((r) => r.info.run_id));
  return html`<div class="run-charts">${metrics.map((m) => html`<section key=${m}>
    <h2><a href=${href(["metric", m], { runs: ids, experiments: JSON.stringify(experimentIds) })}>${m}</a>
      <span class="muted"> (first ${runs.length} runs)</span></h2>
    <${mod.MetricChart} runs=${runs} metricKey=${m} height=${240} /></section>`)}</div>`;
}

// runs-page rows carry {info, params, metrics, tags} as objects holding only the requested columns
function normalize(run) {
  run.tagMap = run.tags || {};
  run.paramMap = run.params || {};
  run.metricMap = run.metrics || {};
  return run;
}

function ColumnPicker({ keys, chosen, kind, onChange }) {
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState("");
  const list = keys.filter((k) => k.toLowerCase().includes(filter.toLowerCase())).slice(0, 300);
  return html`<div class="picker">
    <button aria-expanded=${open} onClick=${() => setOpen(!open)}>${kind} (${chosen.length}/${keys.length})</button>
    ${open ? html`<div class="picker-pop" role="group" aria-label=${kind + " columns"}>
      <input type="search" aria-label=${"Filter " + kind} placeholder="filter" value=${filter} onInput=${(e) => setFilter(e.target.value)} />
      ${list.map((k) => html`<label key=${k}><input type="checkbox" checked=${chosen.includes(k)}
        onChange=${(e) => onChange(e.target.checked ? [...chosen, k] : chosen.filter((x) => x !== k))} /> ${k}</label>`)}
      ${!keys.length ? html`<span class="muted">none logged</span>` : null}
    </div>` : null}</div>`;
}

// Flatten runs into display rows. Both structures come from the server over the whole result, not only
// the loaded rows: groups (size and aggregates per value) with their runs loaded on expand, and nesting
// (a run whose parent is in the result shows under it; child counts are the result's).
// `sub[key]` holds what an expanded row loaded: {runs, token, loading} (key: run id or group key).
const groupRowKey = (value) => "g:" + (value === null || value === undefined ? "\u0000none" : value);
function displayRows(runs, expanded, groupBy, groups, sub, nest) {
  const rows = [];
  const more = (key, depth) => {
    const s = sub[key];
    if (s && (s.token || s.loading)) rows.push({ more: key, depth, loading: s.loading });
  };
  if (groupBy) {
    for (const g of groups || []) {
      const key = groupRowKey(g.value);
      const open = expanded.has(key);
      rows.push({ group: g.value ?? "(none)", gkey: key, count: g.count, agg: g.metrics || {}, open });
      if (open) { for (const m of sub[key]?.runs || []) rows.push({ run: m, depth: 1 }); more(key, 1); }
    }
    return rows;
  }
  const loaded = new Set(runs.map((r) => r.info.run_id));
  const add = (r, depth) => {
    const id = r.info.run_id;
    const open = expanded.has(id);
    rows.push({ run: r, depth, kids: nest.counts[id] || 0, open });
    if (open && depth < 20) { for (const k of sub[id]?.runs || []) add(k, depth + 1); more(id, depth + 1); }
  };
  for (const r of runs) {
    const p = r.tagMap[PARENT];
    if (!p || !(loaded.has(p) || nest.present.has(p))) add(r, 0);
  }
  return rows;
}

export function RunsPage({ experimentIds, query }) {
  const filter = query.get("filter") || "";
  const order = query.get("order") || "attributes.start_time DESC";
  const preset = query.get("time") || "";
  const deletedMode = query.get("deleted") || "";  // "1": active and deleted runs, "only": deleted runs
  const deleted = deletedMode === "1" || deletedMode === "only";
  const groupBy = query.get("group") || "";
  const charts = query.get("charts") === "1";
  const cols = { params: queryList(query, "params"), metrics: queryList(query, "metrics"), tags: queryList(query, "tags") };
  const [draft, setDraft] = useState(filter);
  const [runs, setRuns] = useState([]);
  const [token, setToken] = useState(null);
  const [count, setCount] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const [keys, setKeys] = useState({ params: [], metrics: [], tags: [] });
  const [models, setModels] = useState({});
  const [selected, setSelected] = useState(new Set());
  const [expanded, setExpanded] = useState(new Set());
  const [sub, setSub] = useState({});
  const [nest, setNest] = useState({ counts: {}, present: new Set() });
  const [groups, setGroups] = useState(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [exps, setExps] = useState([]);
  const [tagForm, setTagForm] = useState({ key: "", value: "" });
  const [actionError, setActionError] = useState(null);
  const [reloadTick, setReloadTick] = useState(0);
  const gen = useRef(0);
  const box = useRef(null);

  const startAfter = useMemo(() => (PRESET_MS[preset] ? Date.now() - PRESET_MS[preset] : undefined), [preset]);
  const viewType = deletedMode === "only" ? "DELETED_ONLY" : deleted ? "ALL" : "ACTIVE_ONLY";
  const [groupKind, groupKey] = groupBy ? groupBy.split(":", 2) : ["", ""];
  const wanted = {
    params: [...cols.params, ...(groupKind === "param" ? [groupKey] : [])],
    metrics: cols.metrics,
    tags: [...BASE_TAGS, ...cols.tags, ...(groupKind === "tag" ? [groupKey] : [])],
  };
  const wantedKey = JSON.stringify(wanted);
  const request = (page_token) => post("/ajax-api/2.0/fluvial/ui/runs-page", {
    experiment_ids: experimentIds, filter, run_view_type: viewType, max_results: page_token ? PAGE : FIRST_PAGE,
    order_by: [order], page_token: page_token || undefined, columns: wanted, start_time_after: startAfter, with_count: false });
  // The total is asked for beside the first page (not inside it): the rows never wait for a count.
  const countRequest = () => {
    const clause = startAfter !== undefined ? `attributes.start_time > ${Math.trunc(startAfter)}` : "";
    const where = filter.trim() && clause ? `${filter} and ${clause}` : filter.trim() ? filter : clause;
    return api("/ajax-api/2.0/fluvial/runs/count", { experiment_ids: experimentIds, filter: where, run_view_type: viewType });
  };

  const search = { experiment_ids: experimentIds, filter, run_view_type: viewType, start_time_after: startAfter };
  // child counts of these runs, and which of their parents are in the result (whole result, server side)
  const loadNesting = (fresh, my) => {
    if (!fresh.length || groupBy) return;
    const parents = [...new Set(fresh.map((r) => r.tagMap[PARENT]).filter(Boolean))];
    post("/ajax-api/2.0/fluvial/ui/nesting", { ...search, run_ids: fresh.map((r) => r.info.run_id), parent_ids: parents }).then((n) => {
      if (my !== gen.current) return;
      setNest((old) => ({ counts: { ...old.counts, ...(n.child_counts || {}) }, present: new Set([...old.present, ...(n.parents_in_result || [])]) }));
    }, () => {});
  };
  const absorb = (page, my) => {
    const fresh = (page.runs || []).map(normalize);
    loadModels(fresh);
    loadNesting(fresh, my);
    return fresh;
  };
  // The rows under an expanded run (its children) or group (its runs), a page at a time.
  const loadSub = (key, token, fresh = false) => {
    const my = gen.current;
    const prev = fresh ? null : sub[key];
    if (prev && (prev.loading || (!token && prev.runs.length))) return;
    setSub((old) => ({ ...old, [key]: { runs: old[key]?.runs || [], token: old[key]?.token || null, loading: true } }));
    const common = { ...search, columns: wanted, max_results: PAGE, page_token: token || undefined };
    const req = key.startsWith("g:")
      ? post("/ajax-api/2.0/fluvial/ui/group-runs", { ...common, group_by: groupBy,
        ...(key === groupRowKey(null) ? { no_value: true } : { value: key.slice(2) }) })
      : post("/ajax-api/2.0/fluvial/ui/runs-page", { ...common, order_by: [order], with_count: false,
        filter: `${filter.trim() ? filter + " and " : ""}tags.mlflow.parentRunId = '${key}'` });
    req.then((page) => {
      if (my !== gen.current) return;
      const fresh = (page.runs || []).map(normalize);
      loadModels(fresh);
      if (!key.startsWith("g:")) loadNesting(fresh, my);
      setSub((old) => ({ ...old, [key]: { runs: (old[key]?.runs || []).concat(fresh), token: page.next_page_token || null, loading: false } }));
    }, (e) => { if (my === gen.current) { setActionError(e); setSub((old) => ({ ...old, [key]: { ...old[key], loading: false } })); } });
  };
  const expand = (key) => {
    const next = new Set(expanded);
    if (next.has(key)) next.delete(key); else { next.add(key); loadSub(key, null); }
    setExpanded(next);
  };
  // The column keys (for the pickers) are asked for after the first page arrived: on a large store the
  // key scan costs more than the page and would delay the first rows on a single-worker server.
  const [firstPage, setFirstPage] = useState(false);
  useEffect(() => {
    if (!firstPage) return;
    api("/ajax-api/2.0/fluvial/ui/columns", { experiment_ids: experimentIds }).then((k) => setKeys({
      params: k.params || [], metrics: k.metrics || [], tags: (k.tags || []).filter((t) => !t.startsWith("mlflow.")) }), () => {});
  }, [experimentIds.join(","), firstPage]);
  const loadModels = (fresh) => {
    // registered model versions of these runs; 200 ids per request keeps the filter under the server's limit
    for (let i = 0; i < fresh.length; i += 200) {
      const ids = fresh.slice(i, i + 200).map((r) => `'${r.info.run_id}'`).join(",");
      api("model-versions/search", { filter: `run_id IN (${ids})`, max_results: 1000 }).then((res) => {
        const add = {};
        for (const mv of res.model_versions || []) (add[mv.run_id] ||= []).push(mv);
        setModels((old) => ({ ...old, ...add }));
      }, () => {});
    }
  };

  useEffect(() => {
    Promise.all(experimentIds.map((id) => api("experiments/get", { experiment_id: id }).then((r) => r.experiment, () => ({ experiment_id: id, name: "#" + id }))))
      .then(setExps);
  }, [experimentIds.join(",")]);

  useEffect(() => {
    const my = ++gen.current;
    setLoading(true); setError(null); setCount(null); setSelected(new Set());
    // expanded rows stay expanded; what they hold is loaded again for the new search
    setSub({}); setNest({ counts: {}, present: new Set() }); setGroups(null);
    for (const key of expanded) if (key.startsWith("g:") === !!groupBy) loadSub(key, null, true);
    if (groupBy) {
      post("/ajax-api/2.0/fluvial/ui/groups", { ...search, group_by: groupBy, metrics: cols.metrics })
        .then((g) => { if (my === gen.current) setGroups(g.groups || []); }, (e) => { if (my === gen.current) setError(e); });
    }
    countRequest().then((c) => { if (my === gen.current) setCount(c.count ?? 0); }, () => {});
    request(null).then((page) => {
      if (my !== gen.current) return;
      setRuns(absorb(page, my)); setToken(page.next_page_token || null); setLoading(false);
      setFirstPage(true);
      if (box.current) box.current.scrollTop = 0;
    }, (e) => { if (my === gen.current) { setError(e); setRuns([]); setToken(null); setLoading(false); setFirstPage(true); } });
  }, [experimentIds.join(","), filter, startAfter, order, viewType, wantedKey, reloadTick, groupBy]);

  const loadMore = () => {
    if (!token || loading) return;
    const my = gen.current;
    setLoading(true);
    request(token).then((page) => {
      if (my !== gen.current) return;
      const fresh = absorb(page, my);
      setRuns((old) => old.concat(fresh)); setToken(page.next_page_token || null); setLoading(false);
    }, (e) => { setError(e); setLoading(false); });
  };

  const expNames = Object.fromEntries(exps.map((e) => [e.experiment_id, e.name]));
  const columns = [...ATTRS.slice(0, 1),
    ...(experimentIds.length > 1 ? [{ id: "experiment", label: "Experiment", width: 140 }] : []), ...ATTRS.slice(1),
    ...cols.metrics.map((k) => ({ id: "m:" + k, kind: "metric", key: k, label: k, order: "metrics." + quoteKey(k), width: 110 })),
    ...cols.params.map((k) => ({ id: "p:" + k, kind: "param", key: k, label: k, order: "params." + quoteKey(k), width: 110 })),
    ...cols.tags.map((k) => ({ id: "t:" + k, kind: "tag", key: k, label: k, order: "tags." + quoteKey(k), width: 110 }))];
  const rows = useMemo(() => displayRows(runs, expanded, groupBy, groups, sub, nest), [runs, expanded, groupBy, groups, sub, nest]);
  const height = box.current?.clientHeight || 600;
  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
  useEffect(() => { if (!groupBy && token && !loading && last >= rows.length - 25) loadMore(); }, [last, rows.length, token, loading, groupBy]);

  const [sortField, sortDir] = order.split(/\s+(?=ASC$|DESC$)/i);
  const sortBy = (col) => {
    if (!col.order) return;
    const dir = sortField === col.order && !/ASC/i.test(sortDir || "") ? "ASC" : "DESC";
    setQuery({ order: `${col.order} ${dir}` });
  };
  const toggle = (set, id) => { const n = new Set(set); n.has(id) ? n.delete(id) : n.add(id); return n; };
  const selectedIds = [...selected];
  const act = async (fn) => {
    try { await fn(); setActionError(null); setReloadTick((t) => t + 1); } catch (e) { setActionError(e); }
  };
  const template = "32px " + columns.map((c) => c.width + "px").join(" ");
  const totalWidth = 32 + columns.reduce((a, c) => a + c.width, 0);
  const title = exps.map((e) => e.name).join(", ");
  const single = experimentIds.length === 1 ? experimentIds[0] : null;

  return html`<div class="page runs-page">
    <h1>${title || "Runs"}</h1>
    ${single ? html`<p class="muted">Experiment ${single}</p>` : null}
    <form class="filter" role="search" onSubmit=${(e) => { e.preventDefault(); setQuery({ filter: draft }); }}>
      <input type="search" class="grow" aria-label="Filter runs (MLflow search syntax)" placeholder="metrics.rmse < 1 and params.model = 'tree'"
        value=${draft} onInput=${(e) => setDraft(e.target.value)} />
      <button type="submit">Search</button>
      <label>Time <select aria-label="Start time" value=${preset} onChange=${(e) => setQuery({ time: e.target.value })}>
        ${Object.entries(PRESETS).map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></label>
      <label><input type="checkbox" checked=${deleted} onChange=${(e) => setQuery({ deleted: e.target.checked ? "1" : "" })} /> Show deleted${deletedMode === "only" ? " (only)" : ""}</label>
    </form>
    <${ErrorBox} error=${error} />
    <div class="toolbar">
      <${ColumnPicker} kind="Params" keys=${keys.params} chosen=${cols.params} onChange=${(v) => setQuery({ params: v })} />
      <${ColumnPicker} kind="Metrics" keys=${keys.metrics} chosen=${cols.metrics} onChange=${(v) => setQuery({ metrics: v })} />
      <${ColumnPicker} kind="Tags" keys=${keys.tags} chosen=${cols.tags} onChange=${(v) => setQuery({ tags: v })} />
      <label>Group by <select aria-label="Group by" value=${groupBy} onChange=${(e) => setQuery({ group: e.target.value })}>
        <option value="">(none)</option>
        ${keys.params.map((k) => html`<option value=${"param:" + k}>param ${k}</option>`)}
        ${keys.tags.map((k) => html`<option value=${"tag:" + k}>tag ${k}</option>`)}
      </select></label>
      <label><input type="checkbox" checked=${charts} onChange=${(e) => setQuery({ charts: e.target.checked ? "1" : "" })} /> Charts</label>
      <span class="spacer"></span>
      <span class="count" aria-live="polite">${count !== null ? `${count.toLocaleString()} runs` : `${runs.length}${token ? "+" : ""} runs`}${loading ? " · loading…" : ""}</span>
    </div>
    ${selected.size ? html`<div class="toolbar selection" role="group" aria-label="Selected runs">
      <span>${selected.size} selected</span>
      <a class="button" href=${href(["compare-runs"], { runs: JSON.stringify(selectedIds), experiments: JSON.stringify(experimentIds) })}>Compare</a>
      <button onClick=${() => act(() => Promise.all(selectedIds.map((id) => post("runs/delete", { run_id: id }))))}>Delete</button>
      <button onClick=${() => act(() => Promise.all(selectedIds.map((id) => post("runs/restore", { run_id: id }))))}>Restore</button>
      <form class="inline" onSubmit=${(e) => { e.preventDefault(); act(() => Promise.all(selectedIds.map((id) => post("runs/set-tag", { run_id: id, key: tagForm.key, value: tagForm.value })))); }}>
        <input aria-label="Tag key for selected runs" placeholder="tag key" required value=${tagForm.key} onInput=${(e) => setTagForm({ ...tagForm, key: e.target.value })} />
        <input aria-label="Tag value for selected runs" placeholder="value" value=${tagForm.value} onInput=${(e) => setTagForm({ ...tagForm, value: e.target.value })} />
        <button type="submit">Tag</button></form>
      <${ErrorBox} error=${actionError} />
    </div>` : null}
    ${charts ? html`<${RunCharts} runs=${runs.slice(0, CHART_RUNS)} metrics=${cols.metrics} experimentIds=${experimentIds} />` : null}
    <div class="grid" role="table" aria-label="Runs" aria-rowcount=${count ?? rows.length} ref=${box} onScroll=${(e) => setScrollTop(e.target.scrollTop)}>
      <div class="grid-head" role="row" style=${{ gridTemplateColumns: template, width: totalWidth + "px" }}>
        <span role="columnheader"><input type="checkbox" aria-label="Select all loaded runs" checked=${runs.length > 0 && selected.size === runs.length}
          onChange=${(e) => setSelected(e.target.checked ? new Set(runs.map((r) => r.info.run_id)) : new Set())} /></span>
        ${columns.map((c) => html`<span role="columnheader" key=${c.id} class=${c.kind || "attr"}
          aria-sort=${sortField === c.order ? (/ASC/i.test(sortDir || "") ? "ascending" : "descending") : null}>
          ${c.order ? html`<button class="sort" title=${"Sort by " + c.label} onClick=${() => sortBy(c)}>${c.label}${sortField === c.order ? (/ASC/i.test(sortDir || "") ? " ▲" : " ▼") : ""}</button>` : c.label}</span>`)}
      </div>
      <div class="grid-body" style=${{ height: rows.length * ROW + "px", width: totalWidth + "px" }}>
        ${rows.slice(first, last).map((row, i) => {
          const top = (first + i) * ROW;
          if (row.more !== undefined) {
            return html`<div class="grid-row more" role="row" key=${"more:" + row.more} style=${{ top: top + "px", gridTemplateColumns: template }}>
              <span></span><span role="cell" style=${{ paddingLeft: 4 + row.depth * 16 + "px" }}>${row.loading ? html`<span class="muted">loading…</span>`
                : html`<button class="link" onClick=${() => loadSub(row.more, sub[row.more]?.token)}>Load more</button>`}</span></div>`;
          }
          if (row.group !== undefined) {
            return html`<div class="grid-row group" role="row" key=${row.gkey} style=${{ top: top + "px", gridTemplateColumns: template }}>
              <span></span><span role="cell" class="groupcell"><button class="link" aria-expanded=${row.open} onClick=${() => expand(row.gkey)}>
                ${row.open ? "▾" : "▸"} ${groupBy.split(":")[1]} = ${row.group}</button> (${row.count.toLocaleString()})</span>
              ${columns.slice(1).map((c) => { const a = c.kind === "metric" ? row.agg[c.key] : null;
                return html`<span role="cell" class=${c.kind || c.id} title=${a ? `mean ${fmtNum(a.mean)}, min ${fmtNum(a.min)}, max ${fmtNum(a.max)} (${a.count} runs)` : null}>${a ? `μ ${fmtNum(a.mean)}` : ""}</span>`; })}
            </div>`;
          }
          const { run } = row;
          const id = run.info.run_id;
          return html`<div class=${"grid-row" + (run.info.lifecycle_stage === "deleted" ? " deleted" : "")} role="row" key=${id} style=${{ top: top + "px", gridTemplateColumns: template }}>
            <span role="cell"><input type="checkbox" aria-label=${"Select run " + (run.info.run_name || id)} checked=${selected.has(id)} onChange=${() => setSelected(toggle(selected, id))} /></span>
            ${columns.map((c) => c.id === "name"
              ? html`<span role="cell" class="namecell" style=${{ paddingLeft: 4 + row.depth * 16 + "px" }}>
                  ${row.kids ? html`<button class="link twisty" aria-label=${(row.open ? "Collapse " : "Expand ") + (run.info.run_name || id)} aria-expanded=${row.open} onClick=${() => expand(id)}>${row.open ? "▾" : "▸"}</button>` : null}
                  <a href=${href(["experiments", run.info.experiment_id, "runs", id])}>${run.info.run_name || id}</a>${row.kids ? html` <span class="muted">(${row.kids})</span>` : null}</span>`
              : html`<span role="cell" class=${c.kind || c.id} title=${String(cell(run, c, models, expNames))}>${cell(run, c, models, expNames)}</span>`)}
          </div>`;
        })}
      </div>
      ${groupBy && groups === null && !error ? html`<p class="muted empty" aria-live="polite">Grouping ${count !== null ? count.toLocaleString() + " runs" : "the runs"} by ${groupKey}…</p>`
        : !loading && !rows.length && !error ? html`<p class="muted empty">No runs match.</p>` : null}
    </div>
  </div>`;
}
