"""``python -m bench.scale``: run search, counts and paging at 10k / 100k / 1M runs (issue 11).

Seeds MLflow 2.22.5's schema with bulk SQL (``bench/_scale_seed.py``; cached under ``.bench/``), then
times each query of the issue's table through ``MlflowClient`` in a fresh subprocess per side:
fluvial on a copy carrying its ``fluvial_*`` indexes (built by ``ensure_indexes``, timed), MLflow on
its own schema. MLflow runs at the sizes given by ``--mlflow-max`` (default 100k: at 1M it takes
minutes per query). ``--postgres`` does the same on the PostgreSQL server named by
``FLUVIAL_TEST_POSTGRES_URL`` (``bash scripts/with-postgres.sh .venv/bin/python -m bench.scale
--postgres``). Results: the table between the scale markers in ``docs/benchmarks.md`` and
``docs/scale.png``; raw numbers in ``.bench/scale-results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._harness import REPO, BenchError, Side, copy_sqlite, fluvial_side, log, machine, mlflow_side
from bench._scale_seed import seed_postgres, seed_sqlite

CACHE = Path(os.environ.get("FLUVIAL_SCALE_CACHE") or REPO / ".bench")
RESULTS = Path(os.environ.get("FLUVIAL_SCALE_RESULTS") or CACHE / "scale-results.json")
DOCS = REPO / "docs" / "benchmarks.md"
PLOT = REPO / "docs" / "scale.png"
BEGIN, END = "<!-- scale-begin -->", "<!-- scale-end -->"
HISTORY_BEGIN, HISTORY_END = "<!-- metric-history-begin -->", "<!-- metric-history-end -->"

QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("newest", "newest 100 runs (no filter, default order)", {}),
    ("page2", "second page (page token)", {"page": 2}),
    ("page500", "500th page (page token)", {"page": 500}),
    ("param", "`params.model = 'rf'`", {"filter_string": "params.model = 'rf'"}),
    ("tag", "`tags.team = 'team3'`", {"filter_string": "tags.team = 'team3'"}),
    ("name", "`attributes.run_name LIKE 'run-12345%'`", {"filter_string": "attributes.run_name LIKE 'run-12345%'"}),
    ("metric", "`metrics.acc > 0.5 AND params.model = 'rf'` by `metrics.acc DESC`",
     {"filter_string": "metrics.acc > 0.5 AND params.model = 'rf'", "order_by": ["metrics.acc DESC"]}),
    ("two_exps", "newest 100 over two experiments", {"experiment_ids": ["1", "2"]}),
    ("all", "newest 100, `run_view_type=ALL`", {"run_view_type": 3}),
    ("count", "count of all runs (fluvial `count_runs`)", {"count": True}),
    ("count_param", "count of `params.model = 'rf'`", {"count": True, "filter_string": "params.model = 'rf'"}),
    ("count_tag_all", "count of `tags.team = 'team3'`, two experiments, `run_view_type=ALL`",
     {"count": True, "filter_string": "tags.team = 'team3'", "experiment_ids": ["1", "2"], "run_view_type": 3}),
    ("count_name", "count of `attributes.run_name LIKE 'run-12345%'`",
     {"count": True, "filter_string": "attributes.run_name LIKE 'run-12345%'"}),
    ("count_metric", "count of `metrics.acc > 0.5 AND params.model = 'rf'`",
     {"count": True, "filter_string": "metrics.acc > 0.5 AND params.model = 'rf'"}),
    ("count_range", "count of `metrics.acc > 0.5`", {"count": True, "filter_string": "metrics.acc > 0.5"}),
    ("count_broad", "count of `params.optimizer = 'adam' AND metrics.loss < 1.5 AND tags.env != 'dev' AND "
     "attributes.status = 'FINISHED'`, two experiments, `run_view_type=ALL`",
     {"count": True, "experiment_ids": ["1", "2"], "run_view_type": 3,
      "filter_string": "params.optimizer = 'adam' AND metrics.loss < 1.5 AND tags.env != 'dev' AND "
                       "attributes.status = 'FINISHED'"}),
    ("count_deleted", "count of `metrics.auc <= 0.3 AND params.depth LIKE '1%'`, deleted runs",
     {"count": True, "run_view_type": 2, "filter_string": "metrics.auc <= 0.3 AND params.depth LIKE '1%'"}),
]

# Runs in each side's own Python: ``import <module> as mlflow``; standard library otherwise.
SIDE_SCRIPT = r'''
import base64, importlib, json, sys, time
module, uri, queries, repeats = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
mlflow = importlib.import_module(module)
client = mlflow.MlflowClient(uri)
out = {}
for name, kw in queries:
    kw = dict(kw)
    page, count = kw.pop("page", 1), kw.pop("count", False)
    kw.setdefault("experiment_ids", ["1"])
    if count and not hasattr(client, "count_runs"):
        continue
    token = None
    if page > 1 and module == "mlflow":  # MLflow's tokens are offsets: build the one for that page
        token = base64.b64encode(json.dumps({"offset": (page - 1) * 100}).encode()).decode()
    elif page > 1:  # keyset tokens: walk there (1000 per page, then 100s), untimed
        walked = 0
        while walked < (page - 1) * 100:
            size = 1000 if (page - 1) * 100 - walked >= 1000 else 100
            got = client.search_runs(max_results=size, page_token=token, **kw)
            walked, token = walked + len(got), got.token
            if not token:
                raise SystemExit(f"{name}: the search has fewer than {page} pages")

    def call():
        if count:
            return client.count_runs(kw["experiment_ids"], kw.get("filter_string", ""), kw.get("run_view_type", 1))
        return client.search_runs(max_results=100, page_token=token, **kw)

    w0 = time.perf_counter()
    call()  # warm-up (for a fluvial count, also builds the process's run snapshot)
    first = time.perf_counter() - w0
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = call()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    shown = result if isinstance(result, int) else [r.info.run_id for r in result]
    out[name] = {"wall": sorted(wall)[len(wall) // 2], "cpu": sorted(cpu)[len(cpu) // 2], "result": shown,
                 "first": first}
print("SCALE-RESULT " + json.dumps(out))
'''


def _run_side(side: Side, uri: str, names: list[str], repeats: int, timeout: float) -> dict[str, Any]:
    queries = [(n, kw) for n, _, kw in QUERIES if n in names]
    proc = subprocess.run(
        [side.python, "-c", SIDE_SCRIPT, side.module, uri, json.dumps(queries), str(repeats)],
        cwd=CACHE, env=side.env, capture_output=True, text=True, timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("SCALE-RESULT ")]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"{side.label} at {uri}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return dict(json.loads(lines[-1][len("SCALE-RESULT "):]))


def _sqlite_dbs(n: int) -> tuple[Path, Path, float | None]:
    """(MLflow's copy, fluvial's indexed copy, seconds fluvial took to build its indexes)."""
    CACHE.mkdir(exist_ok=True)
    base = CACHE / f"scale-{n}.db"
    if not base.exists():
        log(f"seeding {n:,} runs into {base} (once; cached)")
        seed_sqlite(base, n, log)
    indexed = CACHE / f"scale-{n}-fluvial.db"
    meta = CACHE / f"scale-{n}-fluvial.json"
    if not indexed.exists() or not meta.exists():
        log(f"copying and indexing {base.name} for fluvial")
        indexed.unlink(missing_ok=True)
        copy_sqlite(base, indexed)
        meta.write_text(json.dumps({"index_s": _build_indexes(f"sqlite:///{indexed}")}))
    return base, indexed, json.loads(meta.read_text())["index_s"]


def _build_indexes(uri: str) -> float:
    from fluvial.store.tracking.sql.engine import dispose_engines, get_engine
    from fluvial.store.tracking.sql.indexes import ensure_indexes

    started = time.perf_counter()
    ensure_indexes(get_engine(uri), log)
    dispose_engines()
    return time.perf_counter() - started


def _postgres_dbs(n: int) -> tuple[str, float]:
    """One PostgreSQL database per size (MLflow is timed before fluvial's indexes exist)."""
    import sqlalchemy as sa

    from fluvial.store.tracking.sql.engine import normalize_db_uri

    admin_url = normalize_db_uri(os.environ["FLUVIAL_TEST_POSTGRES_URL"])
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"scale_{n}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    started = time.perf_counter()
    log(f"seeding {n:,} runs into PostgreSQL {name}")
    seed_postgres(url, n, log)
    return url, time.perf_counter() - started


def measure(sizes: list[int], mlflow_max: int, postgres: bool, repeats: int) -> dict[str, Any]:
    fluvial, mlflow = fluvial_side(), mlflow_side()
    # counts time the run snapshot once built (the warm-up builds it), not SQL answering while a
    # background thread builds it (the server's default)
    fluvial.env.setdefault("FLUVIAL_COUNT_SNAPSHOT", "sync")
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    backend = "postgresql" if postgres else "sqlite"
    for n in sizes:
        entry: dict[str, Any] = {"n": n, "load": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d")}
        names = [q[0] for q in QUERIES if q[0] != "page500" or n >= 100_000]
        if postgres:  # one database: MLflow is timed before fluvial's indexes exist
            url, entry["seed_s"] = _postgres_dbs(n)
            fluvial_uri, mlflow_uri = url, url.replace("+psycopg", "")  # MLflow's venv has psycopg2
        else:  # MLflow on the seeded file, fluvial on an indexed copy
            base, indexed, entry["index_s"] = _sqlite_dbs(n)
            fluvial_uri, mlflow_uri = f"sqlite:///{indexed}", f"sqlite:///{base}"
        if mlflow is not None and n <= mlflow_max:
            log(f"{backend} {n:,}: MLflow")
            entry["mlflow"] = _run_side(mlflow, mlflow_uri, names, repeats, 3600)
            entry["mlflow_date"], entry["mlflow_load"] = entry["date"], os.getloadavg()[0]
        if postgres:
            entry["index_s"] = _build_indexes(fluvial_uri)
        log(f"{backend} {n:,}: fluvial")
        entry["fluvial"] = _run_side(fluvial, fluvial_uri, names, repeats, 3600)
        entry["load_after"] = os.getloadavg()[0]
        for name in names:
            f, m = entry["fluvial"].get(name), entry.get("mlflow", {}).get(name)
            if f and m and f["result"] != m["result"]:
                raise BenchError(f"{backend} {n:,} {name}: fluvial and MLflow disagree")
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}  # another backend's run may have written
        earlier = results.get(f"{backend}-{n}", {})
        if "mlflow" not in entry and "mlflow" in earlier:  # MLflow not rerun at this size: keep its last columns
            entry.update({k: earlier[k] for k in ("mlflow", "mlflow_date", "mlflow_load") if k in earlier})
        results[f"{backend}-{n}"] = entry
        RESULTS.write_text(json.dumps(results, indent=1))
        log(f"{backend} {n:,}: " + ", ".join(f"{k} {v['wall'] * 1000:.1f} ms" for k, v in entry["fluvial"].items()))
    return results


def _ms(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "-"
    return f"{cell['wall'] * 1000:,.1f} ({cell['cpu'] * 1000:,.1f})"


def _entries(results: dict[str, Any], backend: str) -> list[dict[str, Any]]:
    return sorted((v for k, v in results.items() if k.startswith(backend)), key=lambda e: e["n"])


def _size_note(e: dict[str, Any]) -> str:
    before, after = f"{e['load']:.1f}", f"{e['load_after']:.1f}"
    note = (f"{e['n']:,} runs: fluvial measured {e['date']} at load {before}"
            + (f"-{after}" if after != before else "") + f", indexes built in {e['index_s']:.1f} s")
    if "mlflow" in e:
        note += f"; MLflow measured {e['mlflow_date']} at load {e['mlflow_load']:.1f}"
    return note


def write_docs(results: dict[str, Any]) -> None:
    lines = [BEGIN, "## Scale: search, paging and counts at 10k / 100k / 1M runs (`bench/scale.py`)", "",
             "Milliseconds through `MlflowClient`, median of 3 after a warm-up: wall (CPU of the client",
             "process, which for SQLite includes the database work; on PostgreSQL the server's work is in",
             "the wall time only). Each run: 5 params, 5 metrics, 6 tags; experiment 1 holds N runs (5%",
             "deleted), experiment 2 another N/10. fluvial runs on a copy with its `fluvial_*` indexes",
             "(built by `ensure_indexes`, as `fluvial db upgrade` does), MLflow 2.22.5 on its own schema;",
             "where both ran, they returned the same runs (checked). `-`: not run (counts are a fluvial",
             "extension; MLflow on SQLite at 1M was not run: issue 11 measured it at 2.2-20 s per page, and",
             "its metric AND param query took 65 s at 100k). fluvial runs with",
             "`FLUVIAL_COUNT_SNAPSHOT=sync`, so the warm-up builds the run snapshot a count needs.", "",
             "This machine has 2 cores; the load average of each run is given below each table. At a load",
             "above 2 other jobs shared the CPU and wall times are inflated; the CPU column is steadier.",
             "Whether a query scales shows in how its time changes from 10k to 1M; that the indexes are",
             "used is checked by the EXPLAIN tests (`tests/contract/test_search_plans.py`), not by these",
             "timings. How each query is answered (keyset pages over the `fluvial_*` indexes, a selectivity",
             "probe that picks the driving filter, per-value counters and the columnar run snapshot for",
             "counts) is in docs/architecture.md.", ""]
    for backend in ("sqlite", "postgresql"):
        entries = _entries(results, backend)
        if not entries:
            continue
        head = ["query"] + [f"{side} {e['n'] // 1000:,}k" for e in entries for side in ("fluvial", "MLflow")
                            if side == "fluvial" or "mlflow" in e]
        lines += [f"### {'SQLite' if backend == 'sqlite' else 'PostgreSQL'}", "",
                  "| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        for name, label, _ in QUERIES:
            cells = [label]
            for e in entries:
                cells.append(_ms(e["fluvial"].get(name)))
                if "mlflow" in e:
                    cells.append(_ms(e["mlflow"].get(name)))
            lines.append("| " + " | ".join(cells) + " |")
        lines += [""] + [f"- {_size_note(e)}" for e in entries] + [""]
    m = machine()
    lines += [f"Machine: {m['cpu']} ({m['cores']} cores), "
              f"{m['os']}, Python {m['python']}, SQLite {m['sqlite']}.", "",
              "![cost against size](scale.png)", "",
              "Rerun: `.venv/bin/python -m bench.scale` (SQLite, MLflow up to 100k) and `bash scripts/with-postgres.sh "
              ".venv/bin/python -m bench.scale --postgres --mlflow-max 1000000`; `--sizes` picks sizes, and a size",
              "where MLflow is not rerun keeps its last MLflow columns (`.bench/scale-results.json`).", END]
    text = DOCS.read_text() if DOCS.exists() else ""
    if HISTORY_BEGIN in text and HISTORY_END in text:  # bench/metric_history.py's subsection is kept as is
        lines[-1:-1] = ["", text[text.index(HISTORY_BEGIN):text.index(HISTORY_END) + len(HISTORY_END)]]
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(text)


PLOTTED = ("newest", "page500", "param", "tag", "name", "metric", "count", "count_param", "count_metric")


def plot(results: dict[str, Any]) -> None:
    """One colour per query; fluvial solid with dots, MLflow 2.22.5 dashed with crosses; the 50 ms page
    and 100 ms count limits of issue 11 as grey lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    labels = {name: label.replace("`", "") for name, label, _ in QUERIES}
    colours = {name: f"C{i}" for i, name in enumerate(PLOTTED)}  # matplotlib's ten-colour cycle
    fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharey=True)
    for ax, backend in zip(axes, ("sqlite", "postgresql"), strict=True):
        entries = _entries(results, backend)
        ax.set_title("SQLite" if backend == "sqlite" else "PostgreSQL")
        for name in PLOTTED:
            for side, style in (("fluvial", {"marker": "o"}), ("mlflow", {"marker": "x", "linestyle": "--"})):
                pts = [(e["n"], e[side][name]["wall"] * 1000) for e in entries if name in e.get(side, {})]
                if pts:
                    ax.plot(*zip(*pts, strict=True), color=colours[name], **style)  # type: ignore[arg-type]
        for limit, text in ((50, "50 ms: a page"), (100, "100 ms: a count")):
            ax.axhline(limit, color="grey", linewidth=0.8, linestyle=":")
            ax.annotate(text, (0.99, limit), xycoords=("axes fraction", "data"), fontsize=7, color="grey",
                        ha="right", va="bottom")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("runs in the experiment")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms per query (wall, median of 3)")
    handles = [Line2D([], [], color=colours[n], linewidth=3) for n in PLOTTED]
    handles += [Line2D([], [], color="black", marker="o"), Line2D([], [], color="black", marker="x", linestyle="--")]
    names = [labels[n] for n in PLOTTED] + ["fluvial", "MLflow 2.22.5"]
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    fig.savefig(PLOT, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--mlflow-max", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--docs-only", action="store_true", help="rewrite the docs from .bench/scale-results.json")
    args = parser.parse_args(argv)
    if args.postgres and not os.environ.get("FLUVIAL_TEST_POSTGRES_URL"):
        print("--postgres needs FLUVIAL_TEST_POSTGRES_URL: run under scripts/with-postgres.sh", file=sys.stderr)
        return 2
    if args.docs_only:
        results = json.loads(RESULTS.read_text())
    else:
        results = measure([int(s) for s in args.sizes.split(",")], args.mlflow_max, args.postgres, args.repeats)
    write_docs(results)
    plot(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
