"""``fluvial.pyfunc.spark_udf`` on a real local Spark session: column selection (signature, positional,
struct), result types, custom models returning DataFrames or taking params, model URIs, and errors.

Every prediction is checked against ``pyfunc.load_model(uri).predict`` run in this process.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

import fluvial as mlflow
from fluvial.exceptions import MlflowException
from fluvial.models import infer_signature
from fluvial.models.schema import ColSpec, Object, ParamSchema, ParamSpec, Property, Schema, TensorSpec
from fluvial.models.signature import ModelSignature

pytestmark = [
    pytest.mark.slow,
    # PySpark 4.x says so on every pandas UDF / Arrow conversion while pandas 3 is installed
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas >= 3.0.0:FutureWarning"),
    # ... and its Arrow -> pandas conversion (toPandas) still passes astype(copy=False)
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
]

FEATURES = pd.DataFrame({
    "a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    "b": [0.5, -1.0, 0.25, 2.0, -0.5, 1.5],
})
TARGET = np.array([1.2, 2.1, 3.3, 4.8, 5.1, 6.9])
LABELS = np.array([0, 0, 1, 1, 2, 2])
REQS = ["scikit-learn", "pandas"]  # given, to skip requirement inference (a second per model)

# custom models: shipped with the model as code (like a user's own module), so that the Spark workers,
# which do not see the test tree, can unpickle them
MODELS_SRC = textwrap.dedent('''
    import os

    import numpy as np
    import pandas as pd

    import fluvial as mlflow


    class Frame(mlflow.pyfunc.PythonModel):
        """A DataFrame of several types: a total, a label, a count and a flag per row."""

        def predict(self, context, model_input, params=None):
            total = model_input["a"] + model_input["b"]
            return pd.DataFrame({
                "label": np.where(total > 3, "high", "low").astype(object),
                "total": total.astype("float64"),
                "count": (model_input["a"] * 10).astype("int64"),
                "flag": (total > 3).to_numpy(),
            })


    class Scaled(mlflow.pyfunc.PythonModel):
        """a * scale + shift; the params come with every predict."""

        def predict(self, context, model_input, params=None):
            params = params or {}
            return model_input["a"] * params.get("scale", 1.0) + params.get("shift", 0)


    class Echo(mlflow.pyfunc.PythonModel):
        """What the model saw: its input's column names, and the process that loaded it."""

        def load_context(self, context):
            path = context.model_config.get("load_log")
            if path:
                with open(path, "a") as fh:
                    fh.write(f"{os.getpid()}\\n")
            self.offset = context.model_config.get("offset", 0)

        def predict(self, context, model_input, params=None):
            names = ",".join(str(c) for c in model_input.columns)
            return pd.DataFrame({
                "columns": [names] * len(model_input),
                "offset": [self.offset] * len(model_input),
                "env": [os.environ.get("FLUVIAL_SPARK_TEST_VAR", "")] * len(model_input),
                "first": [repr(model_input.iloc[i, 0]) for i in range(len(model_input))],
            })


    class PointSum(mlflow.pyfunc.PythonModel):
        """x + y of an object-typed input column "point"."""

        def predict(self, context, model_input, params=None):
            return model_input["point"].map(lambda p: p["x"] + p["y"]).astype("float64")


    class Shapes(mlflow.pyfunc.PythonModel):
        """Per-row values that are not columns: a 2-D array [a, 2a], or one dict per row."""

        def predict(self, context, model_input, params=None):
            a = model_input["a"].to_numpy()
            if (params or {}).get("kind") == "maps":
                return [{"a": float(v), "twice": float(2 * v)} for v in a]
            return np.stack([a, 2 * a], axis=1)


    class TensorPick(mlflow.pyfunc.PythonModel):
        """For a (-1, 2, 3) tensor: element [1][2] of each row (C order) and its dtype."""

        def predict(self, context, model_input, params=None):
            return pd.DataFrame({"value": model_input[:, 1, 2].astype("float64"),
                                 "dtype": [str(model_input.dtype)] * len(model_input)})
''')


def _predict_locally(uri, pdf, params=None):
    return mlflow.pyfunc.load_model(uri).predict(pdf, params)


def _signature(x, y):
    with warnings.catch_warnings():  # the hint about integer columns and missing values
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer column", UserWarning)
        return infer_signature(x, y)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Saved models, by name -> local path."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    root = tmp_path_factory.mktemp("spark-models")
    code = root / "fluvial_spark_test_models.py"
    code.write_text(MODELS_SRC)
    spec = importlib.util.spec_from_file_location("fluvial_spark_test_models", code)
    custom = importlib.util.module_from_spec(spec)
    sys.modules["fluvial_spark_test_models"] = custom
    spec.loader.exec_module(custom)

    paths = {}
    reg = LinearRegression().fit(FEATURES, TARGET)
    paths["reg"] = str(root / "reg")
    mlflow.sklearn.save_model(reg, paths["reg"], signature=_signature(FEATURES, reg.predict(FEATURES)), pip_requirements=REQS)
    paths["reg_nosig"] = str(root / "reg_nosig")
    mlflow.sklearn.save_model(LinearRegression().fit(FEATURES.to_numpy(), TARGET), paths["reg_nosig"], pip_requirements=REQS)
    clf = LogisticRegression().fit(FEATURES, LABELS)
    paths["clf"] = str(root / "clf")
    mlflow.sklearn.save_model(clf, paths["clf"], signature=_signature(FEATURES, clf.predict(FEATURES)), pip_requirements=REQS)

    def save(name, model, **kwargs):
        paths[name] = str(root / name)
        mlflow.pyfunc.save_model(paths[name], python_model=model, code_paths=[str(code)], pip_requirements=REQS,
                                 **kwargs)

    frame_out = custom.Frame().predict(None, FEATURES)
    save("frame", custom.Frame(), signature=_signature(FEATURES, frame_out))
    save("scaled", custom.Scaled(), signature=ModelSignature(
        inputs=Schema([ColSpec("double", "a")]), outputs=Schema([ColSpec("double")]),
        params=ParamSchema([ParamSpec("scale", "double", 1.0), ParamSpec("shift", "long", 0)]),
    ))
    save("echo", custom.Echo(), model_config={"offset": 0, "load_log": ""})  # keys spark_udf may override
    save("shapes", custom.Shapes(), signature=ModelSignature(
        inputs=Schema([ColSpec("double", "a")]), params=ParamSchema([ParamSpec("kind", "string", "matrix")]),
    ))
    point = Object([Property("x", "double"), Property("y", "double")])
    save("point", custom.PointSum(), signature=ModelSignature(inputs=Schema([ColSpec(point, "point")])))
    save("tensor", custom.TensorPick(), signature=ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 2, 3))]),
    ))
    yield paths
    sys.modules.pop("fluvial_spark_test_models", None)


@pytest.fixture(scope="module")
def features(spark):
    return spark.createDataFrame(FEATURES)


def _column(sdf, name="p"):
    return [row[name] for row in sdf.orderBy("a").collect()]


# ------------------------------------------------------------------------------------------- inputs


def test_no_args_reads_the_signature_columns_and_infers_the_type(spark, models, features):
    udf = mlflow.pyfunc.spark_udf(spark, models["reg"])
    expected = _predict_locally(models["reg"], FEATURES)
    # a (-1,) tensor output is typed array<double>, one element per row, as MLflow does
    assert udf.returnType.simpleString() == "array<double>"
    assert udf.metadata.get_input_schema().input_names() == ["a", "b"]
    got = _column(features.withColumn("p", udf()))
    np.testing.assert_allclose(np.array(got)[:, 0], expected)


def test_explicit_columns_map_onto_the_signature_by_position(spark, models, features):
    udf = mlflow.pyfunc.spark_udf(spark, models["reg"], result_type="double")
    renamed = features.withColumnRenamed("a", "x").withColumnRenamed("b", "y")
    got = [r.p for r in renamed.withColumn("p", udf("x", "y")).orderBy("x").collect()]
    np.testing.assert_allclose(got, _predict_locally(models["reg"], FEATURES))
    # extra positional columns beyond the signature are dropped
    got = _column(features.withColumn("p", udf("a", "b", "a")))
    np.testing.assert_allclose(got, _predict_locally(models["reg"], FEATURES))


def test_struct_argument_keeps_field_names(spark, models, features):
    from pyspark.sql.functions import struct

    udf = mlflow.pyfunc.spark_udf(spark, models["reg"], result_type="double")
    # the struct's fields are the input columns by name, so their order does not matter
    got = _column(features.withColumn("p", udf(struct("b", "a"))))
    np.testing.assert_allclose(got, _predict_locally(models["reg"], FEATURES))


def test_columns_without_a_signature_are_named_by_position(spark, models, features):
    from pyspark.sql.functions import struct

    udf = mlflow.pyfunc.spark_udf(spark, models["echo"], result_type="string")
    assert set(_column(features.withColumn("p", udf("a", "b")))) == {"0,1"}
    assert set(_column(features.withColumn("p", udf(struct("a", "b"))))) == {"a,b"}
    # a struct among several arguments is one column of dicts
    firsts = _column(features.withColumn("p", mlflow.pyfunc.spark_udf(
        spark, models["echo"], result_type="first string")(struct("a", "b"), "a")))
    assert firsts[0].first == repr({"a": 1.0, "b": 0.5})
    # a model without a signature fitted on unnamed features scores ordinal columns
    udf = mlflow.pyfunc.spark_udf(spark, models["reg_nosig"], result_type="double")
    got = _column(features.withColumn("p", udf("a", "b")))
    expected = _predict_locally(models["reg_nosig"], FEATURES.to_numpy())
    np.testing.assert_allclose(got, expected)


def test_struct_column_for_an_object_input(spark, models, features):
    from pyspark.sql.functions import struct

    points = features.withColumn("point", struct(features.a.alias("x"), features.b.alias("y")))
    udf = mlflow.pyfunc.spark_udf(spark, models["point"], result_type="double")
    expected = (FEATURES["a"] + FEATURES["b"]).tolist()
    # the model's one input is an object: the struct is its value, not the input columns
    assert _column(points.withColumn("p", udf())) == expected
    assert _column(points.withColumn("p", udf("point"))) == expected
    local = pd.DataFrame({"point": FEATURES.rename(columns={"a": "x", "b": "y"}).to_dict("records")})
    assert _predict_locally(models["point"], local).tolist() == expected


def test_tensor_input_from_an_array_column_is_reshaped_in_c_order(spark, models):
    rows = pd.DataFrame({"t": [[float(10 * r + i) for i in range(6)] for r in range(3)], "a": [0.0, 1.0, 2.0]})
    sdf = spark.createDataFrame(rows)
    udf = mlflow.pyfunc.spark_udf(spark, models["tensor"], result_type="value double, dtype string")
    got = _column(sdf.withColumn("p", udf("t")))
    # element [1][2] of a 2x3 row in C order is its last element; the array<double> column became float32
    assert [r.value for r in got] == [5.0, 15.0, 25.0]
    assert {r.dtype for r in got} == {"float32"}
    tensor = np.array(rows["t"].tolist(), dtype=np.float32).reshape(-1, 2, 3)
    assert _predict_locally(models["tensor"], tensor)["value"].tolist() == [5.0, 15.0, 25.0]


# ------------------------------------------------------------------------------------- result types


def test_classifier_result_types(spark, models, features):
    expected = _predict_locally(models["clf"], FEATURES)

    def run(result_type):
        udf = mlflow.pyfunc.spark_udf(spark, models["clf"], result_type=result_type)
        return _column(features.withColumn("p", udf()))

    assert run("int") == expected.tolist()  # int64 labels that fit int32 are returned as int
    assert run("long") == expected.tolist()
    assert run("double") == expected.astype(float).tolist()
    assert run("string") == [str(v) for v in expected]
    assert run("array<long>") == [[v] for v in expected]
    assert run(None) == [[v] for v in expected]  # (-1,) int64 tensor output -> array<bigint>


def test_dataframe_output_results(spark, models, features):
    from pyspark.sql.types import StructType

    expected = _predict_locally(models["frame"], FEATURES)

    def run(result_type):
        udf = mlflow.pyfunc.spark_udf(spark, models["frame"], result_type=result_type)
        return _column(features.withColumn("p", udf())), udf.returnType

    # the output schema has four columns: a struct of them by default
    got, rtype = run(None)
    assert isinstance(rtype, StructType) and rtype.fieldNames() == ["label", "total", "count", "flag"]
    assert [r.asDict() for r in got] == expected.to_dict("records")
    # a struct DDL picks columns by name, in any order
    got, _ = run("flag boolean, total double")
    assert [(r.flag, r.total) for r in got] == list(zip(expected["flag"], expected["total"], strict=True))
    # non-array types take the leftmost compatible column
    assert run("double")[0] == expected["total"].tolist()
    assert run("long")[0] == expected["count"].tolist()
    assert run("bool")[0] == expected["flag"].tolist()
    assert run("string")[0] == expected["label"].tolist()
    # arrays take every compatible column: numbers for double, everything as text for string
    assert run("array<double>")[0] == expected[["total", "count"]].astype(float).to_numpy().tolist()
    assert run("array<string>")[0] == expected.astype(str).to_numpy().tolist()


def test_array_of_arrays_and_map_results(spark, models, features):
    def run(result_type, **kwargs):
        udf = mlflow.pyfunc.spark_udf(spark, models["shapes"], result_type=result_type, **kwargs)
        return _column(features.withColumn("p", udf("a")))

    matrix = _predict_locally(models["shapes"], FEATURES[["a"]])
    assert run("array<double>") == matrix.tolist()
    # a row shallower than the type is wrapped, as a (-1,) tensor's number is for array<double>
    assert run("array<array<double>>") == [[row] for row in matrix.tolist()]
    maps = _predict_locally(models["shapes"], FEATURES[["a"]], {"kind": "maps"})
    assert run("map<string, double>", params={"kind": "maps"}) == maps
    got = run("twice double, a double", params={"kind": "maps"})
    assert [r.asDict() for r in got] == [{"twice": m["twice"], "a": m["a"]} for m in maps]


def test_params_are_sent_with_every_batch(spark, models, features):
    from pyspark.sql.functions import col

    default = mlflow.pyfunc.spark_udf(spark, models["scaled"])
    assert default.returnType.simpleString() == "double"
    assert _column(features.withColumn("p", default())) == FEATURES["a"].tolist()
    params = {"scale": 3.0, "shift": 2}
    udf = mlflow.pyfunc.spark_udf(spark, models["scaled"], params=params)
    got = _column(features.withColumn("p", udf(col("a"))))
    assert got == _predict_locally(models["scaled"], FEATURES[["a"]], params).tolist()
    assert got == (FEATURES["a"] * 3 + 2).tolist()


def test_model_config_extra_env_and_one_load_per_worker(spark, models, features, tmp_path):
    log = tmp_path / "loads.txt"
    udf = mlflow.pyfunc.spark_udf(
        spark, models["echo"], result_type="offset long, env string",
        model_config={"offset": 7, "load_log": str(log)}, extra_env={"FLUVIAL_SPARK_TEST_VAR": "on"},
    )
    scored = features.repartition(2).withColumn("p", udf("a"))
    for _ in range(2):  # two jobs, two partitions each
        assert {(r.offset, r.env) for r in _column(scored)} == {(7, "on")}
    pids = log.read_text().split()
    assert pids and len(pids) == len(set(pids)), pids  # each Python worker loaded the model once
    assert "FLUVIAL_SPARK_TEST_VAR" not in os.environ


def test_runs_and_models_uris(spark, tmp_path, features):
    from sklearn.linear_model import LinearRegression

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = LinearRegression().fit(FEATURES, TARGET)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, "model", signature=_signature(FEATURES, model.predict(FEATURES)),
                                 registered_model_name="spark-reg")
    expected = model.predict(FEATURES)
    for uri in (f"runs:/{run.info.run_id}/model", "models:/spark-reg/1"):
        udf = mlflow.pyfunc.spark_udf(spark, uri, result_type="double")
        np.testing.assert_allclose(_column(features.withColumn("p", udf())), expected)
        np.testing.assert_allclose(_predict_locally(uri, FEATURES), expected)


# ------------------------------------------------------------------------------------------- errors


def test_no_signature_and_no_columns_is_a_clear_error(spark, models):
    udf = mlflow.pyfunc.spark_udf(spark, models["echo"], result_type="string")
    with pytest.raises(MlflowException, match="no columns and the model has no signature"):
        udf()


def test_env_manager_and_prebuilt_env_errors(spark, models):
    for manager in ("virtualenv", "conda", "uv"):
        with pytest.raises(MlflowException, match="supports only env_manager='local'"):
            mlflow.pyfunc.spark_udf(spark, models["reg"], env_manager=manager)
    with pytest.raises(MlflowException, match="Invalid value for `env_manager`: bogus"):
        mlflow.pyfunc.spark_udf(spark, models["reg"], env_manager="bogus")
    with pytest.raises(MlflowException, match="prebuilt_env_uri"):
        mlflow.pyfunc.spark_udf(spark, models["reg"], prebuilt_env_uri="/tmp/env.tar.gz")
    assert mlflow.pyfunc.spark_udf(spark, models["reg"], env_manager="local", result_type="double")


def test_bad_result_types(spark, models):
    from pyspark.sql.types import DateType

    for bad in ("not a type at all", "map<string, date>", DateType(), 3):
        with pytest.raises(MlflowException, match="result_type"):
            mlflow.pyfunc.spark_udf(spark, models["reg"], result_type=bad)


def test_prediction_errors_reach_the_driver(spark, models, features):
    # float predictions are not silently truncated to int
    udf = mlflow.pyfunc.spark_udf(spark, models["reg"], result_type="int")
    with pytest.raises(Exception, match="did not produce any values compatible with the requested type 'int'"):
        features.withColumn("p", udf()).collect()
    # too few columns for the signature
    udf = mlflow.pyfunc.spark_udf(spark, models["reg"], result_type="double")
    with pytest.raises(Exception, match="missing required columns"):
        features.withColumn("p", udf("a")).collect()
    # struct fields must name prediction columns
    udf = mlflow.pyfunc.spark_udf(spark, models["frame"], result_type="nope double")
    with pytest.raises(Exception, match="no column 'nope'"):
        features.withColumn("p", udf()).collect()
