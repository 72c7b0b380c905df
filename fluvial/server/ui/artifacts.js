// Artifact browser: a lazily loaded tree and size-capped previews (text, JSON, YAML, MLmodel with its
// signature, images, CSV and Parquet as tables, HTML only inside a sandboxed frame without scripts).
import { html, useState, useEffect, api, prefixed, fmtBytes, ErrorBox } from "./lib.js";

const CAP = 100 * 1024;
// The preview frame is sandboxed (no scripts, unique origin); this policy also stops it loading anything.
const FRAME_CSP = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">';
const TEXT = /\.(txt|log|json|ya?ml|md|py|cfg|ini|toml|sh|r|sql|js|ts|java|scala|xml|conf|properties|csv|tsv|html?)$|(^|\/)(MLmodel|MLproject|requirements\.txt|conda\.yaml|python_env\.yaml|LICENSE)$/i;
const IMAGE = /\.(png|jpe?g|gif|bmp|webp)$/i;
const PARQUET = /\.(parquet|pq)$/i;
const PARQUET_ROWS = 100;   // rows in the first preview; "more rows" asks for up to PARQUET_MAX
const PARQUET_MAX = 1000;

// The server reads the schema and the first rows only (never the whole file).
function ParquetPreview({ runId, path }) {
  const [rows, setRows] = useState(PARQUET_ROWS);
  const [state, setState] = useState({ loading: true });
  useEffect(() => { setRows(PARQUET_ROWS); }, [path]);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api("/ajax-api/2.0/fluvial/ui/artifact-preview", { run_id: runId, path, max_rows: rows })
      .then((data) => live && setState({ loading: false, data }), (error) => live && setState({ loading: false, error }));
    return () => { live = false; };
  }, [runId, path, rows]);
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (!state.data) return html`<p class="loading">Loading…</p>`;
  const d = state.data;
  const cols = d.columns || [];
  const shown = (d.rows || []).length;
  return html`<p class="muted">${Number(d.total_rows).toLocaleString()} rows × ${d.total_columns} columns${d.truncated ? ` · showing ${shown} rows${cols.length < d.total_columns ? ` and ${cols.length} columns` : ""}` : ""}</p>
    <div class="table-scroll"><table class="data"><thead><tr>${cols.map((c, i) => html`<th key=${i} title=${c.type}>${c.name}<br /><span class="muted">${c.type}</span></th>`)}</tr></thead>
      <tbody>${(d.rows || []).map((r, i) => html`<tr key=${i}>${r.map((v, j) => html`<td key=${j}>${v === null ? html`<span class="muted">null</span>` : String(v)}</td>`)}</tr>`)}</tbody></table></div>
    ${shown < d.total_rows && rows < PARQUET_MAX ? html`<button disabled=${state.loading} onClick=${() => setRows(PARQUET_MAX)}>Show ${PARQUET_MAX.toLocaleString()} rows</button>` : null}`;
}

export function artifactUrl(runId, path) {
  return prefixed("/get-artifact?" + new URLSearchParams({ path, run_uuid: runId }).toString());
}

// Fetch at most `cap` bytes (null: everything); returns {text, truncated, size}.
export async function fetchText(url, cap = CAP) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`HTTP ${resp.status}: ${(await resp.text()).slice(0, 300)}`);
  const reader = resp.body.getReader();
  const chunks = []; let size = 0; let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value); size += value.length;
    if (cap !== null && size > cap) { truncated = true; await reader.cancel(); break; }
  }
  const all = new Uint8Array(size); let off = 0;
  for (const c of chunks) { all.set(c, off); off += c.length; }
  const text = new TextDecoder().decode(cap !== null && truncated ? all.subarray(0, cap) : all);
  return { text, truncated };
}

// MLmodel keeps its signature as JSON strings inside YAML: `  inputs: '[...]'`.
export function parseSignature(mlmodel) {
  const sig = {};
  const block = /(^|\n)signature:\n((?:[ \t]+.*\n?)*)/.exec(mlmodel);
  if (!block) return null;
  for (const m of block[2].matchAll(/^\s+(inputs|outputs|params):\s*'(.*)'\s*$/gm)) {
    try { sig[m[1]] = JSON.parse(m[2].replace(/''/g, "'")); } catch { sig[m[1]] = m[2]; }
  }
  return Object.keys(sig).length ? sig : null;
}

export function Signature({ sig }) {
  if (!sig) return html`<p class="muted">No signature.</p>`;
  return html`${["inputs", "outputs", "params"].filter((k) => sig[k]).map((k) => html`<h3>${k}</h3>
    ${Array.isArray(sig[k]) ? html`<table class="data"><thead><tr><th>name</th><th>type</th><th>required</th></tr></thead><tbody>
      ${sig[k].map((c, i) => html`<tr key=${i}><td>${c.name ?? "-"}</td><td>${c.type}${c["tensor-spec"] ? " " + JSON.stringify(c["tensor-spec"]) : ""}</td><td>${String(c.required ?? true)}</td></tr>`)}
    </tbody></table>` : html`<pre>${String(sig[k])}</pre>`}`)}`;
}

function parseCsv(text, sep) {
  const rows = []; let row = []; let cur = ""; let quoted = false;
  for (let i = 0; i < text.length && rows.length < 501; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false; else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === sep) { row.push(cur); cur = ""; }
    else if (c === "\n") { row.push(cur.replace(/\r$/, "")); rows.push(row); row = []; cur = ""; }
    else cur += c;
  }
  if (cur || row.length) { row.push(cur); rows.push(row); }
  return rows;
}

function Preview({ runId, file, actions }) {
  const [state, setState] = useState({ loading: true });
  const [all, setAll] = useState(false);
  const url = artifactUrl(runId, file.path);
  const name = file.path.split("/").pop();
  const isText = TEXT.test(file.path) && !PARQUET.test(file.path);
  useEffect(() => {
    setAll(false);
  }, [file.path]);
  useEffect(() => {
    if (!isText) { setState({ loading: false }); return; }
    let live = true;
    setState({ loading: true });
    fetchText(url, all ? null : CAP).then((r) => live && setState({ loading: false, ...r }), (error) => live && setState({ loading: false, error }));
    return () => { live = false; };
  }, [file.path, all]);
  const header = html`<div class="toolbar"><strong>${file.path}</strong> <span class="muted">${fmtBytes(file.file_size)}</span>
    <a class="button" href=${url} download=${name}>Download</a>${actions ? actions(file) : null}</div>`;
  if (IMAGE.test(file.path)) return html`${header}<img src=${url} alt=${name} />`;
  if (PARQUET.test(file.path)) return html`${header}<${ParquetPreview} runId=${runId} path=${file.path} />`;
  if (!isText) return html`${header}<p class="muted">No preview for this file type.</p>`;
  if (state.loading) return html`${header}<p class="loading">Loading…</p>`;
  if (state.error) return html`${header}<${ErrorBox} error=${state.error} />`;
  const more = state.truncated ? html`<p class="muted">Showing the first ${fmtBytes(CAP)}. <button onClick=${() => setAll(true)}>Load all</button></p>` : null;
  let body;
  if (/\.html?$/i.test(file.path)) {
    body = html`<p class="muted">HTML is shown in a sandboxed frame (no scripts).</p><iframe sandbox="" title=${"Preview of " + name} srcdoc=${FRAME_CSP + state.text}></iframe>`;
  } else if (/\.(csv|tsv)$/i.test(file.path)) {
    const rows = parseCsv(state.text, /\.tsv$/i.test(file.path) ? "\t" : ",");
    const [head, ...rest] = rows;
    body = html`<table class="data"><thead><tr>${(head || []).map((c, i) => html`<th key=${i}>${c}</th>`)}</tr></thead>
      <tbody>${rest.slice(0, 500).map((r, i) => html`<tr key=${i}>${r.map((c, j) => html`<td key=${j}>${c}</td>`)}</tr>`)}</tbody></table>
      ${rows.length > 500 ? html`<p class="muted">First 500 rows.</p>` : null}`;
  } else if (/(^|\/)MLmodel$/.test(file.path)) {
    body = html`<h3>Signature</h3><${Signature} sig=${parseSignature(state.text)} /><h3>MLmodel</h3><pre>${state.text}</pre>`;
  } else if (/\.json$/i.test(file.path) && !state.truncated) {
    let pretty = state.text;
    try { pretty = JSON.stringify(JSON.parse(state.text), null, 2); } catch { /* shown as is */ }
    body = html`<pre>${pretty}</pre>`;
  } else body = html`<pre>${state.text}</pre>`;
  return html`${header}${body}${more}`;
}

function Dir({ runId, path, selected, onSelect, depth }) {
  const [files, setFiles] = useState(null);
  const [open, setOpen] = useState({});
  const [error, setError] = useState(null);
  useEffect(() => {
    api("artifacts/list", { run_id: runId, path: path || undefined }).then((r) => setFiles(r.files || []), setError);
  }, [runId, path]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!files) return html`<span class="muted">…</span>`;
  if (!files.length && depth === 0) return html`<p class="muted">No artifacts.</p>`;
  return html`<ul role=${depth ? "group" : "tree"} aria-label=${depth ? null : "Artifacts"}>${files.map((f) => {
    const label = f.path.split("/").pop();
    return html`<li key=${f.path} role="treeitem" aria-expanded=${f.is_dir ? !!open[f.path] : null}>
      ${f.is_dir
        ? html`<button class="link" onClick=${() => setOpen({ ...open, [f.path]: !open[f.path] })}>${open[f.path] ? "▾" : "▸"} ${label}/</button>
            ${open[f.path] ? html`<${Dir} runId=${runId} path=${f.path} selected=${selected} onSelect=${onSelect} depth=${depth + 1} />` : null}`
        : html`<button class="link" aria-current=${selected?.path === f.path ? "true" : null} onClick=${() => onSelect(f)}>${label}</button>`}
    </li>`;
  })}</ul>`;
}

// `actions(file)`: extra controls shown beside the previewed file's name (the run page adds "Register model").
export function ArtifactBrowser({ runId, initial, actions }) {
  const [selected, setSelected] = useState(initial || null);
  return html`<div class="artifacts">
    <div class="tree"><${Dir} runId=${runId} path="" selected=${selected} onSelect=${setSelected} depth=${0} /></div>
    <div class="preview" aria-live="polite">${selected ? html`<${Preview} runId=${runId} file=${selected} actions=${actions} />` : html`<p class="muted">Select a file to preview it.</p>`}</div>
  </div>`;
}
