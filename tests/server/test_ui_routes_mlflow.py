"""MLflow's UI-side routes outside the REST table, against a real ``fluvial server`` process:
``/model-versions/get-artifact``, ``/ajax-api/2.0/mlflow/upload-artifact``, ``/ajax-api/2.0/mlflow/gateway-proxy``,
``/static-files/...``, and the ``/ajax-api`` twins taking GET bodies as query strings (repeated keys for
lists). Expected answers are MLflow 2.22.5's, read off its server on the same data."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from _serve import Server, fluvial_server, raw_http

from fluvial.server.mlflow_ui_routes import static_path

AJAX = "/ajax-api/2.0/mlflow"


@dataclass
class World:
    server: Server
    exp: str
    run: str
    other_run: str
    local_run: str  # artifacts in a plain directory, not through the proxy
    local_root: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    from fluvial.entities import Metric
    from fluvial.tracking.client import MlflowClient

    base = tmp_path_factory.mktemp("ui-mlflow")
    local_root = base / "local-artifacts"
    with fluvial_server(base / "srv", allowed_artifact_locations=(str(local_root),)) as server:
        client = MlflowClient(server.url)
        exp = client.create_experiment("ui-mlflow")
        run = client.create_run(exp, run_name="with-artifacts").info.run_id
        other = client.create_run(exp, run_name="other").info.run_id
        files = base / "files"
        (files / "model").mkdir(parents=True)
        (files / "model" / "MLmodel").write_text("flavors: {}\n")
        (files / "page.html").write_text("<script>alert(1)</script>")
        client.log_artifacts(run, str(files))
        client.log_batch(run, metrics=[Metric("loss", float(s), 100 + s, s) for s in range(5)])
        client.log_batch(other, metrics=[Metric("loss", float(s), 100 + s, s) for s in range(3)])
        local_exp = client.create_experiment("ui-mlflow-local", artifact_location=str(local_root))
        local_run = client.create_run(local_exp).info.run_id
        client.log_artifacts(local_run, str(files))
        client.create_registered_model("m")
        client.create_model_version("m", f"runs:/{run}/model", run)
        client.create_model_version("m", f"mlflow-artifacts:/{exp}/{run}/artifacts/model", run)
        client.create_model_version("m", str(local_root / local_run / "artifacts" / "model"), local_run)
        client.transition_model_version_stage("m", "2", "Production")
        yield World(server, exp, run, other, local_run, local_root)
    assert "Traceback" not in server.log.read_text(errors="replace"), server.log_tail()


def get(world: World, target: str) -> tuple[int, dict[str, str], bytes]:
    got = raw_http(world.server.port, "GET", target)
    return got.status, got.headers, got.body


def post(world: World, target: str, body: bytes, content_type: str | None = "application/octet-stream",
         **headers: str) -> tuple[int, bytes]:
    got = raw_http(world.server.port, "POST", target, {"Content-Type": content_type, **headers}, body)
    return got.status, got.body


# ---- /model-versions/get-artifact -----------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1", "2", "3"])
def test_model_version_artifact_from_each_kind_of_source(world, version):
    status, headers, body = get(world, f"/model-versions/get-artifact?name=m&version={version}&path=MLmodel")
    assert status == 200, body
    assert body == b"flavors: {}\n"
    assert headers["content-disposition"].startswith("attachment;")
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("query", "status", "code"), [
    ("name=m&version=9&path=MLmodel", 404, "RESOURCE_DOES_NOT_EXIST"),
    ("name=nope&version=1&path=MLmodel", 404, "RESOURCE_DOES_NOT_EXIST"),
    ("name=m&version=1&path=missing.txt", 404, "RESOURCE_DOES_NOT_EXIST"),
    ("name=m&version=1&path=../page.html", 400, "INVALID_PARAMETER_VALUE"),
    ("name=m&version=1&path=%2e%2e/page.html", 400, "INVALID_PARAMETER_VALUE"),
    ("name=m&version=1", 400, "INVALID_PARAMETER_VALUE"),
    ("version=1&path=MLmodel", 400, "INVALID_PARAMETER_VALUE"),
    ("name=m&version=abc&path=MLmodel", 400, "INVALID_PARAMETER_VALUE"),
])
def test_model_version_artifact_refusals(world, query, status, code):
    got_status, _, body = get(world, f"/model-versions/get-artifact?{query}")
    assert got_status == status, body
    assert json.loads(body)["error_code"] == code


def test_active_content_is_never_served_as_a_page(world):
    for target in (f"/get-artifact?run_id={world.run}&path=page.html",
                   f"/get-artifact?run_id={world.local_run}&path=page.html"):
        status, headers, body = get(world, target)
        assert status == 200 and body == b"<script>alert(1)</script>"
        assert headers["content-type"].startswith("text/plain")
        assert headers["content-security-policy"] == "sandbox"
        assert headers["content-disposition"].startswith("attachment;")


# ---- /ajax-api/2.0/mlflow/upload-artifact ----------------------------------------------------------------
def test_upload_artifact_stores_the_body_under_the_run(world):
    target = f"{AJAX}/upload-artifact?run_uuid={world.run}&path={quote('notes/a b.txt')}"
    status, body = post(world, target, b"uploaded \x00 bytes")
    assert status == 200 and json.loads(body) == {}
    status, _, got = get(world, f"/get-artifact?run_id={world.run}&path={quote('notes/a b.txt')}")
    assert status == 200 and got == b"uploaded \x00 bytes"
    on_disk = Path(world.server.destination) / world.exp / world.run / "artifacts" / "notes" / "a b.txt"
    assert on_disk.read_bytes() == b"uploaded \x00 bytes"
    status, body = post(world, f"{AJAX}/upload-artifact?run_uuid={world.local_run}&path=x.bin", b"local")
    assert status == 200
    assert (world.local_root / world.local_run / "artifacts" / "x.bin").read_bytes() == b"local"


@pytest.mark.parametrize(("query", "body", "status", "fragment"), [
    ("path=a.txt", b"x", 400, "run_uuid"),
    ("run_uuid={run}", b"x", 400, "path"),
    ("run_uuid={run}&path=empty.txt", b"", 400, "Request must specify data"),
    ("run_uuid={run}&path=../escape.txt", b"x", 400, "Invalid path"),
    ("run_uuid={run}&path=/etc/escape.txt", b"x", 400, "Invalid path"),
    ("run_uuid={run}&path=a/%2e%2e/%2e%2e/escape.txt", b"x", 400, "Invalid path"),
    ("run_uuid=0123456789abcdef0123456789abcdef&path=a.txt", b"x", 404, "not found"),
    ("run_uuid={run}&path=big.bin", b"\0" * (10 * 1024 * 1024 + 1), 400, "Max size is 10MB"),
])
def test_upload_artifact_refusals_store_nothing(world, query, body, status, fragment):
    before = sorted(p.relative_to(world.server.destination) for p in Path(world.server.destination).rglob("*"))
    got_status, got = post(world, f"{AJAX}/upload-artifact?{query.format(run=world.run)}", body)
    assert got_status == status, got
    assert fragment in json.loads(got)["message"]
    after = sorted(p.relative_to(world.server.destination) for p in Path(world.server.destination).rglob("*"))
    assert after == before


def test_upload_artifact_is_a_same_origin_write_only(world):
    target = f"{AJAX}/upload-artifact?run_uuid={world.run}&path=csrf.txt"
    status, _ = post(world, target, b"x", "text/plain", Origin="http://evil.example")
    assert status == 403
    status, _, _ = get(world, f"/get-artifact?run_id={world.run}&path=csrf.txt")
    assert status == 404
    assert raw_http(world.server.port, "GET", target).status == 405
    assert raw_http(world.server.port, "POST", f"/api/2.0/mlflow/upload-artifact?run_uuid={world.run}&path=b",
                    {"Content-Type": "application/octet-stream"}, b"x").status == 404  # ajax only, as MLflow


# ---- gateway-proxy -------------------------------------------------------------------------------------
def test_gateway_proxy_lists_no_endpoints_and_proxies_nothing(world):
    status, _, body = get(world, f"{AJAX}/gateway-proxy")
    assert status == 200 and json.loads(body) == {"endpoints": []}
    status, _, body = get(world, f"{AJAX}/gateway-proxy?gateway_path=api/2.0/endpoints/")
    assert status == 200 and json.loads(body) == {"endpoints": []}
    status, body = post(world, f"{AJAX}/gateway-proxy", json.dumps(
        {"gateway_path": "gateway/chat/invocations", "json_data": {"prompt": "hi"}}).encode(), "application/json")
    assert status == 501 and json.loads(body)["error_code"] == "NOT_IMPLEMENTED"
    assert raw_http(world.server.port, "GET", "/api/2.0/mlflow/gateway-proxy").status == 404


# ---- GET twins: query strings with repeated keys ---------------------------------------------------------
def test_get_bodies_as_query_strings_with_repeated_keys(world):
    status, _, body = get(world, f"{AJAX}/metrics/get-history-bulk?run_id={world.run}&run_id={world.other_run}"
                                 "&metric_key=loss&max_results=6")
    assert status == 200
    points = json.loads(body)["metrics"]
    # MLflow: sorted by run id, then timestamp; max_results caps the whole answer
    expected = sorted([(world.run, s) for s in range(5)] + [(world.other_run, s) for s in range(3)])[:6]
    assert [(p["run_id"], p["step"]) for p in points] == expected
    status, _, body = get(world, f"{AJAX}/metrics/get-history-bulk?run_id=nope&metric_key=loss")
    assert status == 200 and json.loads(body) == {"metrics": []}
    status, _, body = get(world, f"{AJAX}/registered-models/get-latest-versions?name=m&stages=Production&stages=None")
    assert status == 200
    assert sorted(v["version"] for v in json.loads(body)["model_versions"]) == ["2", "3"]
    status, _, body = get(world, f"{AJAX}/experiments/search?max_results=1&order_by=name%20DESC&order_by=experiment_id"
                                 "&filter=name%20LIKE%20%27ui-%25%27")
    assert status == 200
    assert [e["name"] for e in json.loads(body)["experiments"]] == ["ui-mlflow-local"]
    status, _, body = get(world, f"{AJAX}/metrics/get-history-bulk-interval?run_ids={world.run}"
                                 f"&run_ids={world.other_run}&metric_key=loss&max_results=2")
    assert status == 200
    assert [(p["run_id"], p["step"]) for p in json.loads(body)["metrics"]] == [
        (world.run, 0), (world.run, 2), (world.run, 4), (world.other_run, 0), (world.other_run, 2)]
    status, _, body = get(world, f"{AJAX}/metrics/get-history-bulk-interval?run_ids=nope&metric_key=loss")
    assert status == 200 and json.loads(body) == {}


# ---- /static-files ---------------------------------------------------------------------------------------
def test_static_files_resolve_only_ui_files_inside_the_package(tmp_path):
    root = tmp_path / "ui"
    (root / "js").mkdir(parents=True)
    (root / "js" / "app.js").write_text("export {}")
    (root / "index.html").write_text("<html>")
    (root / ".hidden.js").write_text("x")
    (tmp_path / "secret.js").write_text("x")
    os.symlink(tmp_path / "secret.js", root / "link.js")
    assert static_path("js/app.js", root) == (root / "js" / "app.js").resolve()
    for refused in ("index.html", ".hidden.js", "../secret.js", "js/../../secret.js", "link.js", "js", "",
                    "js/missing.js", "/etc/passwd", "js/app.js\x00"):
        assert static_path(refused, root) is None, refused


def test_static_files_route_answers_json_404_for_what_is_not_there(world):
    status, _, body = get(world, "/static-files/nope.js")
    assert status == 404 and json.loads(body)["error_code"] == "ENDPOINT_NOT_FOUND"
    status, _, _ = get(world, "/static-files/../../etc/passwd")
    assert status == 404
