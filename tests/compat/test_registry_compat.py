"""The model registry across implementations:

* the official MLflow clients (2.22.5 and 3.17.2, each in its own virtualenv) driving the whole
  registry flow of issue 5 against a real ``fluvial server``, then what fluvial stored;
* fluvial's client driving the same flow against a real ``mlflow server`` 2.22.5, then what MLflow
  stored (its database, read-only);
* a registry database written by fluvial (deleted versions included) opened by MLflow 2.22.5.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.compat._mlflow import MLFLOW_VERSION, mlflow_python, run_mlflow, run_script
from tests.compat._servers import RunningServer, fluvial_server, mlflow_server

pytestmark = pytest.mark.compat

VERSIONS = ["2.22.5", "3.17.2"]


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", params=VERSIONS)
def official(request, tmp_path_factory) -> Iterator[tuple[str, Path, RunningServer]]:
    """(client version, its Python, a fluvial server for it)."""
    python = mlflow_python(request.param)
    if python is None:
        pytest.skip(f"MLflow {request.param} is not installed: .venvs/mlflow-{request.param}/bin/python is missing "
                    "(create it with `make mlflow-venvs`)")
    with fluvial_server(tmp_path_factory.mktemp(f"registry-server-{request.param}"), workers=2) as server:
        yield request.param, python, server


OFFICIAL_FLOW = """
import os, sys, warnings
warnings.simplefilter("ignore")
import numpy as np
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

name = sys.argv[1]
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1]])
model = LogisticRegression().fit(X, np.array([0, 1, 0, 1]))
expected = model.predict(X).tolist()
out = {}

def code(fn):
    try:
        fn()
    except MlflowException as exc:
        return exc.error_code
    return None

from mlflow.models import infer_signature
sig = infer_signature(X, model.predict(X))
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(model, "model", signature=sig, registered_model_name=name)
run_id = run.info.run_id
out["logged_version"] = info.registered_model_version
mv = mlflow.register_model(model_uri=f"runs:/{run_id}/model", name=name)
out["registered"] = [str(mv.version), mv.run_id, mv.source]
c = MlflowClient()
c.transition_model_version_stage(name, "1", "Production")
from mlflow.tracking import MlflowClient as SeedClient  # the seed's spelling, and its int version
out["moved"] = SeedClient().transition_model_version_stage(name, 2, "production",
                                                           archive_existing_versions=True).current_stage
out["v1_stage"] = c.get_model_version(name, "1").current_stage
c.set_registered_model_alias(name, "champion", "2")
out["loads"] = {uri: mlflow.pyfunc.load_model(uri).predict(X).tolist() == expected
                for uri in (f"models:/{name}/Production", f"models:/{name}/2", f"models:/{name}@champion",
                            f"models:/{name}/latest", f"models:/{name}/1")}
out["download_uri"] = c.get_model_version_download_uri(name, "2")
path = mlflow.artifacts.download_artifacts(f"models:/{name}/1")
with open(os.path.join(path, "registered_model_meta")) as fh:
    out["meta"] = fh.read()
rm = c.get_registered_model(name)
out["aliases"] = {k: str(v) for k, v in rm.aliases.items()}
out["latest"] = sorted([v.current_stage, str(v.version)] for v in rm.latest_versions)
out["latest_prod"] = [str(v.version) for v in c.get_latest_versions(name, ["Production"])]
out["by_alias"] = str(c.get_model_version_by_alias(name, "champion").version)
c.set_registered_model_tag(name, "team", "ml")
c.set_model_version_tag(name, "1", "k", "v")
c.update_registered_model(name, "model words")
c.update_model_version(name, "1", "version words")
rm, v1 = c.get_registered_model(name), c.get_model_version(name, "1")
out["described"] = [rm.description, rm.tags, v1.description, v1.tags]
c.delete_model_version_tag(name, "1", "k")
c.delete_registered_model_tag(name, "team")
out["untagged"] = [c.get_registered_model(name).tags, c.get_model_version(name, "1").tags]
out["search_rm"] = [m.name for m in c.search_registered_models(f"name = '{name}'")]
out["search_rm_fluent"] = [m.name for m in mlflow.search_registered_models(filter_string=f"name LIKE '{name}%'")]
out["search_mv"] = sorted(str(v.version) for v in c.search_model_versions(f"name = '{name}'"))
page = c.search_model_versions(f"name = '{name}'", max_results=1)
out["page"] = [len(page), bool(page.token)]
out["errors"] = {
    "duplicate": code(lambda: c.create_registered_model(name)),
    "bad_stage": code(lambda: c.transition_model_version_stage(name, "1", "Prod")),
    "archive_into_archived": code(lambda: c.transition_model_version_stage(name, "1", "Archived", True)),
    "bad_version": code(lambda: c.get_model_version(name, "abc")),
    "missing_version": code(lambda: c.get_model_version(name, "99")),
    "alias_on_missing_version": code(lambda: c.set_registered_model_alias(name, "x", "99")),
    "reserved_alias": code(lambda: c.set_registered_model_alias(name, "v3", "1")),
    "missing_model": code(lambda: c.get_registered_model(name + "-nope")),
    "etc_passwd_as_prompt": code(lambda: c.create_model_version(
        name, "/etc/passwd", tags={"mlflow.prompt.is_prompt": "true"})),
    "traversal": code(lambda: c.create_model_version(name, mv.source + "/../../../../etc", run_id=run_id)),
    "file_uri": code(lambda: c.create_model_version(name, "file:///etc", run_id=run_id)),
}
keep = name + "-keep"
c.create_registered_model(keep, tags={"owner": "me"})
c.create_model_version(keep, mv.source, run_id)
c.create_model_version(keep, mv.source, run_id)
c.set_registered_model_alias(keep, "champion", "1")
c.delete_model_version(keep, "2")
c.rename_registered_model(name, name + "-renamed")
renamed = c.get_registered_model(name + "-renamed")
out["renamed"] = [{k: str(v) for k, v in renamed.aliases.items()}, sorted(str(v.version) for v in renamed.latest_versions)]
out["renamed_loads"] = mlflow.pyfunc.load_model(f"models:/{name}-renamed@champion").predict(X).tolist() == expected
c.delete_model_version(name + "-renamed", "1")
out["next_after_delete"] = str(c.create_model_version(name + "-renamed", mv.source, run_id).version)
c.delete_registered_model(name + "-renamed")
out["deleted"] = code(lambda: c.get_registered_model(name + "-renamed"))
out["run_model_loads"] = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(X).tolist() == expected
emit(out)
"""


def test_official_client_drives_the_registry_flow(official, tmp_path):
    version, python, server = official
    name = fresh("churn")
    out = run_script(python, OFFICIAL_FLOW, name, cwd=tmp_path, env={"MLFLOW_TRACKING_URI": server.url},
                     timeout=240, name=f"registry_{version.replace('.', '_')}.py")
    assert str(out["logged_version"]) == "1"
    number, run_id, source = out["registered"]
    assert number == "2" and len(run_id) == 32
    if version.startswith("2."):
        assert source.startswith("mlflow-artifacts:/") and source.endswith(f"/{run_id}/artifacts/model")
        assert out["download_uri"] == source
    else:  # MLflow 3 registers the logged model; its files live at the logged model's location
        assert source.startswith("models:/m-")
        assert out["download_uri"].startswith("mlflow-artifacts:/") and "/models/m-" in out["download_uri"]
    assert out["moved"] == "Production" and out["v1_stage"] == "Archived"
    assert all(out["loads"].values()), out["loads"]
    assert out["meta"] == "model_name: " + name + "\nmodel_version: '1'\n"
    assert out["aliases"] == {"champion": "2"} and out["by_alias"] == "2"
    assert out["latest"] == [["Archived", "1"], ["Production", "2"]] and out["latest_prod"] == ["2"]
    assert out["described"] == ["model words", {"team": "ml"}, "version words", {"k": "v"}]
    assert out["untagged"] == [{}, {}]
    assert out["search_rm"] == [name] and out["search_rm_fluent"] == [name]
    assert out["search_mv"] == ["1", "2"] and out["page"] == [1, True]
    assert out["errors"] == {
        "duplicate": "RESOURCE_ALREADY_EXISTS",
        "bad_stage": "INVALID_PARAMETER_VALUE",
        "archive_into_archived": "INVALID_PARAMETER_VALUE",
        "bad_version": "INVALID_PARAMETER_VALUE",
        "missing_version": "RESOURCE_DOES_NOT_EXIST",
        "alias_on_missing_version": "RESOURCE_DOES_NOT_EXIST",
        "reserved_alias": "INVALID_PARAMETER_VALUE",
        "missing_model": "RESOURCE_DOES_NOT_EXIST",
        "etc_passwd_as_prompt": "INVALID_PARAMETER_VALUE",
        "traversal": "INVALID_PARAMETER_VALUE",
        "file_uri": "INVALID_PARAMETER_VALUE",
    }
    assert out["renamed"] == [{"champion": "2"}, ["1", "2"]] and out["renamed_loads"]
    assert out["next_after_delete"] == "3"
    assert out["deleted"] == "RESOURCE_DOES_NOT_EXIST" and out["run_model_loads"]

    # what the server stored, read with fluvial's SQL registry store
    from fluvial.store.registry.sql import SqlRegistryStore

    store = SqlRegistryStore(server.backend_store_uri)
    kept = store.get_registered_model(name + "-keep")
    assert kept.tags == {"owner": "me"} and kept.aliases == {"champion": 1}
    assert [v.version for v in kept.latest_versions] == [1]
    assert store.create_model_version(name + "-keep", "mlflow-artifacts:/x").version == 3  # 2 is never reused
    assert store.search_registered_models(f"name LIKE '{name}%'").__len__() == 1
    assert not [v for v in store.search_model_versions() if v.source == "/etc/passwd"]


# ---- fluvial's client against mlflow server 2.22.5 -------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_srv(tmp_path_factory) -> Iterator[RunningServer]:
    python = mlflow_python(MLFLOW_VERSION)
    if python is None:
        pytest.skip(f"MLflow {MLFLOW_VERSION} is not installed: .venvs/mlflow-{MLFLOW_VERSION}/bin/python is missing "
                    "(create it with `make mlflow-venvs`)")
    with mlflow_server(python, tmp_path_factory.mktemp("registry-mlflow-server"), workers=1) as running:
        yield running


def query(server: RunningServer, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql, args).fetchall()


def test_fluvial_client_against_mlflow_server(mlflow_srv, monkeypatch, tmp_path):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import fluvial as mlflow
    from fluvial.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_srv.url)
    mlflow.set_tracking_uri(mlflow_srv.url)
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1]])
    model = LogisticRegression().fit(X, np.array([0, 1, 0, 1]))
    expected = model.predict(X).tolist()
    name = fresh("churn")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, "model", registered_model_name=name)
    run_id = run.info.run_id
    assert info.registered_model_version == 1
    mv = mlflow.register_model(model_uri=f"runs:/{run_id}/model", name=name)
    assert mv.version == 2 and mv.run_id == run_id and mv.source.endswith(f"{run_id}/artifacts/model")
    client = mlflow.MlflowClient()
    client.transition_model_version_stage(name, 1, "Production")
    assert client.transition_model_version_stage(name, 2, "production", True).current_stage == "Production"
    assert client.get_model_version(name, 1).current_stage == "Archived"
    client.set_registered_model_alias(name, "champion", 2)
    for uri in (f"models:/{name}/Production", f"models:/{name}/2", f"models:/{name}@champion", f"models:/{name}/latest"):
        assert mlflow.pyfunc.load_model(uri).predict(X).tolist() == expected, uri
    path = mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=str(tmp_path / "dl"))
    assert (Path(path) / "registered_model_meta").read_text() == f"model_name: {name}\nmodel_version: '1'\n"
    registered = client.get_registered_model(name)
    assert registered.aliases == {"champion": 2}
    assert sorted((v.current_stage, v.version) for v in registered.latest_versions) == [("Archived", 1), ("Production", 2)]
    assert [v.version for v in client.get_latest_versions(name, ["production"])] == [2]
    assert client.get_model_version_by_alias(name, "champion").version == 2
    client.set_registered_model_tag(name, "team", "ml")
    client.set_model_version_tag(name, 1, "k", "v")
    client.update_registered_model(name, "words")
    client.update_model_version(name, 1, "v1 words")
    assert client.get_registered_model(name).tags == {"team": "ml"}
    assert client.get_model_version(name, 1).description == "v1 words"
    assert [m.name for m in mlflow.search_registered_models(filter_string=f"name = '{name}'")] == [name]
    assert sorted(v.version for v in client.search_model_versions(f"name = '{name}'")) == [1, 2]
    with pytest.raises(ResourceAlreadyExists):
        client.create_registered_model(name)
    with pytest.raises(InvalidParameterValue):
        client.transition_model_version_stage(name, 1, "Prod")
    with pytest.raises(ResourceDoesNotExist):
        client.get_model_version(name, 9)
    with pytest.raises(ResourceDoesNotExist):
        mlflow.pyfunc.load_model(f"models:/{name}/Staging")
    renamed = client.rename_registered_model(name, name + "-r")
    assert renamed.aliases == {"champion": 2}
    client.delete_model_version(name + "-r", 2)
    assert client.create_model_version(name + "-r", mv.source, run_id).version == 3
    # what MLflow stored
    rows = query(mlflow_srv, "SELECT version, current_stage, source, run_id FROM model_versions WHERE name = ? "
                 "ORDER BY version", name + "-r")
    assert [(r[0], r[1]) for r in rows] == [(1, "Archived"), (2, "Deleted_Internal"), (3, "None")]
    assert rows[0][2] == mv.source and rows[0][3] == run_id
    client.delete_registered_model(name + "-r")
    assert query(mlflow_srv, "SELECT count(*) FROM model_versions WHERE name = ?", name + "-r") == [(0,)]
    assert mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(X).tolist() == expected


# ---- a fluvial database opened by MLflow --------------------------------------------------------------------------
MLFLOW_READS = """
import sys, warnings
warnings.simplefilter("ignore")
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
rm = c.get_registered_model("churn")
emit({
    "aliases": {k: str(v) for k, v in rm.aliases.items()},
    "tags": rm.tags,
    "latest": sorted([v.current_stage, str(v.version)] for v in rm.latest_versions),
    "versions": sorted(str(v.version) for v in c.search_model_versions("name = 'churn'")),
    "v1": [c.get_model_version("churn", 1).description, c.get_model_version("churn", 1).tags],
    "uri": c.get_model_version_download_uri("churn", 3),
    "next": str(c.create_model_version("churn", "s3://bucket/next").version),
    "renamed_rows": [m.name for m in c.search_registered_models()],
})
"""


def test_mlflow_opens_a_registry_written_by_fluvial(tmp_path):
    from fluvial.entities import ModelVersionTag, RegisteredModelTag
    from fluvial.store.registry.sql import SqlRegistryStore

    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = SqlRegistryStore(db)
    store.create_registered_model("draft", [RegisteredModelTag("team", "ml")])
    for i in range(4):
        store.create_model_version("draft", f"s3://bucket/v{i}", tags=[ModelVersionTag("i", str(i))])
    store.update_model_version("draft", 1, "first")
    store.transition_model_version_stage("draft", 3, "Production")
    store.set_registered_model_alias("draft", "champion", 3)
    store.delete_model_version("draft", 4)
    store.delete_model_version("draft", 2)
    store.rename_registered_model("draft", "churn")
    out = run_mlflow(MLFLOW_READS, db, cwd=tmp_path)
    assert out == {
        "aliases": {"champion": "3"},
        "tags": {"team": "ml"},
        "latest": [["None", "1"], ["Production", "3"]],
        "versions": ["1", "3"],
        "v1": ["first", {"i": "0"}],
        "uri": "s3://bucket/v2",
        "next": "5",  # MLflow sees the deleted 4 and does not reuse it
        "renamed_rows": ["churn"],
    }
    assert store.create_model_version("churn", "s3://bucket/again").version == 6
