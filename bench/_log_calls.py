"""Shared by ``log_metric`` and ``log_param``: one durable call per transaction on SQLite, fluvial beside
MLflow and beside two raw sqlite3 floors measured in the fluvial process right after each repeat.

- *raw one-row commits*: BEGIN IMMEDIATE, a one-row INSERT into a table without indexes, COMMIT (the
  floor named by issue 11: what SQLite itself manages per durable transaction on this machine);
- *fluvial's statements*: the SQL fluvial runs per call (``fluvial/store/tracking/sql/hot.py``), run by
  the standard library's sqlite3 on the benchmark's own database (MLflow's tables and indexes plus
  fluvial's indexes and triggers): the floor for this schema, with no Python layer above the driver.

Both use WAL and synchronous=NORMAL as fluvial does, so a commit is durable against a killed process
when it returns, and neither fsyncs per commit."""

from __future__ import annotations

import os

from bench._harness import Row, Side, fmt_samples, log, median_of, run_workload


def run_log_calls(name: str, call: str, calls: int, repeats: int, bar: float | None,
                  fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    """Run workload ``name`` (``_workload.log_metric`` / ``log_param``) on both sides; ``call`` names
    the API call in the rows."""
    kwargs = {"calls": calls, "repeats": repeats, "warmup": 50}
    load_before = os.getloadavg()[0]
    results = {}
    floors: list[dict] = []
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{name}: {side.label}: {repeats} x {calls:,} {call} calls")
        own = {**kwargs, "raw_baseline": side is fluvial}
        samples = run_workload(side, name, own, timeout=900)["samples"]
        wall, cpu = median_of(samples, "wall"), median_of(samples, "cpu")
        results[side.module] = (calls / wall, cpu / calls * 1e6)
        if side is fluvial:
            floors = samples
        log(f"{name}: {side.label}: {calls / wall:,.0f} calls/s, {cpu / calls * 1e6:.0f} us CPU per call "
            f"(walls: {fmt_samples(samples)})")
    f, m = results["fluvial"], results.get("mlflow")
    raw = [s["raw"] for s in floors]
    schema = [s["schema"] for s in floors]
    raw_rate, raw_cpu = calls / median_of(raw, "wall"), median_of(raw, "cpu") / calls * 1e6
    schema_rate, schema_cpu = calls / median_of(schema, "wall"), median_of(schema, "cpu") / calls * 1e6
    log(f"{name}: raw sqlite3 one-row WAL commits: {raw_rate:,.0f}/s, {raw_cpu:.0f} us CPU; fluvial's statements "
        f"by raw sqlite3: {schema_rate:,.0f}/s, {schema_cpu:.0f} us CPU (fluvial at {100 * f[0] / raw_rate:.0f}% "
        f"and {100 * f[0] / schema_rate:.0f}% of them)")
    rows = [
        Row(name, f"{call} calls per second", "calls/s", f[0], m and m[0], True, bar),
        Row(name, "CPU time per call", "us", f[1], m and m[1], False),
        Row(name, "raw sqlite3 one-row WAL commits per second (same process, same settings)", "commits/s",
            raw_rate, None, True),
        Row(name, "raw sqlite3 one-row WAL commit: CPU time", "us", raw_cpu, None, False),
        Row(name, f"raw sqlite3 running fluvial's {call} statements on the same database, per second",
            "commits/s", schema_rate, None, True),
        Row(name, f"raw sqlite3 running fluvial's {call} statements: CPU time", "us", schema_cpu, None, False),
        Row(name, f"fluvial {call} as a share of raw one-row commits (issue 11 bar: >= 50%)", "%",
            100 * f[0] / raw_rate, None, True),
        Row(name, f"fluvial {call} as a share of raw sqlite3 running its statements", "%",
            100 * f[0] / schema_rate, None, True),
    ]
    load = f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after (1 min, {os.cpu_count()} cores)"
    note = (f"{load}; median of {repeats} runs of {calls:,} calls each. After each fluvial run, in the same process: "
            f"{calls:,} raw sqlite3 one-row commits (BEGIN IMMEDIATE, an INSERT into an unindexed table, COMMIT) "
            f"and {calls:,} transactions of the statements fluvial runs per {call} call, on the same database "
            "(both WAL, synchronous=NORMAL, as fluvial). Under load, wall rates swing with the other jobs; "
            "CPU time per call is the steadier measure.")
    return rows, note
