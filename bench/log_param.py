"""``log_param``: 2,000 ``mlflow.log_param(f"p{i}", i)`` calls (distinct keys) in one run on SQLite (after
50 warm-up calls in another run); median of 3 runs. CPU time per call is ``process_time`` over the loop
divided by 2,000. Beside it, two raw sqlite3 floors (``bench/_log_calls.py``).

Where a call's time goes: ``python -m bench.log_ladder`` (2026-12-07, load 7-8 on 2 cores, median CPU
per call of 7 alternating rounds of 2,000 calls, each rung on its own copy of one database):

| rung | CPU us per call | share of the raw one-row rate |
|---|---:|---:|
| (a) raw sqlite3: BEGIN IMMEDIATE, one-row INSERT into an unindexed table, COMMIT | 12.3 | 100% |
| (b) raw sqlite3 running fluvial's statement on MLflow's schema alone | 27.9 | 44% |
| (c) the same on fluvial's database (MLflow's schema + fluvial's indexes and triggers) | 51.4 | 24% |
| (d) ``store.log_param`` | 64.8 | 19% |
| (d) ``MlflowClient.log_param`` | 66.1 | 19% |
| (d) ``fluvial.log_param`` (fluent, in an active run) | 67.7 | 18% |

One statement per call: the param is inserted only if its run is active and the key is new (``INSERT
... SELECT ... WHERE EXISTS (active run) ON CONFLICT DO NOTHING``); the run and the old value are read
only when nothing was inserted. From (a) to (b), 15.6 us: ``params`` (the row, its primary key and
``index_params_run_uuid``) after an ``EXISTS`` on ``runs``. From (b) to (c), 23.5 us, fluvial's
objects (each dropped alone from a copy): the value-count triggers 5.9 us (a lookup of the run's
experiment and an upsert into ``fluvial_value_counts``), ``fluvial_params_key_value`` 5.9 us, the
change-log triggers 4.7 us (together 16.5 us; the rest is within the rounds' spread). From (c) to the fluent call, 16.3 us of Python (as for ``log_metric``)."""

from __future__ import annotations

from bench._harness import Row, Side
from bench._log_calls import run_log_calls

NAME = "log_param"
CALLS = 2000
REPEATS = 3


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    return run_log_calls(NAME, "log_param", CALLS, REPEATS, None, fluvial, mlflow)
