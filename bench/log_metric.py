"""``log_metric``: 2,000 ``mlflow.log_metric("m", i, step=i)`` calls in one run on SQLite (after 50
warm-up calls in another run); median of 3 runs. CPU time per call is ``process_time`` over the loop
divided by 2,000. Beside it, two raw sqlite3 floors (``bench/_log_calls.py``).

Where a call's time goes (2026-12-07, load 5-8 on 2 cores, CPU per call): raw sqlite3 running fluvial's two
statements (the point inserted if its run is active, the latest value upserted) on the same database
takes about 60-67 us, against about 20 us for a one-row insert into an unindexed table: a point lands
in MLflow's ``metrics`` table (its 6-column primary key and ``index_metrics_run_uuid``), fluvial's
history index and ``latest_metrics`` (its indexes), so a commit writes several pages to the WAL where
the one-row insert writes one. A plain insert into ``metrics`` alone, without the latest-value upsert,
already ran at about 40% of the one-row rate. The rest of fluvial's time (about 50 us) is Python:
the fluent and client layers, validation, the writer queue's turn and the statement calls."""

from __future__ import annotations

from bench._harness import Row, Side
from bench._log_calls import run_log_calls

NAME = "log_metric"
CALLS = 2000
REPEATS = 3
BAR = 50


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    return run_log_calls(NAME, "log_metric", CALLS, REPEATS, BAR, fluvial, mlflow)
