"""``ui_browser``: the web UI in headless Chromium, fluvial's beside MLflow 2.22.5's, on the same data.

Each server (2 workers, SQLite) serves a copy of one seeded database; Debian's ``chromium`` driven by
Playwright opens each view in a fresh browser context (cold cache, 1400x2000 viewport) and times, from
navigation start (the page's ``performance.now()``), until the view is there, then two more animation
frames (painted):

- ``runs``: the experiment's runs page until the 50 newest run names are visible in the viewport
  (links to their run pages); runs are ``bench/_scale_seed.py``'s (5 params, 5 metrics, 6 tags each, 5%
  deleted, another experiment with a tenth as many runs);
- ``metric``: the chart page of one run's 100,000-step metric until the chart is drawn (Plotly holding
  every point for MLflow; the uPlot canvas inside ``[data-testid=chart]`` for fluvial, which fetches a
  series reduced to the chart's width);
- ``compare``: compare of the 100 newest runs until links to all 100 runs are laid out.

Bytes (encoded, as transferred, headers included) and requests are counted per view from the
DevTools protocol until the view is there. Both UIs at 10,000 runs (median of 3); fluvial alone at
1,000,000 runs and with a 10,000,000-point metric (median of 3), on the database after ``fluvial db
upgrade`` (fluvial's search indexes; at 10,000 runs the server builds them when it opens the database).
Seeded databases are cached under ``.bench/ui_browser/``. The bars: every view at least 10x faster than MLflow at 10,000 runs, and under
1 s at 1,000,000 runs.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sqlite3
import statistics
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench._harness import REPO, BenchError, BenchServer, Row, Side, copy_sqlite, fresh_dir, log
from bench._scale_seed import RUN_COLS, T0, seed_sqlite

NAME = "ui_browser"
SMALL, LARGE = 10_000, 1_000_000
STEPS, BIG_POINTS = 100_000, 10_000_000
NEWEST, COMPARED = 50, 100
REPEATS = 3
BAR_RATIO, BAR_SECONDS = 10, 1.0
VIEW_TIMEOUT_MS = 300_000
CACHE = REPO / ".bench" / NAME
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 2000}


# ---- data ----------------------------------------------------------------------------------------------
@dataclass
class Seeded:
    db: Path
    newest: list[tuple[str, str]]  # (run id, name) of the COMPARED newest runs, newest first
    curve: str  # run holding the STEPS-step metric "curve"
    big: str | None  # run holding the BIG_POINTS-point metric "curve" (LARGE only)


def _seed(path: Path, runs: int, big: bool) -> Seeded:
    """``bench/_scale_seed.py``'s runs (MLflow 2.22.5's schema, no fluvial indexes; experiment 1 holds
    ``runs`` runs) plus, in experiment 1, a run with a ``STEPS``-step metric ``curve`` and (``big``) one
    with a ``BIG_POINTS``-point one; cached with the run ids the views use."""
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        data = json.loads(meta.read_text())
        return Seeded(path, [tuple(x) for x in data["newest"]], data["curve"], data["big"])  # type: ignore[misc]
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.with_name(path.stem + "-seeding.db")
    work.unlink(missing_ok=True)
    seed_sqlite(work, runs, lambda m: log(f"{NAME}: {m}"))
    db = sqlite3.connect(work)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    rng = random.Random(12)

    def add_curve(name: str, start: int, count: int, chunk: int = 200_000) -> str:
        rid = uuid.UUID(int=rng.getrandbits(128)).hex
        db.execute(f"INSERT INTO runs ({RUN_COLS}) VALUES (?, ?, 'LOCAL', 'train.py', '', 'bench', 'FINISHED', ?, ?, "
                   "NULL, '', 'active', ?, 1)", (rid, name, start, start + 500, f"/tmp/artifacts/1/{rid}/artifacts"))
        db.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)", (name, rid))
        for lo in range(0, count, chunk):
            db.executemany("INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
                           [("curve", math.sin(s / 5000) + rng.random() * 0.1, T0 + s, s, rid)
                            for s in range(lo, min(count, lo + chunk))])
        db.execute("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
                   ("curve", 0.0, T0 + count - 1, count - 1, rid))
        return rid

    with db:
        # the order of both UIs' runs table: newest start first, run id as the tiebreak
        newest = [(r[0], r[1]) for r in db.execute(
            "SELECT run_uuid, name FROM runs WHERE experiment_id = 1 AND lifecycle_stage = 'active' "
            "ORDER BY start_time DESC, run_uuid LIMIT ?", (COMPARED,))]
        curve = add_curve("curve-100k", T0 - 1000, STEPS)
        big_run = add_curve("curve-10m", T0 - 2000, BIG_POINTS) if big else None
        if big:
            log(f"{NAME}: seeded the {BIG_POINTS:,}-point metric")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    work.rename(path)
    meta.write_text(json.dumps({"newest": newest, "curve": curve, "big": big_run}))
    return Seeded(path, newest, curve, big_run)


# ---- views ---------------------------------------------------------------------------------------------
def _upgraded(data: Seeded, side: Side) -> Seeded:
    """A cached copy of ``data`` after ``fluvial db upgrade`` (fluvial's search indexes), which is what
    fluvial's docs tell users to run on a database of this size; MLflow is measured on its own schema."""
    target = data.db.with_name(data.db.stem + "-upgraded.db")
    if not target.exists():
        import subprocess

        partial = target.with_suffix(".partial")
        copy_sqlite(data.db, partial)
        log(f"{NAME}: fluvial db upgrade on a copy of {data.db.name}")
        proc = subprocess.run([side.python, "-m", "fluvial", "db", "upgrade", f"sqlite:///{partial}"], env=side.env,
                              capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise BenchError(f"fluvial db upgrade failed: {proc.stderr[-1000:]}")
        partial.rename(target)
    return Seeded(target, data.newest, data.curve, data.big)


def _urls(base: str, side: Side, data: Seeded, metric_run: str) -> dict[str, str]:
    runs = json.dumps([rid for rid, _ in data.newest])
    if side.module == "mlflow":  # MLflow 2.22.5's own URL shapes
        metric = (f"{base}/#/metric?runs={quote(json.dumps([metric_run]))}&metric={quote(json.dumps('curve'))}"
                  f"&experiments={quote(json.dumps(['1']))}&plot_metric_keys={quote(json.dumps(['curve']))}"
                  "&plot_layout={}&x_axis=step&y_axis_scale=linear&line_smoothness=1&show_point=false"
                  "&deselected_curves=[]&last_linear_y_axis_range=[]")
    else:
        metric = f"{base}/#/metric/curve?runs={quote(json.dumps([metric_run]))}&experiments={quote(json.dumps(['1']))}"
    return {"runs": f"{base}/#/experiments/1", "metric": metric,
            "compare": f"{base}/#/compare-runs?runs={quote(runs)}&experiments={quote(json.dumps(['1']))}"}


# Conditions evaluated in the page; each returns true once the view is there.
_RUN_NAMES_VISIBLE = """(names) => {
  const want = new Set(names); const h = innerHeight; const w = innerWidth;
  for (const a of document.querySelectorAll('a[href*="/runs/"]')) {
    const t = a.textContent.trim();
    if (!want.has(t)) continue;
    const r = a.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < h && r.left < w && r.right > 0) want.delete(t);
  }
  return want.size === 0;
}"""
_RUN_LINKS_LAID_OUT = """(ids) => {
  const want = new Set(ids);
  for (const a of document.querySelectorAll('a[href*="/runs/"]')) {
    const id = (a.getAttribute('href') || '').split('/runs/')[1]?.split(/[/?#]/)[0];
    if (id && want.has(id)) { const r = a.getBoundingClientRect(); if (r.width > 0 && r.height > 0) want.delete(id); }
  }
  return want.size === 0;
}"""
_CHART_DRAWN = """(points) => {
  for (const g of document.querySelectorAll('.js-plotly-plot')) {
    if (g._fullLayout && (g.data || []).some((d) => d.x && d.x.length >= points)) return true;
  }
  return !!document.querySelector('[data-testid="chart"] .uplot canvas');
}"""
_PAINTED = "() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(performance.now()))))"


def _open(browser: Any, url: str, condition: str, arg: Any) -> dict[str, float]:
    """Milliseconds from navigation start until ``condition`` holds and two frames went by; bytes and
    requests the page transferred until then."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        traffic = {"bytes": 0.0, "requests": 0.0}

        def finished(event: dict[str, Any]) -> None:
            traffic["bytes"] += event.get("encodedDataLength", 0)

        def sent(_: dict[str, Any]) -> None:
            traffic["requests"] += 1

        cdp.on("Network.loadingFinished", finished)
        cdp.on("Network.requestWillBeSent", sent)
        cdp.send("Network.enable")
        page.goto(url, wait_until="commit", timeout=VIEW_TIMEOUT_MS)
        page.wait_for_function(condition, arg=arg, polling=50, timeout=VIEW_TIMEOUT_MS)
        ms = float(page.evaluate(_PAINTED))
        snapshot = dict(traffic)
        return {"ms": ms, "kb": snapshot["bytes"] / 1024, "requests": snapshot["requests"]}
    finally:
        context.close()


def _measure_side(browser: Any, side: Side, data: Seeded, big: bool,
                  failures: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{"curve" | "big": {view: {"ms", "kb", "requests"}}} of one server on a copy of ``data``; views that
    fail (time out) are added to ``failures``."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    with fresh_dir("ui-server") as workdir:
        copy_sqlite(data.db, workdir / "mlflow.db")
        server = BenchServer(side, workdir, workers=2, timeout=1800)
        try:
            import urllib.request

            with urllib.request.urlopen(server.url + "/", timeout=60) as resp:  # the UI is served at all?
                resp.read()
            urls = _urls(server.url, side, data, data.curve)
            names = [name for _, name in data.newest[:NEWEST]]
            checks = [("curve", "runs", urls["runs"], _RUN_NAMES_VISIBLE, names),
                      ("curve", "metric", urls["metric"], _CHART_DRAWN, STEPS if side.module == "mlflow" else 1),
                      ("curve", "compare", urls["compare"], _RUN_LINKS_LAID_OUT, [rid for rid, _ in data.newest[:COMPARED]])]
            if big and data.big:
                checks.append(("big", "metric", _urls(server.url, side, data, data.big)["metric"], _CHART_DRAWN,
                               BIG_POINTS if side.module == "mlflow" else 1))
            for key, view, url, condition, arg in checks:
                try:
                    _open(browser, url, condition, arg)  # warm-up: server caches, lazy imports
                    samples = [_open(browser, url, condition, arg) for _ in range(REPEATS)]
                except Exception as exc:  # Playwright's TimeoutError and errors of the page
                    failures.append(f"{side.label} {key} {view}: {str(exc).splitlines()[0][:160]}")
                    log(f"{NAME}: {failures[-1]}")
                    continue
                out.setdefault(key, {})[view] = {k: statistics.median(s[k] for s in samples) for k in ("ms", "kb", "requests")}
                log(f"{NAME}: {side.label}: {key} {view}: " + ", ".join(f"{s['ms']:.0f} ms" for s in samples)
                    + f" ({out[key][view]['kb']:,.0f} KB, {out[key][view]['requests']:.0f} requests)")
        except Exception as exc:
            log(f"{NAME}: {side.label}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            raise BenchError(f"{side.label}: {exc}") from exc
        finally:
            server.stop()
    return out


def _browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BenchError("Playwright is not installed: .venv/bin/pip install playwright") from exc
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        raise BenchError("Debian's chromium is not installed: apt-get install -y chromium")
    return sync_playwright


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    sync_playwright = _browser()
    small = _seed(CACHE / f"runs-{SMALL}.db", SMALL, big=False)
    large = _seed(CACHE / f"runs-{LARGE}.db", LARGE, big=True)
    results: dict[str, dict[str, dict[str, float]]] = {}
    failures: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            plan = [("mlflow-small", mlflow, small, False), ("fluvial-small", fluvial, small, False),
                    ("fluvial-large", fluvial, _upgraded(large, fluvial), True)]
            for key, side, data, big in plan:
                if side is None:
                    continue
                log(f"{NAME}: {side.label} at {key}")
                try:
                    measured = _measure_side(browser, side, data, big, failures)
                except BenchError as exc:
                    failures.append(f"{key}: {str(exc).splitlines()[0][:200]}")
                    continue
                results[key] = measured.get("curve", {})
                if "big" in measured:
                    results[key.replace("large", "big")] = measured["big"]
        finally:
            browser.close()
    return _rows(results), _note(failures)


def _get(results: dict[str, dict[str, dict[str, float]]], key: str, view: str, what: str) -> float | None:
    return results.get(key, {}).get(view, {}).get(what)


def _rows(results: dict[str, dict[str, dict[str, float]]]) -> list[Row]:
    labels = {"runs": f"{NEWEST} newest run names visible", "metric": f"{STEPS:,}-step metric drawn",
              "compare": f"compare of {COMPARED} runs drawn"}
    rows = []
    for view, label in labels.items():
        rows.append(Row(NAME, f"{label}, {SMALL:,} runs", "ms", _get(results, "fluvial-small", view, "ms"),
                        _get(results, "mlflow-small", view, "ms"), False, BAR_RATIO))
        rows.append(Row(NAME, f"{label}: transferred, {SMALL:,} runs", "KB", _get(results, "fluvial-small", view, "kb"),
                        _get(results, "mlflow-small", view, "kb"), False))
        rows.append(Row(NAME, f"{label}: requests, {SMALL:,} runs", "requests",
                        _get(results, "fluvial-small", view, "requests"), _get(results, "mlflow-small", view, "requests"),
                        False))
    for view, label in labels.items():
        rows.append(Row(NAME, f"{label}, {LARGE:,} runs (bar: < {BAR_SECONDS:g} s)", "ms",
                        _get(results, "fluvial-large", view, "ms"), None, False))
    rows.append(Row(NAME, f"{BIG_POINTS:,}-point metric drawn, {LARGE:,} runs (bar: < {BAR_SECONDS:g} s)", "ms",
                    _get(results, "fluvial-big", "metric", "ms"), None, False))
    rows.append(Row(NAME, f"{BIG_POINTS:,}-point metric drawn: transferred", "KB",
                    _get(results, "fluvial-big", "metric", "kb"), None, False))
    return rows


def _note(failures: list[str]) -> str:
    text = (f"headless Debian chromium ({' '.join(CHROMIUM_ARGS)}), fresh context per load (cold cache), "
            f"median of {REPEATS} after one warm-up load; servers with 2 workers on SQLite. Fluvial-only rows have "
            f"no MLflow column; their bar is absolute (< {BAR_SECONDS:g} s).")
    if failures:
        text += " Not measured: " + "; ".join(failures) + "."
    return text


if __name__ == "__main__":  # pragma: no cover - manual runs
    sys.exit("run through `python -m bench ui_browser`")
