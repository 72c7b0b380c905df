// Page shell and hash router (MLflow's URL shapes).
import { html, render, useRoute, useState, useEffect, api, post, prefixed, parseHash } from "./lib.js";
import { canonical } from "./bookmarks.js";
import { ExperimentsPage } from "./experiments.js";
import { RunsPage } from "./runs.js";

const lazy = (load, name) => function Lazy(props) {
  const [C, setC] = useState(null);
  useEffect(() => { load().then((m) => setC(() => m[name])); }, []);
  return C ? html`<${C} ...${props} />` : html`<p class="loading">Loading…</p>`;
};
const RunPage = lazy(() => import("./run.js"), "RunPage");
const MetricPage = lazy(() => import("./chart.js"), "MetricPage");
const ComparePage = lazy(() => import("./compare.js"), "ComparePage");
const ModelsPage = lazy(() => import("./models.js"), "ModelsPage");
const ModelPage = lazy(() => import("./models.js"), "ModelPage");
const VersionPage = lazy(() => import("./models.js"), "VersionPage");

function UserMenu() {
  const [user, setUser] = useState(null);
  useEffect(() => { api("/ajax-api/2.0/fluvial/users/current").then((d) => setUser(d.user), () => setUser(null)); }, []);
  if (!user) return null;
  const logout = async () => { await post("/ajax-api/2.0/fluvial/users/logout", {}).catch(() => {}); location.href = prefixed("/login"); };
  return html`<span class="usermenu">${user.username}${user.is_admin ? " (admin)" : ""} <button class="link" onClick=${logout}>Log out</button></span>`;
}

function page(route) {
  const [a, b, c, d, e] = route.parts;
  const q = route.query;
  if (!a || a === "experiments" && !b) return html`<${ExperimentsPage} query=${q} />`;
  if (a === "experiments" && c === "runs" && d) return html`<${RunPage} runId=${d} experimentId=${b} artifact=${q.get("artifact")} />`;
  if (a === "experiments") return html`<${RunsPage} experimentIds=${[b]} query=${q} />`;
  if (a === "compare-experiments") return html`<${RunsPage} experimentIds=${JSON.parse(q.get("experiments") || "[]")} query=${q} />`;
  if (a === "runs" && b) return html`<${RunPage} runId=${b} />`;
  if (a === "metric" && b) return html`<${MetricPage} metricKey=${b} query=${q} />`;
  if (a === "compare-runs") return html`<${ComparePage} query=${q} />`;
  if (a === "models" && !b) return html`<${ModelsPage} query=${q} />`;
  if (a === "models" && c === "versions" && d) return html`<${VersionPage} name=${b} version=${d} />`;
  if (a === "models") return html`<${ModelPage} name=${b} />`;
  return html`<div class="page"><h1>Not found</h1><p>No page at this address. <a href="#/">Experiments</a></p></div>`;
}

function App() {
  const route = useRoute();
  const section = route.parts[0] === "models" ? "models" : "experiments";
  useEffect(() => { document.getElementById("main")?.focus({ preventScroll: true }); }, [route.parts.join("/")]);
  return html`<header class="top">
      <a class="brand" href="#/">fluvial</a>
      <nav aria-label="Sections">
        <a href="#/experiments" aria-current=${section === "experiments" ? "page" : null}>Experiments</a>
        <a href="#/models" aria-current=${section === "models" ? "page" : null}>Models</a>
      </nav><${UserMenu} /></header>
    <main id="main" tabindex="-1">${page(route)}</main>`;
}

// MLflow's addresses (bookmarks, shared links) become fluvial's before any page reads them; this listener
// is added before the router's, so the router sees the rewritten address.
function rewriteBookmark() {
  const { parts, query } = parseHash();
  const fixed = canonical(parts, query);
  if (!fixed) return;
  const qs = fixed.query.toString();
  history.replaceState(null, "", "#/" + fixed.parts.map(encodeURIComponent).join("/") + (qs ? "?" + qs : ""));
}
rewriteBookmark();
addEventListener("hashchange", rewriteBookmark);

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
