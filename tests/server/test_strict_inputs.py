"""The strict input rules of a public server, in raw HTTP against a real ``fluvial server``: each request
below is refused with a 4xx in MLflow's error shape, stores nothing (databases and artifact files hashed
before and after), never echoes the offending path or name, and carries ``X-Content-Type-Options: nosniff``."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from typing import Any
from urllib.parse import quote

import pytest
from _serve import Server, fluvial_server, raw_http

JSON_CT = {"Content-Type": "application/json"}
MARK = "zq-marker"  # a string that must never come back in an error body


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Any:
    with fluvial_server(tmp_path_factory.mktemp("strict")) as server:
        exp = _ok(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": "strict"})["experiment_id"]
        run = _ok(server, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        yield server, exp, run


def _send(server: Server, method: str, target: str, data: Any = None, body: bytes | None = None) -> Any:
    payload = body if body is not None else (json.dumps(data).encode() if data is not None else b"")
    headers = dict(JSON_CT) if method in ("POST", "PATCH", "DELETE") and body is None else {}
    if body is not None:
        headers["Content-Type"] = "application/octet-stream"
    return raw_http(server.port, method, target, headers, payload, timeout=30)


def _ok(server: Server, method: str, target: str, data: Any = None) -> Any:
    response = _send(server, method, target, data)
    assert response.status == 200, response.body
    return response.json()


def _state(server: Server) -> str:
    digest = hashlib.sha256()
    conn = sqlite3.connect(server.backend_store_uri.split("///", 1)[1])
    try:
        for line in conn.iterdump():
            digest.update(line.encode())
    finally:
        conn.close()
    for root, dirs, files in os.walk(server.destination):
        dirs.sort()
        for name in sorted(files):
            digest.update(os.path.join(root, name).encode())
    return digest.hexdigest()


def _refused(server: Server, method: str, target: str, data: Any = None, body: bytes | None = None) -> Any:
    before = _state(server)
    response = _send(server, method, target, data, body)
    assert 400 <= response.status < 500, (method, target[:120], response.status, response.body[:200])
    assert response.headers.get("x-content-type-options") == "nosniff"
    if method != "HEAD":
        error = response.json()
        assert set(error) == {"error_code", "message"}
        assert MARK not in response.body.decode(errors="replace")
    assert _state(server) == before
    return response


_SPELLINGS = [f"/{MARK}/x", f"file:/{MARK}", f"s3://b/{MARK}", f"C:/{MARK}", f"c:{MARK}", f"%2F{MARK}",
              f"%252F{MARK}", f"file%3A%2F%2F{MARK}", f"%25252F{MARK}", f"s3%253A%2F%2F{MARK}", f"D%3A%5C{MARK}",
              f"..%2F{MARK}", f"%252E%252E/{MARK}"]


@pytest.mark.parametrize("spelling", _SPELLINGS)
def test_absolute_scheme_and_drive_paths_are_refused_on_every_artifact_route(world, spelling):
    server, _, run = world
    for base in ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"):
        enc = quote(spelling, safe="%/:")
        _refused(server, "GET", f"{base}/artifacts?path={quote(spelling, safe='')}")
        _refused(server, "GET", f"{base}/artifacts/{enc}")
        _refused(server, "PUT", f"{base}/artifacts/{enc}", body=b"x")
        _refused(server, "DELETE", f"{base}/artifacts/{enc}")
    _refused(server, "GET", f"/api/2.0/mlflow/artifacts/list?run_id={run}&path={quote(spelling, safe='')}")
    _refused(server, "GET", f"/get-artifact?run_uuid={run}&path={quote(spelling, safe='')}")


def test_values_over_mlflow_limits_are_refused_whole(world):
    server, _, run = world
    _refused(server, "POST", "/api/2.0/mlflow/runs/log-parameter", {"run_id": run, "key": "p", "value": "x" * 6001})
    _refused(server, "POST", "/api/2.0/mlflow/runs/log-parameter",
             {"run_id": run, "key": "p", "value": "x" * 10_000_000})
    _refused(server, "POST", "/api/2.0/mlflow/runs/set-tag", {"run_id": run, "key": "t", "value": "x" * 8001})
    _refused(server, "POST", "/api/2.0/mlflow/runs/log-batch",
             {"run_id": run, "params": [{"key": "a", "value": "ok"}, {"key": "b", "value": "x" * 6001}]})


def test_tens_of_thousands_of_tags_are_refused(world):
    server, exp, _ = world
    tags = [{"key": f"k{i}", "value": "v"} for i in range(20_000)]
    _refused(server, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp, "tags": tags})
    _refused(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": "many-tags", "tags": tags})
    _refused(server, "POST", "/api/2.0/mlflow/registered-models/create", {"name": "many-tags", "tags": tags})


def test_searches_naming_thousands_of_experiments_are_refused(world):
    server, _, run = world
    ids = [str(i) for i in range(5000)]
    _refused(server, "POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ids})
    _refused(server, "POST", "/api/2.0/mlflow/logged-models/search", {"experiment_ids": ids})
    _refused(server, "GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?metric_key=m&"
             + "&".join(f"run_ids={run}{i}" for i in range(1001)))


@pytest.mark.parametrize("max_results", [-1, 10**9])
@pytest.mark.parametrize(("method", "target", "extra"), [
    ("POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"]}),
    ("POST", "/api/2.0/mlflow/experiments/search", {}),
    ("GET", "/api/2.0/mlflow/registered-models/search", {}),
    ("GET", "/api/2.0/mlflow/model-versions/search", {}),
    ("POST", "/api/2.0/mlflow/logged-models/search", {"experiment_ids": ["0"]}),
    ("GET", "/api/2.0/mlflow/metrics/get-history", {"run_id": "RUN", "metric_key": "m"}),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval", {"run_ids": "RUN", "metric_key": "m"}),
])
def test_negative_or_huge_max_results_is_refused_on_every_paged_route(world, method, target, extra, max_results):
    server, _, run = world
    data = {k: (run if v == "RUN" else v) for k, v in extra.items()}
    data["max_results"] = max_results
    if method == "GET":
        from urllib.parse import urlencode

        _refused(server, "GET", f"{target}?{urlencode(data, doseq=True)}")
    else:
        _refused(server, "POST", target, data)


@pytest.mark.parametrize(("target", "data"), [
    ("/api/2.0/mlflow/experiments/create", {"name": 123}),
    ("/api/2.0/mlflow/experiments/create", {"name": ["a"]}),
    ("/api/2.0/mlflow/experiments/create", {"name": {"x": MARK}}),
    ("/api/2.0/mlflow/registered-models/create", {"name": 1.5}),
    ("/api/2.0/mlflow/runs/log-metric", {"run_id": "r", "key": "m", "value": MARK, "timestamp": 1}),
    ("/api/2.0/mlflow/runs/set-tag", {"run_id": "r", "key": "k", "value": True}),
])
def test_wrong_json_types_are_refused_without_echo(world, target, data):
    server, _, _ = world
    _refused(server, "POST", target, data)


def test_errors_do_not_echo_paths_and_carry_nosniff(world):
    server, _, _ = world
    response = _refused(server, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{MARK}/..%2F..%2Fetc")
    assert b"etc" not in response.body
    missing = _send(server, "GET", f"/api/2.0/no-such-{MARK}")
    assert missing.status == 404 and MARK.encode() not in missing.body
    assert missing.headers["x-content-type-options"] == "nosniff"
    assert _send(server, "GET", "/health").headers["x-content-type-options"] == "nosniff"


def test_auth_routes_answer_404_when_auth_is_off(world):
    server, _, _ = world
    for method, target in (("GET", "/api/2.0/fluvial/users/current"), ("GET", "/ajax-api/2.0/fluvial/users/current"),
                           ("GET", "/api/2.0/mlflow/users/get?username=x"), ("GET", "/login"),
                           ("POST", "/api/2.0/fluvial/users/logout")):
        response = _send(server, method, target, {} if method == "POST" else None)
        assert response.status == 404 and response.json()["error_code"] == "ENDPOINT_NOT_FOUND", target
