"""The Spark MLlib flavor (``fluvial.spark``) on a real local SparkSession (the session fixture of
tests/conftest.py): save/log/load, the pyfunc's pandas -> Spark conversion, signatures,
requirements, MLmodel entries, refused input."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import yaml

import fluvial as mlflow
from fluvial.exceptions import InvalidParameterValue, MlflowException

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # the first test starts the JVM (seconds when idle, minutes on a loaded machine)
    # PySpark 4.x says so on every pandas -> Spark conversion while pandas 3 is installed
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas >= 3.0.0:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
]

FRAME = pd.DataFrame({"x1": np.linspace(0.0, 5.0, 20), "x2": np.cos(np.linspace(0.0, 5.0, 20))})
FRAME["label"] = 2.0 * FRAME.x1 - FRAME.x2 + 0.5


@pytest.fixture(scope="module")
def trained(spark):
    """(a fitted PipelineModel: VectorAssembler + LinearRegression, its training DataFrame)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression

    df = spark.createDataFrame(FRAME)
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["x1", "x2"], outputCol="features"),
                                LinearRegression(maxIter=5)])
    return pipeline.fit(df), df


def _predictions(model, df):
    return [row.prediction for row in model.transform(df).select("prediction").collect()]


def test_save_load_and_pyfunc_predict_the_same(trained, tmp_path, spark):
    model, df = trained
    path = tmp_path / "model"
    mlflow.spark.save_model(model, str(path), input_example=FRAME[["x1", "x2"]].head(3), pip_requirements=["pyspark"])
    expected = _predictions(model, df)

    assert sorted(os.listdir(path / "sparkml")) == ["metadata", "stages"]
    meta = yaml.safe_load((path / "MLmodel").read_text())
    assert meta["flavors"]["spark"] == {"pyspark_version": __import__("pyspark").__version__, "model_data": "sparkml",
                                        "code": None, "model_class": "pyspark.ml.pipeline.PipelineModel"}
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.spark"
    assert meta["flavors"]["python_function"]["data"] == "sparkml"

    loaded = mlflow.spark.load_model(str(path))
    assert type(loaded).__name__ == "PipelineModel"
    np.testing.assert_allclose(_predictions(loaded, df), expected)

    pyfunc = mlflow.pyfunc.load_model(str(path))
    out = pyfunc.predict(FRAME[["x1", "x2"]])
    assert isinstance(out, list)
    np.testing.assert_allclose(out, expected)
    assert type(pyfunc.get_raw_model()).__name__ == "PipelineModel"
    # a Spark DataFrame goes in as it is
    np.testing.assert_allclose(pyfunc.predict(df.select("x1", "x2")), expected)


def test_signature_inferred_from_the_example_by_running_the_model(trained, tmp_path):
    model, _df = trained
    path = tmp_path / "model"
    mlflow.spark.save_model(model, str(path), input_example=FRAME[["x1", "x2"]].head(2), pip_requirements=["pyspark"])
    signature = mlflow.models.Model.load(str(path)).signature
    assert signature.inputs.to_dict() == [{"type": "double", "name": "x1", "required": True},
                                          {"type": "double", "name": "x2", "required": True}]
    assert signature.outputs.to_dict() == [{"type": "double", "required": True}]  # one unnamed column, as MLflow
    assert (path / "input_example.json").exists()


def test_a_single_stage_is_wrapped_and_vector_inputs_follow_the_signature(trained, tmp_path, spark):
    """A bare fitted estimator is saved as a one-stage PipelineModel; with a ``sparkml_vector`` signature
    the pyfunc turns arrays of floats into ML vectors."""
    model, df = trained
    features = model.stages[0].transform(df)
    regression = model.stages[-1]
    signature = mlflow.models.infer_signature(features.select("features"), regression.transform(features).select("prediction"))
    assert signature.inputs.to_dict() == [{"type": "sparkml_vector", "name": "features", "required": True}]
    path = tmp_path / "model"
    mlflow.spark.save_model(regression, str(path), signature=signature, pip_requirements=["pyspark"])
    assert yaml.safe_load((path / "MLmodel").read_text())["flavors"]["spark"]["model_class"] == \
        "pyspark.ml.pipeline.PipelineModel"
    vectors = pd.DataFrame({"features": [np.array([x1, x2]) for x1, x2 in zip(FRAME.x1, FRAME.x2, strict=True)]})
    out = mlflow.pyfunc.load_model(str(path)).predict(vectors)
    np.testing.assert_allclose(out, _predictions(model, df))


def test_log_model_registers_and_loads_from_the_run(trained, tmp_path, tracking_uri):
    """log_model into a SQLite-backed run with requirements inferred (the model is loaded in a fresh
    interpreter), registered under a name."""
    model, df = trained
    with mlflow.start_run() as run:
        info = mlflow.spark.log_model(model, "spark-model", registered_model_name="spark-reg")
    assert info.model_uri == f"runs:/{run.info.run_id}/spark-model"
    assert info.registered_model_version == 1
    local = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "dl"))
    with open(os.path.join(local, "requirements.txt")) as fh:
        requirements = fh.read().split()
    assert f"pyspark=={__import__('pyspark').__version__}" in requirements
    np.testing.assert_allclose(_predictions(mlflow.spark.load_model("models:/spark-reg/1"), df), _predictions(model, df))


def test_refused_input_leaves_nothing_behind(trained, tmp_path, spark):
    model, df = trained
    with pytest.raises(InvalidParameterValue, match="MLWritable"):
        mlflow.spark.save_model(object(), str(tmp_path / "a"))
    with pytest.raises(InvalidParameterValue, match="MLeap"):
        mlflow.spark.save_model(model, str(tmp_path / "b"), sample_input=df)
    with pytest.raises(TypeError, match="input_exmple"):
        mlflow.spark.log_model(model, "m", input_exmple=FRAME)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert mlflow.active_run() is None
    with pytest.raises(MlflowException, match="No model at"):
        mlflow.spark.load_model(str(tmp_path / "missing"))


def test_default_requirements_pin_pyspark():
    assert mlflow.spark.get_default_pip_requirements() == [f"pyspark=={__import__('pyspark').__version__}"]
