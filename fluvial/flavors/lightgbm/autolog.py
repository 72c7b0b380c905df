"""LightGBM autologging (``fluvial.lightgbm.autolog``).

``lightgbm.train`` logs: the ``params`` dict plus ``num_boost_round`` and ``keep_training_booster`` as
params; every evaluation result at every iteration as ``<valid name>-<metric>`` (``@`` in a metric name
becomes ``_at_``) with the iteration as step; with early stopping, ``stopped_iteration`` (iterations run)
and ``best_iteration`` (LightGBM's, counted from 1) and the best iteration's metrics once more at step
``stopped_iteration``; ``feature_importance_split.json`` and ``feature_importance_gain.json`` (see
``importance_types``); the training and validation datasets; and the Booster under ``model``.

In the scikit-learn wrappers (``LGBMClassifier.fit`` ...) the ``train`` call inside logs the params it
is given and the metrics; the wrapper adds the training dataset, feature importances and itself as the
model (pickled, ``model.pkl``).
"""

from __future__ import annotations

import inspect
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import helpers, patching
from fluvial.autologging.config import autologging_integration

INTEGRATION = "lightgbm"
TESTED_VERSIONS = ("3.3.0", "4.7")
_NOT_PARAMS = ("params", "train_set", "valid_sets", "valid_names", "feval", "init_model", "callbacks",
               "fobj", "evals_result", "learning_rates")
_EARLY_STOPPING_ALIASES = ("early_stopping_round", "early_stopping_rounds", "early_stopping", "n_iter_no_change")
_IN_FIT = "lightgbm.sklearn_fit"


@autologging_integration(INTEGRATION)
def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: dict[str, str] | None = None,
    importance_types: list[str] | None = None,
) -> None:
    """Enable (or disable) autologging for ``lightgbm.train`` and LightGBM's scikit-learn estimators."""
    import lightgbm
    import lightgbm.sklearn

    if not _config.check_version(INTEGRATION, "lightgbm", lightgbm.__version__, *TESTED_VERSIONS):
        return
    for module in (lightgbm, lightgbm.sklearn):
        if hasattr(module, "train"):
            patching.safe_patch(INTEGRATION, module, "train", _patched_train, nested=True)
    for cls in (lightgbm.LGBMModel, *lightgbm.LGBMModel.__subclasses__()):
        if "fit" in cls.__dict__:
            patching.safe_patch(INTEGRATION, cls, "fit", _patched_fit)


def _recorder(session: Any, history: dict[str, list[float]]) -> Any:
    def record(env: Any) -> None:
        point = {}
        for item in env.evaluation_result_list or ():
            data_name, metric, value = item[0], item[1], item[2]
            key = f"{data_name}-{metric}".replace("@", "_at_")
            point[key] = float(value)
            history.setdefault(key, []).append(float(value))
        if point:
            session.attempt("log iteration metrics", session.log_metrics, point, env.iteration)

    record.order = 25  # type: ignore[attr-defined]  # after LightGBM's own recording, before early stopping
    return record


def _early_stopping(params: dict[str, Any], callbacks: list[Any]) -> bool:
    if any(type(cb).__name__ == "_EarlyStoppingCallback" for cb in callbacks):
        return True
    for alias in _EARLY_STOPPING_ALIASES:
        try:
            if int(params.get(alias) or 0) > 0:
                return True
        except (TypeError, ValueError):
            continue
    return False


def _patched_train(session: Any, original: Any, *args: Any, **kwargs: Any) -> Any:
    import lightgbm

    in_fit = bool(session.state.get(_IN_FIT))
    train = lightgbm.engine.train
    bound = inspect.signature(train).bind(*args, **kwargs)
    params = dict(bound.arguments.get("params") or {})
    train_set = bound.arguments.get("train_set")
    callbacks = list(bound.arguments.get("callbacks") or [])

    def log_params() -> None:
        session.log_params({**params, **helpers.call_params(train, args, kwargs, _NOT_PARAMS)})

    session.attempt("log the training params", log_params)
    history: dict[str, list[float]] = {}
    recorder = session.attempt("set up metric logging", _recorder, session, history)
    if recorder is not None:
        bound.arguments["callbacks"] = [*callbacks, recorder]
    example = helpers.head(getattr(train_set, "data", None)) if not in_fit else None
    if session.option("log_datasets", True) and not in_fit:
        session.attempt("log the datasets", _log_datasets, session, train_set, bound.arguments.get("valid_sets"),
                        bound.arguments.get("valid_names"))

    booster = original(*bound.args, **bound.kwargs)

    if history and _early_stopping(params, callbacks):
        session.attempt("log early stopping", _log_early_stopping, session, booster, history)
    if not in_fit:
        session.attempt("log feature importance", _log_importance, session, booster)
        if session.option("log_models", True):
            session.attempt("log the model", _log_model, session, booster, example, booster.predict)
    return booster


def _log_datasets(session: Any, train_set: Any, valid_sets: Any, valid_names: Any) -> None:
    dataset = helpers.make_dataset(getattr(train_set, "data", None), getattr(train_set, "label", None))
    if dataset is not None:
        session.log_input(dataset, "train")
    names = list(valid_names or ())
    for i, valid in enumerate(valid_sets or ()):
        name = names[i] if i < len(names) else ("training" if valid is train_set else f"valid_{i}")
        dataset = helpers.make_dataset(getattr(valid, "data", None), getattr(valid, "label", None), name)
        if dataset is not None:
            session.log_input(dataset, "eval")


def _log_early_stopping(session: Any, booster: Any, history: dict[str, list[float]]) -> None:
    stopped = max(len(v) for v in history.values())
    best = int(getattr(booster, "best_iteration", 0) or 0)
    helpers.log_early_stopping(session, history, stopped, best, best - 1)


def _log_importance(session: Any, booster: Any) -> None:
    names = booster.feature_name()
    kinds = session.option("importance_types") or ["split", "gain"]
    importances = {k: dict(zip(names, booster.feature_importance(importance_type=k), strict=True)) for k in kinds}
    helpers.log_feature_importance(session, importances, indent=2)


def _log_model(session: Any, model: Any, example: Any, predict: Any) -> None:
    from fluvial.flavors.lightgbm import log_model

    example, signature = helpers.example_and_signature(session, example, predict)
    log_model(model, "model", signature=signature, input_example=example,
              registered_model_name=session.option("registered_model_name"))


def _patched_fit(session: Any, original: Any, self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
    y = args[0] if args else kwargs.get("y")
    session.state[_IN_FIT] = True
    if session.option("log_datasets", True):
        dataset = session.attempt("build the training dataset", helpers.make_dataset, X, y)
        if dataset is not None:
            session.attempt("log the training dataset", session.log_input, dataset, "train")
    result = original(self, X, *args, **kwargs)
    session.attempt("log feature importance", lambda: _log_importance(session, self.booster_))
    if session.option("log_models", True):
        session.attempt("log the model", _log_model, session, self, helpers.head(X), self.predict)
    return result
