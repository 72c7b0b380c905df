"""``search_runs``: 5,000 finished runs with 5 params, 5 metrics and 3 tags each in one experiment,
populated once with fluvial (seeded random values) and copied for both sides (the schema is MLflow's).
Timed: ``MlflowClient().search_runs([exp_id], "metrics.m1 > 0.5 AND params.p1 = 'a'",
order_by=["metrics.m2 DESC"], max_results=100)`` and the same query through ``mlflow.search_runs`` to a
pandas DataFrame; median of 5 after 1 warm-up. Both sides must return the same runs in the same order."""

from __future__ import annotations

import time

from bench._harness import BenchError, Row, Side, fresh_dir, log, median_of, run_workload

NAME = "search_runs"
RUNS = 5000
FILTER = "metrics.m1 > 0.5 AND params.p1 = 'a'"
ORDER_BY = ["metrics.m2 DESC"]
MAX_RESULTS = 100
REPEATS = 5
BAR = 10


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    with fresh_dir(NAME) as scratch:
        db = scratch / "populated.db"
        log(f"{NAME}: populating {RUNS:,} runs (5 params, 5 metrics, 3 tags each) with fluvial")
        start = time.perf_counter()
        run_workload(
            fluvial, "populate", {"runs": RUNS, "params": 5, "metrics": 5, "tags": 3, "seed": 20250101},
            timeout=600, keep_db=db,
        )
        populate_s = time.perf_counter() - start
        log(f"{NAME}: populated in {populate_s:.1f}s; the same file is copied for each side")
        kwargs = {"filter_string": FILTER, "order_by": ORDER_BY, "max_results": MAX_RESULTS,
                  "repeats": REPEATS, "warmup": 1}
        results = {}
        for side in (fluvial, mlflow):
            if side is None:
                continue
            log(f"{NAME}: {side.label}: 1 warm-up + {REPEATS} searches, client and DataFrame")
            results[side.module] = out = run_workload(side, NAME, kwargs, timeout=600, db_from=db)
            log(f"{NAME}: {side.label}: client {median_of(out['client']) * 1000:.1f} ms, "
                f"DataFrame {median_of(out['dataframe']) * 1000:.1f} ms, {len(out['run_ids'])} runs")
    f, m = results["fluvial"], results.get("mlflow")
    if len(f["run_ids"]) != MAX_RESULTS:
        raise BenchError(f"{NAME}: fluvial returned {len(f['run_ids'])} runs, expected {MAX_RESULTS}")
    agree = ""
    if m is not None:
        if f["run_ids"] != m["run_ids"] or f["frame_run_ids"] != m["frame_run_ids"]:
            raise BenchError(f"{NAME}: fluvial and MLflow returned different runs (or orders) for the same query")
        agree = " Both sides returned the same 100 runs in the same order."
        if f["frame_shape"] != m["frame_shape"]:
            agree += f" DataFrame shapes differ: fluvial {f['frame_shape']}, MLflow {m['frame_shape']}."
    rows = [
        Row(NAME, "MlflowClient.search_runs, 100 of 5,000 runs", "ms", median_of(f["client"]) * 1000,
            m and median_of(m["client"]) * 1000, False, BAR),
        Row(NAME, "mlflow.search_runs to a DataFrame", "ms", median_of(f["dataframe"]) * 1000,
            m and median_of(m["dataframe"]) * 1000, False, BAR),
    ]
    return rows, (f"populated with fluvial in {populate_s:.0f}s, then copied to both sides; "
                  f"median of {REPEATS} after 1 warm-up.{agree}")
