"""``auth``: what ``--app-name basic-auth`` costs. The same server (2 workers, SQLite) is measured without
auth and with it, for fluvial and for MLflow 2.22.5, from one keep-alive ``http.client`` client; the two
servers run side by side and are measured in 5 alternating rounds (median round), so load changes on
the machine hit both alike:

- 1,000 sequential ``runs/log-metric`` requests (as a non-admin user holding MANAGE via ownership);
- 100 ``runs/search`` requests (100 runs per page) over an experiment of 1,000 runs.

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

from bench._harness import Row, Side, fresh_dir, log
from bench.server_tracking import _Server

NAME = "auth"
WORKERS = 2
METRICS, SEARCHES, RUNS, ROUNDS = 1000, 100, 1000, 5
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
    """One running server (with or without auth), an experiment of RUNS runs and a keep-alive client."""

    def __init__(self, side: Side, workdir: Path, auth: bool) -> None:
        extra, env = [], {}
        if auth:
            extra = ["--app-name", "basic-auth"]
            env = {"MLFLOW_AUTH_CONFIG_PATH": str(_ini(workdir)), "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret"}
        self.server = _Server(side, workdir, extra, env, WORKERS)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        self.creds: dict[str, str] = {}
        if auth:
            self.call("/api/2.0/mlflow/users/create", {"username": USER, "password": PASSWORD},
                      _basic(ADMIN, ADMIN_PASSWORD))
            self.creds = _basic(USER, PASSWORD)
        self.exp = self.call("/api/2.0/mlflow/experiments/create", {"name": "bench"})["experiment_id"]
        self.run_id = ""
        for i in range(RUNS):
            self.run_id = self.call("/api/2.0/mlflow/runs/create", {"experiment_id": self.exp, "start_time": i})[
                "run"]["info"]["run_id"]
        self.step = 0

    def call(self, path: str, body: dict[str, Any], creds: dict[str, str] | None = None) -> dict[str, Any]:
        return _request(self.conn, "POST", path, body, self.creds if creds is None else creds)

    def metrics(self, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            self.step += 1
            self.call("/api/2.0/mlflow/runs/log-metric", {"run_id": self.run_id, "run_uuid": self.run_id, "key": "m",
                                                           "value": self.step * 0.5, "timestamp": self.step,
                                                           "step": self.step})
        return count / (time.perf_counter() - start)

    def searches(self, count: int) -> float:
        search = {"experiment_ids": [self.exp], "max_results": 100, "order_by": ["attributes.start_time DESC"]}
        start = time.perf_counter()
        for _ in range(count):
            self.call("/api/2.0/mlflow/runs/search", search)
        return count / (time.perf_counter() - start)

    def stop(self) -> None:
        self.conn.close()
        self.server.stop()


def _measure(side: Side) -> dict[str, dict[str, float]]:
    """Both configurations running at once, measured in alternating rounds (so a change of machine
    load hits both alike); the median round of each."""
    samples: dict[str, dict[str, list[float]]] = {c: {"metric": [], "search": []} for c in ("no auth", "basic-auth")}
    with fresh_dir("auth-plain") as plain_dir, fresh_dir("auth-on") as auth_dir:
        targets: dict[str, _Target] = {}
        try:
            targets["no auth"] = _Target(side, plain_dir, False)
            targets["basic-auth"] = _Target(side, auth_dir, True)
            for target in targets.values():  # warm-up: caches, connections, the first password check
                target.metrics(20)
                target.searches(2)
            for _ in range(ROUNDS):
                for config, target in targets.items():
                    samples[config]["metric"].append(target.metrics(METRICS // ROUNDS))
                    samples[config]["search"].append(target.searches(SEARCHES // ROUNDS))
        finally:
            for target in targets.values():
                target.stop()
    return {c: {k: statistics.median(v) for k, v in d.items()} for c, d in samples.items()}


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: {METRICS} log-metric + {SEARCHES} runs/search requests with and without auth, "
            f"in {ROUNDS} alternating rounds")
        results[side.module] = _measure(side)
        for label, r in results[side.module].items():
            log(f"{NAME}: {side.label}, {label}: {r['metric']:,.0f} log-metric req/s, {r['search']:,.1f} search req/s")
    rows: list[Row] = []
    for key, what in (("metric", "log-metric"), ("search", "runs/search")):
        f = results["fluvial"]
        m = results.get("mlflow")
        rows.append(Row(NAME, f"{what} requests/s with basic-auth", "req/s", f["basic-auth"][key],
                        m and m["basic-auth"][key], True))
        cost_f = 100 * (1 - f["basic-auth"][key] / f["no auth"][key])
        cost_m = 100 * (1 - m["basic-auth"][key] / m["no auth"][key]) if m else None
        rows.append(Row(NAME, f"{what}: cost of auth", "%", max(cost_f, 0.01), cost_m and max(cost_m, 0.01), False))
    return rows, (f"servers with {WORKERS} workers on SQLite, one keep-alive client, {ROUNDS} alternating rounds; a "
                  "non-admin user's Basic credentials on every request; cost = 1 - rate with auth / rate without.")


if __name__ == "__main__":  # pragma: no cover - manual runs
    import sys

    sys.exit("run through `python -m bench auth`")
