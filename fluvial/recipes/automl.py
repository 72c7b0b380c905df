"""``using: automl/flaml`` in the train step: FLAML's AutoML picks and tunes the estimator within
``time_budget_secs`` (default 600), optimizing the recipe's primary metric (FLAML's own name for it,
scikit-learn's recall/precision, or the recipe's custom metric); ``flaml_params`` go to
``AutoML.fit``. As in MLflow 2.22.5; the result depends on the time budget and the machine."""

from __future__ import annotations

from typing import Any

from fluvial.exceptions import InvalidParameterValue, MissingDependency, MlflowException
from fluvial.recipes.context import StepContext
from fluvial.recipes.steps_model import DEFAULT_PRIMARY, custom_metrics, metric_directions, task

DEFAULT_TIME_BUDGET = 600
FLAML_METRICS = {
    "mean_absolute_error": "mae", "mean_squared_error": "mse", "root_mean_squared_error": "rmse",
    "r2_score": "r2", "mean_absolute_percentage_error": "mape", "f1_score": "f1", "f1_score_micro": "micro_f1",
    "f1_score_macro": "macro_f1", "accuracy_score": "accuracy", "roc_auc": "roc_auc", "roc_auc_ovr": "roc_auc_ovr",
    "roc_auc_ovo": "roc_auc_ovo", "log_loss": "log_loss",
}
SKLEARN_METRICS = ("recall_score", "precision_score")


def _sklearn_metric(name: str, sign: int, average: str) -> Any:
    def metric(X_val: Any, y_val: Any, estimator: Any, labels: Any, X_train: Any, y_train: Any,
               *args: Any) -> tuple[float, dict[str, float]]:
        from sklearn import metrics

        fn = getattr(metrics, name)
        val = sign * fn(y_val, estimator.predict(X_val), average=average)
        train = sign * fn(y_train, estimator.predict(X_train), average=average)
        return val, {f"{name}_train": train, f"{name}_val": val}

    return metric


def _custom_metric(ctx: StepContext, name: str, sign: int, eval_fn: Any) -> Any:
    import pandas as pd

    from fluvial.models.evaluation.metrics import binary_metrics, regressor_metrics

    def compute(X: Any, y: Any, estimator: Any) -> float:
        y_pred = estimator.predict(X)
        builtin = regressor_metrics(y, y_pred) if task(ctx) == "regression" else binary_metrics(y, y_pred)
        frame = pd.DataFrame({"prediction": y_pred, "target": pd.Series(y).to_numpy()})
        return float(eval_fn(frame, builtin))

    def metric(X_val: Any, y_val: Any, estimator: Any, labels: Any, X_train: Any, y_train: Any,
               *args: Any) -> tuple[float, dict[str, float]]:
        val = sign * compute(X_val, y_val, estimator)  # FLAML minimizes (MLflow 2.22.5 negates twice here)
        return val, {f"{name}_train": compute(X_train, y_train, estimator), f"{name}_val": val}

    return metric


def flaml_estimator(ctx: StepContext, conf: dict[str, Any], X: Any, y: Any) -> tuple[Any, dict[str, Any]]:
    try:
        from flaml import AutoML
    except ImportError:
        raise MissingDependency("train `using: automl/flaml` needs FLAML: pip install flaml") from None
    primary = ctx.config.get("primary_metric") or DEFAULT_PRIMARY[task(ctx)]
    directions = metric_directions(ctx)
    sign = -1 if directions.get(primary) else 1
    custom = {e["name"]: e for e in ctx.config.get("custom_metrics") or []}
    metric: Any
    if primary in custom:
        fn = next(m for m in custom_metrics(ctx) if m.name == primary)
        metric = _custom_metric(ctx, primary, sign, fn.eval_fn)
    elif primary in FLAML_METRICS:
        metric = FLAML_METRICS[primary]
    elif primary in SKLEARN_METRICS:
        metric = _sklearn_metric(primary, sign, "binary" if ctx.config.get("positive_class") is not None else "macro")
    else:
        raise InvalidParameterValue(f"There is no FLAML alternative or custom metric for {primary} metric.")
    settings = dict(conf.get("flaml_params") or {})
    settings["time_budget"] = conf.get("time_budget_secs", DEFAULT_TIME_BUDGET)
    settings["metric"] = metric
    settings["task"] = task(ctx)
    automl = AutoML()
    try:
        automl.fit(X, y, **settings)
    except Exception as exc:
        raise MlflowException(f"Error has occurred during training of AutoML model using FLAML: {exc!r}") from None
    if automl.model is None:
        raise MlflowException("AutoML (FLAML) could not train a suitable algorithm. Maybe you should increase "
                              "`time_budget_secs` parameter to give AutoML process more time.")
    return automl.model.estimator, dict(automl.best_config)
