"""Post-training metrics: after an autologged ``fit``, a ``sklearn.metrics`` function called on the
predictions of that model (or the model's ``score``) is logged to the run the model was trained in.

How it works: the fitted model is remembered with its run; its ``predict``/``predict_proba``/... outputs
are remembered with the run and the *name of the variable* the caller passed as input (read from the
caller's frame; ``unknown_dataset`` when there is none). A patched metric function that receives one of
those outputs logs ``<function>_<dataset>`` (``<function>-2_<dataset>`` the second time, ...). ``score``
logs ``<EstimatorClass>_score_<dataset>``. The calls are listed in the run's ``metric_info.json``, and
each evaluation dataset is linked to the run once (context ``eval``).

Everything is keyed by object identity through weak references: nothing here keeps a model, an input or
a prediction alive.
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import helpers, patching

_logger = logging.getLogger("fluvial.autologging")

INTEGRATION = "sklearn"
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "transform")
METRIC_SUFFIXES = ("_score", "_error", "_loss")
METRIC_INFO_FILE = "metric_info.json"
UNKNOWN_DATASET = helpers.UNKNOWN_DATASET
# frames of these modules are skipped when looking for the caller's variable names
_INTERNAL_PREFIXES = ("fluvial.autologging", "fluvial.flavors.sklearn", "sklearn.", "functools")

_lock = threading.RLock()
_local = threading.local()


class _Ref:
    """A weak reference by identity, tolerating objects that cannot be weakly referenced."""

    __slots__ = ("id", "ref")

    def __init__(self, obj: Any, on_gone: Any) -> None:
        key = self.id = id(obj)

        def gone(_ref: Any) -> None:
            on_gone(key)

        self.ref = weakref.ref(obj, gone)

    def alive(self, obj: Any) -> bool:
        return self.ref() is obj


_models: dict[int, tuple[_Ref, str]] = {}  # id(model) -> (ref, run_id)
_predictions: dict[int, tuple[_Ref, str, str, Any]] = {}  # id(output) -> (ref, run_id, dataset name, input ref)
_counters: dict[tuple[str, str, str], int] = {}
_metric_info: dict[str, dict[str, str]] = {}  # run_id -> {metric key: call}
_eval_datasets: set[tuple[str, int]] = set()


def _forget(table: dict[int, Any]) -> Any:
    def gone(key: int) -> None:
        with _lock:
            table.pop(key, None)

    return gone


def register_model(model: Any, run_id: str) -> None:
    """Remember that ``model`` was trained in ``run_id``."""
    try:
        ref = _Ref(model, _forget(_models))
    except TypeError:
        return
    with _lock:
        _models[id(model)] = (ref, run_id)


def _run_of(model: Any) -> str | None:
    entry = _models.get(id(model))
    return entry[1] if entry is not None and entry[0].alive(model) else None


def _suppressed() -> bool:
    return getattr(_local, "busy", False) or patching.current_session() is not None


class _busy:
    def __enter__(self) -> None:
        self.previous = getattr(_local, "busy", False)
        _local.busy = True

    def __exit__(self, *exc: Any) -> None:
        _local.busy = self.previous


# ---- the caller's variable names -----------------------------------------------------------------
def _caller_frame() -> Any:
    return helpers.caller_frame(_INTERNAL_PREFIXES)


_name_in = helpers.variable_name


# ---- patches -------------------------------------------------------------------------------------
def _patched_predict(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    result = original(self, *args, **kwargs)
    if _suppressed():
        return result
    run_id = _run_of(self)
    if run_id is None:
        return result
    data = args[0] if args else kwargs.get("X")
    name = _name_in(_caller_frame(), data) or UNKNOWN_DATASET
    try:
        ref = _Ref(result, _forget(_predictions))
    except TypeError:
        return result
    with _lock:
        _predictions[id(result)] = (ref, run_id, name, _weak_or_none(data))
    return result


def _weak_or_none(obj: Any) -> Any:
    try:
        return weakref.ref(obj)
    except TypeError:
        return None


def _patched_score(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    if _suppressed() or _run_of(self) is None:
        return original(self, *args, **kwargs)
    with _busy():
        value = original(self, *args, **kwargs)
    data = args[0] if args else kwargs.get("X")
    frame = _caller_frame()
    name = _name_in(frame, data) or UNKNOWN_DATASET
    run_id = _run_of(self)
    if run_id is not None:
        _log(run_id, f"{type(self).__name__}_score", name, value, f"{type(self).__name__}.score", args, kwargs,
             frame, data)
    return value


def _make_metric_patch(fn_name: str) -> Any:
    def patched_metric(original: Any, *args: Any, **kwargs: Any) -> Any:
        if _suppressed() or not _predictions:
            return original(*args, **kwargs)
        with _busy():
            value = original(*args, **kwargs)
        with _lock:
            found = None
            for arg in (*args, *kwargs.values()):
                entry = _predictions.get(id(arg))
                if entry is not None and entry[0].alive(arg):
                    found = entry
                    break
        if found is not None:
            _, run_id, name, data_ref = found
            data = data_ref() if data_ref is not None else None
            _log(run_id, fn_name, name, value, fn_name, args, kwargs, _caller_frame(), data,
                 signature_of=getattr(original, "fn", original))
        return value

    return patched_metric


def _describe(value: Any, frame: Any) -> str:
    name = _name_in(frame, value)
    if name is not None:
        return name
    if isinstance(value, (bool, int, float, str, type(None))):
        return repr(value)
    return f"<{type(value).__name__}>"


def _log(run_id: str, base: str, dataset: str, value: Any, call_name: str, args: tuple, kwargs: dict,
         frame: Any, data: Any, signature_of: Any = None) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return  # e.g. per-class arrays (average=None): not one metric
    with _lock:
        count = _counters.get((run_id, base, dataset), 0) + 1
        _counters[(run_id, base, dataset)] = count
    key = f"{base}_{dataset}" if count == 1 else f"{base}-{count}_{dataset}"
    described = _call_text(call_name, args, kwargs, frame, signature_of)
    _PostTrainingLogger(run_id).log(key, number, described, data)


def _call_text(call_name: str, args: tuple, kwargs: dict, frame: Any, signature_of: Any) -> str:
    parts: list[str] = []
    bound = None
    if signature_of is not None:
        try:
            bound = inspect.signature(signature_of).bind_partial(*args, **kwargs).arguments
        except (TypeError, ValueError):
            bound = None
    if bound is not None:
        parts = [f"{k}={_describe(v, frame)}" for k, v in bound.items()]
    else:
        parts = [_describe(a, frame) for a in args] + [f"{k}={_describe(v, frame)}" for k, v in kwargs.items()]
    return f"{call_name}({', '.join(parts)})"


class _PostTrainingLogger:
    """Logs one post-training metric (and its bookkeeping) into a run that has usually ended already."""

    def __init__(self, run_id: str) -> None:
        from fluvial.tracking.client import MlflowClient

        self.run_id = run_id
        self.client = MlflowClient()

    def log(self, key: str, value: float, call: str, data: Any) -> None:
        try:
            self.client.log_metric(self.run_id, key, value)
            with _lock:
                info = _metric_info.setdefault(self.run_id, {})
                info[key] = call
                snapshot = dict(info)
            self.client.log_dict(self.run_id, snapshot, METRIC_INFO_FILE)
            if data is not None and _config.get_config(INTEGRATION, "log_datasets", True):
                self._log_eval_dataset(data)
        except Exception as exc:
            _config.warn(INTEGRATION, "fluvial sklearn autologging could not log the post-training metric %s: "
                         "%s: %s", key, type(exc).__name__, exc)

    def _log_eval_dataset(self, data: Any) -> None:
        marker = (self.run_id, id(data))
        with _lock:
            if marker in _eval_datasets:
                return
            _eval_datasets.add(marker)
        from fluvial.autologging.helpers import make_dataset

        dataset = make_dataset(data, None)
        if dataset is not None:
            from fluvial.entities import DatasetInput, InputTag

            self.client.log_inputs(self.run_id, [DatasetInput(dataset._to_mlflow_entity(),
                                                              (InputTag("mlflow.data.context", "eval"),))])


# ---- installing ----------------------------------------------------------------------------------
def metric_function_names() -> list[str]:
    """The ``sklearn.metrics`` functions that are patched: the public ``*_score``, ``*_error`` and
    ``*_loss`` functions."""
    import sklearn.metrics

    return sorted(n for n in getattr(sklearn.metrics, "__all__", dir(sklearn.metrics))
                  if n.endswith(METRIC_SUFFIXES) and inspect.isfunction(getattr(sklearn.metrics, n, None)))


def install(estimators: list[type]) -> None:
    """Patch the prediction methods and ``score`` of ``estimators`` and the metric functions."""
    import sklearn.metrics

    for cls in estimators:
        for method in PREDICT_METHODS:
            if _has(cls, method):
                patching.safe_patch(INTEGRATION, cls, method, _patched_predict, session=False)
        if _has(cls, "score"):
            patching.safe_patch(INTEGRATION, cls, "score", _patched_score, session=False)
    for name in metric_function_names():
        patching.safe_patch(INTEGRATION, sklearn.metrics, name, _make_metric_patch(name), session=False)


def _has(cls: type, name: str) -> bool:
    try:
        inspect.getattr_static(cls, name)
    except AttributeError:
        return False
    return True


def _reset_for_tests() -> None:
    with _lock:
        _models.clear()
        _predictions.clear()
        _counters.clear()
        _metric_info.clear()
        _eval_datasets.clear()
