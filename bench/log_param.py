"""``log_param``: 2,000 ``mlflow.log_param(f"p{i}", i)`` calls (distinct keys) in one run on SQLite (after
50 warm-up calls in another run); median of 3 runs. CPU time per call is ``process_time`` over the loop
divided by 2,000. Beside it, two raw sqlite3 floors (``bench/_log_calls.py``)."""

from __future__ import annotations

from bench._harness import Row, Side
from bench._log_calls import run_log_calls

NAME = "log_param"
CALLS = 2000
REPEATS = 3


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    return run_log_calls(NAME, "log_param", CALLS, REPEATS, None, fluvial, mlflow)
