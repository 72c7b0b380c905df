"""The scikit-learn flavor through the public API: save/log/load, pyfunc, formats, bad input."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import fluvial as mlflow
from fluvial.exceptions import InvalidParameterValue, MlflowException, ResourceDoesNotExist
from fluvial.models import infer_signature


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    return X, y, model


def test_save_load_roundtrip_every_format(iris, tmp_path):
    X, _, model = iris
    for fmt in ("cloudpickle", "pickle"):
        path = tmp_path / fmt
        mlflow.sklearn.save_model(model, path, serialization_format=fmt)
        meta = yaml.safe_load((path / "MLmodel").read_text())
        assert meta["flavors"]["sklearn"]["serialization_format"] == fmt
        assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
        assert meta["flavors"]["python_function"]["model_path"] == "model.pkl"
        assert meta["flavors"]["python_function"]["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
        for name in ("model.pkl", "conda.yaml", "python_env.yaml", "requirements.txt"):
            assert (path / name).is_file()
        loaded = mlflow.sklearn.load_model(str(path))
        assert type(loaded) is LogisticRegression
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        np.testing.assert_array_equal(mlflow.pyfunc.load_model(str(path)).predict(X), model.predict(X))


def test_log_model_with_signature_and_example(iris, tracking_uri):
    X, _, model = iris
    sig = infer_signature(X, model.predict(X))
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, "model", signature=sig, input_example=X[:5])
    assert info.model_uri == f"runs:/{run.info.run_id}/model"
    assert info.run_id == run.info.run_id and info.artifact_path == "model"
    assert info.signature == sig
    assert info.saved_input_example_info["type"] == "dataframe"
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(X[:10]), model.predict(X[:10]))
    assert loaded.metadata.run_id == run.info.run_id
    assert loaded.metadata.get_input_schema() == sig.inputs
    assert isinstance(loaded.input_example, pd.DataFrame) and len(loaded.input_example) == 5
    assert type(loaded.get_raw_model()) is LogisticRegression
    history = mlflow.get_run(run.info.run_id).data.tags["mlflow.log-model.history"]
    assert '"artifact_path": "model"' in history
    assert mlflow.models.get_model_info(info.model_uri).signature == sig


def test_signature_inferred_from_input_example(iris, tmp_path):
    X, _, model = iris
    mlflow.sklearn.save_model(model, tmp_path / "m", input_example=X[:3])
    meta = mlflow.models.Model.load(str(tmp_path / "m"))
    assert meta.signature is not None
    assert meta.get_input_schema().input_names() == list(X.columns)
    assert meta.get_output_schema() is not None
    mlflow.sklearn.save_model(model, tmp_path / "nosig", input_example=X[:3], signature=False)
    assert mlflow.models.Model.load(str(tmp_path / "nosig")).signature is None


def test_schema_enforced_at_predict(iris, tmp_path):
    X, _, model = iris
    mlflow.sklearn.save_model(model, tmp_path / "m", signature=infer_signature(X, model.predict(X)))
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(MlflowException) as err:
        loaded.predict(X.drop(columns=[X.columns[0]]))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE" and X.columns[0] in err.value.message
    reordered = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(loaded.predict(reordered), model.predict(X))


def test_pyfunc_predict_fn(iris, tmp_path):
    X, _, model = iris
    mlflow.sklearn.save_model(model, tmp_path / "m", pyfunc_predict_fn="predict_proba")
    np.testing.assert_allclose(mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X[:3]), model.predict_proba(X[:3]))
    with pytest.raises(InvalidParameterValue):
        mlflow.sklearn.save_model(model, tmp_path / "bad", pyfunc_predict_fn="transform")


def test_bad_inputs(iris, tmp_path):
    _, _, model = iris
    with pytest.raises(InvalidParameterValue, match="serialization format"):
        mlflow.sklearn.save_model(model, tmp_path / "x", serialization_format="json")
    assert not (tmp_path / "x").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(InvalidParameterValue, match="already exists"):
        mlflow.sklearn.save_model(model, tmp_path / "full")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResourceDoesNotExist, match="MLmodel"):
        mlflow.pyfunc.load_model(str(tmp_path / "empty"))
    with pytest.raises(ResourceDoesNotExist):
        mlflow.pyfunc.load_model(str(tmp_path / "missing"))
    mlflow.sklearn.save_model(model, tmp_path / "corrupt")
    (tmp_path / "corrupt" / "model.pkl").write_bytes(b"not a pickle")
    with pytest.raises(MlflowException, match="Could not load"):
        mlflow.sklearn.load_model(str(tmp_path / "corrupt"))


def test_unknown_flavor_and_loader(tmp_path):
    d = tmp_path / "odd"
    d.mkdir()
    (d / "MLmodel").write_text(yaml.safe_dump({"flavors": {"keras": {"x": 1}}}))
    with pytest.raises(ResourceDoesNotExist, match="python_function"):
        mlflow.pyfunc.load_model(str(d))
    (d / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": {"loader_module": "mlflow.no_such_flavor"}}}))
    with pytest.raises(MlflowException, match="does not provide"):
        mlflow.pyfunc.load_model(str(d))
    (d / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": {"loader_module": "not_installed_xyz"}}}))
    with pytest.raises(MlflowException, match="Could not import"):
        mlflow.pyfunc.load_model(str(d))


def test_paths_in_mlmodel_cannot_leave_the_model_dir(iris, tmp_path):
    _, _, model = iris
    outside = tmp_path / "outside.pkl"
    with open(outside, "wb") as fh:
        pickle.dump(model, fh)
    d = tmp_path / "evil"
    mlflow.sklearn.save_model(model, d)
    meta = yaml.safe_load((d / "MLmodel").read_text())
    meta["flavors"]["sklearn"]["pickled_model"] = "../outside.pkl"
    meta["flavors"]["python_function"]["model_path"] = "../outside.pkl"
    (d / "MLmodel").write_text(yaml.safe_dump(meta))
    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        mlflow.sklearn.load_model(str(d))
    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        mlflow.pyfunc.load_model(str(d))


def test_registered_model_name_gives_clear_error_or_registers(iris, tracking_uri):
    _, _, model = iris
    with mlflow.start_run():
        try:
            info = mlflow.sklearn.log_model(model, "model", registered_model_name="churn")
        except MlflowException as exc:
            assert "registry" in exc.message
        else:
            assert info.registered_model_version == 1


def test_requirements_written(iris, tmp_path):
    _, _, model = iris
    mlflow.sklearn.save_model(model, tmp_path / "m")
    reqs = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("scikit-learn==") for r in reqs)
    assert any(r.startswith("cloudpickle==") for r in reqs)
    assert not any(r.startswith(("mlflow", "fluvial")) for r in reqs)
    env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert env["dependencies"] == ["-r requirements.txt"]
    assert os.path.isfile(tmp_path / "m" / "conda.yaml")
