"""Where a durable ``log_metric`` / ``log_param`` call's time goes on SQLite: the cost ladder.

    PYTHONPATH=$PWD .venv/bin/python -m bench.log_ladder [--calls 2000] [--rounds 5]

Not one of ``python -m bench``'s side-by-side benchmarks (MLflow has no ladder): a breakdown printed as a
Markdown table for ``docs/benchmarks.md``. Every rung runs ``calls`` transactions (BEGIN IMMEDIATE, the
statements, COMMIT) in this process with WAL and synchronous=NORMAL, as fluvial does; the rungs take
turns ``rounds`` times and each reports its median CPU time per call (``process_time``):

- (a) a one-row INSERT into a table without indexes: what SQLite itself costs per durable commit;
- (b) the statements fluvial runs per call (``store/tracking/sql/hot.py``), by the standard library's
  sqlite3 on a database with MLflow's schema only (fluvial's indexes, tables and triggers dropped): the
  floor of MLflow's schema;
- (c) the same on a database fluvial has indexed, and again with each of fluvial's indexes or trigger
  groups dropped on its own (the difference is that object's share);
- (d) fluvial's own call, ``fluvial.log_metric`` / ``log_param`` inside a run, and the same call one layer
  down (``MlflowClient``, then the store).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench._workload import _LATEST_UPSERT, _METRIC_IF_ACTIVE, _PARAM_IF_ACTIVE

# fluvial's objects on MLflow's tables, grouped by what they are for; (c) drops one group at a time
GROUPS: dict[str, list[str]] = {
    "index fluvial_metrics_run_key_step": ["INDEX fluvial_metrics_run_key_step"],
    "index fluvial_latest_metrics_key_value": ["INDEX fluvial_latest_metrics_key_value"],
    "index fluvial_params_key_value": ["INDEX fluvial_params_key_value"],
    "change-log triggers on latest_metrics": [f"TRIGGER fluvial_latest_metrics_change_{op}"
                                              for op in ("insert", "update", "delete")],
    "change-log triggers on params": [f"TRIGGER fluvial_params_change_{op}" for op in ("insert", "update", "delete")],
    "value-count triggers on params": [f"TRIGGER fluvial_params_value_count_{op}"
                                       for op in ("insert", "update", "delete")],
    "change-log trim trigger": ["TRIGGER fluvial_run_changes_trim"],
}
TOUCHES = {"metric": ("metrics", "latest_metrics", "change-log trim"), "param": ("params", "change-log trim")}


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _fluvial_db(workdir: str) -> tuple[str, str]:
    """A database made by fluvial (MLflow's schema, fluvial's indexes and triggers) with one active run."""
    import fluvial

    path = os.path.join(workdir, "fluvial.db")
    fluvial.set_tracking_uri(f"sqlite:///{path}")
    client = fluvial.MlflowClient()
    run_id = client.create_run(client.create_experiment("ladder")).info.run_id
    client.log_metric(run_id, "seed", 1.0)
    client.log_param(run_id, "seed", "1")
    from fluvial.store.tracking.sql.engine import dispose_engines

    dispose_engines()
    conn = _connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path, run_id


def _variant(source: str, name: str, drop: list[str]) -> str:
    """A copy of ``source`` without the objects in ``drop`` ("INDEX name", "TRIGGER name", "TABLE name")."""
    target = source.replace("fluvial.db", f"{name}.db")
    shutil.copyfile(source, target)
    conn = _connect(target)
    for obj in drop:
        conn.execute(f"DROP {obj.split()[0]} IF EXISTS {obj.split()[1]}")
    conn.close()
    return target


def _mlflow_only(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'fluvial%' AND type != 'table'")
    objects = [f"{t.upper()} {n}" for t, n in rows]
    tables = conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'fluvial%' AND type = 'table'")
    return objects + [f"TABLE {n}" for (n,) in tables]


def _sql_rung(path: str, run_id: str, what: str, calls: int, tag: list[int]) -> Callable[[], float]:
    """One round of ``calls`` transactions of fluvial's statements: CPU seconds per call."""
    conn = _connect(path)
    timestamp = int(time.time() * 1000)

    def round_() -> float:
        tag[0] += 1
        key = f"k{tag[0]}"
        cur = conn.cursor()
        cpu0 = time.process_time()
        for i in range(calls):
            cur.execute("BEGIN IMMEDIATE")
            if what == "metric":
                cur.execute(_METRIC_IF_ACTIVE, (key, float(i), timestamp, i, 0, run_id, run_id))
                cur.execute(_LATEST_UPSERT, (key, float(i), timestamp, i, 0, run_id))
            else:
                if cur.execute(_PARAM_IF_ACTIVE, (f"{key}.{i}", str(i), run_id, run_id)).rowcount != 1:
                    raise SystemExit("the run is not active")
            cur.execute("COMMIT")
        return (time.process_time() - cpu0) / calls

    return round_


def _raw_rung(workdir: str, calls: int) -> Callable[[], float]:
    conn = _connect(os.path.join(workdir, "raw.db"))
    conn.execute("CREATE TABLE IF NOT EXISTS points (key TEXT, value REAL, timestamp INTEGER, step INTEGER, run_uuid TEXT)")

    def round_() -> float:
        cur = conn.cursor()
        cpu0 = time.process_time()
        for i in range(calls):
            cur.execute("BEGIN IMMEDIATE")
            cur.execute("INSERT INTO points VALUES (?, ?, ?, ?, ?)", ("m", float(i), 1, i, "r"))
            cur.execute("COMMIT")
        return (time.process_time() - cpu0) / calls

    return round_


def _fluvial_rungs(source: str, run_id: str, what: str, calls: int, tag: list[int]) -> dict[str, Callable[[], float]]:
    """fluvial's call at three layers, each on a copy of its own (as every SQL rung), so that no rung
    writes into a bigger database than the others."""
    import fluvial
    from fluvial.entities import Metric, Param

    fluent_db, client_db, store_db = (_variant(source, f"{what}-{layer}", []) for layer in ("fluent", "client", "store"))
    client = fluvial.MlflowClient(f"sqlite:///{client_db}")
    store = fluvial.MlflowClient(f"sqlite:///{store_db}")._store
    fluvial.set_tracking_uri(f"sqlite:///{fluent_db}")
    fluvial.start_run(run_id=run_id)

    def timed(body: Callable[[str, int], Any]) -> Callable[[], float]:
        def round_() -> float:
            fluvial.set_tracking_uri(f"sqlite:///{fluent_db}")  # where the fluent calls go (the run's copy)
            tag[0] += 1
            key = f"f{tag[0]}"
            cpu0 = time.process_time()
            for i in range(calls):
                body(key, i)
            return (time.process_time() - cpu0) / calls
        return round_

    if what == "metric":
        now = int(time.time() * 1000)
        return {
            "(d) fluvial.log_metric (fluent)": timed(lambda k, i: fluvial.log_metric(k, i, step=i)),
            "(d) MlflowClient.log_metric": timed(lambda k, i: client.log_metric(run_id, k, i, step=i)),
            "(d) store.log_metric": timed(lambda k, i: store.log_metric(run_id, Metric(k, float(i), now, i))),
        }
    return {
        "(d) fluvial.log_param (fluent)": timed(lambda k, i: fluvial.log_param(f"{k}.{i}", i)),
        "(d) MlflowClient.log_param": timed(lambda k, i: client.log_param(run_id, f"{k}.{i}", i)),
        "(d) store.log_param": timed(lambda k, i: store.log_param(run_id, Param(f"{k}.{i}", str(i)))),
    }


def ladder(what: str, calls: int, rounds: int) -> list[tuple[str, float, float]]:
    """(rung, median CPU us per call, spread in us) for ``what`` = "metric" or "param"."""
    workdir = tempfile.mkdtemp(prefix="fluvial-ladder-")
    try:
        source, run_id = _fluvial_db(workdir)
        probe = _connect(source)
        mlflow_objects = _mlflow_only(probe)
        probe.close()
        tag = [0]
        rungs: dict[str, Callable[[], float]] = {"(a) raw one-row commit": _raw_rung(workdir, calls)}
        rungs["(b) fluvial's SQL on MLflow's schema only"] = _sql_rung(
            _variant(source, "mlflow", mlflow_objects), run_id, what, calls, tag)
        rungs["(c) fluvial's SQL on fluvial's schema"] = _sql_rung(_variant(source, "full", []), run_id, what, calls, tag)
        for n, (group, objects) in enumerate(GROUPS.items()):
            if any(t in group for t in TOUCHES[what]):
                rungs[f"(c) ... without {group}"] = _sql_rung(_variant(source, f"g{n}", objects), run_id, what, calls, tag)
        rungs.update(_fluvial_rungs(source, run_id, what, calls, tag))
        for body in rungs.values():  # warm-up: statement caches, pages
            body()
        times: dict[str, list[float]] = {name: [] for name in rungs}
        for _ in range(rounds):  # the rungs take turns, so all see the same load
            for name, body in rungs.items():
                times[name].append(body() * 1e6)
        import fluvial

        fluvial.end_run()
        return [(name, statistics.median(t), max(t) - min(t)) for name, t in times.items()]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--what", choices=("metric", "param", "both"), default="both")
    args = parser.parse_args()
    for what in ("metric", "param") if args.what == "both" else (args.what,):
        load = os.getloadavg()[0]
        rows = ladder(what, args.calls, args.rounds)
        print(f"\nlog_{what}: median CPU us per call of {args.rounds} alternating rounds of {args.calls:,} calls; "
              f"load {load:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} cores)\n")
        print("| rung | CPU us/call | spread |\n|---|---:|---:|")
        for name, us, spread in rows:
            print(f"| {name} | {us:.1f} | {spread:.1f} |")


if __name__ == "__main__":
    main()
