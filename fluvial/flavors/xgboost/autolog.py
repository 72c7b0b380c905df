"""XGBoost autologging (``fluvial.xgboost.autolog``).

``xgboost.train`` logs: the ``params`` dict and the other arguments of ``train`` (``num_boost_round``,
``early_stopping_rounds``, ``maximize``, ``verbose_eval``, ``custom_metric``) as params; every evaluation
metric at every iteration as ``<eval name>-<metric>`` with the iteration as step; with early stopping,
``stopped_iteration`` and ``best_iteration`` and the best iteration's metrics once more at the next
step; ``feature_importance_<type>.json`` for each of ``importance_types`` (default ``["weight"]``); the
training and evaluation datasets; and the Booster under ``model``.

In the scikit-learn wrappers (``XGBClassifier.fit`` ...) the ``train`` call inside logs its params and
the per-iteration metrics, the wrapper's ``get_xgb_params()`` add those it did not pass, and the wrapper
is the model.
"""

from __future__ import annotations

import inspect
import weakref
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import helpers, patching
from fluvial.autologging.config import autologging_integration

INTEGRATION = "xgboost"
TESTED_VERSIONS = ("1.7.0", "3.2")
_NOT_PARAMS = ("params", "dtrain", "evals", "obj", "evals_result", "xgb_model", "callbacks")
_IN_FIT = "xgboost.sklearn_fit"


@autologging_integration(INTEGRATION)
def autolog(
    importance_types: list[str] | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    model_format: str = "xgb",
    extra_tags: dict[str, str] | None = None,
) -> None:
    """Enable (or disable) autologging for ``xgboost.train`` and XGBoost's scikit-learn estimators."""
    import xgboost
    import xgboost.sklearn

    if not _config.check_version(INTEGRATION, "xgboost", xgboost.__version__, *TESTED_VERSIONS):
        return
    for module in (xgboost, xgboost.sklearn):
        if hasattr(module, "train"):
            patching.safe_patch(INTEGRATION, module, "train", _patched_train, nested=True)
    for cls in _subclasses(xgboost.XGBModel):
        if "fit" in cls.__dict__:
            patching.safe_patch(INTEGRATION, cls, "fit", _patched_fit)
    patching.safe_patch(INTEGRATION, xgboost.DMatrix, "__init__", _patched_dmatrix_init, session=False)


def _subclasses(cls: type) -> list[type]:
    found: list[type] = [cls]
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found.extend(c for c in _subclasses(sub) if c not in found)
    return found


# ---- DMatrix: remember the data, for the input example and the dataset ---------------------------
def _patched_dmatrix_init(original: Any, self: Any, data: Any = None, *args: Any, **kwargs: Any) -> Any:
    result = original(self, data, *args, **kwargs)
    try:
        self._fluvial_source = weakref.ref(data)
    except TypeError:
        self._fluvial_source = None
    if _config.get_config(INTEGRATION, "log_input_examples") or _config.get_config(INTEGRATION, "log_model_signatures"):
        self._fluvial_example = helpers.head(data)
    return result


def _dataset_of(dmatrix: Any, name: str | None = None) -> Any:
    """The data a DMatrix was built from (while it is alive), else the DMatrix's own (dense) copy."""
    ref = getattr(dmatrix, "_fluvial_source", None)
    data = ref() if ref is not None else None
    label = dmatrix.get_label()
    targets = label if len(label) else None
    if data is not None:
        dataset = helpers.make_dataset(data, targets, name)
        if dataset is not None:
            return dataset
    return helpers.make_dataset(dmatrix.get_data().toarray(), targets, name)


# ---- train ---------------------------------------------------------------------------------------
def _recorder(session: Any, history: dict[str, list[float]]) -> Any:
    import xgboost

    class _Record(xgboost.callback.TrainingCallback):
        """Sends each iteration's evaluation results to the session (buffered)."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            point = {}
            for data_name, metrics in evals_log.items():
                for metric, values in metrics.items():
                    value = values[-1]
                    value = value[0] if isinstance(value, tuple) else value  # (mean, std) in xgboost.cv
                    key = f"{data_name}-{metric}"
                    point[key] = float(value)
                    history.setdefault(key, []).append(float(value))
            if point:
                session.attempt("log iteration metrics", session.log_metrics, point, epoch)
            return False

    return _Record()


def _patched_train(session: Any, original: Any, *args: Any, **kwargs: Any) -> Any:
    import xgboost

    in_fit = bool(session.state.get(_IN_FIT))
    bound = inspect.signature(xgboost.training.train).bind(*args, **kwargs)
    params, dtrain = bound.arguments.get("params") or {}, bound.arguments.get("dtrain")
    params = dict(params) if not isinstance(params, dict) else params

    def log_params() -> None:
        session.log_params({**params, **helpers.call_params(xgboost.training.train, args, kwargs, _NOT_PARAMS)})

    session.attempt("log the training params", log_params)
    history: dict[str, list[float]] = {}
    callbacks = list(bound.arguments.get("callbacks") or [])
    recorder = session.attempt("set up metric logging", _recorder, session, history)
    if recorder is not None:
        bound.arguments["callbacks"] = [*callbacks, recorder]
    if session.option("log_datasets", True):
        session.attempt("log the datasets", _log_datasets, session, dtrain, bound.arguments.get("evals"), in_fit)

    booster = original(*bound.args, **bound.kwargs)

    if bound.arguments.get("early_stopping_rounds") is not None and history:
        session.attempt("log early stopping", _log_early_stopping, session, booster, history)
    if not in_fit:
        session.attempt("log feature importance", _log_importance, session, booster)
        if session.option("log_models", True):
            example = getattr(dtrain, "_fluvial_example", None)
            session.attempt("log the model", _log_model, session, booster, example,
                            lambda x: booster.predict(xgboost.DMatrix(x)))
    return booster


def _log_datasets(session: Any, dtrain: Any, evals: Any, in_fit: bool) -> None:
    if not in_fit and dtrain is not None:
        session.log_input(_dataset_of(dtrain), "train")
    for dmatrix, name in evals or ():
        session.log_input(_dataset_of(dmatrix, name), "eval")


def _log_early_stopping(session: Any, booster: Any, history: dict[str, list[float]]) -> None:
    stopped = max(len(v) for v in history.values()) - 1
    best = int(getattr(booster, "best_iteration", stopped))
    helpers.log_early_stopping(session, history, stopped, best, best)


def _log_importance(session: Any, booster: Any) -> None:
    kinds = session.option("importance_types") or ["weight"]
    helpers.log_feature_importance(session, {k: booster.get_score(importance_type=k) for k in kinds})


def _log_model(session: Any, model: Any, example: Any, predict: Any) -> None:
    from fluvial.flavors.xgboost import log_model

    example, signature = helpers.example_and_signature(session, example, predict)
    log_model(model, "model", signature=signature, input_example=example,
              model_format=session.option("model_format", "xgb"),
              registered_model_name=session.option("registered_model_name"))


# ---- scikit-learn wrappers -----------------------------------------------------------------------
def _patched_fit(session: Any, original: Any, self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
    y = args[0] if args else kwargs.get("y")
    session.state[_IN_FIT] = True
    if session.option("log_datasets", True):
        dataset = session.attempt("build the training dataset", helpers.make_dataset, X, y)
        if dataset is not None:
            session.attempt("log the training dataset", session.log_input, dataset, "train")
    result = original(self, X, *args, **kwargs)
    # after the fit: the train() inside it logged the params it was given (the objective and
    # num_class the wrapper chose among them); these add the wrapper's settings that it left out
    session.attempt("log the estimator's params", lambda: session.log_params(self.get_xgb_params()))
    session.attempt("log feature importance", lambda: _log_importance(session, self.get_booster()))
    if session.option("log_models", True):
        session.attempt("log the model", _log_model, session, self, helpers.head(X), self.predict)
    return result
