"""``journal``: journal mode (docs/journal.md). (1) 2,000 ``log_metric`` calls in journal mode against a
running ``fluvial server`` (its sender thread replaying meanwhile) beside the same calls into a local
SQLite store (target: within 2x). (2) Sync throughput: 20,000 metric points logged offline, then
``fluvial sync`` into a ``fluvial server``, beside MLflow 2.22.5's own client logging 2,000 points with
``log_metric`` to its own server (points per second)."""

from __future__ import annotations

import subprocess
import time

from bench._harness import BenchServer, Row, Side, fresh_dir, log, median_of, run_workload

NAME = "journal"
CALLS = 2000
SYNC_POINTS = 20_000


def _journal_logging(fluvial: Side) -> tuple[float, float]:
    """(journal-mode calls/s, local SQLite calls/s)."""
    local = run_workload(fluvial, "log_metric", {"calls": CALLS, "repeats": 3, "warmup": 50}, timeout=600)
    local_rate = CALLS / median_of(local["samples"], "wall")
    with fresh_dir("journal-server") as workdir:
        server = BenchServer(fluvial, workdir, workers=1)
        try:
            walls = []
            for i in range(3):
                result = run_workload(fluvial, "log_metric_remote",
                                      {"uri": server.url, "calls": CALLS, "journal": str(workdir / f"j{i}")},
                                      timeout=600)
                walls.append(result["samples"][0]["wall"])
        finally:
            server.stop()
    walls.sort()
    return CALLS / walls[1], local_rate


def _sync_rate(fluvial: Side) -> float:
    with fresh_dir("journal-sync") as workdir:
        journal = workdir / "journal"
        env = {**fluvial.env, "FLUVIAL_JOURNAL_FLUSH_TIMEOUT": "0"}
        run_workload(Side(fluvial.label, fluvial.python, fluvial.module, env), "log_metric_remote",
                     {"uri": "http://127.0.0.1:9", "calls": SYNC_POINTS, "journal": str(journal)}, timeout=600)
        (workdir / "srv").mkdir()
        server = BenchServer(fluvial, workdir / "srv", workers=1)
        try:
            start = time.perf_counter()
            subprocess.run([fluvial.python, "-m", "fluvial", "sync", str(journal), "--tracking-uri", server.url],
                           env=fluvial.env, check=True, capture_output=True, timeout=600)
            return SYNC_POINTS / (time.perf_counter() - start)
        finally:
            server.stop()


def _mlflow_client_rate(mlflow: Side) -> float:
    with fresh_dir("journal-mlflow") as workdir:
        server = BenchServer(mlflow, workdir, workers=1)
        try:
            result = run_workload(mlflow, "log_metric_remote", {"uri": server.url, "calls": CALLS}, timeout=900)
        finally:
            server.stop()
    return CALLS / result["samples"][0]["wall"]


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    log(f"{NAME}: {CALLS:,} log_metric calls in journal mode vs local SQLite")
    journal_rate, local_rate = _journal_logging(fluvial)
    log(f"{NAME}: journal mode {journal_rate:,.0f} calls/s, local SQLite {local_rate:,.0f} calls/s")
    sync_rate = _sync_rate(fluvial)
    log(f"{NAME}: fluvial sync {sync_rate:,.0f} points/s")
    mlflow_rate = _mlflow_client_rate(mlflow) if mlflow is not None else None
    rows = [
        Row(NAME, "log_metric calls/s in journal mode (server up, sender running)", "calls/s", journal_rate, None, True),
        Row(NAME, "log_metric calls/s into local SQLite (fluvial)", "calls/s", local_rate, None, True),
        Row(NAME, "points/s to a server: fluvial sync vs MLflow's client log_metric", "points/s", sync_rate,
            mlflow_rate, True),
    ]
    return rows, (f"journal mode is {local_rate / journal_rate:.2f}x the time of local SQLite per call "
                  f"(target <= 2x); sync of {SYNC_POINTS:,} journaled points.")
