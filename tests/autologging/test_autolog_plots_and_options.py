"""What autologging logs beyond params and metrics, as MLflow 2.22 does: the plots (when matplotlib is
installed), and the options every integration honours: ``extra_tags``, ``registered_model_name``,
``log_input_examples``, ``log_model_signatures``."""

from __future__ import annotations

import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_iris

import fluvial as mlflow
from tests.autologging._util import artifact_paths, only_run

pytest.importorskip("matplotlib")


def _png(run_id: str, name: str) -> bytes:
    with open(mlflow.MlflowClient().download_artifacts(run_id, name), "rb") as fh:
        return fh.read()


def test_sklearn_classifier_plots():
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    mlflow.sklearn.autolog()
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    DecisionTreeClassifier(max_depth=2).fit(X, y)  # binary: confusion matrix, ROC and PR curves
    binary = only_run().info.run_id
    for name in ("training_confusion_matrix.png", "training_roc_curve.png", "training_precision_recall_curve.png"):
        assert _png(binary, name).startswith(b"\x89PNG"), name
    mlflow.delete_run(binary)
    Xi, yi = load_iris(return_X_y=True)
    LogisticRegression(max_iter=300).fit(Xi, yi)  # multiclass: the confusion matrix only
    multi = mlflow.last_active_run().info.run_id
    plots = [p for p in artifact_paths(multi) if p.endswith(".png")]
    assert plots == ["training_confusion_matrix.png"]
    LinearRegression().fit(Xi, yi)  # regressors: no plots
    last = mlflow.last_active_run().info.run_id
    assert not [p for p in artifact_paths(last) if p.endswith(".png")]


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_feature_importance_plots(library):
    module = pytest.importorskip(library)
    X, y = load_iris(return_X_y=True, as_frame=True)
    getattr(mlflow, library).autolog()
    if library == "xgboost":
        module.XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(X, y)
        kinds = ["weight"]
    else:
        module.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1, n_jobs=1).fit(X, y)
        kinds = ["gain", "split"]
    run_id = only_run().info.run_id
    paths = artifact_paths(run_id)
    for kind in kinds:
        assert f"feature_importance_{kind}.json" in paths
        assert _png(run_id, f"feature_importance_{kind}.png").startswith(b"\x89PNG")


def _train(library: str) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    if library == "sklearn":
        from sklearn.tree import DecisionTreeClassifier

        DecisionTreeClassifier(max_depth=2).fit(X, y)
    elif library == "xgboost":
        import xgboost

        xgboost.XGBClassifier(n_estimators=2, max_depth=2, n_jobs=1).fit(X, y)
    elif library == "lightgbm":
        import lightgbm

        lightgbm.LGBMClassifier(n_estimators=2, num_leaves=4, verbose=-1, n_jobs=1).fit(X, y)


@pytest.mark.slow  # three trainings, each logging and registering a model (requirement inference)
@pytest.mark.parametrize("library", ["sklearn", "xgboost", "lightgbm"])
def test_options_are_honoured(library):
    pytest.importorskip(library)
    flavor = getattr(mlflow, library)
    flavor.autolog(log_input_examples=True, log_model_signatures=False, registered_model_name=f"auto-{library}",
                   extra_tags={"team": "ml"})
    _train(library)
    run = only_run()
    assert run.data.tags["team"] == "ml"
    versions = mlflow.MlflowClient().search_model_versions(f"name='auto-{library}'")
    assert [(int(v.version), v.run_id) for v in versions] == [(1, run.info.run_id)]
    with open(mlflow.MlflowClient().download_artifacts(run.info.run_id, "model/MLmodel")) as fh:
        meta = yaml.safe_load(fh)
    assert "signature" not in meta
    assert meta["saved_input_example_info"]["artifact_path"] == "input_example.json"
