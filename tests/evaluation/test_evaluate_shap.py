"""``evaluate``'s SHAP explainability (MLflow 2.22.5's shap evaluator): on by default with shap
installed, its three plots under MLflow's names (with the metric prefix), off on request, skipped
without shap unless explicitly asked for (then a clear error), bad options refused before anything is
logged. (The same artifacts as MLflow: test_evaluate_vs_mlflow.py.)"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import fluvial
from fluvial.exceptions import InvalidParameterValue, MissingDependency

pytest.importorskip("shap")
pytest.importorskip("matplotlib")
PLOTS = ["shap_beeswarm_plot", "shap_feature_importance_plot", "shap_summary_plot"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    return X.assign(label=(X.a - X.b + 0.3 * rng.normal(size=60) > 0).astype(int), y=2 * X.a + X.c)


@pytest.fixture
def model_uri(sqlite_uri, data):
    from sklearn.linear_model import LogisticRegression

    fluvial.set_tracking_uri(sqlite_uri)
    with fluvial.start_run():
        return fluvial.sklearn.log_model(LogisticRegression().fit(data[["a", "b", "c"]], data.label), "m",
                                         pip_requirements=[]).model_uri


def _evaluate(uri, data, **config):
    with fluvial.start_run() as run:
        result = fluvial.evaluate(uri, data.drop(columns=["y"]), targets="label", model_type="classifier",
                                  evaluator_config=config)
    files = sorted(a.path for a in fluvial.MlflowClient().list_artifacts(run.info.run_id) if "shap" in a.path)
    return result, files, run.info.run_id


def test_on_by_default_with_mlflow_names(model_uri, data):
    result, files, run_id = _evaluate(model_uri, data)
    assert sorted(k for k in result.artifacts if "shap" in k) == PLOTS
    assert files == [f"{p}.png" for p in PLOTS]
    path = fluvial.artifacts.download_artifacts(run_id=run_id, artifact_path="shap_beeswarm_plot.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert result.artifacts["shap_summary_plot"].uri.endswith("shap_summary_plot.png")


def test_prefix_and_off(model_uri, data):
    _, files, _ = _evaluate(model_uri, data, metric_prefix="val_", explainability_nsamples=20)
    assert files == [f"val_{p}.png" for p in PLOTS]
    result, files, _ = _evaluate(model_uri, data, log_model_explainability=False)
    assert files == [] and not any("shap" in k for k in result.artifacts)


@pytest.mark.slow
def test_regressor_callable(sqlite_uri, data):
    fluvial.set_tracking_uri(sqlite_uri)
    with fluvial.start_run():
        result = fluvial.evaluate(lambda df: 2 * df["a"] + df["c"], data.drop(columns=["label"]), targets="y",
                                  model_type="regressor", evaluator_config={"explainability_nsamples": 15})
    assert sorted(k for k in result.artifacts if "shap" in k) == PLOTS


def test_bad_options_and_missing_shap(model_uri, data, monkeypatch):
    with pytest.raises(InvalidParameterValue, match="Specified explainer algorithm tree is unsupported"):
        _evaluate(model_uri, data, explainability_algorithm="tree")
    with pytest.raises(InvalidParameterValue, match="explainability_kernel_link config can only be"):
        _evaluate(model_uri, data, explainability_algorithm="kernel", explainability_kernel_link="probit")
    monkeypatch.setitem(sys.modules, "shap", None)  # a user without shap
    result, files, _ = _evaluate(model_uri, data)
    assert files == [] and "f1_score" in result.metrics  # skipped silently when not asked for
    with pytest.raises(MissingDependency, match=r"log_model_explainability'\] is True but SHAP"):
        _evaluate(model_uri, data, log_model_explainability=True)


def test_string_labels_skip_with_a_warning(model_uri, data, caplog):
    from sklearn.linear_model import LogisticRegression

    labelled = data.assign(label=np.where(data.label == 1, "yes", "no"))
    with fluvial.start_run():
        uri = fluvial.sklearn.log_model(LogisticRegression().fit(data[["a", "b", "c"]], labelled.label), "s",
                                        pip_requirements=[]).model_uri
    with caplog.at_level("WARNING"):
        _, files, _ = _evaluate(uri, labelled, pos_label="yes")
    assert files == [] and "requires all label values to be numeric or boolean" in caplog.text
