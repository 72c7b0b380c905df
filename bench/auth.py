"""``auth``: what ``--app-name basic-auth`` costs. The same server (2 workers, SQLite) is measured without
auth and with it, for fluvial and for MLflow 2.22.5, from one keep-alive ``http.client`` client; the two
servers run side by side and are measured in pairs of short rounds, one configuration right after the
other, so load changes on the machine hit both alike (costs are medians over the pairs):

- sequential ``runs/log-metric`` requests into the user's own run (MANAGE via ownership);
- ``runs/search`` requests (100 runs per page, ordered by a metric) over an experiment of 1,000 runs
  (populated by fluvial beforehand, readable through ``default_permission = READ``).

Each round sends requests for 1.5 s (MLflow: 5 s); rates are requests per second. Server CPU per request (user + system
time of the server's process tree over the requests sent) is the steadier measure on a shared machine:
other load slows the rates of both configurations, but not the CPU each request takes.

With auth every request carries HTTP Basic credentials of a non-admin user, so the full check runs:
credentials, then the run's/experiment's permission. Cost = 1 - authenticated rate / plain rate, and
authenticated CPU per request / plain - 1."""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench._harness import BenchServer, Row, Side, copy_sqlite, fresh_dir, log, run_workload
from bench.serving import _tree_cpu_seconds as tree_cpu_seconds

NAME = "auth"
WORKERS = 2
RUNS = 1000
# (rounds, seconds per round): many short rounds for fluvial (each pair of rounds sees the same load);
# MLflow with auth answers about 0.5 requests/s, so fewer, longer ones
ROUNDS = {"fluvial": (20, 1.5), "mlflow": (5, 5.0)}
ASGI_CHUNKS = 14
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

    def _log_metric(self) -> None:
        self.step += 1
        self.call("/api/2.0/mlflow/runs/log-metric", {"run_id": self.run_id, "run_uuid": self.run_id, "key": "m",
                                                       "value": self.step * 0.5, "timestamp": self.step,
                                                       "step": self.step})

    def _search(self) -> None:
        self.call("/api/2.0/mlflow/runs/search",
                  {"experiment_ids": [self.exp], "max_results": 100, "order_by": ["metrics.m1 DESC"]})

    def measure(self, what: str, seconds: float) -> tuple[float, float]:
        """(requests per second, server CPU ms per request) of ``what`` ("metric" | "search") over about
        ``seconds`` (at least 3 requests)."""
        send = self._log_metric if what == "metric" else self._search
        cpu = tree_cpu_seconds(self.server.proc.pid)
        start = time.perf_counter()
        count = 0
        while count < 3 or time.perf_counter() - start < seconds:
            count += 1
            send()
        elapsed = time.perf_counter() - start
        return count / elapsed, (tree_cpu_seconds(self.server.proc.pid) - cpu) * 1000 / count

    def stop(self) -> None:
        self.conn.close()
        self.server.stop()


def _measure(side: Side, populated: Path, search_experiment: str) -> dict[str, dict[str, float]]:
    """Both configurations running at once, measured in pairs of rounds right after one another (the order
    alternating), so a change of machine load hits both alike. Per configuration the median round:
    ``metric``/``search`` rates and ``metric_cpu``/``search_cpu`` server CPU per request; under ``cost`` the
    median over the pairs of the rate cost (``metric``, ``search``, %) and of the CPU cost (``*_cpu``, %)."""
    rounds, seconds = ROUNDS[side.module]
    samples: dict[str, dict[str, list[float]]] = {c: {} for c in ("no auth", "basic-auth", "cost")}
    with fresh_dir("auth-plain") as plain_dir, fresh_dir("auth-on") as auth_dir:
        targets: dict[str, _Target] = {}
        try:
            targets["no auth"] = _Target(side, plain_dir, False, populated, search_experiment)
            targets["basic-auth"] = _Target(side, auth_dir, True, populated, search_experiment)
            for target in targets.values():  # warm-up: caches, connections, the first password check
                target.measure("metric", 0.5)
                target.measure("search", 0.5)
            for what in ("metric", "search"):  # one kind at a time: a search round leaves no work behind
                for index in range(rounds):
                    order = list(targets.items()) if index % 2 == 0 else list(targets.items())[::-1]
                    got = {config: target.measure(what, seconds) for config, target in order}
                    for config, (rate, cpu) in got.items():
                        samples[config].setdefault(what, []).append(rate)
                        samples[config].setdefault(f"{what}_cpu", []).append(cpu)
                    (plain, plain_cpu), (auth, auth_cpu) = got["no auth"], got["basic-auth"]
                    samples["cost"].setdefault(what, []).append(100 * (1 - auth / plain))
                    samples["cost"].setdefault(f"{what}_cpu", []).append(100 * (auth_cpu / plain_cpu - 1))
        finally:
            for target in targets.values():
                target.stop()
    return {c: {k: statistics.median(v) for k, v in d.items()} for c, d in samples.items()}


def _in_process(workdir: Path) -> dict[str, float]:
    """CPU per log-metric request (ms, median of alternating chunks) through fluvial's ASGI app in this
    process, without HTTP, with and without auth: the auth check's own cost, apart from other processes."""
    from fluvial.server.app import create_app
    from fluvial.server.config import ServerConfig, build_stores
    from fluvial.transport.asgi import AsgiTransport
    from fluvial.transport.base import HttpRequest

    ini = _ini(workdir)
    clients: dict[str, tuple[AsgiTransport, dict[str, str], str]] = {}
    for config, auth in (("no auth", False), ("basic-auth", True)):
        app = create_app(build_stores(ServerConfig(
            backend_store_uri=f"sqlite:///{workdir / (config.replace(' ', '-') + '.db')}",
            artifacts_destination=str(workdir / "artifacts"), app_name="basic-auth" if auth else None,
            auth_config_path=str(ini) if auth else None)))
        transport = AsgiTransport(app)

        def post(path: str, body: dict[str, Any], headers: dict[str, str], t: AsgiTransport = transport) -> Any:
            response = t.send(HttpRequest("POST", f"http://127.0.0.1{path}", {
                "Content-Type": "application/json", **headers}, json.dumps(body).encode()))
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}: {response.body[:300]!r}")
            return json.loads(response.body)

        creds: dict[str, str] = {}
        if auth:
            post("/api/2.0/mlflow/users/create", {"username": USER, "password": PASSWORD}, _basic(ADMIN, ADMIN_PASSWORD))
            creds = _basic(USER, PASSWORD)
        exp = post("/api/2.0/mlflow/experiments/create", {"name": "own"}, creds)["experiment_id"]
        run_id = post("/api/2.0/mlflow/runs/create", {"experiment_id": exp}, creds)["run"]["info"]["run_id"]
        clients[config] = (transport, creds, run_id)
    samples: dict[str, list[float]] = {c: [] for c in clients}
    step = 0
    for chunk in range(1 + ASGI_CHUNKS):
        for config, (transport, creds, run_id) in clients.items():
            start = time.process_time()
            for _ in range(300):
                step += 1
                response = transport.send(HttpRequest("POST", "http://127.0.0.1/api/2.0/mlflow/runs/log-metric", {
                    "Content-Type": "application/json", **creds}, json.dumps(
                        {"run_id": run_id, "key": "m", "value": 0.5, "timestamp": step, "step": step}).encode()))
                if response.status != 200:
                    raise RuntimeError(f"log-metric: HTTP {response.status}")
            if chunk:  # the first is a warm-up
                samples[config].append((time.process_time() - start) * 1000 / 300)
    for transport, _, _ in clients.values():
        transport.close()
    return {c: statistics.median(v) for c, v in samples.items()}


def _run_sides(fluvial: Side, mlflow: Side | None, populated: Path, exp: str,
               results: dict[str, dict[str, dict[str, float]]]) -> None:
    for side in (fluvial, mlflow):
        if side is None:
            continue
        rounds, seconds = ROUNDS[side.module]
        log(f"{NAME}: {side.label}: log-metric and runs/search requests with and without auth, in {rounds} "
            f"pairs of rounds of {seconds:.1f} s each")
        results[side.module] = _measure(side, populated, exp)
        for label, r in results[side.module].items():
            if label == "cost":
                log(f"{NAME}: {side.label}, cost of auth (median of pairs): log-metric {r['metric']:.1f} % in rate, "
                    f"{r['metric_cpu']:.1f} % in CPU; search {r['search']:.1f} % in rate, {r['search_cpu']:.1f} % in CPU")
                continue
            log(f"{NAME}: {side.label}, {label}: {r['metric']:,.1f} log-metric req/s ({r['metric_cpu']:.2f} ms CPU "
                f"each), {r['search']:,.1f} search req/s ({r['search_cpu']:.2f} ms CPU each)")


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    with fresh_dir("auth-db") as tmp:
        populated = tmp / "populated.db"
        log(f"{NAME}: populating {RUNS:,} runs with fluvial")
        exp = run_workload(fluvial, "populate", {"runs": RUNS, "params": 5, "metrics": 5, "tags": 3, "seed": 0},
                           timeout=900, keep_db=populated)["experiment_id"]
        _run_sides(fluvial, mlflow, populated, exp, results)
    with fresh_dir("auth-asgi") as tmp:
        log(f"{NAME}: fluvial in-process (ASGI, no HTTP): log-metric CPU with and without auth")
        asgi = _in_process(tmp)
        log(f"{NAME}: in-process log-metric: {asgi['no auth']:.3f} ms CPU without auth, {asgi['basic-auth']:.3f} with")
    rows: list[Row] = []
    f = results["fluvial"]
    m: dict[str, dict[str, float]] | None = results.get("mlflow")
    for key, what in (("metric", "log-metric"), ("search", "runs/search")):
        rows.append(Row(NAME, f"{what} requests/s with basic-auth", "req/s", f["basic-auth"][key],
                        m["basic-auth"][key] if m else None, True))
        rows.append(Row(NAME, f"{what} requests/s without auth", "req/s", f["no auth"][key],
                        m["no auth"][key] if m else None, True))
        cost_f = f["cost"][key]
        cost_m = m["cost"][key] if m else None
        rows.append(Row(NAME, f"{what}: cost of auth in request rate (bar: < 10%)", "%", max(cost_f, 0.01),
                        None if cost_m is None else max(cost_m, 0.01), False))
        cpu = f"{key}_cpu"
        rows.append(Row(NAME, f"{what}: server CPU per request with basic-auth", "ms", f["basic-auth"][cpu],
                        m["basic-auth"][cpu] if m else None, False))
        cpu_f = f["cost"][cpu]
        cpu_m = m["cost"][cpu] if m else None
        rows.append(Row(NAME, f"{what}: cost of auth in server CPU per request (bar: < 10%)", "%", max(cpu_f, 0.01),
                        None if cpu_m is None else max(cpu_m, 0.01), False))
    check_ms = asgi["basic-auth"] - asgi["no auth"]
    rows.append(Row(NAME, "log-metric: the auth check's CPU, in-process (ASGI app, no HTTP)", "us",
                    max(check_ms * 1000, 0.01), None, False))
    rows.append(Row(NAME, "log-metric: the auth check's CPU / the HTTP request's CPU without auth (bar: < 10%)", "%",
                    max(100 * check_ms / f["no auth"]["metric_cpu"], 0.01), None, False))
    (fr, fs), (mr, ms) = ROUNDS["fluvial"], ROUNDS["mlflow"]
    return rows, (f"servers with {WORKERS} workers on SQLite, one keep-alive client; {fr} pairs of {fs} s rounds "
                  f"(MLflow: {mr} pairs of {ms:.0f} s), one configuration right after the other; a non-admin user's "
                  "Basic credentials on every request. Costs are medians over the pairs of 1 - rate with auth / "
                  "rate without, and of server CPU (user+system of the server's process tree) per request with "
                  "auth / without - 1 (0.01 when not measurable); rates and CPU are median rounds. fluvial answers "
                  "a credential and a grant it saw within the last second from memory (auth_cache_ttl_seconds = 1) "
                  "and runs the password KDF once per credential; MLflow 2.22.5 verifies the password hash on every "
                  "request. The in-process rows time fluvial's ASGI app in the bench process (process CPU, median of "
                  f"{ASGI_CHUNKS} alternating chunks of 300 log-metric requests): no HTTP, and CPU time rather than wall "
                  "time, so other load counts little.")


if __name__ == "__main__":  # pragma: no cover - manual runs
    import sys

    sys.exit("run through `python -m bench auth`")
