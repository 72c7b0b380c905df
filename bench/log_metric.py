"""``log_metric``: 2,000 ``mlflow.log_metric("m", i, step=i)`` calls in one run on SQLite (after 50
warm-up calls in another run); median of 3 runs. CPU time per call is ``process_time`` over the loop
divided by 2,000. Beside it, two raw sqlite3 floors (``bench/_log_calls.py``).

Where a call's time goes: ``python -m bench.log_ladder`` (2026-12-07, load 7-8 on 2 cores, median CPU
per call of 7 alternating rounds of 2,000 calls, each rung on its own copy of one database):

| rung | CPU us per call | share of the raw one-row rate |
|---|---:|---:|
| (a) raw sqlite3: BEGIN IMMEDIATE, one-row INSERT into an unindexed table, COMMIT | 12.0 | 100% |
| (b) raw sqlite3 running fluvial's two statements on MLflow's schema alone | 33.6 | 36% |
| (c) the same on fluvial's database (MLflow's schema + fluvial's indexes and triggers) | 52.9 | 23% |
| (d) ``store.log_metric`` | 67.0 | 18% |
| (d) ``MlflowClient.log_metric`` | 70.2 | 17% |
| (d) ``fluvial.log_metric`` (fluent, in an active run) | 73.1 | 16% |

From (a) to (b), 21.6 us: MLflow's tables themselves. The point goes into ``metrics`` (the row, its
6-column primary key and ``index_metrics_run_uuid``: three B-trees) after an ``EXISTS`` on ``runs``,
and the latest value into ``latest_metrics``, so a commit writes four or more pages to the WAL where
the one-row insert writes one. From (b) to (c), 19.3 us, fluvial's objects (each dropped alone from a
copy): the change-log triggers on ``latest_metrics`` 6.3 us, the history index
``fluvial_metrics_run_key_step`` 5.5 us, ``fluvial_latest_metrics_key_value`` 3.2 us (together 15 us; the rest is within the rounds' spread;
the change log's trim trigger: not measurable). From (c) to the fluent call, 20.2 us of Python: the writer's turn (a
thread lock and ``flock`` on ``<db>-lock``, about 3.5 us), the driver's BEGIN/COMMIT and statement
calls, validation and the row tuple, the ``Metric`` entity, the metric-summary counter, the client and
the fluent layer (active run, store lookup, the async-logging switch). Issue 11's bar (>= 50% of (a))
means at most about 24 us per durable call: above what SQLite does for MLflow's tables at all (b)."""

from __future__ import annotations

from bench._harness import Row, Side
from bench._log_calls import run_log_calls

NAME = "log_metric"
CALLS = 2000
REPEATS = 3
BAR = 50


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    return run_log_calls(NAME, "log_metric", CALLS, REPEATS, BAR, fluvial, mlflow)
