// Experiments list: search, create, rename, delete/restore, description (markdown), tags.
import { html, useState, api, post, useAsync, ErrorBox, Editable, Markdown, InlineMarkdown, TagEditor, tagMap, fmtTime, setQuery, href } from "./lib.js";

const NOTE = "mlflow.note.content";

function Experiment({ exp, reload, checked, onToggle }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState(null);
  const tags = tagMap(exp.tags);
  const deleted = exp.lifecycle_stage === "deleted";
  const act = async (fn) => { try { await fn(); setError(null); reload(); } catch (e) { setError(e); } };
  return html`<li><input type="checkbox" aria-label=${"Select " + exp.name} checked=${checked} onChange=${onToggle} />
    <div class=${"exp" + (deleted ? " deleted" : "")}><div class="row">
      <a class="name" href=${href(["experiments", exp.experiment_id])}>${exp.name}</a>
      <span class="muted">id ${exp.experiment_id}</span>
      ${deleted ? html`<span class="badge">deleted</span>` : null}
      <span class="muted">${fmtTime(exp.last_update_time || exp.creation_time)}</span>
      ${Object.entries(tags).filter(([k]) => !k.startsWith("mlflow.")).slice(0, 5).map(([k, v]) => html`<span class="badge" key=${k}>${k}: ${v}</span>`)}
      <span class="spacer"></span>
      <button class="link" aria-expanded=${open} aria-label=${"Details of " + exp.name} onClick=${() => setOpen(!open)}>${open ? "Hide" : "Details"}</button>
      ${deleted
        ? html`<button class="link" onClick=${() => act(() => post("experiments/restore", { experiment_id: exp.experiment_id }))}>Restore</button>`
        : html`<button class="link danger" aria-label=${"Delete " + exp.name} onClick=${() => act(() => post("experiments/delete", { experiment_id: exp.experiment_id }))}>Delete</button>`}
    </div>
    ${!open && tags[NOTE] ? html`<div class="muted summary"><${InlineMarkdown} text=${tags[NOTE].split("\n")[0].slice(0, 200)} /></div>` : null}
    ${open ? html`<div class="details">
      <h3>Name</h3>
      <${Editable} label="Experiment name" value=${exp.name} onSave=${(v) => post("experiments/update", { experiment_id: exp.experiment_id, new_name: v }).then(reload)} />
      <h3>Description</h3>
      <${Editable} label="Experiment description" multiline value=${tags[NOTE]} render=${(v) => v ? html`<${Markdown} text=${v} />` : html`<span class="muted">none</span>`}
        onSave=${(v) => post("experiments/set-experiment-tag", { experiment_id: exp.experiment_id, key: NOTE, value: v }).then(reload)} />
      <h3>Tags</h3>
      <${TagEditor} tags=${tags}
        onSet=${(k, v) => post("experiments/set-experiment-tag", { experiment_id: exp.experiment_id, key: k, value: v }).then(reload)}
        onDelete=${(k) => post("experiments/delete-experiment-tag", { experiment_id: exp.experiment_id, key: k }).then(reload)} />
      <p class="muted">Artifact location: ${exp.artifact_location}</p>
    </div>` : null}
    <${ErrorBox} error=${error} /></div>
  </li>`;
}

export function ExperimentsPage({ query }) {
  const search = query.get("q") || "";
  const view = query.get("view") || "ACTIVE_ONLY";
  const [draft, setDraft] = useState(search);
  const [name, setName] = useState("");
  const [createError, setCreateError] = useState(null);
  const [selected, setSelected] = useState([]);
  const filter = search ? `name ILIKE '%${search.replace(/'/g, "\\'")}%'` : undefined;
  const res = useAsync(async () => {
    const all = []; let token;
    for (let i = 0; i < 20; i++) {
      const r = await post("experiments/search", { max_results: 1000, filter, view_type: view, order_by: ["last_update_time DESC"], page_token: token });
      all.push(...(r.experiments || [])); token = r.next_page_token;
      if (!token) break;
    }
    return all;
  }, [filter, view]);
  const create = async (e) => {
    e.preventDefault();
    try { await post("experiments/create", { name }); setName(""); setCreateError(null); res.reload(); } catch (err) { setCreateError(err); }
  };
  const toggle = (id) => setSelected(selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id]);
  return html`<div class="page">
    <h1>Experiments</h1>
    <div class="toolbar">
      <form role="search" class="inline" onSubmit=${(e) => { e.preventDefault(); setQuery({ q: draft }); }}>
        <input type="search" aria-label="Search experiments by name" placeholder="Search experiments" value=${draft} onInput=${(e) => setDraft(e.target.value)} />
        <button type="submit">Search</button>
      </form>
      <label><input type="checkbox" checked=${view !== "ACTIVE_ONLY"} onChange=${(e) => setQuery({ view: e.target.checked ? "ALL" : "" })} /> Show deleted</label>
      <form class="inline" onSubmit=${create}>
        <input aria-label="New experiment name" placeholder="New experiment name" value=${name} onInput=${(e) => setName(e.target.value)} required />
        <button type="submit">Create</button>
      </form>
      ${selected.length > 1 ? html`<a class="button" href=${href(["compare-experiments"], { experiments: JSON.stringify(selected) })}>Compare ${selected.length} experiments</a>` : null}
    </div>
    <${ErrorBox} error=${createError || res.error} />
    ${res.loading && !res.data ? html`<p class="loading">Loading…</p>` : null}
    <ul class="experiments">
      ${(res.data || []).map((exp) => html`<${Experiment} key=${exp.experiment_id} exp=${exp} reload=${res.reload}
        checked=${selected.includes(exp.experiment_id)} onToggle=${() => toggle(exp.experiment_id)} />`)}
    </ul>
    ${res.data && !res.data.length ? html`<p class="muted">No experiments match.</p>` : null}
  </div>`;
}
