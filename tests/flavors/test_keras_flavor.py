"""The Keras 3 flavor (torch backend: no TensorFlow) through the public API, and Keras autologging."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import yaml

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported anywhere in this process
keras = pytest.importorskip("keras")

import fluvial as mlflow  # noqa: E402
from fluvial.exceptions import InvalidParameterValue  # noqa: E402

# Keras 3.15's torch variables warn under numpy 2.4 when saved (a library matter, not ours)
pytestmark = [pytest.mark.slow,  # Keras + torch import and requirement inference: ~1 min here
              pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")]

X = np.random.default_rng(0).random((16, 3)).astype("float32")
Y = X.sum(axis=1)


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture(scope="module")
def trained():
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0)
    return model


def test_save_load_pyfunc(trained, tmp_path):
    path = tmp_path / "m"
    mlflow.keras.save_model(trained, str(path), input_example=X[:2])
    meta = yaml.safe_load((path / "MLmodel").read_text())
    assert meta["flavors"]["keras"] == {"data": "data", "keras_version": keras.__version__, "keras_backend": "torch",
                                        "save_exported_model": False}
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.keras"
    assert (path / "data" / "model.keras").is_file() and (path / "data" / "keras_module.txt").read_text() == "keras"
    assert any(r.startswith("keras==") for r in (path / "requirements.txt").read_text().splitlines())
    want = trained.predict(X, verbose=0)
    np.testing.assert_allclose(mlflow.keras.load_model(str(path)).predict(X, verbose=0), want, rtol=1e-5)
    pyfunc = mlflow.pyfunc.load_model(str(path))
    np.testing.assert_allclose(pyfunc.predict(X), want, rtol=1e-5)
    frame = pd.DataFrame(X, index=range(10, 26))
    out = mlflow.keras.KerasModelWrapper(trained).predict(frame)  # no tensor signature converting it first
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(range(10, 26))
    with pytest.raises(InvalidParameterValue, match="TensorFlow"):
        mlflow.keras.save_model(trained, str(tmp_path / "x"), save_exported_model=True)


def test_autolog(tracking_uri):
    mlflow.keras.autolog(extra_tags={"k": "v"})
    try:
        model = _model()
        model.fit(X, Y, epochs=2, batch_size=8, verbose=0, validation_data=(X[:8], Y[:8]))
    finally:
        mlflow.keras.autolog(disable=True)
    run = mlflow.last_active_run()
    params = run.data.params
    assert params["epochs"] == "2" and params["batch_size"] == "8" and params["optimizer_name"].startswith("adam")
    assert "x" not in params and "validation_data" not in params and params["shuffle"] == "True"
    client = mlflow.MlflowClient()
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1]
    assert {"loss", "val_loss", "validation_loss"} <= set(run.data.metrics)
    assert run.data.tags["mlflow.autologging"] == "keras" and run.data.tags["k"] == "v"
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["model", "model_summary.txt"]
    contexts = sorted(i.tags[0].value for i in run.inputs.dataset_inputs)
    assert contexts == ["eval", "train"]
    info = mlflow.models.get_model_info(f"runs:/{run.info.run_id}/model")
    assert json.loads(info.signature.to_dict()["inputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X, verbose=0), rtol=1e-5)
