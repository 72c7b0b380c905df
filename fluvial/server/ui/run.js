// Run page: overview, description, params, metrics with sparklines, tags, datasets, logged models with
// "register model", and the artifact browser.
import { html, useState, api, post, useAsync, ErrorBox, Editable, Markdown, TagEditor, tagMap, fmtTime, fmtDuration, fmtNum, href } from "./lib.js";
import { ArtifactBrowser } from "./artifacts.js";
import { Sparkline } from "./sparkline.js";

const NOTE = "mlflow.note.content";

export function RegisterModel({ run, artifactPath }) {
  const [name, setName] = useState("");
  const [open, setOpen] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      await post("registered-models/create", { name }).catch((err) => { if (err.code !== "RESOURCE_ALREADY_EXISTS") throw err; });
      const r = await post("model-versions/create", { name, source: artifactPath ? `${run.info.artifact_uri}/${artifactPath}` : run.info.artifact_uri, run_id: run.info.run_id });
      setResult(r.model_version); setError(null); setOpen(false);
    } catch (err) { setError(err); }
  };
  return html`<span class="register">
    ${open ? html`<form class="inline" onSubmit=${submit}>
      <input aria-label=${"Model name for " + artifactPath} placeholder="model name" required value=${name} onInput=${(e) => setName(e.target.value)} />
      <button type="submit">Register</button> <button type="button" onClick=${() => setOpen(false)}>Cancel</button></form>`
      : html`<button onClick=${() => setOpen(true)}>Register model</button>`}
    ${result ? html` Registered <a href=${href(["models", result.name, "versions", result.version])}>${result.name} version ${result.version}</a>` : null}
    <${ErrorBox} error=${error} /></span>`;
}

function loggedModels(tags) {
  try { return JSON.parse(tags["mlflow.log-model.history"] || "[]"); } catch { return []; }
}

export function RunPage({ runId, artifact }) {
  const [error, setError] = useState(null);
  const res = useAsync(async () => {
    const { run } = await api("runs/get", { run_id: runId });
    const children = await post("runs/search", { experiment_ids: [run.info.experiment_id], run_view_type: "ALL", max_results: 100,
      filter: `tags.mlflow.parentRunId = '${runId}'` }).then((r) => r.runs || [], () => []);
    const exp = await api("experiments/get", { experiment_id: run.info.experiment_id }).then((r) => r.experiment, () => null);
    return { run, children, exp };
  }, [runId]);
  if (res.error) return html`<div class="page"><${ErrorBox} error=${res.error} /></div>`;
  if (!res.data) return html`<p class="loading">Loading…</p>`;
  const { run, children, exp } = res.data;
  const { info, data = {}, inputs = {} } = run;
  const tags = tagMap(data.tags);
  const act = async (fn) => { try { await fn(); setError(null); res.reload(); } catch (e) { setError(e); } };
  const parent = tags["mlflow.parentRunId"];
  const metrics = [...(data.metrics || [])].sort((a, b) => a.key.localeCompare(b.key));
  const params = [...(data.params || [])].sort((a, b) => a.key.localeCompare(b.key));
  const deleted = info.lifecycle_stage === "deleted";
  return html`<div class="page run-page">
    <p class="muted"><a href=${href(["experiments", info.experiment_id])}>${exp ? exp.name : "Experiment " + info.experiment_id}</a> ›</p>
    <h1>${info.run_name || info.run_id} <span class="badge">${info.status}</span>${deleted ? html` <span class="badge">deleted</span>` : null}</h1>
    <div class="toolbar">
      <${Editable} label="Run name" button="Rename" value=${info.run_name} render=${() => null}
        onSave=${(v) => post("runs/update", { run_id: runId, run_name: v }).then(res.reload)} />
      ${deleted ? html`<button onClick=${() => act(() => post("runs/restore", { run_id: runId }))}>Restore run</button>`
        : html`<button class="danger" onClick=${() => act(() => post("runs/delete", { run_id: runId }))}>Delete run</button>`}
    </div>
    <${ErrorBox} error=${error} />
    <div class="cols">
      <section aria-labelledby="ov"><h2 id="ov">Overview</h2>
        <table class="kv"><tbody>
          <tr><th scope="row">Run ID</th><td>${info.run_id}</td></tr>
          <tr><th scope="row">Status</th><td>${info.status}</td></tr>
          <tr><th scope="row">Started</th><td>${fmtTime(info.start_time)}</td></tr>
          <tr><th scope="row">Ended</th><td>${fmtTime(info.end_time)}</td></tr>
          <tr><th scope="row">Duration</th><td>${fmtDuration(info.start_time, info.end_time)}</td></tr>
          <tr><th scope="row">User</th><td>${tags["mlflow.user"] || info.user_id}</td></tr>
          <tr><th scope="row">Source</th><td>${tags["mlflow.source.name"] || ""} ${tags["mlflow.source.type"] ? html`<span class="muted">(${tags["mlflow.source.type"]})</span>` : null}</td></tr>
          <tr><th scope="row">Git commit</th><td>${tags["mlflow.source.git.commit"] || ""}</td></tr>
          ${tags["mlflow.project.entryPoint"] ? html`<tr><th scope="row">Entry point</th><td>${tags["mlflow.project.entryPoint"]}</td></tr>` : null}
          <tr><th scope="row">Lifecycle</th><td>${info.lifecycle_stage}</td></tr>
          <tr><th scope="row">Artifact URI</th><td>${info.artifact_uri}</td></tr>
          ${parent ? html`<tr><th scope="row">Parent run</th><td><a href=${href(["experiments", info.experiment_id, "runs", parent])}>${parent}</a></td></tr>` : null}
          ${children.length ? html`<tr><th scope="row">Child runs</th><td>${children.map((c, i) => html`${i ? ", " : ""}<a href=${href(["experiments", info.experiment_id, "runs", c.info.run_id])}>${c.info.run_name || c.info.run_id}</a>`)}</td></tr>` : null}
        </tbody></table>
      </section>
      <section aria-labelledby="desc"><h2 id="desc">Description</h2>
        <${Editable} label="Run description" multiline value=${tags[NOTE]} render=${(v) => v ? html`<${Markdown} text=${v} />` : html`<span class="muted">none</span>`}
          onSave=${(v) => post("runs/set-tag", { run_id: runId, key: NOTE, value: v }).then(res.reload)} />
        <h2>Datasets</h2>
        ${(inputs.dataset_inputs || []).length ? html`<table class="data"><thead><tr><th>name</th><th>digest</th><th>source</th><th>context</th></tr></thead><tbody>
          ${inputs.dataset_inputs.map((d, i) => html`<tr key=${i}><td>${d.dataset.name}</td><td>${d.dataset.digest}</td><td>${d.dataset.source_type}</td>
            <td>${(d.tags || []).map((t) => t.value).join(", ")}</td></tr>`)}</tbody></table>` : html`<p class="muted">None logged.</p>`}
        <h2>Logged models</h2>
        ${loggedModels(tags).length ? html`<ul>${loggedModels(tags).map((m, i) => html`<li key=${i}><strong>${m.artifact_path}</strong>${" "}<span class="muted">${Object.keys(m.flavors || {}).join(", ")}</span>${" "}<${RegisterModel} run=${run} artifactPath=${m.artifact_path} /></li>`)}</ul>`
          : html`<p class="muted">None logged.</p>`}
      </section>
      <section aria-labelledby="params"><h2 id="params">Parameters (${params.length})</h2>
        <table class="kv"><tbody>${params.map((p) => html`<tr key=${p.key}><th scope="row">${p.key}</th><td>${p.value}</td></tr>`)}</tbody></table>
      </section>
      <section aria-labelledby="metrics"><h2 id="metrics">Metrics (${metrics.length})</h2>
        <table class="kv"><tbody>${metrics.map((m) => html`<tr key=${m.key}>
          <th scope="row"><a href=${href(["metric", m.key], { runs: JSON.stringify([runId]), experiments: JSON.stringify([info.experiment_id]) })}>${m.key}</a></th>
          <td>${fmtNum(m.value)}</td><td class="muted">step ${m.step}</td><td><${Sparkline} runId=${runId} metricKey=${m.key} /></td></tr>`)}</tbody></table>
      </section>
      <section aria-labelledby="tags"><h2 id="tags">Tags</h2>
        <${TagEditor} tags=${tags} onSet=${(k, v) => post("runs/set-tag", { run_id: runId, key: k, value: v }).then(res.reload)}
          onDelete=${(k) => post("runs/delete-tag", { run_id: runId, key: k }).then(res.reload)} />
      </section>
    </div>
    <h2>Artifacts</h2>
    <${ArtifactBrowser} runId=${runId} initial=${artifact ? { path: artifact, is_dir: false } : null} actions=${(file) => /(^|\/)MLmodel$/.test(file.path)
      ? html`<${RegisterModel} key=${file.path} run=${run} artifactPath=${file.path.replace(/\/?MLmodel$/, "")} />` : null} />
  </div>`;
}
