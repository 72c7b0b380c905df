"""``fluvial.evaluate``: metric keys per model type, the ways to pass a model and data, user metrics
and artifacts, validation thresholds, what is logged, and every bad-input error."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pandas as pd
import pytest

import fluvial
from fluvial.exceptions import InvalidParameterValue, MlflowException, NotImplementedFeature
from fluvial.metrics import MetricValue, make_metric
from fluvial.models import MetricThreshold
from fluvial.models.evaluation import ModelValidationFailedException

BINARY_KEYS = {"true_negatives", "false_positives", "false_negatives", "true_positives", "example_count",
               "accuracy_score", "recall_score", "precision_score", "f1_score", "log_loss", "roc_auc",
               "precision_recall_auc", "score"}
REGRESSOR_KEYS = {"example_count", "mean_absolute_error", "mean_squared_error", "root_mean_squared_error",
                  "sum_on_target", "mean_on_target", "r2_score", "max_error", "mean_absolute_percentage_error"}


def frame(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    X["label"] = (X.a + 0.5 * rng.normal(size=n) > 0).astype(int)
    X["y"] = 2 * X.a - X.b + rng.normal(size=n)
    return X


@pytest.fixture
def tracking(sqlite_uri):
    fluvial.set_tracking_uri(sqlite_uri)
    return fluvial.MlflowClient()


@pytest.fixture
def classifier_uri(tracking):
    from sklearn.linear_model import LogisticRegression

    df = frame()
    with fluvial.start_run():
        info = fluvial.sklearn.log_model(LogisticRegression().fit(df[["a", "b", "c"]], df.label), "model")
    return info.model_uri


def test_binary_classifier_from_uri_logs_metrics_plots_and_dataset(tracking, classifier_uri):
    df = frame()[["a", "b", "c", "label"]]
    with fluvial.start_run() as run:
        result = fluvial.evaluate(classifier_uri, df, targets="label", model_type="classifier")
    assert set(result.metrics) == BINARY_KEYS
    assert result.metrics["example_count"] == 80
    stored = tracking.get_run(run.info.run_id)
    assert {k: round(v, 12) for k, v in stored.data.metrics.items()} == {
        k: round(float(v), 12) for k, v in result.metrics.items()}
    names = {f.path for f in tracking.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix.png", "roc_curve_plot.png", "precision_recall_curve_plot.png",
            "lift_curve_plot.png"} <= names
    assert result.artifacts["confusion_matrix"].content.size[0] > 100  # a real PNG, loaded with PIL
    inputs = stored.inputs.dataset_inputs
    assert len(inputs) == 1 and json.loads(inputs[0].dataset.profile)["num_rows"] == 80
    assert json.loads(stored.data.tags["mlflow.datasets"])[0]["hash"]


def test_new_run_when_none_is_active_and_it_is_ended(tracking):
    df = frame()
    result = fluvial.evaluate(lambda X: 2 * X["a"] - X["b"], df[["a", "b", "y"]], targets="y",
                              model_type="regressor", evaluator_config={"log_model_explainability": False})
    assert set(result.metrics) == REGRESSOR_KEYS
    assert fluvial.active_run() is None
    assert tracking.get_run(result.run_id).info.status == "FINISHED"


def test_static_predictions_and_numpy_and_dataset_inputs(tracking):
    df = frame()
    df["pred"] = 2 * df.a - df.b
    by_column = fluvial.evaluate(data=df[["a", "pred", "y"]], predictions="pred", targets="y", model_type="regressor")
    dataset = fluvial.data.from_pandas(df[["a", "pred", "y"]], targets="y", predictions="pred")
    by_dataset = fluvial.evaluate(data=dataset, model_type="regressor")
    assert by_column.metrics == pytest.approx(by_dataset.metrics)
    arr = fluvial.evaluate(lambda X: 2 * X["feature_1"] - X["feature_2"], df[["a", "b"]].to_numpy(),
                           targets=df.y.to_numpy(), model_type="regressor")
    assert arr.metrics["mean_squared_error"] == pytest.approx(by_column.metrics["mean_squared_error"])


def test_multiclass_average_and_per_class_table(tracking):
    from sklearn.linear_model import LogisticRegression

    df = frame()
    df["k"] = np.digitize(df.a, [-0.5, 0.5])
    model = LogisticRegression().fit(df[["a", "b", "c"]], df.k)
    with fluvial.start_run():
        uri = fluvial.sklearn.log_model(model, "m").model_uri
    off = {"log_model_explainability": False}  # SHAP: test_evaluate_shap.py
    weighted = fluvial.evaluate(uri, df[["a", "b", "c", "k"]], targets="k", model_type="classifier",
                                evaluator_config=off)
    macro = fluvial.evaluate(uri, df[["a", "b", "c", "k"]], targets="k", model_type="classifier",
                             evaluator_config={"average": "macro", **off})
    assert "true_negatives" not in weighted.metrics and "roc_auc" in weighted.metrics
    assert weighted.metrics["f1_score"] != macro.metrics["f1_score"]
    table = weighted.artifacts["per_class_metrics"].content
    assert list(table.positive_class) == [0, 1, 2] and "roc_auc" in table


def test_pos_label_changes_binary_metrics(tracking):
    df = frame()
    df["pred"] = (df.a > 0.3).astype(int)
    one = fluvial.evaluate(data=df, predictions="pred", targets="label", model_type="classifier")
    zero = fluvial.evaluate(data=df, predictions="pred", targets="label", model_type="classifier",
                            evaluator_config={"pos_label": 0})
    assert one.metrics["recall_score"] != zero.metrics["recall_score"]


def test_extra_metrics_both_signatures_prefix_and_per_row_table(tracking):
    df = frame()

    def squared_sum(eval_df, builtin_metrics):
        return float(((eval_df.prediction - eval_df.target) ** 2).sum()) + 0 * builtin_metrics["example_count"]

    def per_row(predictions, targets, metrics):
        scores = list((predictions - targets).abs())
        return MetricValue(scores=scores, aggregate_results={"mean": float(np.mean(scores)),
                                                             "plus_mse": metrics["mean_squared_error"]
                                                             .aggregate_results["mean_squared_error"]})

    extras = [make_metric(eval_fn=squared_sum, greater_is_better=False),
              make_metric(eval_fn=per_row, greater_is_better=False, name="abs_err")]
    with fluvial.start_run() as run:
        result = fluvial.evaluate(lambda X: 2 * X["a"] - X["b"], df[["a", "b", "y"]], targets="y",
                                  model_type="regressor", extra_metrics=extras,
                                  evaluator_config={"metric_prefix": "val_"})
    assert result.metrics["val_squared_sum"] == pytest.approx(result.metrics["val_mean_squared_error"] * 80)
    assert result.metrics["val_abs_err/val_mean"] == pytest.approx(result.metrics["val_mean_absolute_error"])
    assert "val_eval_results_table.json" in {f.path for f in fluvial.MlflowClient().list_artifacts(run.info.run_id)}
    table = fluvial.load_table("val_eval_results_table.json", run_ids=[run.info.run_id])
    assert len(table) == 80 and "val_abs_err/score" in table


def test_custom_artifacts_of_every_kind(tracking):
    df = frame()

    def arts(eval_df, builtin_metrics, artifacts_dir):
        path = f"{artifacts_dir}/notes.txt"
        with open(path, "w") as f:
            f.write("hello")
        return {"head": eval_df.head(3), "arr": np.arange(3), "meta": {"n": len(eval_df)}, "notes": path}

    result = fluvial.evaluate(lambda X: X["a"], df[["a", "y"]], targets="y", model_type="regressor",
                              custom_artifacts=[arts])
    assert len(result.artifacts["head"].content) == 3
    assert list(result.artifacts["arr"].content) == [0, 1, 2]
    assert result.artifacts["meta"].content == {"n": 80}
    assert result.artifacts["notes"].content == "hello"


def test_validation_thresholds_absolute_and_against_a_baseline(tracking):
    df = frame()
    good, bad = (lambda X: 2 * X["a"] - X["b"]), (lambda X: X["a"] * 0)
    fluvial.evaluate(good, df, targets="y", model_type="regressor",
                     validation_thresholds={"r2_score": MetricThreshold(threshold=0.5, greater_is_better=True)})
    with pytest.raises(ModelValidationFailedException) as info:
        fluvial.evaluate(bad, df, targets="y", model_type="regressor", validation_thresholds={
            "r2_score": MetricThreshold(threshold=0.5, greater_is_better=True),
            "nope": MetricThreshold(threshold=1.0, greater_is_better=True)})
    text = str(info.value)
    assert "r2_score value threshold check failed" in text and "nope was missing" in text
    assert text.splitlines()[-4].split() == ["metric", "check", "candidate", "required", "baseline"]
    assert info.value.error_code == "BAD_REQUEST" and len(info.value.failures) == 2
    with pytest.raises(ModelValidationFailedException, match="minimum relative change check failed"):
        fluvial.evaluate(bad, df, targets="y", model_type="regressor", baseline_model=good, validation_thresholds={
            "mean_squared_error": MetricThreshold(min_relative_change=0.1, greater_is_better=False)})
    fluvial.evaluate(good, df, targets="y", model_type="regressor", baseline_model=bad, validation_thresholds={
        "mean_squared_error": MetricThreshold(min_absolute_change=0.1, greater_is_better=False)})


def test_validate_evaluation_results_directly(tracking):
    df = frame()
    cand = fluvial.evaluate(lambda X: 2 * X["a"] - X["b"], df, targets="y", model_type="regressor")
    base = fluvial.evaluate(lambda X: X["a"], df, targets="y", model_type="regressor")
    fluvial.validate_evaluation_results({"r2_score": MetricThreshold(min_absolute_change=0.01, greater_is_better=True)},
                                        cand, base)
    with pytest.raises(ModelValidationFailedException, match="minimum absolute change check failed"):
        fluvial.validate_evaluation_results(
            {"r2_score": MetricThreshold(min_absolute_change=0.01, greater_is_better=True)}, base, cand)
    with pytest.raises(InvalidParameterValue, match="maps strings to MetricThreshold"):
        fluvial.validate_evaluation_results({"r2_score": 0.5}, cand)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"threshold": "1", "greater_is_better": True}, InvalidParameterValue, "`threshold` parameter must be a number"),
    ({"min_absolute_change": -1, "greater_is_better": True}, InvalidParameterValue, "must be a positive number"),
    ({"min_relative_change": 2.0, "greater_is_better": True}, InvalidParameterValue, "between 0 and 1"),
    ({"threshold": 1}, InvalidParameterValue, "`greater_is_better` parameter must be defined"),
    ({"greater_is_better": True}, InvalidParameterValue, "no threshold was specified"),
])
def test_metric_threshold_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        MetricThreshold(**kwargs)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"data": None, "model_type": "regressor", "targets": "y"}, InvalidParameterValue, "data argument cannot be None"),
    ({"model_type": "regressor"}, InvalidParameterValue, "targets argument must be specified"),
    ({"model_type": None}, InvalidParameterValue, "extra_metrics argument must be specified"),
    ({"model_type": "text", "targets": "y"}, NotImplementedFeature, "not supported by fluvial"),
    ({"model_type": "nope", "targets": "y"}, InvalidParameterValue, "Invalid model_type"),
    ({"model_type": "regressor", "targets": "missing"}, InvalidParameterValue, "targets column 'missing'"),
    ({"model_type": "regressor", "targets": "y", "evaluators": "shap2"}, InvalidParameterValue, "Unknown evaluator"),
    ({"model_type": "regressor", "targets": "y", "env_manager": "conda"}, NotImplementedFeature, "env_manager"),
    ({"model_type": "regressor", "targets": "y", "model": 3}, InvalidParameterValue, "model argument must be"),
    ({"model_type": "regressor", "targets": "y", "evaluator_config": {"explainability_algorithm": "tree"}},
     InvalidParameterValue, "Specified explainer algorithm tree is unsupported"),
    ({"model_type": "regressor", "targets": "y", "inference_params": {"a": 1}}, InvalidParameterValue,
     "inference_params"),
    ({"model_type": "regressor", "targets": "y", "extra_metrics": [lambda x: 1]}, MlflowException, "wrong type"),
])
def test_bad_arguments(tracking, kwargs, error, message):
    df = frame()
    args = {"model": lambda X: X["a"], "data": df[["a", "y"]], **kwargs}
    with pytest.raises(error, match=message):
        fluvial.evaluate(**args)
    assert tracking.search_runs(["0"]) == [] or all(not r.data.metrics for r in tracking.search_runs(["0"]))


def _stored(tmp_path) -> tuple[list[str], list[str]]:
    """Every row of the database and every file under the working directory (the artifact root)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(tmp_path / "mlflow.db")) as db:
        rows = list(db.iterdump())
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file() and "mlflow.db" not in p.name)
    return rows, files


def test_baseline_model_without_thresholds_is_refused_before_anything_is_logged(tracking, tmp_path):
    """MLflow 2.22.5 ignores baseline_model without validation_thresholds; fluvial refuses it, and before
    it starts a run or logs a metric, an input or an artifact (to a new run or to the active one)."""
    df = frame()[["a", "y"]]
    with fluvial.start_run():
        pass
    before = _stored(tmp_path)
    with pytest.raises(InvalidParameterValue, match="baseline_model is only used with validation_thresholds"):
        fluvial.evaluate(lambda X: X["a"], df, targets="y", model_type="regressor", baseline_model=lambda X: X["a"])
    assert fluvial.active_run() is None and _stored(tmp_path) == before
    with fluvial.start_run():
        before = _stored(tmp_path)
        with pytest.raises(InvalidParameterValue, match="baseline_model is only used with validation_thresholds"):
            fluvial.evaluate(lambda X: X["a"], df, targets="y", model_type="regressor",
                             baseline_model=lambda X: X["a"])
        assert _stored(tmp_path) == before


@pytest.mark.parametrize("artifact_file", ["/abs.json", "../x.json", "a/../../b.json", "a\\..\\b.json",
                                           "%2e%2e/x.json", "file:/x.json"])
def test_log_table_refuses_the_paths_log_artifact_refuses(tracking, tmp_path, artifact_file):
    """log_table checks its path with the artifact layer's validator: the same error (type, code and
    message) as log_artifact to that path, and nothing stored."""
    (tmp_path / "x.json").write_text("{}")
    with fluvial.start_run() as run:
        before = _stored(tmp_path)
        with pytest.raises(MlflowException) as by_artifact:
            fluvial.log_artifact(str(tmp_path / "x.json"), artifact_file)
        with pytest.raises(MlflowException) as by_table:
            fluvial.log_table({"a": [1]}, artifact_file)
        assert _stored(tmp_path) == before
    assert type(by_table.value) is type(by_artifact.value) is InvalidParameterValue
    assert by_table.value.error_code == by_artifact.value.error_code == "INVALID_PARAMETER_VALUE"
    assert by_table.value.message == by_artifact.value.message
    assert "mlflow.loggedArtifacts" not in tracking.get_run(run.info.run_id).data.tags


def test_log_table_appends_and_load_table_adds_run_id(tracking):
    with fluvial.start_run() as r1:
        fluvial.log_table({"q": ["a", "b"], "s": [1, 2]}, "t/table.json")
        fluvial.log_table(pd.DataFrame({"q": ["c"], "s": [3]}), "t/table.json")
    with fluvial.start_run() as r2:
        fluvial.log_table({"q": "z", "s": 9}, "t/table.json")
    table = fluvial.load_table("t/table.json", extra_columns=["run_id"])
    assert sorted(table.q) == ["a", "b", "c", "z"]
    assert set(table.run_id) == {r1.info.run_id, r2.info.run_id}
    tag = json.loads(tracking.get_run(r1.info.run_id).data.tags["mlflow.loggedArtifacts"])
    assert tag == [{"path": "t/table.json", "type": "table"}]
    with pytest.raises(InvalidParameterValue, match=r"'\.json' or '\.parquet'"):
        fluvial.log_table({"a": [1]}, "t.csv")


def test_numpy_dataset_models_alias_and_result_save_load(tracking, tmp_path):
    df = frame()
    dataset = fluvial.data.from_numpy(df[["a", "b"]].to_numpy(), targets=df.label.to_numpy())
    result = fluvial.models.evaluate(lambda X: (X["feature_1"] > 0).astype(int), dataset, model_type="classifier")
    assert result.metrics["example_count"] == 80 and "log_loss" not in result.metrics  # no probabilities
    assert fluvial.models.list_evaluators() == ["default", "classifier", "regressor"]
    result.save(str(tmp_path / "saved"))
    loaded = fluvial.models.EvaluationResult.load(str(tmp_path / "saved"))
    assert loaded.metrics == pytest.approx({k: float(v) for k, v in result.metrics.items()})
    assert loaded.artifacts["confusion_matrix"].content.size == result.artifacts["confusion_matrix"].content.size
