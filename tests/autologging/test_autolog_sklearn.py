"""scikit-learn autologging with real estimators: what a fit logs (checked against scikit-learn's own
numbers), the model round trip, pipelines, parameter searches, post-training metrics, options, and
failure isolation."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import fluvial as mlflow
from fluvial import MlflowClient
from fluvial.autologging import autologging_disabled
from tests.autologging._util import artifact_paths, only_run


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


def _classifier_metrics(model, X, y):
    y_pred, proba = model.predict(X), model.predict_proba(X)
    return {
        "training_score": model.score(X, y),
        "training_accuracy_score": metrics.accuracy_score(y, y_pred),
        "training_precision_score": metrics.precision_score(y, y_pred, average="weighted"),
        "training_recall_score": metrics.recall_score(y, y_pred, average="weighted"),
        "training_f1_score": metrics.f1_score(y, y_pred, average="weighted"),
        "training_log_loss": metrics.log_loss(y, proba),
        "training_roc_auc": metrics.roc_auc_score(y, proba, average="weighted", multi_class="ovo"),
    }


def test_fit_without_a_run_logs_params_metrics_tags_dataset_and_model(iris):
    X, y = iris
    mlflow.sklearn.autolog()
    model = LogisticRegression(max_iter=300).fit(X, y)
    assert mlflow.active_run() is None
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.data.params == {k: str(v) for k, v in model.get_params(deep=True).items()}
    expected = _classifier_metrics(model, X, y)
    assert run.data.metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert run.data.metrics[key] == pytest.approx(value, rel=1e-12), key
    tags = run.data.tags
    assert tags["mlflow.autologging"] == "sklearn"
    assert tags["estimator_name"] == "LogisticRegression"
    assert tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    [dataset_input] = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "dataset" and dataset_input.dataset.source_type == "code"
    assert [(t.key, t.value) for t in dataset_input.tags] == [("mlflow.data.context", "train")]
    assert json.loads(dataset_input.dataset.profile) == {"num_rows": 150, "num_elements": 600}
    paths = artifact_paths(run.info.run_id)
    assert {"model/MLmodel", "model/model.pkl", "model/requirements.txt", "estimator.html"} <= set(paths)
    assert "model/input_example.json" not in paths

    uri = f"runs:/{run.info.run_id}/model"
    loaded = mlflow.sklearn.load_model(uri)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    pyfunc = mlflow.pyfunc.load_model(uri)
    np.testing.assert_array_equal(pyfunc.predict(X), model.predict(X))
    assert [c.name for c in pyfunc.metadata.get_input_schema().inputs] == list(X.columns)


def test_regressor_metrics(diabetes):
    X, y = diabetes
    mlflow.sklearn.autolog(log_models=False)
    model = LinearRegression().fit(X, y)
    with autologging_disabled():  # else these calls would be logged as post-training metrics
        y_pred = model.predict(X)
        mse = metrics.mean_squared_error(y, y_pred)
        expected = {
            "training_score": model.score(X, y),
            "training_mean_squared_error": mse,
            "training_root_mean_squared_error": math.sqrt(mse),
            "training_mean_absolute_error": metrics.mean_absolute_error(y, y_pred),
            "training_r2_score": metrics.r2_score(y, y_pred),
        }
    run = only_run()
    assert run.data.metrics == pytest.approx(expected, rel=1e-12)
    [dataset_input] = run.inputs.dataset_inputs
    profile = json.loads(dataset_input.dataset.profile)
    assert profile["features_shape"] == [442, 10] and profile["targets_shape"] == [442]


def test_binary_metrics_with_pos_label_and_sample_weight():
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :5]
    weights = np.linspace(0.5, 1.5, len(y))
    mlflow.sklearn.autolog(log_models=False, pos_label=1)
    model = LogisticRegression(max_iter=3000).fit(X, y, sample_weight=weights)
    got = only_run().data.metrics
    y_pred = model.predict(X)
    assert got["training_precision_score"] == pytest.approx(
        metrics.precision_score(y, y_pred, pos_label=1, sample_weight=weights))
    assert got["training_f1_score"] == pytest.approx(metrics.f1_score(y, y_pred, sample_weight=weights))
    assert got["training_roc_auc"] == pytest.approx(
        metrics.roc_auc_score(y, model.predict_proba(X)[:, 1], sample_weight=weights))
    assert got["training_score"] == pytest.approx(model.score(X, y, sample_weight=weights))


def test_input_example_and_signature_options(iris):
    X, y = iris
    mlflow.sklearn.autolog(log_input_examples=True, log_datasets=False)
    LogisticRegression(max_iter=300).fit(X, y)
    run = only_run()
    assert run.inputs.dataset_inputs == []
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    pd.testing.assert_frame_equal(model.input_example, X.iloc[:5], check_dtype=False)
    assert model.metadata.signature is not None


def test_without_signatures_the_model_has_none(iris):
    X, y = iris
    mlflow.sklearn.autolog(log_model_signatures=False)
    LogisticRegression(max_iter=300).fit(X, y)
    model = mlflow.pyfunc.load_model(f"runs:/{only_run().info.run_id}/model")
    assert model.metadata.signature is None


def test_pipeline_is_one_run_with_nested_params(diabetes):
    X, y = diabetes
    mlflow.sklearn.autolog(log_models=False)
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LinearRegression())]).fit(X, y)
    run = only_run()  # the steps fitted inside the pipeline made no runs of their own
    params = run.data.params
    assert params["scale__with_mean"] == "True" and params["lr__fit_intercept"] == "True"
    assert params["steps"] == str(pipe.steps)
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.metrics["training_r2_score"] == pytest.approx(metrics.r2_score(y, pipe.predict(X)))


def test_preprocessing_estimators_alone_are_not_autologged(diabetes):
    X, _ = diabetes
    mlflow.sklearn.autolog()
    StandardScaler().fit(X)
    assert mlflow.search_runs(output_format="list") == []


def test_grid_search_logs_best_params_cv_results_and_child_runs(iris):
    X, y = iris
    mlflow.sklearn.autolog(max_tuning_runs=2)
    grid = {"C": [0.01, 1.0, 10.0]}
    search = GridSearchCV(LogisticRegression(max_iter=300), grid, cv=3).fit(X, y)
    runs = mlflow.search_runs(output_format="list")
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.params["param_grid"] == str(grid) and parent.data.params["cv"] == "3"
    assert "estimator__C" not in parent.data.params  # searches log their own params only
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert parent.data.metrics["training_accuracy_score"] == pytest.approx(search.score(X, y))
    paths = artifact_paths(parent.info.run_id)
    assert {"cv_results.csv", "model/MLmodel", "best_estimator/MLmodel"} <= set(paths)
    csv = pd.read_csv(MlflowClient().download_artifacts(parent.info.run_id, "cv_results.csv"))
    assert list(csv["rank_test_score"]) == list(search.cv_results_["rank_test_score"])
    ranks = sorted(search.cv_results_["rank_test_score"])[:2]
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["estimator_name"] == "LogisticRegression"
        assert child.data.tags["mlflow.autologging"] == "sklearn"
        assert child.data.params["max_iter"] == "300"
        assert set(child.data.metrics) == {"mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time",
                                           "mean_test_score", "std_test_score", "rank_test_score"}
    assert sorted(c.data.metrics["rank_test_score"] for c in children) == ranks
    best = mlflow.sklearn.load_model(f"runs:/{parent.info.run_id}/best_estimator")
    np.testing.assert_array_equal(best.predict(X), search.best_estimator_.predict(X))


def test_randomized_search_without_limit_logs_every_candidate(iris):
    X, y = iris
    mlflow.sklearn.autolog(log_models=False, max_tuning_runs=None)
    RandomizedSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 3.0, 10.0]}, n_iter=3, cv=2,
                       random_state=0).fit(X, y)
    runs = mlflow.search_runs(output_format="list")
    assert len([r for r in runs if "mlflow.parentRunId" in r.data.tags]) == 3


def test_post_training_metrics(iris):
    X, y = iris
    from sklearn.metrics import accuracy_score as imported_before_autolog

    mlflow.sklearn.autolog(log_models=False)
    model = LogisticRegression(max_iter=300).fit(X.iloc[:100], y.iloc[:100])
    run_id = only_run().info.run_id
    X_test, y_test = X.iloc[100:], y.iloc[100:]
    pred = model.predict(X_test)
    first = metrics.accuracy_score(y_test, pred)
    second = metrics.accuracy_score(y_test, model.predict(X_test))
    f1 = metrics.f1_score(y_test, pred, average="macro")
    score = model.score(X_test, y_test)
    imported_before_autolog(y_test, pred)  # not patched: a function object taken before autolog()
    metrics.accuracy_score(y_test, y_test)  # not predictions of an autologged model
    got = mlflow.get_run(run_id).data.metrics
    assert got["accuracy_score_X_test"] == pytest.approx(first)
    assert got["accuracy_score-2_X_test"] == pytest.approx(second)
    assert got["f1_score_X_test"] == pytest.approx(f1)
    assert got["LogisticRegression_score_X_test"] == pytest.approx(score)
    assert "accuracy_score-3_X_test" not in got
    with open(MlflowClient().download_artifacts(run_id, "metric_info.json")) as fh:
        info = json.load(fh)
    assert info["accuracy_score_X_test"].startswith("accuracy_score(y_true=y_test, y_pred=pred")
    contexts = [[t.value for t in i.tags] for i in mlflow.get_run(run_id).inputs.dataset_inputs]
    assert contexts == [["train"], ["eval"]]


def test_post_training_metrics_can_be_turned_off(iris):
    X, y = iris
    mlflow.sklearn.autolog(log_models=False, log_post_training_metrics=False)
    model = LogisticRegression(max_iter=300).fit(X, y)
    metrics.accuracy_score(y, model.predict(X))
    assert not any(k.startswith("accuracy_score_") for k in only_run().data.metrics)


def test_a_failing_fit_fails_the_run_and_raises(iris):
    mlflow.sklearn.autolog()
    with pytest.raises(ValueError):
        LogisticRegression().fit([[1.0], [2.0]], [0, 0])  # one class only
    run = only_run()
    assert run.info.status == "FAILED" and run.data.params["C"] == "1.0"
    assert mlflow.active_run() is None


def test_inside_a_user_run(iris):
    X, y = iris
    mlflow.sklearn.autolog(log_models=False)
    with mlflow.start_run() as run:
        LogisticRegression(max_iter=300).fit(X, y)
        assert mlflow.active_run().info.run_id == run.info.run_id
    stored = mlflow.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED" and "training_score" in stored.data.metrics
    assert "mlflow.autologging" not in stored.data.tags


def test_disable_leaves_scikit_learn_untouched(iris):
    X, y = iris
    original = LogisticRegression.fit
    mlflow.sklearn.autolog()
    assert LogisticRegression.fit is not original
    mlflow.sklearn.autolog(disable=True)
    assert LogisticRegression.fit is original and metrics.accuracy_score.__module__.startswith("sklearn")
    LogisticRegression(max_iter=300).fit(X, y)
    assert mlflow.search_runs(output_format="list") == []


def test_scikit_learn_introspection_still_works(iris):
    from sklearn.utils.validation import has_fit_parameter

    mlflow.sklearn.autolog()
    assert not hasattr(SVC(probability=False), "predict_proba")
    assert hasattr(SVC(probability=True), "predict_proba")
    assert not hasattr(Pipeline([("scale", StandardScaler())]), "predict")
    assert has_fit_parameter(LogisticRegression(), "sample_weight")


def test_model_logging_failure_only_warns(iris, monkeypatch, autolog_warnings):
    X, y = iris
    import fluvial.flavors.sklearn as flavor

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(flavor, "log_model", broken)
    mlflow.sklearn.autolog()
    model = LogisticRegression(max_iter=300).fit(X, y)
    assert isinstance(model, LogisticRegression) and hasattr(model, "coef_")
    assert any("could not log the model" in m and "disk full" in m for m in autolog_warnings())
    run = only_run()
    assert run.info.status == "FINISHED" and "training_score" in run.data.metrics
    assert not any(p.startswith("model/") for p in artifact_paths(run.info.run_id))


def test_an_unwritable_tracking_location_only_warns(iris, tmp_path, autolog_warnings):
    X, y = iris
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    mlflow.set_tracking_uri(f"sqlite:///{blocker}/mlflow.db")
    mlflow.sklearn.autolog()
    model = LogisticRegression(max_iter=300).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), LogisticRegression(max_iter=300).fit(X, y).predict(X))
    assert autolog_warnings()
