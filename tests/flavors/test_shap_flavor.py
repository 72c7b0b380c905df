"""fluvial.shap through the public API: log_explanation's artifacts, an explainer of a plain function
(serialized by SHAP itself, with MLflow's warning) saved, logged and loaded back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fluvial as mlflow

shap = pytest.importorskip("shap")
pytest.importorskip("matplotlib")

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

X = pd.DataFrame({"a": np.linspace(0, 1, 12), "b": np.cos(np.linspace(0, 3, 12))})


def predict(data):
    data = np.asarray(data)
    return 3 * data[:, 0] - data[:, 1]


def test_log_explanation_and_an_explainer_shap_serializes(tracking_uri, tmp_path):
    with mlflow.start_run() as run:
        uri = mlflow.shap.log_explanation(predict, X)
        explainer = shap.Explainer(predict, X, algorithm="permutation")
        with pytest.warns(UserWarning, match="SHAP serialization"):
            info = mlflow.shap.log_explainer(explainer, "explainer", pip_requirements=["shap"])
    assert uri.endswith("/model_explanations_shap")
    client = mlflow.MlflowClient()
    names = sorted(a.path for a in client.list_artifacts(run.info.run_id, "model_explanations_shap"))
    assert names == ["model_explanations_shap/base_values.npy", "model_explanations_shap/shap_values.npy",
                     "model_explanations_shap/summary_bar_plot.png"]
    local = client.download_artifacts(run.info.run_id, "model_explanations_shap", str(tmp_path))
    values = np.load(f"{local}/shap_values.npy")
    assert values.shape == X.shape
    # SHAP values of a linear model add up to prediction minus base value
    np.testing.assert_allclose(values.sum(axis=1) + np.load(f"{local}/base_values.npy"), predict(X), atol=1e-6)
    loaded = mlflow.shap.load_explainer(info.model_uri)
    np.testing.assert_allclose(loaded(X.values[:3]).values, explainer(X.values[:3]).values)
    meta = mlflow.models.Model.load(info.model_uri)
    assert meta.flavors["shap"]["underlying_model_flavor"] == "unknown"
    with pytest.raises(TypeError, match="input_exmple"):
        mlflow.shap.log_explainer(explainer, "e2", input_exmple=X)
