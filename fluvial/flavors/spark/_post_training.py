"""pyspark.ml post-training metrics, as MLflow 2.22 logs them: after an autologged ``fit``, an
``Evaluator.evaluate(predictions)`` whose ``predictions`` is the output of that model's ``transform``
logs ``<metric name>_<dataset>`` into the model's run.

- ``<metric name>`` is ``evaluator.getMetricName()`` (after ``params`` are applied); its second and
  later evaluations in a run (whatever the dataset) are ``<metric name>-<n>``;
- ``<dataset>`` is the name of the caller's variable passed to ``transform`` (``unknown_dataset`` when
  none holds it); another DataFrame under a name already used in the run is ``<name>-<n>``;
- ``metric_info.json`` maps each logged key to the evaluator's class and params; the predictions
  DataFrame is linked to the run as a dataset input (context ``eval``) when ``log_datasets`` is on.

Models, inputs and predictions are remembered by identity through weak references only.
"""

from __future__ import annotations

import numbers
import threading
import weakref
from collections import defaultdict
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import helpers, patching

INTEGRATION = "pyspark.ml"
METRIC_INFO_FILE = "metric_info.json"
_INTERNAL = ("fluvial.autologging", "fluvial.flavors.spark", "pyspark.", "functools")

_lock = threading.RLock()
_local = threading.local()
_model_runs: dict[int, tuple[Any, str]] = {}  # id(model) -> (weakref, run_id)
_predictions: dict[int, tuple[Any, str, str]] = {}  # id(transform output) -> (weakref, run_id, dataset name)
_dataset_ids: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))  # run -> name -> ids
_evaluations: dict[str, dict[str, list[tuple[str, dict[str, Any]]]]] = defaultdict(lambda: defaultdict(list))


def _remember(table: dict[int, Any], obj: Any, *values: Any) -> None:
    key = id(obj)

    def gone(_ref: Any) -> None:
        with _lock:
            table.pop(key, None)

    try:
        ref = weakref.ref(obj, gone)
    except TypeError:
        return
    with _lock:
        table[key] = (ref, *values)


def _lookup(table: dict[int, Any], obj: Any) -> tuple[Any, ...] | None:
    with _lock:
        entry = table.get(id(obj))
    return entry[1:] if entry is not None and entry[0]() is obj else None


def enabled(starting_fit: bool = False) -> bool:
    """False inside a fit (a tuner evaluating its candidates) and inside ``evaluate`` itself;
    ``starting_fit``: asked by a fit that has opened its own session (only that one is running)."""
    from fluvial.flavors.spark.autolog import fits_in_progress

    in_session = patching.current_session() is not None and not starting_fit
    return not getattr(_local, "busy", False) and not in_session and fits_in_progress() == 0


def register_model(model: Any, run_id: str) -> None:
    _remember(_model_runs, model, run_id)


def _dataset_name(run_id: str, data: Any) -> str:
    name = helpers.variable_name(helpers.caller_frame(_INTERNAL), data) or helpers.UNKNOWN_DATASET
    with _lock:
        ids = _dataset_ids[run_id][name]
        if id(data) not in ids:
            ids.append(id(data))
        index = ids.index(id(data))
    return name if index == 0 else f"{name}-{index + 1}"


def patched_transform(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    found = _lookup(_model_runs, self)
    if found is None or not enabled():
        return original(self, *args, **kwargs)
    result = original(self, *args, **kwargs)
    data = args[0] if args else kwargs.get("dataset")
    run_id = found[0]
    _remember(_predictions, result, run_id, _dataset_name(run_id, data))
    return result


def patched_evaluate(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    if not enabled():
        return original(self, *args, **kwargs)
    previous = getattr(_local, "busy", False)
    _local.busy = True
    try:
        value = original(self, *args, **kwargs)
    finally:
        _local.busy = previous
    if not isinstance(value, numbers.Number) or isinstance(value, bool):
        return value
    predictions = args[0] if args else kwargs.get("dataset")
    found = _lookup(_predictions, predictions)
    if found is None:
        return value
    run_id, dataset = found
    params = args[1] if len(args) > 1 else kwargs.get("params")
    evaluator = self.copy(params) if params is not None else self
    try:
        _log(run_id, evaluator, dataset, float(value), predictions)  # type: ignore[arg-type]
    except Exception as exc:
        _config.warn(INTEGRATION, "fluvial pyspark.ml autologging could not log a post-training metric: %s: %s",
                     type(exc).__name__, exc)
    return value


def _log(run_id: str, evaluator: Any, dataset: str, value: float, predictions: Any) -> None:
    from fluvial._internal import validation
    from fluvial.flavors.spark import _estimator_info as est
    from fluvial.tracking.client import MlflowClient

    name = evaluator.getMetricName()
    evaluator_info = {"evaluator_class": est.class_path(evaluator),
                      "params": est.truncate(est.param_map(evaluator), validation.MAX_PARAM_VAL_LENGTH)}
    with _lock:
        calls = _evaluations[run_id][name]
        key = f"{name if not calls else f'{name}-{len(calls) + 1}'}_{dataset}"
        calls.append((key, evaluator_info))
        listed = sorted(((k, info) for entries in _evaluations[run_id].values() for k, info in entries),
                        key=lambda item: item[0])
    client = MlflowClient()
    client.log_metric(run_id, key, value)
    client.log_dict(run_id, dict(listed), METRIC_INFO_FILE)
    if _config.get_config(INTEGRATION, "log_datasets", True):
        from fluvial.entities import DatasetInput, InputTag
        from fluvial.flavors.spark.autolog import spark_dataset

        entity = spark_dataset(predictions)._to_mlflow_entity()
        client.log_inputs(run_id, [DatasetInput(entity, (InputTag("mlflow.data.context", "eval"),))])


def _reset_for_tests() -> None:
    with _lock:
        _model_runs.clear()
        _predictions.clear()
        _dataset_ids.clear()
        _evaluations.clear()
