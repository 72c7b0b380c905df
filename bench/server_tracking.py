"""``server_tracking``: the tracking server over REST, ``fluvial server`` beside ``mlflow server`` 2.22.5.

Both servers run with 4 workers on a SQLite database in a fresh directory, on 127.0.0.1. The load comes
from the same plain ``http.client`` clients (keep-alive, JSON bodies as the official client sends them),
in separate processes, so the servers are what is measured:

- 1,000 sequential ``runs/log-metric`` requests from one client;
- 100 ``runs/log-batch`` requests of 1,000 metrics from one client;
- the same two with 4 concurrent clients (each its own run);
- ``runs/search`` (filter + order_by, 100 per page) over 5,000 runs: median of 7 after a warm-up;
- the server's idle memory: RSS of the whole process tree (PSS where available) after start-up.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench._harness import BenchServer, Row, Side, copy_sqlite, fresh_dir, log, run_workload

NAME = "server_tracking"
WORKERS = 4
CLIENTS = 4
SEQ_METRICS = 1000
BATCHES, BATCH_SIZE = 100, 1000
SEARCH_RUNS = 5000
BAR_THROUGHPUT, BAR_SEARCH, BAR_MEMORY = 10, 5, 2


def _post(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> dict[str, Any]:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {data[:300]!r}")
    return json.loads(data or b"{}")


def _client(port: int, kind: str, count: int, experiment_id: str) -> float:
    """One load client (in its own process): create a run, then send ``count`` requests; seconds taken."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    run = _post(conn, "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id, "start_time": 1})
    run_id = run["run"]["info"]["run_id"]
    start = time.perf_counter()
    for i in range(count):
        if kind == "metric":
            _post(conn, "/api/2.0/mlflow/runs/log-metric",
                  {"run_id": run_id, "run_uuid": run_id, "key": "m", "value": i * 0.5, "timestamp": 1_700_000_000_000 + i,
                   "step": i})
        else:
            metrics = [{"key": f"k{j % 10}", "value": j * 0.1, "timestamp": 1_700_000_000_000 + i, "step": i * 100 + j // 10}
                       for j in range(BATCH_SIZE)]
            _post(conn, "/api/2.0/mlflow/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _load(port: int, kind: str, total: int, clients: int, experiment_id: str) -> float:
    """Requests per second with ``clients`` concurrent clients sharing ``total`` requests."""
    per = total // clients
    with ProcessPoolExecutor(clients) as pool:
        start = time.perf_counter()
        list(pool.map(_client, [port] * clients, [kind] * clients, [per] * clients, [experiment_id] * clients))
        wall = time.perf_counter() - start
    return per * clients / wall


def _tree_memory_mb(pid: int) -> float:
    """Memory of a process and its descendants: PSS when the kernel reports it, else RSS."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total_kb = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        stack += children.get(current, [])
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            total_kb += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
        except (OSError, StopIteration):
            try:
                status = Path(f"/proc/{current}/status").read_text()
                total_kb += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                pass
    return total_kb / 1024


def _measure(side: Side, populated: Path, search_experiment: str) -> dict[str, float]:
    out: dict[str, float] = {}
    with fresh_dir("server") as workdir:
        copy_sqlite(populated, workdir / "mlflow.db")
        server = BenchServer(side, workdir, WORKERS)
        try:
            time.sleep(3)  # let workers settle before reading idle memory
            out["memory"] = _tree_memory_mb(server.proc.pid)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            exp = _post(conn, "/api/2.0/mlflow/experiments/create", {"name": f"load-{time.time_ns()}"})["experiment_id"]
            search = {"experiment_ids": [search_experiment], "filter": "metrics.m1 > 0.5 AND params.p1 = 'a'",
                      "order_by": ["metrics.m2 DESC"], "max_results": 100, "run_view_type": "ACTIVE_ONLY"}
            _post(conn, "/api/2.0/mlflow/runs/search", search)
            times = []
            for _ in range(7):
                start = time.perf_counter()
                found = _post(conn, "/api/2.0/mlflow/runs/search", search)
                times.append(time.perf_counter() - start)
            out["search_ms"] = statistics.median(times) * 1000
            out["search_hits"] = len(found.get("runs", []))
            conn.close()
            out["metric_seq"] = _load(server.port, "metric", SEQ_METRICS, 1, exp)
            out["batch_seq"] = _load(server.port, "batch", BATCHES, 1, exp) * BATCH_SIZE
            out["metric_par"] = _load(server.port, "metric", SEQ_METRICS, CLIENTS, exp)
            out["batch_par"] = _load(server.port, "batch", BATCHES, CLIENTS, exp) * BATCH_SIZE
        finally:
            server.stop()
    return out


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    with fresh_dir("server-db") as tmp:
        populated = tmp / "populated.db"
        log(f"{NAME}: populating {SEARCH_RUNS:,} runs (5 params, 5 metrics, 3 tags each) with fluvial")
        exp = run_workload(fluvial, "populate", {"runs": SEARCH_RUNS, "params": 5, "metrics": 5, "tags": 3, "seed": 0},
                           timeout=900, keep_db=populated)["experiment_id"]
        results: dict[str, dict[str, float]] = {}
        for side in (fluvial, mlflow):
            if side is None:
                continue
            log(f"{NAME}: {side.label} server, {WORKERS} workers")
            results[side.module] = r = _measure(side, populated, exp)
            log(f"{NAME}: {side.label}: {r['metric_seq']:,.0f} log-metric req/s sequential, "
                f"{r['metric_par']:,.0f} with {CLIENTS} clients; {r['batch_seq']:,.0f} metrics/s batched, "
                f"{r['batch_par']:,.0f} with {CLIENTS} clients; search {r['search_ms']:.1f} ms "
                f"({r['search_hits']:.0f} runs); idle memory {r['memory']:.0f} MB")
    f, m = results["fluvial"], results.get("mlflow", {})
    rows = [
        Row(NAME, "log-metric requests/s, 1 client", "req/s", f["metric_seq"], m.get("metric_seq"), True),
        Row(NAME, f"log-metric requests/s, {CLIENTS} clients", "req/s", f["metric_par"], m.get("metric_par"), True,
            BAR_THROUGHPUT),
        Row(NAME, "log-batch metrics/s, 1 client", "metrics/s", f["batch_seq"], m.get("batch_seq"), True),
        Row(NAME, f"log-batch metrics/s, {CLIENTS} clients", "metrics/s", f["batch_par"], m.get("batch_par"), True,
            BAR_THROUGHPUT),
        Row(NAME, "runs/search over 5,000 runs", "ms", f["search_ms"], m.get("search_ms"), False, BAR_SEARCH),
        Row(NAME, f"idle memory, {WORKERS} workers", "MB", f["memory"], m.get("memory"), False, BAR_MEMORY),
    ]
    return rows, (f"servers with {WORKERS} workers on SQLite; load from plain http.client clients in separate "
                  f"processes; memory is PSS of the server's process tree (RSS where PSS is unavailable).")


if __name__ == "__main__":  # pragma: no cover - manual runs
    sys.exit("run through `python -m bench server_tracking`")
