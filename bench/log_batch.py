"""``log_batch``: one ``MlflowClient().log_batch(run_id, metrics=...)`` call with 10,000 distinct
(key, step) points (10 keys x 1,000 steps); MLflow's client splits it into requests of 1,000, fluvial
stores it in one transaction. Median of 3 calls, each into a new run."""

from __future__ import annotations

from bench._harness import Row, Side, fmt_samples, log, median_of, run_workload

NAME = "log_batch"
POINTS = 10_000
KEYS = 10
REPEATS = 3
BAR = 20


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    kwargs = {"points": POINTS, "keys": KEYS, "repeats": REPEATS}
    results = {}
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: {REPEATS} x log_batch of {POINTS:,} metrics")
        samples = run_workload(side, NAME, kwargs, timeout=600)["samples"]
        wall = median_of(samples, "wall")
        results[side.module] = (POINTS / wall, wall * 1000)
        log(f"{NAME}: {side.label}: {POINTS / wall:,.0f} metrics/s "
            f"(walls: {fmt_samples(samples)})")
    f, m = results["fluvial"], results.get("mlflow")
    rows = [
        Row(NAME, "metrics per second", "metrics/s", f[0], m and m[0], True, BAR),
        Row(NAME, f"one {POINTS:,}-point call", "ms", f[1], m and m[1], False),
    ]
    return rows, f"median of {REPEATS} calls, {KEYS} keys x {POINTS // KEYS:,} steps each."
