// Shared helpers: rendering (htm bound to Preact), the REST client, routing, formatting, safe markdown.
import { h, render } from "./vendor/preact.js";
import { useState, useEffect, useRef, useMemo, useCallback } from "./vendor/preact-hooks.js";
import htm from "./vendor/htm.js";

export const html = htm.bind(h);
export { h, render, useState, useEffect, useRef, useMemo, useCallback };

const PREFIX = document.querySelector('meta[name="fluvial-prefix"]')?.content || "";

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// Call the REST API. GET/DELETE send `body` as a query string (arrays as repeated keys), others as JSON.
export async function api(path, body = undefined, method = "GET") {
  let url = PREFIX + (path.startsWith("/") ? path : "/ajax-api/2.0/mlflow/" + path);
  const init = { method, headers: {} };
  if (body !== undefined && (method === "GET")) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(body)) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
    }
    url += "?" + q.toString();
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const resp = await fetch(url, init);
  const text = await resp.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { message: text }; }
  if (!resp.ok) throw new ApiError(resp.status, data.error_code || "ERROR", data.message || resp.statusText);
  return data;
}
export const post = (path, body) => api(path, body, "POST");

export function prefixed(path) { return PREFIX + path; }

// ---- routing: "#/experiments/1?x=y" -> {parts: ["experiments","1"], query: URLSearchParams}
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, qs = ""] = raw.split("?", 2);
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs) };
}
export function href(parts, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const qs = q.toString();
  return "#/" + parts.map(encodeURIComponent).join("/") + (qs ? "?" + qs : "");
}
export function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
// Replace query keys of the current route without adding a history entry.
export function setQuery(changes) {
  const { parts, query } = parseHash();
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) query.delete(k);
    else query.set(k, Array.isArray(v) ? JSON.stringify(v) : v);
  }
  const qs = query.toString();
  history.replaceState(null, "", "#/" + parts.map(encodeURIComponent).join("/") + (qs ? "?" + qs : ""));
  dispatchEvent(new HashChangeEvent("hashchange"));
}
// Lists in query strings: MLflow writes runs=["a","b"]; accept that and comma lists.
export function queryList(query, key) {
  const v = query.get(key);
  if (!v) return [];
  try { const parsed = JSON.parse(v); if (Array.isArray(parsed)) return parsed.map(String); } catch { /* comma list */ }
  return v.split(",").filter(Boolean);
}

// ---- data hooks
export function useAsync(fn, deps) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    fn().then((data) => live && setState({ loading: false, data, error: null }),
      (error) => live && setState({ loading: false, data: null, error }));
    return () => { live = false; };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

// ---- formatting
export function fmtTime(ms) {
  if (!ms) return "";
  const d = new Date(Number(ms));
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
export function fmtDuration(start, end) {
  if (!start || !end) return "";
  let s = (Number(end) - Number(start)) / 1000;
  if (s < 60) return s.toFixed(1) + "s";
  if (s < 3600) return (s / 60).toFixed(1) + "min";
  if (s < 86400) return (s / 3600).toFixed(1) + "h";
  return (s / 86400).toFixed(1) + "d";
}
export function fmtNum(v) {
  if (v === undefined || v === null || v === "") return "";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const a = Math.abs(n);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? n.toExponential(4) : String(Number(n.toPrecision(6)));
}
export function fmtBytes(n) {
  if (n === undefined || n === null) return "";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0; let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + " " + u[i];
}
export const tagMap = (tags) => Object.fromEntries((tags || []).map((t) => [t.key, t.value]));

// ---- markdown: a small subset rendered to vnodes (text is never parsed as HTML)
function inline(text) {
  const out = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*]+\*|_[^_]+_)|(\[[^\]]+\]\([^)\s]+\))/g;
  let last = 0; let m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const t = m[0];
    if (m[1]) out.push(h("code", null, t.slice(1, -1)));
    else if (m[2]) out.push(h("strong", null, t.slice(2, -2)));
    else if (m[3]) out.push(h("em", null, t.slice(1, -1)));
    else {
      const [, label, url] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(t);
      out.push(/^(https?:|mailto:|#)/i.test(url) ? h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, label) : label);
    }
    last = m.index + t.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
export const InlineMarkdown = ({ text }) => h("span", null, inline(String(text || "")));
export function Markdown({ text }) {
  const blocks = [];
  const lines = String(text || "").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const code = []; i++;
      while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
      i++; blocks.push(h("pre", null, h("code", null, code.join("\n")))); continue;
    }
    const head = /^(#{1,4})\s+(.*)$/.exec(line);
    if (head) { blocks.push(h("h" + (head[1].length + 2), null, inline(head[2]))); i++; continue; }
    if (/^\s*[-*]\s+/.test(line)) {
      const items = [];
      while (i < lines.length && /^\s*[-*]\s+/.test(lines[i])) items.push(h("li", null, inline(lines[i++].replace(/^\s*[-*]\s+/, ""))));
      blocks.push(h("ul", null, items)); continue;
    }
    if (!line.trim()) { i++; continue; }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^(```|#{1,4}\s|\s*[-*]\s)/.test(lines[i])) para.push(lines[i++]);
    blocks.push(h("p", null, inline(para.join(" "))));
  }
  return h("div", { class: "markdown" }, blocks);
}

// ---- small shared components
export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${error.code && error.code !== "ERROR" ? error.code + ": " : ""}${error.message || String(error)}</div>`;
}
export function Editable({ value, label, onSave, multiline = false, render: show, button = "Edit" }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(value || "");
  const [error, setError] = useState(null);
  if (!editing) {
    return html`<div class="editable">${show ? show(value) : value || html`<span class="muted">none</span>`}
      <button class="link" aria-label=${"Edit " + label} onClick=${() => { setDraft(value || ""); setEditing(true); }}>${button}</button></div>`;
  }
  const save = async (e) => {
    e.preventDefault();
    try { await onSave(draft); setEditing(false); setError(null); } catch (err) { setError(err); }
  };
  return html`<form class="editable" onSubmit=${save}>
    ${multiline
      ? html`<textarea aria-label=${label} rows="6" value=${draft} onInput=${(e) => setDraft(e.target.value)}></textarea>`
      : html`<input aria-label=${label} value=${draft} onInput=${(e) => setDraft(e.target.value)} />`}
    <button type="submit">Save</button> <button type="button" onClick=${() => setEditing(false)}>Cancel</button>
    <${ErrorBox} error=${error} /></form>`;
}
// Key/value tags with add, edit (re-set) and delete.
export function TagEditor({ tags, onSet, onDelete, hidePrefix = "mlflow." }) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState(null);
  const shown = Object.entries(tags || {}).filter(([k]) => !hidePrefix || !k.startsWith(hidePrefix));
  const act = async (fn) => { try { await fn(); setError(null); } catch (e) { setError(e); } };
  return html`<div class="tags">
    <table class="kv"><tbody>
      ${shown.map(([k, v]) => html`<tr key=${k}><th scope="row">${k}</th><td>${v}</td>
        <td><button class="link" aria-label=${"Edit tag " + k} onClick=${() => { setKey(k); setValue(v); }}>Edit</button>
        <button class="link danger" aria-label=${"Delete tag " + k} onClick=${() => act(() => onDelete(k))}>Delete</button></td></tr>`)}
    </tbody></table>
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); act(async () => { await onSet(key, value); setKey(""); setValue(""); }); }}>
      <input aria-label="Tag key" placeholder="key" value=${key} onInput=${(e) => setKey(e.target.value)} required />
      <input aria-label="Tag value" placeholder="value" value=${value} onInput=${(e) => setValue(e.target.value)} />
      <button type="submit">Set tag</button>
    </form><${ErrorBox} error=${error} /></div>`;
}
