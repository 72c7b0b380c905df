"""The registry through ``MlflowClient`` and the fluent API, on SQLite and PostgreSQL: the issue's
flow with a real scikit-learn model loaded by version, stage, alias and ``latest``; ``runs:/``
sources; ``models:/`` downloads with ``registered_model_meta``; a separate registry URI; errors.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

import fluvial as mlflow
from fluvial import MlflowClient
from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
Y = np.array([0, 1, 0, 1, 0, 1])


@pytest.fixture(scope="module")
def model():
    return LogisticRegression().fit(X, Y)


@pytest.fixture
def uri(db_uri):
    """The fluent API and clients pointed at a fresh database (SQLite, PostgreSQL)."""
    mlflow.set_tracking_uri(db_uri)
    return db_uri


def log_model(model, name: str | None = None):
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, "model", registered_model_name=name)
    return run.info.run_id, info


def test_the_issue_flow(uri, model):
    run_id, info = log_model(model, "churn")
    assert info.registered_model_version == 1
    mv = mlflow.register_model(f"runs:/{run_id}/model", "churn")
    assert mv.version == 2 and mv.run_id == run_id
    run_root = mlflow.get_run(run_id).info.artifact_uri
    assert mv.source == f"{run_root}/model"  # the resolved artifact URI, not runs:/
    client = mlflow.MlflowClient()
    client.transition_model_version_stage("churn", 1, "Production")
    moved = client.transition_model_version_stage("churn", 2, "Production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert client.get_model_version("churn", 1).current_stage == "Archived"
    client.set_registered_model_alias("churn", "champion", 2)
    expected = model.predict(X)
    for model_uri in ("models:/churn/Production", "models:/churn/production", "models:/churn/2",
                      "models:/churn@champion", "models:/churn/latest", "models:/churn/LATEST"):
        assert list(mlflow.pyfunc.load_model(model_uri).predict(X)) == list(expected), model_uri
    assert list(mlflow.sklearn.load_model("models:/churn/1").predict(X)) == list(expected)
    assert client.get_model_version_download_uri("churn", 2) == f"{run_root}/model"
    registered = client.get_registered_model("churn")
    assert registered.aliases == {"champion": 2}
    assert sorted((v.current_stage, v.version) for v in registered.latest_versions) == [("Archived", 1),
                                                                                          ("Production", 2)]


def test_download_artifacts_of_models_uri_writes_registered_model_meta(uri, model, tmp_path):
    log_model(model, "churn")
    path = mlflow.artifacts.download_artifacts("models:/churn/1", dst_path=str(tmp_path / "dl"))
    assert sorted(os.listdir(path)) == ["MLmodel", "conda.yaml", "model.pkl", "python_env.yaml",
                                        "registered_model_meta", "requirements.txt"]
    with open(os.path.join(path, "registered_model_meta"), encoding="utf-8") as fh:
        meta_text = fh.read()
    assert yaml.safe_load(meta_text) == {"model_name": "churn", "model_version": "1"}
    assert "model_version: '1'" in meta_text
    MlflowClient().set_registered_model_alias("churn", "champion", 1)
    single = mlflow.artifacts.download_artifacts("models:/churn@champion/MLmodel", dst_path=str(tmp_path / "one"))
    assert os.path.basename(single) == "MLmodel" and os.path.isfile(single)
    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        mlflow.artifacts.download_artifacts("models:/churn/1/../../etc", dst_path=str(tmp_path / "x"))


def test_register_model_messages_and_sources(uri, model, capsys, tmp_path):
    run_id, _ = log_model(model)
    first = mlflow.register_model(f"runs:/{run_id}/model", "churn", tags={"team": "ml", "n": 3})
    assert first.tags == {"team": "ml", "n": "3"}
    second = mlflow.register_model(f"runs:/{run_id}/model", "churn")
    err = capsys.readouterr().err
    assert "Successfully registered model 'churn'." in err
    assert "Registered model 'churn' already exists. Creating a new version of this model..." in err
    assert "Created version '1' of model 'churn'." in err and "Created version '2' of model 'churn'." in err
    assert second.version == 2
    local = tmp_path / "saved"
    mlflow.sklearn.save_model(model, local)
    plain = mlflow.register_model(str(local), "local-model")
    assert plain.source == str(local) and plain.run_id is None
    os.chdir(tmp_path)
    relative = mlflow.register_model("saved", "local-model")
    assert relative.source == str(local)  # stored absolute: the registry outlives the working directory
    assert mlflow.pyfunc.load_model("models:/local-model/1").predict(X).tolist() == model.predict(X).tolist()


def test_register_model_bad_input_creates_nothing(uri):
    client = MlflowClient()
    with pytest.raises(ResourceDoesNotExist):
        mlflow.register_model(f"runs:/{'0' * 32}/model", "ghost")
    with pytest.raises(InvalidParameterValue):
        mlflow.register_model("runs:/", "ghost")
    with pytest.raises(InvalidParameterValue):
        mlflow.register_model("s3://bucket/x", "ghost", tags={"bad key!": "v"})
    with pytest.raises(InvalidParameterValue):
        mlflow.register_model("s3://bucket/" + "x" * 600, "ghost")  # fails at version creation
    assert client.search_registered_models() == []


def test_client_registered_model_methods(uri):
    client = MlflowClient()
    created = client.create_registered_model("churn", tags={"team": "ml", "n": 1}, description="d")
    assert created.tags == {"team": "ml", "n": "1"} and created.description == "d"
    with pytest.raises(ResourceAlreadyExists, match=r"Registered Model \(name=churn\) already exists."):
        client.create_registered_model("churn")
    assert client.update_registered_model("churn", "new").description == "new"
    client.set_registered_model_tag("churn", "stage", 2)
    client.delete_registered_model_tag("churn", "team")
    assert client.get_registered_model("churn").tags == {"n": "1", "stage": "2"}
    with pytest.raises(InvalidParameterValue, match=r"The name must not be an empty string\."):
        client.rename_registered_model("churn", "  ")
    assert client.rename_registered_model("churn", "churn2").name == "churn2"
    assert [m.name for m in client.search_registered_models("name LIKE 'churn%'")] == ["churn2"]
    client.delete_registered_model("churn2")
    with pytest.raises(ResourceDoesNotExist):
        client.get_registered_model("churn2")


def test_client_model_version_methods(uri, model):
    client = MlflowClient()
    run_id, _ = log_model(model)
    client.create_registered_model("churn")
    mv = client.create_model_version("churn", f"runs:/{run_id}/model", tags={"k": 1}, description="first")
    assert mv.run_id == run_id and mv.source.endswith(f"{run_id}/artifacts/model") and mv.tags == {"k": "1"}
    with pytest.raises(InvalidParameterValue, match="does not match"):
        client.create_model_version("churn", f"runs:/{run_id}/model", run_id="f" * 32)
    client.create_model_version("churn", mv.source, run_id)
    assert client.update_model_version("churn", 2, "second").description == "second"
    client.transition_model_version_stage("churn", 2, "staging")
    client.set_model_version_tag("churn", stage="Staging", key="by-stage", value="yes")
    client.set_model_version_tag("churn", "1", "by-version", True)
    assert client.get_model_version("churn", 2).tags == {"by-stage": "yes"}
    assert client.get_model_version("churn", 1).tags == {"k": "1", "by-version": "True"}
    client.delete_model_version_tag("churn", stage="staging", key="by-stage")
    assert client.get_model_version("churn", 2).tags == {}
    with pytest.raises(InvalidParameterValue, match="version and stage cannot be set together"):
        client.set_model_version_tag("churn", "1", "k", "v", stage="Staging")
    with pytest.raises(InvalidParameterValue, match="version or stage must be set"):
        client.delete_model_version_tag("churn", key="k")
    assert client.get_model_version_stages("churn", 1) == ["None", "Staging", "Production", "Archived"]
    assert [v.version for v in client.get_latest_versions("churn", ["Staging"])] == [2]
    assert {v.version for v in client.search_model_versions(f"run_id = '{run_id}'")} == {1, 2}
    client.delete_model_version("churn", 1)
    assert [v.version for v in client.search_model_versions("name = 'churn'")] == [2]


def test_copy_model_version(uri, model):
    client = MlflowClient()
    log_model(model, "churn")
    client.set_model_version_tag("churn", 1, "k", "v")
    copy = client.copy_model_version("models:/churn/1", "churn-prod")
    assert (copy.name, copy.version, copy.source, copy.tags) == ("churn-prod", 1, "models:/churn/1", {"k": "v"})
    assert client.get_model_version_download_uri("churn-prod", 1) == client.get_model_version_download_uri("churn", 1)
    assert mlflow.pyfunc.load_model("models:/churn-prod/1").predict(X).tolist() == model.predict(X).tolist()
    with pytest.raises(InvalidParameterValue, match="only copies models stored in the 'models:/' scheme"):
        client.copy_model_version("runs:/abc/model", "x")
    with pytest.raises(ResourceDoesNotExist, match="Failed to fetch model version"):
        client.copy_model_version("models:/churn/7", "x")


def test_fluent_searches_page_through_everything(uri):
    client = MlflowClient()
    for i in range(5):
        client.create_registered_model(f"m{i}")
        client.create_model_version(f"m{i}", f"s3://bucket/m{i}")
    assert [m.name for m in mlflow.search_registered_models()] == [f"m{i}" for i in range(5)]
    assert len(mlflow.search_registered_models(max_results=3)) == 3
    assert [m.name for m in mlflow.search_registered_models(filter_string="name = 'm3'")] == ["m3"]
    assert len(mlflow.search_model_versions()) == 5
    assert [v.name for v in mlflow.search_model_versions(filter_string="name ILIKE 'M1'")] == ["m1"]
    assert [v.name for v in mlflow.search_model_versions(max_results=2, order_by=["name DESC"])] == ["m4", "m3"]


@pytest.mark.parametrize(
    ("model_uri", "error", "message"),
    [
        ("models:/nope/1", ResourceDoesNotExist, r"Model Version \(name=nope, version=1\) not found"),
        ("models:/nope/Production", ResourceDoesNotExist, "Registered Model with name=nope not found"),
        ("models:/churn/7", ResourceDoesNotExist, r"Model Version \(name=churn, version=7\) not found"),
        ("models:/churn/Staging", ResourceDoesNotExist,
         "No versions of model with name 'churn' and stage 'Staging' found"),
        ("models:/churn/Prod", InvalidParameterValue, "Invalid Model Version stage: Prod"),
        ("models:/churn@nobody", ResourceDoesNotExist, "Registered model alias nobody not found."),
        ("models:/churn@latest", InvalidParameterValue, "reserved"),
        ("models:/churn", InvalidParameterValue, "Not a proper models:/ URI: models:/churn."),
        ("models:/", InvalidParameterValue, "Not a proper models:/ URI"),
        ("models:/@champion", InvalidParameterValue, "Not a proper models:/ URI"),
        ("models://profile@databricks/churn/1", InvalidParameterValue, "Not a proper models:/ URI"),
    ],
)
def test_models_uri_errors(uri, model, model_uri, error, message):
    log_model(model, "churn")
    with pytest.raises(error, match=message):
        mlflow.pyfunc.load_model(model_uri)


def test_deleting_versions_and_models_keeps_run_artifacts(uri, model):
    run_id, _ = log_model(model, "churn")
    client = MlflowClient()
    client.delete_model_version("churn", 1)
    client.delete_registered_model("churn")
    assert mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(X).tolist() == model.predict(X).tolist()
    with pytest.raises(ResourceDoesNotExist):
        mlflow.pyfunc.load_model("models:/churn/1")


def test_separate_registry_uri(tmp_path, model, monkeypatch):
    tracking = f"sqlite:///{tmp_path / 'tracking.db'}"
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)
    assert mlflow.get_registry_uri() == registry
    log_model(model, "churn")
    assert [m.name for m in MlflowClient(registry_uri=registry).search_registered_models()] == ["churn"]
    assert MlflowClient(registry_uri=tracking).search_registered_models() == []
    assert mlflow.pyfunc.load_model("models:/churn/1").predict(X).tolist() == model.predict(X).tolist()
    from fluvial.tracking import _stores

    _stores._registry_uri = None  # only the environment variable now (the autouse fixture resets both)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", tracking)
    assert mlflow.search_registered_models() == []


def test_registry_errors_are_typed(uri):
    client = MlflowClient()
    client.create_registered_model("churn")
    with pytest.raises(MlflowException) as info:
        client.get_model_version("churn", "one")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE" and info.value.http_status == 400
    with pytest.raises(ResourceDoesNotExist) as missing:
        client.get_model_version("churn", 1)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST" and missing.value.http_status == 404


def test_fluent_names_are_lazy_and_stdlib_only():
    import json
    import subprocess
    import sys

    import fluvial.tracking.registry as registry

    assert mlflow.register_model is registry.register_model
    assert mlflow.search_registered_models is registry.search_registered_models
    assert mlflow.search_model_versions is registry.search_model_versions
    code = (
        "import sys; before = set(sys.modules); import fluvial; fluvial.register_model; "
        "fluvial.search_model_versions; fluvial.MlflowClient.get_registered_model; import json; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names) "
        "- {'fluvial'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert [m for m in json.loads(out.stdout.strip().splitlines()[-1]) if not m.startswith("_")] == []


def test_the_seed_registry_lines(uri, model):
    """The registry part of the seed cheat sheet, as written there (``import fluvial as mlflow``)."""
    from fluvial.models import infer_signature
    from fluvial.tracking import MlflowClient as TrackingClient

    X_train, predictions = X, model.predict(X)
    sig = infer_signature(X_train, predictions)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, "model",
                                 signature=sig,
                                 registered_model_name="my-model")
    mlflow.register_model(model_uri=f"runs:/{run.info.run_id}/model", name="my-model")
    assert mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(X).tolist() == predictions.tolist()
    client = TrackingClient()
    client.transition_model_version_stage("my-model", 2, "Production",
                                          archive_existing_versions=True)
    assert mlflow.pyfunc.load_model("models:/my-model/Production").predict(X).tolist() == predictions.tolist()
    assert mlflow.pyfunc.load_model("models:/my-model/2").metadata.signature == sig
    mlflow.register_model(model_uri=f"runs:/{run.info.run_id}/model", name="churn-predictor")
    assert [m.name for m in mlflow.search_registered_models()] == ["churn-predictor", "my-model"]
