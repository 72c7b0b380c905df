"""``async_logging``: 10,000 ``mlflow.log_metric("m", i, step=i, synchronous=False)`` calls in one run
followed by ``mlflow.flush_async_logging()``, timed together (the flush included), median of 3 runs
(after 100 warm-up calls in another run). Once to a local SQLite database, once through a tracking
server (each side's own ``server`` command, 4 workers, SQLite, 127.0.0.1). The points are checked
afterwards with ``get_metric_history``."""

from __future__ import annotations

from bench._harness import Row, Side, fmt_samples, fresh_dir, log, median_of, run_workload
from bench.server_tracking import _Server

NAME = "async_logging"
CALLS = 10_000
REPEATS = 3


def _measure(side: Side, where: str) -> float:
    kwargs = {"calls": CALLS, "repeats": REPEATS, "warmup": 100}
    if where == "server":
        with fresh_dir("async-server") as workdir:
            server = _Server(side, workdir)
            try:
                kwargs["tracking_uri"] = f"http://127.0.0.1:{server.port}"
                samples = run_workload(side, "async_log_metric", kwargs, timeout=900)["samples"]
            finally:
                server.stop()
    else:
        samples = run_workload(side, "async_log_metric", kwargs, timeout=900)["samples"]
    wall = median_of(samples, "wall")
    log(f"{NAME}: {side.label}, {where}: {CALLS / wall:,.0f} calls/s incl. flush "
        f"(walls: {fmt_samples(samples)}; enqueue only: {fmt_samples(samples, 'enqueue')})")
    return CALLS / wall


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    rows = []
    for where in ("local", "server"):
        f = _measure(fluvial, where)
        m = _measure(mlflow, where) if mlflow is not None else None
        label = "SQLite" if where == "local" else "through a server"
        rows.append(Row(NAME, f"async log_metric calls/s incl. flush, {label}", "calls/s", f, m, True))
    return rows, f"median of {REPEATS} runs of {CALLS:,} calls each, flush included."
