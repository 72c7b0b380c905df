"""The model steps after train: evaluate (validation criteria) and register, and the metric helpers
the train step shares."""

from __future__ import annotations

import json
import os
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.recipes.context import StepContext

# (name, greater_is_better) of the built-in metrics a recipe can validate or rank by
BUILTIN_METRICS = {
    "regression": {"mean_absolute_error": False, "mean_squared_error": False, "root_mean_squared_error": False,
                   "max_error": False, "mean_absolute_percentage_error": False},
    "classification": {"true_negatives": True, "false_positives": False, "false_negatives": False,
                       "true_positives": True, "recall_score": True, "precision_score": True, "f1_score": True,
                       "accuracy_score": True, "roc_auc": True, "log_loss": False},
}
DEFAULT_PRIMARY = {"regression": "root_mean_squared_error", "classification": "f1_score"}


def task(ctx: StepContext) -> str:
    return "classification" if ctx.is_classification else "regression"


def metric_directions(ctx: StepContext) -> dict[str, bool]:
    directions = dict(BUILTIN_METRICS[task(ctx)])
    for entry in ctx.config.get("custom_metrics") or []:
        if not isinstance(entry, dict) or {"name", "function", "greater_is_better"} - set(entry):
            raise InvalidParameterValue("Each custom_metrics entry needs `name`, `function` and `greater_is_better`; "
                                        f"got {entry!r}")
        directions[entry["name"]] = bool(entry["greater_is_better"])
    primary = ctx.config.get("primary_metric") or DEFAULT_PRIMARY[task(ctx)]
    if primary not in directions:
        raise InvalidParameterValue(f"The primary metric '{primary}' is a custom metric, but its corresponding "
                                    "custom metric configuration is missing from `recipe.yaml`.")
    return directions


def custom_metrics(ctx: StepContext) -> list[Any]:
    from fluvial.metrics import make_metric

    return [make_metric(eval_fn=ctx.user_function("custom_metrics", e["function"], "custom_metrics.function"),
                        name=e["name"], greater_is_better=bool(e["greater_is_better"]))
            for e in ctx.config.get("custom_metrics") or []]


# the explainability each evaluation gets, as in MLflow 2.22.5: SHAP (kernel, 10 rows) on the evaluate
# step's validation data only, when shap is installed
EXPLAIN_OFF: dict[str, Any] = {"log_model_explainability": False}
EXPLAIN_VALIDATION = {"explainability_algorithm": "kernel", "explainability_nsamples": 10}


def evaluate_model(ctx: StepContext, model_uri: str, df: Any, prefix: str, out_dir: str,
                   explain: dict[str, Any] | None = None) -> dict[str, Any]:
    import fluvial

    config: dict[str, Any] = {**(EXPLAIN_OFF if explain is None else explain), "metric_prefix": prefix}
    if ctx.is_classification:
        config["pos_label"] = ctx.config["positive_class"]
    result = fluvial.evaluate(model_uri, df, targets=ctx.target, model_type=task(ctx).replace(
        "classification", "classifier").replace("regression", "regressor"), evaluators="default",
        extra_metrics=custom_metrics(ctx) or None, evaluator_config=config)
    result.save(out_dir)
    return {k[len(prefix):]: v for k, v in result.metrics.items()}


def evaluate(ctx: StepContext) -> dict[str, Any]:
    import pandas as pd

    import fluvial

    conf = ctx.step_conf("evaluate")
    directions = metric_directions(ctx)
    criteria = conf.get("validation_criteria") or []
    if not isinstance(criteria, list) or not all(isinstance(c, dict) and {"metric", "threshold"} <= set(c)
                                                 for c in criteria):
        raise InvalidParameterValue("`validation_criteria` must be a list of {metric, threshold} entries.")
    undefined = sorted({c["metric"] for c in criteria} - set(directions))
    if undefined:
        raise InvalidParameterValue(f"Validation criteria contain undefined metrics: {undefined}")
    with open(ctx.output("train", "run_id")) as f:
        run_id = f.read()
    model_uri = ctx.output("train", "sk_model")
    ctx.apply_tracking()
    out = ctx.outputs("evaluate")
    with fluvial.start_run(run_id=run_id, tags={"mlflow.pipeline.step.name": "evaluate"}):
        metrics = {name: evaluate_model(ctx, model_uri, pd.read_parquet(ctx.output("split", f"{name}.parquet")), prefix,
                                        os.path.join(out, f"eval_{name}"), explain)
                   for name, prefix, explain in (("validation", "val_", EXPLAIN_VALIDATION),
                                                 ("test", "test_", EXPLAIN_OFF))}
    results = []
    for c in criteria:
        value = metrics["test"].get(c["metric"])
        if value is None:
            raise InvalidParameterValue(f"The metric {c['metric']} is defined in the recipe's validation criteria "
                                        "but was not returned from evaluation.")
        ok = value >= c["threshold"] if directions[c["metric"]] else value <= c["threshold"]
        results.append({"metric": c["metric"], "value": value, "threshold": c["threshold"], "validated": ok})
    status = ("VALIDATED" if all(r["validated"] for r in results) else "REJECTED") if results else "UNKNOWN"
    with open(os.path.join(out, "model_validation_status"), "w") as f:
        f.write(status)
    return {"run_id": run_id, "metrics": metrics, "validation": results, "status": status}


def register(ctx: StepContext) -> dict[str, Any]:
    import fluvial

    conf = ctx.step_conf("register")
    name = (ctx.config.get("model_registry") or {}).get("model_name") or conf.get("model_name")
    if not name:
        raise InvalidParameterValue("Missing 'model_name' config in the `model_registry` section of the recipe "
                                    "configuration.")
    with open(ctx.output("train", "run_id")) as f:
        run_id = f.read()
    with open(ctx.output("evaluate", "model_validation_status")) as f:
        status = f.read()
    model_uri = f"runs:/{run_id}/train/model"
    if not (status == "VALIDATED" or (status == "UNKNOWN" and conf.get("allow_non_validated_model", False))):
        raise MlflowException(f"Model registration on {model_uri} failed because it is not validated "
                              f"(status {status}). Bypass by setting allow_non_validated_model to True.")
    ctx.apply_tracking()
    version = fluvial.register_model(model_uri, name, tags={"mlflow.source.type": "RECIPE",
                                                          "mlflow.pipeline.template.name": ctx.template})
    with open(ctx.output("register", "registered_model_version.json"), "w") as f:
        json.dump({"registered_model_name": name, "registered_model_version": int(version.version)}, f)
    fluvial.MlflowClient().set_tag(run_id, "mlflow.pipeline.step.name", "register")
    return {"run_id": run_id, "registered": {"name": name, "version": int(version.version), "source": model_uri}}
