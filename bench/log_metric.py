"""``log_metric``: 2,000 ``mlflow.log_metric("m", i, step=i)`` calls in one run on SQLite (after 50
warm-up calls in another run); median of 3 runs. CPU time per call is ``process_time`` over the loop
divided by 2,000."""

from __future__ import annotations

from bench._harness import Row, Side, fmt_samples, log, median_of, run_workload

NAME = "log_metric"
CALLS = 2000
REPEATS = 3
BAR = 50


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    kwargs = {"calls": CALLS, "repeats": REPEATS, "warmup": 50}
    results = {}
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: {REPEATS} x {CALLS:,} log_metric calls")
        samples = run_workload(side, NAME, kwargs, timeout=600)["samples"]
        wall, cpu = median_of(samples, "wall"), median_of(samples, "cpu")
        results[side.module] = (CALLS / wall, cpu / CALLS * 1e6)
        log(f"{NAME}: {side.label}: {CALLS / wall:,.0f} calls/s, {cpu / CALLS * 1e6:.0f} us CPU per call "
            f"(walls: {fmt_samples(samples)})")
    f, m = results["fluvial"], results.get("mlflow")
    rows = [
        Row(NAME, "log_metric calls per second", "calls/s", f[0], m and m[0], True, BAR),
        Row(NAME, "CPU time per call", "us", f[1], m and m[1], False),
    ]
    return rows, f"median of {REPEATS} runs of {CALLS:,} calls each."
