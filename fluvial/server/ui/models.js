// Model registry: registered models (search, tags, description), a model's versions with stages and
// aliases, and the version page (source run, signature, input example, stage transition, aliases, tags).
import { html, useState, useEffect, api, post, prefixed, useAsync, ErrorBox, Editable, Markdown, TagEditor, tagMap, fmtTime, href, setQuery } from "./lib.js";
import { fetchText, parseSignature, Signature } from "./artifacts.js";

const STAGES = ["None", "Staging", "Production", "Archived"];
const patch = (path, body) => api(path, body, "PATCH");
const del = (path, body) => api(path, body, "DELETE");
const md = (v) => (v ? html`<${Markdown} text=${v} />` : html`<span class="muted">none</span>`);

function Aliases({ aliases }) {
  return (aliases || []).map((a) => html`<span class="badge" key=${a.alias}>@${a.alias}${a.version ? " → v" + a.version : ""}</span> `);
}

function ConfirmDelete({ label, onDelete }) {
  const [armed, setArmed] = useState(false);
  const [error, setError] = useState(null);
  return html`<span>${armed
    ? html`<button class="danger" onClick=${() => onDelete().catch(setError)}>Really delete ${label}</button> <button onClick=${() => setArmed(false)}>Cancel</button>`
    : html`<button class="danger" onClick=${() => setArmed(true)}>Delete ${label}</button>`}<${ErrorBox} error=${error} /></span>`;
}

export function ModelsPage({ query }) {
  const search = query.get("q") || "";
  const [draft, setDraft] = useState(search);
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const res = useAsync(async () => {
    const all = []; let token;
    for (let i = 0; i < 10; i++) {
      const r = await api("registered-models/search", { filter: search ? `name ILIKE '%${search.replace(/'/g, "\\'")}%'` : undefined, max_results: 1000, page_token: token });
      all.push(...(r.registered_models || [])); token = r.next_page_token;
      if (!token) break;
    }
    return all;
  }, [search]);
  const create = async (e) => {
    e.preventDefault();
    try { await post("registered-models/create", { name }); location.hash = href(["models", name]); } catch (err) { setError(err); }
  };
  return html`<div class="page">
    <h1>Registered models</h1>
    <div class="toolbar">
      <form role="search" class="inline" onSubmit=${(e) => { e.preventDefault(); setQuery({ q: draft }); }}>
        <input type="search" aria-label="Search models by name" placeholder="Search models" value=${draft} onInput=${(e) => setDraft(e.target.value)} />
        <button type="submit">Search</button></form>
      <form class="inline" onSubmit=${create}>
        <input aria-label="New model name" placeholder="New model name" required value=${name} onInput=${(e) => setName(e.target.value)} />
        <button type="submit">Create model</button></form>
    </div>
    <${ErrorBox} error=${error || res.error} />
    <table class="data models"><thead><tr><th>Name</th><th>Latest versions</th><th>Aliases</th><th>Tags</th><th>Last modified</th></tr></thead>
      <tbody>${(res.data || []).map((m) => html`<tr key=${m.name}>
        <td><a href=${href(["models", m.name])}>${m.name}</a></td>
        <td>${(m.latest_versions || []).map((v) => html`<a href=${href(["models", m.name, "versions", v.version])}>v${v.version}</a>${v.current_stage && v.current_stage !== "None" ? html` <span class="badge stage">${v.current_stage}</span>` : null} `)}</td>
        <td><${Aliases} aliases=${m.aliases} /></td>
        <td>${(m.tags || []).map((t) => `${t.key}=${t.value}`).join(", ")}</td>
        <td>${fmtTime(m.last_updated_timestamp)}</td></tr>`)}</tbody></table>
    ${res.data && !res.data.length ? html`<p class="muted">No registered models.</p>` : null}
  </div>`;
}

export function ModelPage({ name }) {
  const res = useAsync(async () => {
    const { registered_model: model } = await api("registered-models/get", { name });
    const versions = [];
    let token;
    for (let i = 0; i < 20; i++) {
      const r = await api("model-versions/search", { filter: `name = '${name.replace(/'/g, "\\'")}'`, max_results: 1000, page_token: token });
      versions.push(...(r.model_versions || [])); token = r.next_page_token;
      if (!token) break;
    }
    versions.sort((a, b) => Number(b.version) - Number(a.version));
    return { model, versions };
  }, [name]);
  if (res.error) return html`<div class="page"><${ErrorBox} error=${res.error} /></div>`;
  if (!res.data) return html`<p class="loading">Loading…</p>`;
  const { model, versions } = res.data;
  const aliasesOf = (v) => (model.aliases || []).filter((a) => a.version === v).map((a) => a.alias);
  return html`<div class="page">
    <p class="muted"><a href="#/models">Registered models</a> ›</p>
    <h1>${model.name}</h1>
    <div class="toolbar"><${ConfirmDelete} label="model" onDelete=${() => del("registered-models/delete", { name }).then(() => { location.hash = "#/models"; })} /></div>
    <p class="muted">Created ${fmtTime(model.creation_timestamp)} · last modified ${fmtTime(model.last_updated_timestamp)}</p>
    <div class="cols">
      <section><h2>Description</h2>
        <${Editable} label="Model description" multiline value=${model.description} render=${md}
          onSave=${(v) => patch("registered-models/update", { name, description: v }).then(res.reload)} /></section>
      <section><h2>Tags</h2>
        <${TagEditor} tags=${tagMap(model.tags)} hidePrefix=""
          onSet=${(k, v) => post("registered-models/set-tag", { name, key: k, value: v }).then(res.reload)}
          onDelete=${(k) => del("registered-models/delete-tag", { name, key: k }).then(res.reload)} /></section>
    </div>
    <h2>Versions (${versions.length})</h2>
    <table class="data versions"><thead><tr><th>Version</th><th>Stage</th><th>Aliases</th><th>Created</th><th>Source run</th><th>Description</th></tr></thead>
      <tbody>${versions.map((v) => html`<tr key=${v.version}>
        <td><a href=${href(["models", name, "versions", v.version])}>Version ${v.version}</a></td>
        <td>${v.current_stage}</td><td>${aliasesOf(v.version).map((a) => html`<span class="badge">@${a}</span> `)}</td>
        <td>${fmtTime(v.creation_timestamp)}</td>
        <td>${v.run_id ? html`<a href=${href(["runs", v.run_id])}>${v.run_id.slice(0, 8)}</a>` : ""}</td>
        <td>${v.description || ""}</td></tr>`)}</tbody></table>
  </div>`;
}

// The version's MLmodel and input example, through /model-versions/get-artifact (any source URI).
function useModelFiles(mv) {
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    let live = true;
    const url = (path) => prefixed("/model-versions/get-artifact?" + new URLSearchParams({ name: mv.name, version: mv.version, path }).toString());
    (async () => {
      const mlmodel = (await fetchText(url("MLmodel"))).text;
      const exampleName = (/saved_input_example_info:\n(?:[ \t]+.*\n)*?[ \t]+artifact_path:\s*(\S+)/.exec(mlmodel) || [])[1];
      const example = exampleName ? await fetchText(url(exampleName), 20000).then((r) => r.text, () => null) : null;
      return { mlmodel, signature: parseSignature(mlmodel), example };
    })().then((r) => live && setState({ loading: false, ...r }), (error) => live && setState({ loading: false, error }));
    return () => { live = false; };
  }, [mv.name, mv.version, mv.source]);
  return state;
}

function Transition({ mv, reload }) {
  const [stage, setStage] = useState(mv.current_stage === "Production" ? "Archived" : "Production");
  const [archive, setArchive] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      await post("model-versions/transition-stage", { name: mv.name, version: mv.version, stage, archive_existing_versions: archive });
      setError(null); reload();
    } catch (err) { setError(err); }
  };
  return html`<form class="inline" onSubmit=${submit} aria-label="Stage transition">
    <label>Stage <select aria-label="New stage" value=${stage} onChange=${(e) => setStage(e.target.value)}>${STAGES.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
    <label><input type="checkbox" checked=${archive} onChange=${(e) => setArchive(e.target.checked)} /> Archive existing versions in that stage</label>
    <button type="submit">Transition</button><${ErrorBox} error=${error} /></form>`;
}

function AliasEditor({ mv, reload }) {
  const [alias, setAlias] = useState("");
  const [error, setError] = useState(null);
  const act = async (fn) => { try { await fn(); setError(null); reload(); } catch (e) { setError(e); } };
  return html`<div>
    ${(mv.aliases || []).map((a) => html`<span class="badge" key=${a}>@${a} <button class="link danger" aria-label=${"Remove alias " + a}
      onClick=${() => act(() => del("registered-models/alias", { name: mv.name, alias: a }))}>×</button></span> `)}
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); act(async () => { await post("registered-models/alias", { name: mv.name, alias, version: mv.version }); setAlias(""); }); }}>
      <input aria-label="New alias" placeholder="alias" required value=${alias} onInput=${(e) => setAlias(e.target.value)} />
      <button type="submit">Add alias</button></form><${ErrorBox} error=${error} /></div>`;
}

export function VersionPage({ name, version }) {
  const res = useAsync(() => api("model-versions/get", { name, version }).then((r) => r.model_version), [name, version]);
  if (res.error) return html`<div class="page"><${ErrorBox} error=${res.error} /></div>`;
  if (!res.data) return html`<p class="loading">Loading…</p>`;
  return html`<${VersionBody} mv=${res.data} reload=${res.reload} />`;
}

function VersionBody({ mv, reload }) {
  const files = useModelFiles(mv);
  const { name, version } = mv;
  return html`<div class="page">
    <p class="muted"><a href="#/models">Registered models</a> › <a href=${href(["models", name])}>${name}</a> ›</p>
    <h1>${name} version ${version} <span class="badge stage">${mv.current_stage}</span></h1>
    <div class="toolbar"><${ConfirmDelete} label="version" onDelete=${() => del("model-versions/delete", { name, version }).then(() => { location.hash = href(["models", name]); })} /></div>
    <div class="cols">
      <section><h2>Overview</h2><table class="kv"><tbody>
        <tr><th scope="row">Status</th><td>${mv.status}</td></tr>
        <tr><th scope="row">Created</th><td>${fmtTime(mv.creation_timestamp)}</td></tr>
        <tr><th scope="row">Last modified</th><td>${fmtTime(mv.last_updated_timestamp)}</td></tr>
        <tr><th scope="row">Source run</th><td>${mv.run_id ? html`<a href=${href(["runs", mv.run_id])}>${mv.run_id}</a>` : ""}</td></tr>
        <tr><th scope="row">Source</th><td>${mv.source}</td></tr>
        <tr><th scope="row">Stage</th><td>${mv.current_stage}</td></tr>
      </tbody></table>
      <h2>Stage</h2><${Transition} mv=${mv} reload=${reload} />
      <h2>Aliases</h2><${AliasEditor} mv=${mv} reload=${reload} /></section>
      <section><h2>Description</h2>
        <${Editable} label="Version description" multiline value=${mv.description} render=${md}
          onSave=${(v) => patch("model-versions/update", { name, version, description: v }).then(reload)} />
        <h2>Tags</h2>
        <${TagEditor} tags=${tagMap(mv.tags)} hidePrefix=""
          onSet=${(k, v) => post("model-versions/set-tag", { name, version, key: k, value: v }).then(reload)}
          onDelete=${(k) => del("model-versions/delete-tag", { name, version, key: k }).then(reload)} /></section>
    </div>
    <h2>Signature</h2>
    ${files.loading ? html`<p class="loading">Loading…</p>` : files.error ? html`<${ErrorBox} error=${files.error} />`
      : html`<${Signature} sig=${files.signature} />
        <h2>Input example</h2>${files.example ? html`<pre>${files.example}</pre>` : html`<p class="muted">None saved.</p>`}`}
  </div>`;
}
