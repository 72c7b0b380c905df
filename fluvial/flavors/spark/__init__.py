"""The Spark MLlib flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader, in
MLflow's format. The model (any ``pyspark.ml`` Transformer or Model that is MLWritable and MLReadable,
wrapped in a ``PipelineModel`` if it is not one) is written with Spark's own persistence into the
``sparkml`` subdirectory; flavor entry ``{pyspark_version, model_data: sparkml, code, model_class}``.

Spark writes through the Hadoop file system of the active session: the model is saved under
``dfs_tmpdir`` (default ``$MLFLOW_DFS_TMP``, else ``/tmp/mlflow``) and copied into the model directory,
as MLflow does, so a session on a cluster works as well as a local one. Loading copies the model to
``dfs_tmpdir`` only when the session's file system is not the local one.

The pyfunc converts the pandas DataFrame into a Spark DataFrame (columns the signature types as
``sparkml_vector``, and an array-of-double features column of the last stage, become ML vectors),
runs ``transform`` and returns the ``prediction`` column as a list. Loading through pyfunc uses the
active SparkSession, or starts a local one (``local[1]``, driver on 127.0.0.1).

Not provided: MLeap export (``sample_input``), Spark Connect ML models, and MLflow's Databricks-only
paths (``mlflowdbfs``, UC volumes)."""

from __future__ import annotations

import os
import posixpath
import re
import uuid
from typing import Any

from fluvial._internal.lazy import require
from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.flavor import RawModelWrapper, load_flavor_dir, log_flavor_model, new_model_dir
from fluvial.models.model import MLMODEL_FILE_NAME, Model, ModelInfo
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "spark"
LOADER_MODULE = "mlflow.spark"  # MLflow's name, so MLflow loads what fluvial saves
MODEL_DATA = "sparkml"
DFS_TMP_ENV = "MLFLOW_DFS_TMP"
DEFAULT_DFS_TMP = "/tmp/mlflow"
PREDICTION_COLUMN = "prediction"


def get_default_pip_requirements(is_spark_connect_model: bool = False) -> list[str]:
    """``pyspark`` pinned to the installed version (a ``.devN`` suffix dropped: not on PyPI), plus
    ``pandas<2`` for pyspark older than 3.4."""
    from fluvial.models.requirements import installed_version, pinned_requirement

    if is_spark_connect_model:
        raise InvalidParameterValue("Spark Connect ML models are not supported by fluvial's spark flavor.")
    reqs = [re.sub(r"(\.?)dev.*$", "", pinned_requirement("pyspark"))]
    version = installed_version("pyspark") or "0"
    if tuple(int(p) for p in re.findall(r"\d+", version)[:2]) < (3, 4):
        reqs.append("pandas<2")
    return reqs


def _validate_model(spark_model: Any) -> None:
    require("pyspark")
    from pyspark.ml import Model as SparkModel
    from pyspark.ml import Transformer
    from pyspark.ml.util import MLReadable, MLWritable

    if not isinstance(spark_model, (SparkModel, Transformer)) or not isinstance(spark_model, MLReadable) \
            or not isinstance(spark_model, MLWritable):
        raise InvalidParameterValue(
            "Cannot serialize this model. fluvial (like MLflow) saves only descendants of pyspark.ml.Model or "
            f"pyspark.ml.Transformer that implement MLWritable and MLReadable; got {type(spark_model).__name__}.")


def _dfs_tmpdir(dfs_tmpdir: str | None) -> str:
    return dfs_tmpdir or os.environ.get(DFS_TMP_ENV) or DEFAULT_DFS_TMP


def save_model(
    spark_model: Any,
    path: str,
    mlflow_model: Model | None = None,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    dfs_tmpdir: str | None = None,
    sample_input: Any = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Save a Spark MLlib model (a ``PipelineModel``, or a Transformer that is wrapped in one).

    Without ``signature``, an ``input_example`` gives one by running the model on it in the active
    SparkSession (no session: no signature, as in MLflow)."""
    _validate_model(spark_model)
    if sample_input is not None:
        raise InvalidParameterValue(
            "sample_input adds MLflow's MLeap flavor, which needs the MLeap runtime; fluvial does not provide "
            "MLeap export. Save without sample_input.")
    from pyspark.ml import PipelineModel

    if not isinstance(spark_model, PipelineModel):
        spark_model = PipelineModel([spark_model])
    if signature is None and input_example is not None:
        signature = _infer_signature(spark_model, input_example)
        if signature is None:
            signature = False  # inference failed: no signature (MLflow's outcome), not one from the example alone
    with new_model_dir(path, mlflow_model, code_paths) as target:
        _save_to_local(spark_model, target.file(MODEL_DATA), _dfs_tmpdir(dfs_tmpdir))
        cls = type(spark_model)
        target.model.add_flavor(FLAVOR_NAME, pyspark_version=_pyspark_version(), model_data=MODEL_DATA,
                                code=target.code, model_class=f"{cls.__module__}.{cls.__qualname__}")
        add_to_model(target.model, LOADER_MODULE, data=MODEL_DATA, code=target.code)
        target.finish(
            signature=signature, input_example=input_example, predict=None,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def log_model(
    spark_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    dfs_tmpdir: str | None = None,
    sample_input: Any = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
) -> ModelInfo:
    """Log a Spark MLlib model as artifacts of the active run (saved locally first, then uploaded to the
    run's artifact store, whatever store that is)."""
    return log_flavor_model(__name__, **locals())  # every parameter above, by name


def load_model(model_uri: str, dfs_tmpdir: str | None = None, dst_path: str | None = None) -> Any:
    """The ``pyspark.ml.PipelineModel`` (a SparkSession must be active or creatable)."""
    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    _refuse_connect_model(conf)
    return _load_from_local(os.path.join(model_dir, conf.get("model_data", MODEL_DATA)), _dfs_tmpdir(dfs_tmpdir))


def _pyspark_version() -> str:
    return str(require("pyspark").__version__)


def _refuse_connect_model(conf: dict[str, Any]) -> None:
    if str(conf.get("model_class") or "").startswith("pyspark.ml.connect."):
        raise MlflowException(
            f"This model is a Spark Connect ML model ({conf['model_class']}); fluvial's spark flavor loads "
            "pyspark.ml pipeline models only. Load it with MLflow.")


# ---- the Hadoop file system of the active session --------------------------------------------------
def _hadoop() -> tuple[Any, Any]:
    """(the JVM view, the default Hadoop FileSystem of the active SparkContext)."""
    from pyspark import SparkContext

    context = SparkContext.getOrCreate()
    jvm: Any = context._jvm
    return jvm, jvm.org.apache.hadoop.fs.FileSystem.get(context._jsc.hadoopConfiguration())


def _save_to_local(spark_model: Any, local_dir: str, dfs_tmpdir: str) -> None:
    """``spark_model.save`` into a fresh ``dfs_tmpdir/<uuid>``, then moved to ``local_dir``."""
    tmp = posixpath.join(dfs_tmpdir, str(uuid.uuid4()))
    spark_model.save(tmp)
    jvm, fs = _hadoop()
    fs.copyToLocalFile(True, jvm.org.apache.hadoop.fs.Path(tmp), jvm.org.apache.hadoop.fs.Path(os.path.abspath(local_dir)))


def _load_from_local(local_dir: str, dfs_tmpdir: str) -> Any:
    """``PipelineModel.load`` of a local directory: in place when the session's file system is the
    local one, else from a copy under ``dfs_tmpdir``."""
    from pyspark.ml import PipelineModel

    if not os.path.isdir(local_dir):
        raise MlflowException(f"The Spark model directory {local_dir} is missing")
    jvm, fs = _hadoop()
    local_path = jvm.org.apache.hadoop.fs.Path(os.path.abspath(local_dir))
    if fs.makeQualified(local_path).toString() == "file:" + local_path.toString():
        return PipelineModel.load(os.path.abspath(local_dir))
    remote = posixpath.join(dfs_tmpdir, str(uuid.uuid4()))
    fs.copyFromLocalFile(False, local_path, jvm.org.apache.hadoop.fs.Path(remote))
    return PipelineModel.load(remote)


# ---- signature ------------------------------------------------------------------------------------
def _active_session() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def _prediction_column(spark_model: Any, spark_df: Any) -> str:
    """``prediction``; a pipeline whose last stage writes ``outputCol`` (a Transformer, not a
    predictor) is set to write ``prediction`` unless it already produces that column (as MLflow)."""
    from pyspark.ml import PipelineModel

    if isinstance(spark_model, PipelineModel) and spark_model.stages and spark_model.stages[-1].hasParam("outputCol"):
        empty = spark_df.sparkSession.createDataFrame([], spark_df.schema)
        if PREDICTION_COLUMN not in spark_model.transform(empty).columns:
            last: Any = spark_model.stages[-1]
            last.setOutputCol(PREDICTION_COLUMN)
    return PREDICTION_COLUMN


def _infer_signature(spark_model: Any, input_example: Any) -> Any:
    """The signature from running a copy of the model on the example, or None (logged) without a
    session or when the model fails on it."""
    import logging

    from fluvial.models.input_example import split_input_example
    from fluvial.models.signature import infer_signature

    spark = _active_session()
    if spark is None:
        logging.getLogger(__name__).warning(
            "No active SparkSession: the signature is not inferred from the input example.")
        return None
    try:
        data, _params = split_input_example(input_example)
        spark_df = spark.createDataFrame(data)
        model = spark_model.copy()
        output = model.transform(spark_df).select(_prediction_column(model, spark_df))
        if not _supported_output(output):
            output = None
        signature = infer_signature(spark_df, output)
    except Exception as exc:  # MLflow logs the failure and saves without a signature
        logging.getLogger(__name__).warning("Could not infer the model signature from the input example: %s", exc)
        return None
    from fluvial.models.schema import ColSpec

    if signature.outputs is not None and isinstance(signature.outputs.inputs[0], ColSpec):
        signature.outputs.inputs[0].name = None  # one unnamed output column, as MLflow writes it
    return signature


def _supported_output(spark_df: Any) -> bool:
    """Scalar columns and ML vectors only (MLflow 2.22 logs no output schema for others)."""
    from fluvial.models._inference import _infer_spark_type
    from fluvial.models.types import DataType, SparkMLVector

    try:
        types = [_infer_spark_type(field.dataType) for field in spark_df.schema.fields]
    except MlflowException:
        return False
    return all(isinstance(t, (DataType, SparkMLVector)) for t in types)


# ---- pyfunc -------------------------------------------------------------------------------------------
def _local_session() -> Any:
    """The active SparkSession, or a new local one for scoring (MLflow's settings)."""
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() or (
        SparkSession.builder.config("spark.python.worker.reuse", "true")
        .config("spark.databricks.io.cache.enabled", "false")
        .config("spark.executor.allowSparkContext", "true")
        .config("spark.driver.host", "127.0.0.1")
        .master("local[1]")
        .getOrCreate()
    )


def _vector_columns(schema: Any) -> list[str | None]:
    from fluvial.models.types import SparkMLVector

    if schema is None:
        return []
    return [spec.name for spec in schema.inputs if isinstance(spec.type, SparkMLVector)]


class _PyFuncModelWrapper(RawModelWrapper):
    """pyfunc: pandas in, Spark ``transform``, the ``prediction`` column back as a list."""

    raw_attribute = "spark_model"

    def __init__(self, spark: Any, spark_model: Any, signature: Any = None) -> None:
        super().__init__(spark_model)
        self.spark = spark
        self.signature = signature

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        from pyspark.ml.functions import array_to_vector, vector_to_array
        from pyspark.sql.functions import col

        model = self.get_raw_model()
        inputs = _vector_columns(self.signature.inputs if self.signature else None)
        if type(data).__module__.startswith("pyspark."):
            spark_df = data
        else:
            data = data.copy(deep=False)
            for name in inputs:  # numpy arrays of floats -> lists of Python floats, which Spark types as array<double>
                column = name or data.columns[0]
                data[column] = data[column].map(lambda values: [float(v) for v in values])
            spark_df = self.spark.createDataFrame(data)
        for name in inputs:
            column = name or spark_df.columns[0]
            spark_df = spark_df.withColumn(column, array_to_vector(col(column)))
        spark_df = _features_as_vector(spark_df, model)
        column = _prediction_column(model, spark_df)
        predicted = model.transform(spark_df).select(column)
        for name in _vector_columns(self.signature.outputs if self.signature else None):
            out = name or predicted.columns[0]
            predicted = predicted.withColumn(out, vector_to_array(col(out)))
        return [row[column] for row in predicted.collect()]


def _features_as_vector(spark_df: Any, spark_model: Any) -> Any:
    """The last stage's ``featuresCol`` as an ML vector when the input has it as ``array<double>`` (what
    a signature without vector types or MLflow's autologged example gives)."""
    import pyspark.sql.types as st
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql.functions import col

    stage = spark_model.stages[-1] if hasattr(spark_model, "stages") and spark_model.stages else spark_model
    if not stage.hasParam("featuresCol"):
        return spark_df
    name = stage.getOrDefault(stage.featuresCol)
    for field in spark_df.schema.fields:
        if field.name == name and isinstance(field.dataType, st.ArrayType) \
                and isinstance(field.dataType.elementType, st.DoubleType):
            return spark_df.withColumn(name, array_to_vector(col(name)))
    return spark_df


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _PyFuncModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.spark``); ``path`` is the ``sparkml`` directory."""
    meta = Model.load(os.path.join(os.path.dirname(path), MLMODEL_FILE_NAME))
    _refuse_connect_model(meta.flavors.get(FLAVOR_NAME) or {})
    spark = _local_session()
    return _PyFuncModelWrapper(spark, _load_from_local(path, _dfs_tmpdir(None)), meta.signature)
