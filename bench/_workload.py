"""The benchmark workloads, one script for both sides.

    python _workload.py <module> <workload> '<json kwargs>'

imports ``<module>`` (``fluvial`` or ``mlflow``) as ``mlflow`` and runs the same code with it, so both
sides do exactly the same calls. Timings are taken here, inside the process, with
``time.perf_counter`` (wall) and ``time.process_time`` (CPU); set-up and warm-up are not timed.
The last stdout line is ``BENCH-RESULT <json>``. Standard library only (besides ``<module>``): the
harness copies this file into a fresh temporary directory and runs it there with each side's Python.
"""

from __future__ import annotations

import importlib
import json
import random
import sys
import time
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "


def _tracking(mlflow: Any, db: str) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{db}")


def _raw_connection(path: str) -> Any:
    """A standard-library sqlite3 connection with fluvial's settings: WAL, synchronous=NORMAL, a busy
    timeout, transactions issued explicitly (BEGIN IMMEDIATE)."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _timed_commits(conn: Any, calls: int, statements: Any) -> dict:
    """``calls`` x (BEGIN IMMEDIATE; ``statements(cursor, i)``; COMMIT): wall and CPU time."""
    cursor = conn.cursor()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(calls):
        cursor.execute("BEGIN IMMEDIATE")
        statements(cursor, i)
        cursor.execute("COMMIT")
    return {"wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0}


def _raw_commits(db: str, calls: int) -> dict:
    """The floor for a durable one-row write: ``calls`` x (BEGIN IMMEDIATE; one-row INSERT; COMMIT) with
    the standard library's sqlite3 on a WAL file with fluvial's settings (synchronous=NORMAL), into a
    table without indexes in a file of its own."""
    conn = _raw_connection(db + "-raw.db")
    conn.execute("CREATE TABLE IF NOT EXISTS points (key TEXT, value REAL, timestamp INTEGER, step INTEGER, "
                 "run_uuid TEXT)")
    out = _timed_commits(conn, calls, lambda cur, i: cur.execute(
        "INSERT INTO points VALUES (?, ?, ?, ?, ?)", ("m", float(i), 1, i, "r")))
    conn.close()
    return out


# The statements fluvial runs per log_metric / log_param call on SQLite (fluvial/store/tracking/sql/hot.py),
# written out here so that the raw sqlite3 floor runs exactly them on the same database (MLflow's tables
# and indexes, fluvial's indexes and triggers).
_METRIC_IF_ACTIVE = (
    'INSERT INTO metrics ("key", value, timestamp, step, is_nan, run_uuid) SELECT ?, ?, ?, ?, ?, ? '
    "WHERE EXISTS (SELECT * FROM runs WHERE runs.run_uuid = ? AND runs.lifecycle_stage = 'active') "
    "ON CONFLICT DO NOTHING"
)
_LATEST_UPSERT = (
    'INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?) '
    'ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, '
    "step = excluded.step, is_nan = excluded.is_nan WHERE excluded.step > latest_metrics.step OR "
    "excluded.step = latest_metrics.step AND (excluded.timestamp > latest_metrics.timestamp OR "
    "excluded.timestamp = latest_metrics.timestamp AND excluded.value > latest_metrics.value)"
)
_PARAM_IF_ACTIVE = (
    'INSERT INTO params ("key", value, run_uuid) SELECT ?, ?, ? '
    "WHERE EXISTS (SELECT * FROM runs WHERE runs.run_uuid = ? AND runs.lifecycle_stage = 'active') "
    "ON CONFLICT DO NOTHING"
)


def _schema_commits(db: str, run_id: str, what: str, calls: int) -> dict:
    """The floor for fluvial's own statements: ``calls`` transactions, each running the SQL fluvial runs
    for one ``log_metric`` (``what="metric"``) or ``log_param`` call, with the standard library's
    sqlite3 on the benchmark's own database, into the active run ``run_id``: no Python layers at all."""
    conn = _raw_connection(db)
    timestamp = int(time.time() * 1000)

    def metric(cur: Any, i: int) -> None:
        cur.execute(_METRIC_IF_ACTIVE, ("raw", float(i), timestamp, i, 0, run_id, run_id))
        cur.execute(_LATEST_UPSERT, ("raw", float(i), timestamp, i, 0, run_id))

    def param(cur: Any, i: int) -> None:
        if cur.execute(_PARAM_IF_ACTIVE, (f"raw{i}", str(i), run_id, run_id)).rowcount != 1:
            raise SystemExit("the run is not active")

    out = _timed_commits(conn, calls, metric if what == "metric" else param)
    conn.close()
    return out


def log_metric(mlflow: Any, entities: Any, db: str, calls: int, repeats: int, warmup: int,
               raw_baseline: bool = False) -> dict:
    """``calls`` x ``mlflow.log_metric("m", i, step=i)`` in one run, ``repeats`` times (a new run each);
    with ``raw_baseline``, each repeat is followed by as many raw sqlite3 one-row commits
    (``_raw_commits``) and as many transactions of fluvial's own statements (``_schema_commits``), so
    all three see the same load on the machine."""
    _tracking(mlflow, db)
    mlflow.set_experiment("bench")
    with mlflow.start_run():  # warm-up: store, connection pool, first statements
        for i in range(warmup):
            mlflow.log_metric("warmup", i, step=i)
    samples = []
    for _ in range(repeats):
        with mlflow.start_run() as run:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for i in range(calls):
                mlflow.log_metric("m", i, step=i)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            samples.append({"wall": wall, "cpu": cpu})
            if raw_baseline:
                samples[-1]["schema"] = _schema_commits(db, run.info.run_id, "metric", calls)
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")
        if len(history) != calls or max(m.step for m in history) != calls - 1:
            raise SystemExit(f"log_metric: expected {calls} points, found {len(history)}")
        if raw_baseline:
            samples[-1]["raw"] = _raw_commits(db, calls)
    return {"samples": samples}


def log_param(mlflow: Any, entities: Any, db: str, calls: int, repeats: int, warmup: int,
              raw_baseline: bool = False) -> dict:
    """``calls`` x ``mlflow.log_param(f"p{i}", i)`` in one run, ``repeats`` times (a new run each); with
    ``raw_baseline``, the same two floors as ``log_metric`` (for params)."""
    _tracking(mlflow, db)
    mlflow.set_experiment("bench")
    with mlflow.start_run():  # warm-up: store, connection pool, first statements
        for i in range(warmup):
            mlflow.log_param(f"warmup{i}", i)
    samples = []
    for _ in range(repeats):
        with mlflow.start_run() as run:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for i in range(calls):
                mlflow.log_param(f"p{i}", i)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            samples.append({"wall": wall, "cpu": cpu})
            if raw_baseline:
                samples[-1]["schema"] = _schema_commits(db, run.info.run_id, "param", calls)
        params = mlflow.MlflowClient().get_run(run.info.run_id).data.params
        if sum(1 for k in params if k.startswith("p")) != calls or params.get("p7") != "7":
            raise SystemExit(f"log_param: expected {calls} params, found {len(params)}")
        if raw_baseline:
            samples[-1]["raw"] = _raw_commits(db, calls)
    return {"samples": samples}


def async_log_metric(mlflow: Any, entities: Any, db: str, calls: int, repeats: int, warmup: int,
                     tracking_uri: str | None = None) -> dict:
    """``calls`` x ``mlflow.log_metric("m", i, step=i, synchronous=False)`` then
    ``mlflow.flush_async_logging()``, timed together, ``repeats`` times (a new run each); against
    ``tracking_uri`` when given (a server), else the SQLite database."""
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    else:
        _tracking(mlflow, db)
    mlflow.set_experiment("bench")
    with mlflow.start_run():  # warm-up: store, connection pool, the async queue's thread
        for i in range(warmup):
            mlflow.log_metric("warmup", i, step=i, synchronous=False)
        mlflow.flush_async_logging()
    samples = []
    for _ in range(repeats):
        with mlflow.start_run() as run:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for i in range(calls):
                mlflow.log_metric("m", i, step=i, synchronous=False)
            enqueued = time.perf_counter() - wall0
            mlflow.flush_async_logging()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        samples.append({"wall": wall, "cpu": cpu, "enqueue": enqueued})
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")
        if len(history) != calls or max(m.step for m in history) != calls - 1:
            raise SystemExit(f"async_log_metric: expected {calls} points, found {len(history)}")
    return {"samples": samples}


def log_batch(mlflow: Any, entities: Any, db: str, points: int, keys: int, repeats: int) -> dict:
    """One ``MlflowClient().log_batch`` call with ``points`` distinct (key, step) metrics, ``repeats``
    times (a new run each)."""
    _tracking(mlflow, db)
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("bench")
    timestamp = int(time.time() * 1000)
    metrics = [
        entities.Metric(key=f"k{i % keys}", value=i * 0.5, timestamp=timestamp, step=i // keys) for i in range(points)
    ]
    warm = client.create_run(experiment_id)  # warm-up: store, connection pool, first statements
    client.log_batch(warm.info.run_id, metrics=metrics[:keys])
    samples = []
    for _ in range(repeats):
        run_id = client.create_run(experiment_id).info.run_id
        wall0, cpu0 = time.perf_counter(), time.process_time()
        client.log_batch(run_id, metrics=metrics)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        samples.append({"wall": wall, "cpu": cpu})
        history = client.get_metric_history(run_id, "k0")
        latest = client.get_run(run_id).data.metrics
        if len(history) != points // keys or len(latest) != keys:
            raise SystemExit(f"log_batch: expected {points // keys} points of k0, found {len(history)}")
    return {"samples": samples}


def populate(
    mlflow: Any, entities: Any, db: str, runs: int, params: int, metrics: int, tags: int, seed: int
) -> dict:
    """``runs`` finished runs with ``params`` params (p1..), ``metrics`` metrics (m1..) and ``tags`` tags
    (t1..) each, from a seeded generator: every population with the same arguments is the same data."""
    _tracking(mlflow, db)
    rng = random.Random(seed)
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("bench")
    start = 1_700_000_000_000
    for n in range(runs):
        run = client.create_run(experiment_id, start_time=start + n * 1000, run_name=f"run-{n}")
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[entities.Metric(f"m{j}", rng.random(), start + n * 1000, 0) for j in range(1, metrics + 1)],
            params=[entities.Param(f"p{j}", rng.choice("abcd")) for j in range(1, params + 1)],
            tags=[entities.RunTag(f"t{j}", f"tag-{rng.randrange(100)}") for j in range(1, tags + 1)],
        )
        client.set_terminated(run_id, "FINISHED", end_time=start + n * 1000 + 500)
    return {"experiment_id": experiment_id}


def search_runs(
    mlflow: Any,
    entities: Any,
    db: str,
    filter_string: str,
    order_by: list[str],
    max_results: int,
    repeats: int,
    warmup: int,
) -> dict:
    """``MlflowClient().search_runs`` and ``mlflow.search_runs`` (a DataFrame) on a populated database."""
    _tracking(mlflow, db)
    client = mlflow.MlflowClient()
    experiment_id = client.get_experiment_by_name("bench").experiment_id

    def client_search() -> Any:
        return client.search_runs([experiment_id], filter_string, order_by=order_by, max_results=max_results)

    def frame_search() -> Any:
        return mlflow.search_runs(
            experiment_ids=[experiment_id], filter_string=filter_string, order_by=order_by, max_results=max_results
        )

    out: dict[str, Any] = {}
    for name, call in (("client", client_search), ("dataframe", frame_search)):
        for _ in range(warmup):
            result = call()
        samples = []
        for _ in range(repeats):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            result = call()
            samples.append({"wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0})
        out[name] = samples
        if name == "client":
            out["run_ids"] = [r.info.run_id for r in result]
        else:
            out["frame_shape"] = list(result.shape)
            out["frame_run_ids"] = list(result["run_id"])
    return out


def log_metric_remote(mlflow: Any, entities: Any, db: str, uri: str, calls: int, journal: str | None = None) -> dict:
    """``calls`` x ``log_metric`` in one run against the server at ``uri`` (fluvial: in journal mode when
    ``journal`` is given); the loop's wall and CPU time (the journal's sender runs meanwhile)."""
    mlflow.set_tracking_uri(uri)
    if journal:
        mlflow.set_journal_dir(journal)
    with mlflow.start_run():
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for i in range(calls):
            mlflow.log_metric("m", i, step=i)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"samples": [{"wall": wall, "cpu": cpu}]}


WORKLOADS = {"log_metric": log_metric, "log_param": log_param, "async_log_metric": async_log_metric, "log_metric_remote": log_metric_remote, "log_batch": log_batch, "populate": populate, "search_runs": search_runs}


def main(argv: list[str]) -> None:
    module_name, workload, raw_args = argv
    mlflow = importlib.import_module(module_name)
    entities = importlib.import_module(f"{module_name}.entities")
    result = WORKLOADS[workload](mlflow, entities, **json.loads(raw_args))
    result["version"] = getattr(mlflow, "__version__", "?")
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
