"""``auth``: what ``--app-name basic-auth`` costs. The same server (2 workers, SQLite) is measured without
auth and with it, for fluvial and for MLflow 2.22.5, from one keep-alive ``http.client`` client; the two
servers run side by side and are measured in 5 alternating rounds (median round), so load changes on
the machine hit both alike:

- sequential ``runs/log-metric`` requests into the user's own run (MANAGE via ownership);
- ``runs/search`` requests (100 runs per page, ordered by a metric) over an experiment of 1,000 runs
  (populated by fluvial beforehand, readable through ``default_permission = READ``).

Each round sends requests for 6 s; rates are requests per second.

With auth every request carries HTTP Basic credentials of a non-admin user, so the full check runs:
credentials, then the run's/experiment's permission. Cost = 1 - authenticated rate / plain rate."""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench._harness import BenchServer, Row, Side, copy_sqlite, fresh_dir, log, run_workload

NAME = "auth"
WORKERS = 2
RUNS, ROUNDS, SECONDS = 1000, 5, 6.0
ADMIN, ADMIN_PASSWORD = "admin", "bench-admin-password"
USER, PASSWORD = "bench-user", "bench-user-password"


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: dict[str, Any],
             headers: dict[str, str]) -> dict[str, Any]:
    conn.request(method, path, json.dumps(body), {"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {data[:300]!r}")
    return json.loads(data or b"{}")


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _ini(workdir: Path) -> Path:
    ini = workdir / "basic_auth.ini"
    ini.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{workdir / 'auth.db'}\n"
                   f"admin_username = {ADMIN}\nadmin_password = {ADMIN_PASSWORD}\n"
                   "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    return ini


class _Target:
    """One running server (with or without auth) on a copy of a database holding an experiment of RUNS
    runs (readable by everyone: default READ), the user's own experiment and run, a keep-alive client."""

    def __init__(self, side: Side, workdir: Path, auth: bool, populated: Path, search_experiment: str) -> None:
        copy_sqlite(populated, workdir / "mlflow.db")
        extra, env = [], {}
        if auth:
            extra = ["--app-name", "basic-auth"]
            env = {"MLFLOW_AUTH_CONFIG_PATH": str(_ini(workdir)), "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret"}
        self.server = BenchServer(side, workdir, WORKERS, extra=extra, env=env)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        self.creds: dict[str, str] = {}
        if auth:
            self.call("/api/2.0/mlflow/users/create", {"username": USER, "password": PASSWORD},
                      _basic(ADMIN, ADMIN_PASSWORD))
            self.creds = _basic(USER, PASSWORD)
        self.exp = search_experiment
        own = self.call("/api/2.0/mlflow/experiments/create", {"name": "bench-own"})["experiment_id"]
        self.run_id = self.call("/api/2.0/mlflow/runs/create", {"experiment_id": own, "start_time": 1})[
            "run"]["info"]["run_id"]
        self.step = 0

    def call(self, path: str, body: dict[str, Any], creds: dict[str, str] | None = None) -> dict[str, Any]:
        return _request(self.conn, "POST", path, body, self.creds if creds is None else creds)

    def metrics(self, seconds: float) -> float:
        """log-metric requests per second over about ``seconds`` (at least 3 requests)."""
        start = time.perf_counter()
        count = 0
        while count < 3 or time.perf_counter() - start < seconds:
            count += 1
            self.step += 1
            self.call("/api/2.0/mlflow/runs/log-metric", {"run_id": self.run_id, "run_uuid": self.run_id, "key": "m",
                                                           "value": self.step * 0.5, "timestamp": self.step,
                                                           "step": self.step})
        return count / (time.perf_counter() - start)

    def searches(self, seconds: float) -> float:
        search = {"experiment_ids": [self.exp], "max_results": 100, "order_by": ["metrics.m1 DESC"]}
        start = time.perf_counter()
        count = 0
        while count < 3 or time.perf_counter() - start < seconds:
            count += 1
            self.call("/api/2.0/mlflow/runs/search", search)
        return count / (time.perf_counter() - start)

    def stop(self) -> None:
        self.conn.close()
        self.server.stop()


def _measure(side: Side, populated: Path, search_experiment: str) -> dict[str, dict[str, float]]:
    """Both configurations running at once, measured in alternating rounds (so a change of machine
    load hits both alike); the median round of each."""
    samples: dict[str, dict[str, list[float]]] = {c: {"metric": [], "search": []} for c in ("no auth", "basic-auth")}
    with fresh_dir("auth-plain") as plain_dir, fresh_dir("auth-on") as auth_dir:
        targets: dict[str, _Target] = {}
        try:
            targets["no auth"] = _Target(side, plain_dir, False, populated, search_experiment)
            targets["basic-auth"] = _Target(side, auth_dir, True, populated, search_experiment)
            for target in targets.values():  # warm-up: caches, connections, the first password check
                target.metrics(0.5)
                target.searches(0.5)
            for _ in range(ROUNDS):
                for config, target in targets.items():
                    samples[config]["metric"].append(target.metrics(SECONDS))
                    samples[config]["search"].append(target.searches(SECONDS))
        finally:
            for target in targets.values():
                target.stop()
    return {c: {k: statistics.median(v) for k, v in d.items()} for c, d in samples.items()}


def _run_sides(fluvial: Side, mlflow: Side | None, populated: Path, exp: str,
               results: dict[str, dict[str, dict[str, float]]]) -> None:
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: log-metric and runs/search requests with and without auth, in {ROUNDS} "
            f"alternating rounds of {SECONDS:.0f} s each")
        results[side.module] = _measure(side, populated, exp)
        for label, r in results[side.module].items():
            log(f"{NAME}: {side.label}, {label}: {r['metric']:,.1f} log-metric req/s, {r['search']:,.1f} search req/s")


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    with fresh_dir("auth-db") as tmp:
        populated = tmp / "populated.db"
        log(f"{NAME}: populating {RUNS:,} runs with fluvial")
        exp = run_workload(fluvial, "populate", {"runs": RUNS, "params": 5, "metrics": 5, "tags": 3, "seed": 0},
                           timeout=900, keep_db=populated)["experiment_id"]
        _run_sides(fluvial, mlflow, populated, exp, results)
    rows: list[Row] = []
    for key, what in (("metric", "log-metric"), ("search", "runs/search")):
        f = results["fluvial"]
        m = results.get("mlflow")
        rows.append(Row(NAME, f"{what} requests/s with basic-auth", "req/s", f["basic-auth"][key],
                        m and m["basic-auth"][key], True))
        cost_f = 100 * (1 - f["basic-auth"][key] / f["no auth"][key])
        cost_m = 100 * (1 - m["basic-auth"][key] / m["no auth"][key]) if m else None
        rows.append(Row(NAME, f"{what}: cost of auth", "%", max(cost_f, 0.01), cost_m and max(cost_m, 0.01), False))
    return rows, (f"servers with {WORKERS} workers on SQLite, one keep-alive client, {ROUNDS} alternating rounds of "
                  f"{SECONDS:.0f} s; a non-admin user's Basic credentials on every request; cost = 1 - rate with "
                  "auth / rate without (0.01 when not measurable). MLflow verifies the scrypt password hash on "
                  "every request.")


if __name__ == "__main__":  # pragma: no cover - manual runs
    import sys

    sys.exit("run through `python -m bench auth`")
