"""The registry on a ``fluvial server`` (in-process, raw HTTP).

Model version sources: only a run's or the server's own artifact locations are accepted; every
escape (local paths elsewhere, ``file:`` tricks, ``..``, percent-encoded and ``?#;`` variants,
symlinks) is refused with 400 INVALID_PARAMETER_VALUE and stores nothing, whatever tags the version
carries. Also: request validation, the alias path's three methods, ``--registry-store-uri``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fluvial.server.app import create_app
from fluvial.server.config import ServerConfig, build_stores
from fluvial.store.tracking.rest import RestTrackingStore
from fluvial.transport.asgi import AsgiTransport
from fluvial.transport.base import HttpRequest

PROMPT_TAG = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]


@dataclass
class Server:
    transport: AsgiTransport
    stores: Any
    run_id: str
    run_root: str

    def call(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = HttpRequest(method, f"http://localhost/api/2.0/mlflow{path}",
                              {"Content-Type": "application/json"}, json.dumps(body).encode())
        response = self.transport.send(request)
        return response.status, json.loads(response.body or b"{}")

    def create(self, source: str, run_id: str | None = None, tags: list[dict[str, str]] | None = None
               ) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"name": "churn", "source": source, "tags": tags or []}
        if run_id:
            body["run_id"] = run_id
        return self.call("POST", "/model-versions/create", body)

    def versions(self) -> int:
        return len(self.stores.registry.search_model_versions("name = 'churn'"))


def _server(config: ServerConfig) -> Iterator[Server]:
    stores = build_stores(config)
    transport = AsgiTransport(create_app(stores))
    try:
        tracking = RestTrackingStore("http://localhost", transport=transport)
        experiment = tracking.create_experiment("e")
        run = tracking.create_run(experiment, "u", 0, [], "r")
        server = Server(transport, stores, run.info.run_id, run.info.artifact_uri)
        assert server.call("POST", "/registered-models/create", {"name": "churn"})[0] == 200
        yield server
    finally:
        transport.close()


@pytest.fixture
def proxied(tmp_path) -> Iterator[Server]:
    """A server with proxied artifacts (``mlflow-artifacts:/``) under tmp_path/mlartifacts."""
    yield from _server(ServerConfig(backend_store_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                                    artifacts_destination=str(tmp_path / "mlartifacts")))


@pytest.fixture
def local(tmp_path) -> Iterator[Server]:
    """A server whose runs keep artifacts in a local directory (no proxying)."""
    yield from _server(ServerConfig(backend_store_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                                    default_artifact_root=str(tmp_path / "artifacts"), serve_artifacts=False))


def refused(server: Server, source: str, run_id: str | None = None,
            expected: tuple[int, str] = (400, "INVALID_PARAMETER_VALUE")) -> None:
    before = server.versions()
    for tags in (None, PROMPT_TAG):  # the prompt tag changes nothing
        status, body = server.create(source, run_id, tags)
        assert (status, body.get("error_code")) == expected, (source, body)
    assert server.versions() == before


def accepted(server: Server, source: str, run_id: str | None = None) -> dict[str, Any]:
    status, body = server.create(source, run_id)
    assert status == 200, (source, body)
    return body["model_version"]


ESCAPES = [
    "/etc/passwd",
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "file:/etc/passwd",
    "file://localhost/etc/passwd",
    "file://evil.example/etc/passwd",
    "relative/model",
    "model",
    "mlflow-artifacts:/1/../../../etc/passwd",
    "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc/passwd",
    "mlflow-artifacts:/1/%252e%252e/%252e%252e/etc",
    "mlflow-artifacts://host:5000/..%2f..%2fetc",
    "mlflow-artifacts:/1/./x",
    "mlflow-artifacts:/1/x?path=/etc/passwd",
    "mlflow-artifacts:/1/x#/etc/passwd",
    "mlflow-artifacts:/1/x;/etc/passwd",
    "mlflow-artifacts:/1/x%3f/etc",
    "mlflow-artifacts:/1/x\\..\\..\\etc",
    "mlflow-artifacts:/1/x%00",
    "mlflow-artifacts:/1/x\x01",
    "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/../../../etc",
    "s3://someone-elses-bucket/model",
    "hdfs://namenode/etc",
    "runs:/{run}/../../../../etc",
    "runs:/{run}/%2e%2e/%2e%2e/etc",
    "models:/m-0123456789abcdef0123456789abcdef",
    "models:/churn",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escapes_are_refused_on_a_proxied_server(proxied, source):
    source = source.replace("{run}", proxied.run_id)
    refused(proxied, source)
    refused(proxied, source, proxied.run_id)


@pytest.mark.parametrize("source", ESCAPES)
def test_escapes_are_refused_on_a_local_artifact_server(local, source):
    source = source.replace("{run}", local.run_id)
    refused(local, source)
    refused(local, source, local.run_id)


def test_run_and_server_locations_are_accepted_on_a_proxied_server(proxied, tmp_path):
    run_root = proxied.run_root
    assert run_root.startswith("mlflow-artifacts:/")
    assert accepted(proxied, f"{run_root}/model", proxied.run_id)["source"] == f"{run_root}/model"
    mv = accepted(proxied, f"runs:/{proxied.run_id}/model")
    assert mv["source"] == f"{run_root}/model" and mv["run_id"] == proxied.run_id
    accepted(proxied, "mlflow-artifacts:/1/other/artifacts/model")
    accepted(proxied, str(tmp_path / "mlartifacts" / "1" / proxied.run_id / "artifacts" / "model"))
    accepted(proxied, f"{run_root}/my%20model", proxied.run_id)
    accepted(proxied, "models:/churn/1")


def test_local_sources_must_be_inside_the_run_or_the_server_root(local, tmp_path):
    run_root = local.run_root
    assert os.path.isabs(run_root)
    accepted(local, f"{run_root}/model", local.run_id)
    accepted(local, f"file://{run_root}/model", local.run_id)
    accepted(local, f"{run_root}/model")  # inside the server's artifact root
    os.makedirs(run_root, exist_ok=True)
    os.symlink("/etc", os.path.join(run_root, "link"))
    refused(local, f"{run_root}/link", local.run_id)
    refused(local, f"{run_root}/link/passwd", local.run_id)
    outside = tmp_path / "outside"
    outside.mkdir()
    refused(local, str(outside), local.run_id)
    refused(local, str(tmp_path / "artifacts-evil"), local.run_id)  # a sibling with the root as prefix
    refused(local, f"runs:/{'0' * 32}/model", expected=(404, "RESOURCE_DOES_NOT_EXIST"))  # unknown run
    status, body = local.create(f"runs:/{local.run_id}/model", "f" * 32)
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_a_version_of_an_unknown_model_is_reported_first(proxied):
    status, body = proxied.call("POST", "/model-versions/create", {"name": "nope", "source": "/etc/passwd"})
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_registry_endpoints_validate_their_input(proxied):
    for method, path, body in (
        ("POST", "/registered-models/create", {}),
        ("POST", "/registered-models/create", {"name": ""}),
        ("POST", "/model-versions/create", {"name": "churn"}),
        ("POST", "/model-versions/transition-stage", {"name": "churn", "version": "1"}),
        ("POST", "/registered-models/alias", {"name": "churn", "alias": "a"}),
        ("PATCH", "/model-versions/update", {"name": "churn", "version": "x"}),
    ):
        status, answer = proxied.call(method, path, body)
        assert (status, answer["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), (path, answer)
    status, answer = proxied.call("GET", "/registered-models/search?max_results=1001", {})
    assert status == 400


def test_alias_path_dispatches_by_method(proxied):
    accepted(proxied, "mlflow-artifacts:/1/x/artifacts/model")
    assert proxied.call("POST", "/registered-models/alias", {"name": "churn", "alias": "champ", "version": "1"})[0] == 200
    response = proxied.transport.send(HttpRequest(
        "GET", "http://localhost/api/2.0/mlflow/registered-models/alias?name=churn&alias=champ", {}))
    assert response.status == 200 and json.loads(response.body)["model_version"]["aliases"] == ["champ"]
    assert proxied.call("DELETE", "/registered-models/alias", {"name": "churn", "alias": "champ"})[0] == 200
    assert proxied.call("PUT", "/registered-models/alias", {"name": "churn", "alias": "champ"})[0] == 405


def test_registry_store_uri_puts_the_registry_in_another_database(tmp_path):
    from fluvial.store.registry.rest import RestRegistryStore
    from fluvial.store.registry.sql import SqlRegistryStore

    backend, registry = f"sqlite:///{tmp_path / 'tracking.db'}", f"sqlite:///{tmp_path / 'registry.db'}"
    stores = build_stores(ServerConfig(backend_store_uri=backend, registry_store_uri=registry,
                                       artifacts_destination=str(tmp_path / "mlartifacts")))
    transport = AsgiTransport(create_app(stores))
    try:
        client = RestRegistryStore("http://localhost", transport=transport)
        client.create_registered_model("churn")
        client.create_model_version("churn", "mlflow-artifacts:/1/r/artifacts/model")
    finally:
        transport.close()
    assert [m.name for m in SqlRegistryStore(registry).search_registered_models()] == ["churn"]
    assert SqlRegistryStore(backend).search_registered_models() == []
