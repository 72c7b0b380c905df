"""``auth``: what ``--app-name basic-auth`` costs. The same server (2 workers, SQLite) is measured without
auth and with it, for fluvial and for MLflow 2.22.5, from one keep-alive ``http.client`` client:

- 1,000 sequential ``runs/log-metric`` requests (as a non-admin user holding EDIT via ownership);
- 200 ``runs/search`` requests (100 runs per page) over an experiment of 1,000 runs.

With auth every request carries HTTP Basic credentials of a non-admin user, so the full check runs:
credentials, then the run's/experiment's permission. Cost = 1 - authenticated rate / plain rate."""

from __future__ import annotations

import base64
import http.client
import json
import time
from typing import Any

from bench._harness import Row, Side, fresh_dir, log
from bench.server_tracking import _Server

NAME = "auth"
WORKERS = 2
METRICS, SEARCHES, RUNS = 1000, 200, 1000
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


def _measure(side: Side, auth: bool) -> dict[str, float]:
    with fresh_dir("auth") as workdir:
        extra, env, creds = [], {}, {}
        if auth:
            ini = workdir / "basic_auth.ini"
            ini.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{workdir / 'auth.db'}\n"
                           f"admin_username = {ADMIN}\nadmin_password = {ADMIN_PASSWORD}\n"
                           "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
            extra = ["--app-name", "basic-auth"]
            env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret"}
        server = _Server(side, workdir, extra, env, WORKERS)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            if auth:
                _request(conn, "POST", "/api/2.0/mlflow/users/create", {"username": USER, "password": PASSWORD},
                         _basic(ADMIN, ADMIN_PASSWORD))
                creds = _basic(USER, PASSWORD)
            exp = _request(conn, "POST", "/api/2.0/mlflow/experiments/create", {"name": "bench"}, creds)["experiment_id"]
            runs = [_request(conn, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp, "start_time": i},
                             creds)["run"]["info"]["run_id"] for i in range(RUNS)]
            run_id = runs[0]
            for i in range(20):  # warm-up: caches, connections
                _request(conn, "POST", "/api/2.0/mlflow/runs/log-metric",
                         {"run_id": run_id, "key": "w", "value": 1.0, "timestamp": i, "step": i}, creds)
            start = time.perf_counter()
            for i in range(METRICS):
                _request(conn, "POST", "/api/2.0/mlflow/runs/log-metric",
                         {"run_id": run_id, "run_uuid": run_id, "key": "m", "value": i * 0.5, "timestamp": i,
                          "step": i}, creds)
            metric_rate = METRICS / (time.perf_counter() - start)
            search = {"experiment_ids": [exp], "max_results": 100, "order_by": ["attributes.start_time DESC"]}
            start = time.perf_counter()
            for _ in range(SEARCHES):
                _request(conn, "POST", "/api/2.0/mlflow/runs/search", search, creds)
            search_rate = SEARCHES / (time.perf_counter() - start)
            conn.close()
        finally:
            server.stop()
    return {"metric": metric_rate, "search": search_rate}


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    for side in (fluvial, mlflow):
        if side is None:
            continue
        results[side.module] = {}
        for auth in (False, True):
            label = "basic-auth" if auth else "no auth"
            log(f"{NAME}: {side.label}, {label}: {METRICS} log-metric + {SEARCHES} runs/search requests")
            r = results[side.module][label] = _measure(side, auth)
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
    return rows, (f"servers with {WORKERS} workers on SQLite, one keep-alive client; a non-admin user's Basic "
                  "credentials on every request; cost = 1 - rate with auth / rate without.")


if __name__ == "__main__":  # pragma: no cover - manual runs
    import sys

    sys.exit("run through `python -m bench auth`")
