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
    raw: list[dict] = []
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: {REPEATS} x {CALLS:,} log_metric calls")
        own = {**kwargs, "raw_baseline": side is fluvial}
        samples = run_workload(side, NAME, own, timeout=600)["samples"]
        wall, cpu = median_of(samples, "wall"), median_of(samples, "cpu")
        results[side.module] = (CALLS / wall, cpu / CALLS * 1e6)
        if side is fluvial:
            raw = [s["raw"] for s in samples]
        log(f"{NAME}: {side.label}: {CALLS / wall:,.0f} calls/s, {cpu / CALLS * 1e6:.0f} us CPU per call "
            f"(walls: {fmt_samples(samples)})")
    f, m = results["fluvial"], results.get("mlflow")
    raw_rate = CALLS / median_of(raw, "wall")
    raw_cpu = median_of(raw, "cpu") / CALLS * 1e6
    log(f"{NAME}: raw sqlite3 one-row WAL commits: {raw_rate:,.0f}/s, {raw_cpu:.0f} us CPU "
        f"(fluvial at {100 * f[0] / raw_rate:.0f}% of it)")
    rows = [
        Row(NAME, "log_metric calls per second", "calls/s", f[0], m and m[0], True, BAR),
        Row(NAME, "CPU time per call", "us", f[1], m and m[1], False),
        Row(NAME, "raw sqlite3 one-row WAL commits per second (same process, same settings)", "commits/s",
            raw_rate, None, True),
        Row(NAME, "fluvial log_metric as a share of raw one-row commits (issue 11 bar: >= 50%)", "%",
            100 * f[0] / raw_rate, None, True),
    ]
    return rows, (f"median of {REPEATS} runs of {CALLS:,} calls each; after each fluvial run, {CALLS:,} raw "
                  "sqlite3 commits (BEGIN IMMEDIATE, a one-row INSERT, COMMIT; WAL, synchronous=NORMAL as in "
                  "fluvial) in the same process.")
