"""``fluvial.pyspark.ml.autolog`` with real pyspark (the shared local Spark session, tiny data):
what a plain estimator, a Pipeline and a CrossValidator log, post-training metrics, and the options."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.autologging._util import artifact_paths, only_run

pyspark = pytest.importorskip("pyspark")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def train(spark: Any) -> Any:
    rows = [(float(i), float(i % 3), 2.0 * i - (i % 3) + 0.5) for i in range(12)]
    return spark.createDataFrame(rows, ["x1", "x2", "label"]).cache()


def _assembler() -> Any:
    from pyspark.ml.feature import VectorAssembler

    return VectorAssembler(inputCols=["x1", "x2"], outputCol="features")


def _runs() -> list[Any]:
    import fluvial

    return fluvial.search_runs(output_format="list")


def _json_artifact(run_id: str, path: str) -> Any:
    from fluvial import MlflowClient

    with open(MlflowClient().download_artifacts(run_id, path)) as f:
        return json.load(f)


def test_plain_estimator_logs_params_tags_dataset_and_model(train: Any) -> None:
    from pyspark.ml.regression import LinearRegression

    import fluvial
    import fluvial.pyspark.ml

    fluvial.pyspark.ml.autolog()
    assembled = _assembler().transform(train)
    model = LinearRegression(maxIter=4, regParam=0.01).fit(assembled)
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "pyspark.ml"
    assert run.data.tags["estimator_name"] == "LinearRegression"
    assert run.data.tags["estimator_class"] == "pyspark.ml.regression.LinearRegression"
    assert run.data.params["maxIter"] == "4" and run.data.params["regParam"] == "0.01"
    assert run.data.params["featuresCol"] == "features"
    paths = artifact_paths(run.info.run_id)
    assert "model/MLmodel" in paths and "estimator_info.json" not in paths  # no hierarchy for a plain estimator
    [dataset_input] = run.inputs.dataset_inputs
    assert [t.value for t in dataset_input.tags] == ["train"]
    # an approximate count that waits at most 5 s: "unknown" when Spark has counted nothing by then
    assert json.loads(dataset_input.dataset.profile)["approx_count"] in (12, "unknown")
    assert dataset_input.dataset.source_type == "code"
    loaded = fluvial.spark.load_model(f"runs:/{run.info.run_id}/model")
    got = [r.prediction for r in loaded.transform(assembled).collect()]
    assert got == [r.prediction for r in model.transform(assembled).collect()]


def test_pipeline_logs_hierarchical_params_and_estimator_info(train: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.regression import LinearRegression

    import fluvial.pyspark.ml

    fluvial.pyspark.ml.autolog(log_input_examples=True)
    Pipeline(stages=[_assembler(), LinearRegression(maxIter=3)]).fit(train)
    run = only_run()
    params = run.data.params
    assert params["stages"] == "['VectorAssembler', 'LinearRegression']"
    assert params["VectorAssembler.inputCols"] == "['x1', 'x2']"
    assert params["LinearRegression.maxIter"] == "3"
    assert run.data.tags["estimator_name"] == "Pipeline"
    info = _json_artifact(run.info.run_id, "estimator_info.json")
    assert info == {"hierarchy": {"name": "Pipeline", "stages": [{"name": "VectorAssembler"},
                                                                 {"name": "LinearRegression"}]}}
    from fluvial.models import Model

    mlmodel = Model.load(fluvial_model_uri(run.info.run_id))
    assert [c["name"] for c in mlmodel.signature.inputs.to_dict()] == ["x1", "x2"]  # the feature columns only
    assert mlmodel.signature.outputs.to_dict() == [{"type": "double", "required": True}]
    assert mlmodel.saved_input_example_info is not None


def fluvial_model_uri(run_id: str) -> str:
    from fluvial import MlflowClient

    return MlflowClient().download_artifacts(run_id, "model")


def test_repeated_stage_classes_are_numbered(train: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StandardScaler
    from pyspark.ml.regression import LinearRegression

    import fluvial.pyspark.ml

    fluvial.pyspark.ml.autolog(log_models=False)
    stages = [_assembler(), StandardScaler(inputCol="features", outputCol="s1"),
              StandardScaler(inputCol="s1", outputCol="s2"), LinearRegression(featuresCol="s2", maxIter=2)]
    Pipeline(stages=stages).fit(train)
    run = only_run()
    assert run.data.params["stages"] == "['VectorAssembler', 'StandardScaler_1', 'StandardScaler_2', 'LinearRegression']"
    assert run.data.params["StandardScaler_2.inputCol"] == "s1"
    assert not any(p.startswith("model/") for p in artifact_paths(run.info.run_id))


# pyspark's CrossValidator leaves its ThreadPool unclosed (a ResourceWarning raised from Pool.__del__)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_cross_validator_logs_search_results_best_params_and_child_runs(train: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.regression import LinearRegression
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    import fluvial.pyspark.ml

    fluvial.pyspark.ml.autolog()
    lr = LinearRegression(maxIter=3)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.5]).build()
    cv = CrossValidator(estimator=Pipeline(stages=[_assembler(), lr]), estimatorParamMaps=grid,
                        evaluator=RegressionEvaluator(), numFolds=2, seed=1)
    model = cv.fit(train)
    runs = _runs()
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2
    assert parent.data.params["estimator"] == "Pipeline" and parent.data.params["numFolds"] == "2"
    assert parent.data.params["RegressionEvaluator.metricName"] == "rmse"
    assert parent.data.params["best_LinearRegression.regParam"] == "0.0"
    assert not any(k.startswith("LinearRegression.") for k in parent.data.params)  # the tuned estimator's: in children
    assert _json_artifact(parent.info.run_id, "best_parameters.json") == {"LinearRegression.regParam": 0.0}
    info = _json_artifact(parent.info.run_id, "estimator_info.json")
    assert info["CrossValidator"]["tuning_parameter_map_list"] == [{"LinearRegression.regParam": 0.0},
                                                                   {"LinearRegression.regParam": 0.5}]
    assert info["hierarchy"]["tuned_estimator"]["name"] == "Pipeline"
    paths = artifact_paths(parent.info.run_id)
    assert {"search_results.csv", "model/MLmodel", "best_model/MLmodel"} <= set(paths)
    by_reg = {c.data.params["LinearRegression.regParam"]: c for c in children}
    assert by_reg["0.5"].data.metrics["avg_rmse"] == pytest.approx(model.avgMetrics[1])
    assert by_reg["0.0"].data.metrics["std_rmse"] == pytest.approx(model.stdMetrics[0])
    assert all(c.data.tags["estimator_name"] == "Pipeline" and c.info.status == "FINISHED" for c in children)


def test_post_training_metrics_are_named_by_metric_call_index_and_dataset(spark: Any, train: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.regression import LinearRegression

    import fluvial.pyspark.ml

    fluvial.pyspark.ml.autolog(log_models=False)
    model = Pipeline(stages=[_assembler(), LinearRegression(maxIter=3)]).fit(train)
    test_df = spark.createDataFrame([(1.5, 0.0, 3.5), (4.0, 1.0, 7.5)], ["x1", "x2", "label"])
    on_train = model.transform(train)
    on_test = model.transform(test_df)
    rmse = RegressionEvaluator().evaluate(on_train)
    evaluator = RegressionEvaluator()
    mae = evaluator.evaluate(on_test, {evaluator.metricName: "mae"})  # params applied: metric "mae"
    rmse_test = RegressionEvaluator().evaluate(on_test)
    RegressionEvaluator().evaluate(spark.createDataFrame([(1.0, 1.0)], ["label", "prediction"]))  # not a prediction
    run = only_run()
    assert run.data.metrics == pytest.approx({"rmse_train": rmse, "mae_test_df": mae, "rmse-2_test_df": rmse_test})
    info = _json_artifact(run.info.run_id, "metric_info.json")
    assert list(info) == ["mae_test_df", "rmse-2_test_df", "rmse_train"]
    assert info["mae_test_df"]["evaluator_class"] == "pyspark.ml.evaluation.RegressionEvaluator"
    assert info["mae_test_df"]["params"]["metricName"] == "mae"
    contexts = sorted(t.value for d in run.inputs.dataset_inputs for t in d.tags)
    assert contexts == ["eval", "eval", "train"]


def test_log_post_training_metrics_false_and_disable(spark: Any, train: Any) -> None:
    from pyspark.ml.base import Estimator, Model
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.regression import LinearRegression

    import fluvial.pyspark.ml

    original_fit = Estimator.fit
    fluvial.pyspark.ml.autolog(log_post_training_metrics=False, log_models=False, log_datasets=False)
    assembled = _assembler().transform(train)  # a Transformer: no fit, no run
    model = LinearRegression(maxIter=2).fit(assembled)
    RegressionEvaluator().evaluate(model.transform(assembled))
    run = only_run()
    assert run.data.metrics == {} and run.inputs.dataset_inputs == []
    assert "transform" not in Model.__dict__
    fluvial.pyspark.ml.autolog(disable=True)
    assert Estimator.fit is original_fit
    LinearRegression(maxIter=2).fit(assembled)
    assert len(_runs()) == 1


def test_featurizer_fit_and_exclusive_and_extra_tags(train: Any) -> None:
    from pyspark.ml.feature import StandardScaler
    from pyspark.ml.regression import LinearRegression

    import fluvial
    import fluvial.pyspark.ml

    fluvial.pyspark.ml.autolog(exclusive=True, extra_tags={"team": "a"}, log_models=False)
    assembled = _assembler().transform(train)
    StandardScaler(inputCol="features", outputCol="scaled").fit(assembled)  # a featurizer on its own: not logged
    assert _runs() == []
    with fluvial.start_run() as user_run:
        LinearRegression(maxIter=2).fit(assembled)
    assert fluvial.get_run(user_run.info.run_id).data.params == {}
    LinearRegression(maxIter=2).fit(assembled)
    logged = [r for r in _runs() if r.info.run_id != user_run.info.run_id]
    assert [r.data.tags["team"] for r in logged] == ["a"]


def test_allowlist_option_and_conf_file(spark: Any, train: Any, tmp_path: Any, autolog_warnings: Any) -> None:
    from pyspark.ml.regression import LinearRegression

    import fluvial.pyspark.ml
    from fluvial.flavors.spark.autolog import read_allowlist

    assembled = _assembler().transform(train)
    fluvial.pyspark.ml.autolog(log_model_allowlist=["pyspark.ml.classification.*"], log_datasets=False)
    LinearRegression(maxIter=2).fit(assembled)
    assert not any(p.startswith("model/") for p in artifact_paths(only_run().info.run_id))
    assert any("not allowlisted" in m for m in autolog_warnings())
    listing = tmp_path / "allow.txt"
    listing.write_text("# models\n\npyspark.ml.regression.LinearRegressionModel\n")
    assert read_allowlist(str(listing)) == {"pyspark.ml.regression.LinearRegressionModel"}
    assert read_allowlist(listing.as_uri()) == {"pyspark.ml.regression.LinearRegressionModel"}


@pytest.mark.parametrize("kwargs", [{"log_model_allowlist": "pyspark.ml.regression.LinearRegressionModel"},
                                    {"log_model_allowlist": [1, 2]}, {"extra_tags": ["a"]}])
def test_bad_options_raise(kwargs: dict[str, Any]) -> None:
    import fluvial.pyspark.ml
    from fluvial.exceptions import MlflowException

    with pytest.raises(MlflowException) as raised:
        fluvial.pyspark.ml.autolog(**kwargs)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


def test_missing_allowlist_file_raises(tmp_path: Any) -> None:
    from fluvial.exceptions import MlflowException
    from fluvial.flavors.spark.autolog import read_allowlist

    with pytest.raises(MlflowException, match="does not exist"):
        read_allowlist(str(tmp_path / "nope.txt"))


def test_universal_autolog_enables_pyspark_ml(train: Any) -> None:
    from pyspark.ml.regression import LinearRegression

    import fluvial
    from fluvial.autologging import config

    fluvial.autolog(log_models=False, exclude_flavors=["sklearn", "xgboost", "lightgbm", "pytorch", "keras",
                                                       "statsmodels"])
    assert config.is_enabled("pyspark.ml")
    LinearRegression(maxIter=2).fit(_assembler().transform(train))
    assert only_run().data.tags["mlflow.autologging"] == "pyspark.ml"
