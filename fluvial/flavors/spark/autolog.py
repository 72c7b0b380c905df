"""pyspark.ml autologging (``fluvial.pyspark.ml.autolog``), as MLflow 2.22's ``mlflow.pyspark.ml.autolog``.

Every outermost ``Estimator.fit(df[, params])`` (one run per call; the fits a Pipeline or a tuner makes
inside it are not logged on their own) logs:

- params: the estimator's params, nested stages' as ``<stage name>.<param>`` (see ``_estimator_info``);
  keys over 250 characters and values over the store's limit are cut and end in ``...``;
- tags ``estimator_name`` and ``estimator_class``; ``estimator_info.json`` (the hierarchy of a Pipeline,
  OneVsRest or tuner, and each tuner's param grid);
- for a CrossValidator / TrainValidationSplit: one child run per grid point (its params and its
  ``avg_<metric>``/``std_<metric>``, or ``<metric>`` for a TrainValidationSplit), ``search_results.csv``,
  ``best_parameters.json`` and the best point's params again as ``best_<stage>.<param>``;
- the fitted model (``model``; a tuner's best model also as ``best_model``) through the ``spark`` flavor
  when it and every model nested in it are in the allowlist, with an input example (5 rows of the
  feature columns) and a signature when asked;
- the training DataFrame as a dataset input (context ``train``).

Direct ``fit`` calls of ``pyspark.ml.feature`` estimators, and ``fit`` with a list of param maps, are not
logged (no run is created). Post-training metrics (``Evaluator.evaluate`` on a logged model's
``transform`` output) are in ``_post_training``.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
import urllib.request
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import patching
from fluvial.autologging.config import autologging_integration
from fluvial.exceptions import InvalidParameterValue
from fluvial.flavors.spark import _estimator_info as est

INTEGRATION = "pyspark.ml"
TESTED_VERSIONS = ("3.1.2", "4.3")
ALLOWLIST_CONF = "spark.mlflow.pysparkml.autolog.logModelAllowlistFile"
INPUT_EXAMPLE_ROWS = 5

_lock = threading.Lock()
_fits_in_progress = 0  # outermost autologged fits running, in any thread (tuners fit in a thread pool)
_allowlist: set[str] | frozenset[str] = est.DEFAULT_ALLOWLIST


@autologging_integration(INTEGRATION)
def autolog(
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    log_post_training_metrics: bool = True,
    registered_model_name: str | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_model_allowlist: list[str] | None = None,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """Enable (or disable) autologging of ``pyspark.ml`` ``Estimator.fit`` and, with
    ``log_post_training_metrics``, of ``Evaluator.evaluate`` on logged models' predictions.

    ``log_model_allowlist`` (class names; ``prefix.*`` entries allowed) replaces the default list of
    models that are logged; without it the file named by the Spark conf
    ``spark.mlflow.pysparkml.autolog.logModelAllowlistFile`` of the active session is read (a path,
    ``file:`` or ``http(s):`` URL; the default list if it cannot be read)."""
    import pyspark
    from pyspark.ml.base import Estimator, Model
    from pyspark.ml.evaluation import Evaluator

    global _allowlist
    if log_model_allowlist:
        if isinstance(log_model_allowlist, (str, bytes)) or not all(isinstance(n, str) for n in log_model_allowlist):
            raise InvalidParameterValue("log_model_allowlist must be a list of fully qualified model class names, "
                                        f"got {log_model_allowlist!r}")
        _allowlist = {n.strip() for n in log_model_allowlist}
    else:
        _allowlist = _configured_allowlist()
    if not _config.check_version(INTEGRATION, "pyspark", pyspark.__version__, *TESTED_VERSIONS):
        return
    patching.safe_patch(INTEGRATION, Estimator, "fit", _patched_fit, skip=_skip_fit)
    if log_post_training_metrics:
        from fluvial.flavors.spark import _post_training

        patching.safe_patch(INTEGRATION, Model, "transform", _post_training.patched_transform, session=False)
        patching.safe_patch(INTEGRATION, Evaluator, "evaluate", _post_training.patched_evaluate, session=False)


# ---- the allowlist -------------------------------------------------------------------------------
def _configured_allowlist() -> set[str] | frozenset[str]:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    location = spark.sparkContext.getConf().get(ALLOWLIST_CONF, None) if spark is not None else None
    if not location:
        return est.DEFAULT_ALLOWLIST
    try:
        return read_allowlist(location)
    except Exception as exc:
        _config.warn(INTEGRATION, "Could not read the log_models allowlist %s (%s: %s); the default allowlist "
                     "is used.", location, type(exc).__name__, exc)
        return est.DEFAULT_ALLOWLIST


def read_allowlist(location: str) -> set[str]:
    """The class names in an allowlist file: a local path, a ``file:`` URL or an ``http(s):`` URL."""
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme in ("http", "https"):
        with urllib.request.urlopen(location, timeout=30) as response:
            return est.parse_allowlist(response.read().decode("utf-8").splitlines())
    if parsed.scheme not in ("", "file"):
        raise InvalidParameterValue(f"Unsupported allowlist location {location} (a path, file: or http(s): URL)")
    path = parsed.path if parsed.scheme == "file" else location
    if not os.path.exists(path):
        raise InvalidParameterValue(f"{location} does not exist")
    with open(path) as f:
        return est.parse_allowlist(f)


# ---- fit -----------------------------------------------------------------------------------------
def _params_arg(args: tuple, kwargs: dict) -> Any:
    return args[1] if len(args) > 1 else kwargs.get("params")


def _skip_fit(self: Any, *args: Any, **kwargs: Any) -> bool:
    if est.class_path(self).startswith("pyspark.ml.feature."):
        return True  # featurizers are logged only as stages of a Pipeline
    if isinstance(_params_arg(args, kwargs), (list, tuple)):
        _config.warn(INTEGRATION, "Skip pyspark ML autologging when calling %s.fit with a list of params; call fit "
                     "with one param map at a time to autolog each.", est.class_path(self))
        return True
    return fits_in_progress() > 0  # a fit made by a tuner's worker thread


def fits_in_progress() -> int:
    return _fits_in_progress


def _enter_fit(delta: int) -> None:
    global _fits_in_progress
    with _lock:
        _fits_in_progress += delta


def _patched_fit(session: Any, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    from pyspark.ml.base import Model
    from pyspark.storagelevel import StorageLevel

    from fluvial.flavors.spark import _post_training

    params = _params_arg(args, kwargs)
    post_training = session.option("log_post_training_metrics", True) and _post_training.enabled(starting_fit=True)
    estimator = self.copy(params) if params is not None else self
    df = (args[0] if args else kwargs["dataset"]).persist(StorageLevel.MEMORY_AND_DISK)
    _enter_fit(1)
    try:
        info = est.describe(estimator)
        _log_pretraining(session, estimator, info, df)
        model = original(self, *args, **kwargs)
        _log_posttraining(session, estimator, info, model, df)
    finally:
        _enter_fit(-1)
        session.attempt("unpersist the training DataFrame", df.unpersist)
    if post_training and isinstance(model, Model):
        _post_training.register_model(model, session.run_id)
    return model


def _log_pretraining(session: Any, estimator: Any, info: est.EstimatorInfo, df: Any) -> None:
    from fluvial._internal import validation

    content = session.attempt("describe the estimator", est.estimator_info, estimator, info)
    if content:
        session.attempt("log estimator_info.json", session.log_dict, content, "estimator_info.json")
    params = session.attempt("collect the params", est.params, estimator, info.names) or {}
    session.attempt("log the params", session.log_params, est.truncate(params, validation.MAX_PARAM_VAL_LENGTH))
    session.attempt("set the estimator tags", session.set_tags, est.estimator_tags(estimator))
    if session.option("log_datasets", True):
        session.attempt("log the training dataset", lambda: session.log_input(spark_dataset(df), "train"))


def spark_dataset(df: Any) -> Any:
    from fluvial.data.sources import CodeDatasetSource
    from fluvial.data.spark_dataset import SparkDataset
    from fluvial.tracking.context import default_run_tags

    return SparkDataset(df=df, source=CodeDatasetSource(tags=default_run_tags()))


def _log_posttraining(session: Any, estimator: Any, info: est.EstimatorInfo, model: Any, df: Any) -> None:
    if est.is_tuner(estimator):
        _log_search(session, estimator, info, model)
    if not session.option("log_models", True):
        return
    if not est.allowed(model, _allowlist):
        _config.warn(INTEGRATION, "Model %s will not be autologged because it is not allowlisted or because one or "
                     "more of its nested models are not allowlisted. Call fluvial.spark.log_model() to log it, or "
                     "pass log_model_allowlist= (or set the %s Spark conf).", model.uid, ALLOWLIST_CONF)
        return
    session.attempt("log the model", _log_model, session, model, df)


# ---- parameter search ----------------------------------------------------------------------------
def search_metrics(tuner: Any, model: Any) -> tuple[dict[str, list[float]], int]:
    """``({metric name: value per grid point}, index of the best point)``."""
    import numpy as np
    from pyspark.ml.tuning import CrossValidatorModel

    evaluator = tuner.getEvaluator()
    name = evaluator.getMetricName()
    if isinstance(model, CrossValidatorModel):
        scores = list(model.avgMetrics)
        metrics = {f"avg_{name}": scores}
        if getattr(model, "stdMetrics", None) is not None:
            metrics[f"std_{name}"] = list(model.stdMetrics)
    else:
        scores = list(model.validationMetrics)
        metrics = {name: scores}
    best = int(np.argmax(scores) if evaluator.isLargerBetter() else np.argmin(scores))
    return metrics, best


def _log_search(session: Any, tuner: Any, info: est.EstimatorInfo, model: Any) -> None:
    from fluvial._internal import validation

    session.attempt("create the child runs of the parameter search", _child_runs, session, tuner, info, model)
    grid = est.tuning_param_maps(tuner, info.names)
    metrics, best = search_metrics(tuner, model)
    session.attempt("log search_results.csv", session.log_text, search_results_csv(grid, metrics),
                    "search_results.csv")
    session.log_dict(grid[best], "best_parameters.json")
    best_params = {f"best_{k}": v for k, v in grid[best].items()}
    session.log_params(est.truncate(best_params, validation.MAX_PARAM_VAL_LENGTH))


def search_results_csv(grid: list[dict[str, Any]], metrics: dict[str, list[float]]) -> str:
    """One row per grid point: ``params`` (the point as JSON), the metrics, then ``param.<name>`` columns."""
    import pandas as pd

    columns: dict[str, list[Any]] = {"params": [json.dumps(point) for point in grid], **metrics}
    for point in grid:
        for k, v in point.items():
            columns.setdefault(f"param.{k}", []).append(v)
    return str(pd.DataFrame.from_dict(columns).to_csv(index=False))


def _child_runs(session: Any, tuner: Any, info: est.EstimatorInfo, model: Any) -> None:
    from fluvial._internal import validation
    from fluvial._internal.clock import now_ms
    from fluvial.entities import Metric, Param

    client = session.client
    started = client.get_run(session.run_id).info.start_time
    ended = now_ms()
    metrics, _ = search_metrics(tuner, model)
    tuned = tuner.getEstimator()
    for i, point in enumerate(tuner.getEstimatorParamMaps()):
        child = tuned.copy(point)
        run_id = session.create_child_run(est.estimator_tags(child), start_time=started)
        params = est.truncate(est.params(child, info.names), validation.MAX_PARAM_VAL_LENGTH)
        values = est.truncate({k: v[i] for k, v in metrics.items()}, None)
        items = [Param(str(k), str(v)) for k, v in params.items()]
        per_batch = validation.MAX_PARAMS_TAGS_PER_BATCH
        for start in range(0, max(len(items), 1), per_batch):
            client.log_batch(run_id, params=items[start:start + per_batch],
                             metrics=[Metric(k, float(v), ended, 0) for k, v in values.items()] if start == 0 else [])
        client.set_terminated(run_id, end_time=ended)


# ---- the model -----------------------------------------------------------------------------------
_SCALAR_SPARK_TYPES = ("BooleanType", "IntegerType", "LongType", "FloatType", "DoubleType", "StringType",
                       "BinaryType", "TimestampType")


def _unsupported_columns(df: Any) -> list[Any]:
    """Columns of a type signatures cannot describe (ML vectors are fine)."""
    return [f for f in df.schema.fields if type(f.dataType).__name__ not in (*_SCALAR_SPARK_TYPES, "VectorUDT")]


def feature_columns(df: Any, model: Any) -> list[str]:
    """The columns of ``df`` the model needs: those whose absence makes ``transform`` fail with a
    "does not exist" / "no such struct field" error."""
    import re

    try:
        from pyspark.errors.exceptions.base import IllegalArgumentException
    except ImportError:  # pragma: no cover - pyspark < 3.4
        from pyspark.sql.utils import IllegalArgumentException  # type: ignore[no-redef]
    needed = []
    one_row = df.limit(1).cache()
    try:
        for column in df.columns:
            try:
                model.transform(one_row.drop(column))
            except IllegalArgumentException as exc:
                if re.search("does not exist|no such struct field", str(exc), re.IGNORECASE):
                    needed.append(column)
                    continue
                raise
    finally:
        one_row.unpersist()
    return needed


def _prediction_column(model: Any, df: Any) -> str:
    """``prediction``; a PipelineModel whose last stage has an ``outputCol`` gets it renamed to that."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    if isinstance(model, PipelineModel) and model.stages[-1].hasParam("outputCol"):
        spark = SparkSession.getActiveSession()
        if spark is not None:
            empty = model.transform(spark.createDataFrame([], df.schema))
            if "prediction" not in empty.columns:
                last: Any = model.stages[-1]
                last.setOutputCol("prediction")
    return "prediction"


def infer_model_signature(model: Any, example: Any) -> Any:
    """The signature of ``model`` on the Spark DataFrame ``example``; the output is the unnamed
    ``prediction`` column (none when its type is not scalar)."""
    from fluvial.models.signature import infer_signature

    column = _prediction_column(model, example)
    output = model.transform(example).select(column)
    if _unsupported_columns(output):
        _config.warn(INTEGRATION, "Model outputs contain unsupported Spark data types: %s. Output schema is not "
                     "logged.", _unsupported_columns(output))
        output = None
    signature = infer_signature(example, output)
    if signature.outputs is not None:
        from fluvial.models.schema import ColSpec, Schema

        spec = signature.outputs.inputs[0]
        if isinstance(spec, ColSpec):
            signature.outputs = Schema([ColSpec(spec.type, None, spec.required)])
    return signature


def _log_model(session: Any, model: Any, df: Any) -> None:
    from pyspark.ml.functions import vector_to_array

    from fluvial.flavors.spark import log_model

    want_example = bool(session.option("log_input_examples", False))
    want_signature = bool(session.option("log_model_signatures", True))
    if want_signature and _unsupported_columns(df):
        _config.warn(INTEGRATION, "Model inputs contain unsupported Spark data types: %s. Model signature is not "
                     "logged.", _unsupported_columns(df))
        want_signature = False
    to_log = session.attempt("copy the model", model.copy) or model  # the signature may rename its output
    example_df = signature = None
    if want_example or want_signature:
        example_df = session.attempt("collect an input example",
                                     lambda: df.select(feature_columns(df, to_log)).limit(INPUT_EXAMPLE_ROWS))
    if want_signature and example_df is not None:
        signature = session.attempt("infer the model signature", infer_model_signature, to_log, example_df)
    example = None
    if want_example and example_df is not None:
        for field in example_df.schema.fields:
            if type(field.dataType).__name__ == "VectorUDT":
                example_df = example_df.withColumn(field.name, vector_to_array(field.name))
        example = example_df.toPandas()
    log_model(to_log, "model", registered_model_name=session.option("registered_model_name"),
              input_example=example, signature=signature if want_signature else None)
    if est.is_tuned_model(to_log):
        log_model(to_log.bestModel, "best_model")
