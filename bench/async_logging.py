"""``async_logging``: 10,000 ``mlflow.log_metric("m", i, step=i, synchronous=False)`` calls in one run
followed by ``mlflow.flush_async_logging()``, timed together (the flush included), one run per side
after 100 warm-up calls in another run (MLflow's side takes minutes per run here). Once to a local
SQLite database, once through a tracking server (each side's own ``server`` command, 4 workers,
SQLite, 127.0.0.1). The points are checked afterwards with ``get_metric_history``; the log line also
gives the time spent enqueueing alone."""

from __future__ import annotations

from bench._harness import (
    BenchError,
    BenchServer,
    Row,
    Side,
    fmt_samples,
    fresh_dir,
    log,
    median_of,
    run_workload,
)

NAME = "async_logging"
CALLS = 10_000
REPEATS = 1
TIMEOUT = 1500.0


def _measure(side: Side, where: str) -> float | None:
    kwargs: dict = {"calls": CALLS, "repeats": REPEATS, "warmup": 100}
    try:
        if where == "server":
            with fresh_dir("async-server") as workdir:
                server = BenchServer(side, workdir)
                try:
                    kwargs["tracking_uri"] = f"http://127.0.0.1:{server.port}"
                    samples = run_workload(side, "async_log_metric", kwargs, timeout=TIMEOUT)["samples"]
                finally:
                    server.stop()
        else:
            samples = run_workload(side, "async_log_metric", kwargs, timeout=TIMEOUT)["samples"]
    except BenchError as exc:
        if side.module == "fluvial":
            raise
        log(f"{NAME}: {side.label}, {where}: {exc}")
        return None
    wall = median_of(samples, "wall")
    log(f"{NAME}: {side.label}, {where}: {CALLS / wall:,.0f} calls/s incl. flush "
        f"(walls: {fmt_samples(samples)}; enqueue only: {fmt_samples(samples, 'enqueue')})")
    return CALLS / wall


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    rows = []
    slow = []
    for where in ("local", "server"):
        f = _measure(fluvial, where)
        m = _measure(mlflow, where) if mlflow is not None else None
        label = "SQLite" if where == "local" else "through a server"
        if mlflow is not None and m is None:
            slow.append(label)
        rows.append(Row(NAME, f"async log_metric calls/s incl. flush, {label}", "calls/s", f, m, True))
    note = f"{CALLS:,} calls, flush included, one run per side."
    if slow:
        note += f" MLflow did not finish within {TIMEOUT:.0f} s ({', '.join(slow)}): n/a."
    return rows, note
