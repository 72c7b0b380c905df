"""The model steps: train (one MLflow run that holds every step's artifacts), evaluate (validation
criteria) and register."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MissingDependency, MlflowException
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


def _task(ctx: StepContext) -> str:
    return "classification" if ctx.is_classification else "regression"


def metric_directions(ctx: StepContext) -> dict[str, bool]:
    directions = dict(BUILTIN_METRICS[_task(ctx)])
    for entry in ctx.config.get("custom_metrics") or []:
        if not isinstance(entry, dict) or {"name", "function", "greater_is_better"} - set(entry):
            raise InvalidParameterValue("Each custom_metrics entry needs `name`, `function` and `greater_is_better`; "
                                        f"got {entry!r}")
        directions[entry["name"]] = bool(entry["greater_is_better"])
    primary = ctx.config.get("primary_metric") or DEFAULT_PRIMARY[_task(ctx)]
    if primary not in directions:
        raise InvalidParameterValue(f"The primary metric '{primary}' is a custom metric, but its corresponding "
                                    "custom metric configuration is missing from `recipe.yaml`.")
    return directions


def custom_metrics(ctx: StepContext) -> list[Any]:
    from fluvial.metrics import make_metric

    return [make_metric(eval_fn=ctx.user_function("custom_metrics", e["function"], "custom_metrics.function"),
                        name=e["name"], greater_is_better=bool(e["greater_is_better"]))
            for e in ctx.config.get("custom_metrics") or []]


def _evaluate(ctx: StepContext, model_uri: str, df: Any, prefix: str, out_dir: str) -> dict[str, Any]:
    import fluvial

    config: dict[str, Any] = {"metric_prefix": prefix}
    if ctx.is_classification:
        config["pos_label"] = ctx.config["positive_class"]
    result = fluvial.evaluate(model_uri, df, targets=ctx.target, model_type=_task(ctx).replace(
        "classification", "classifier").replace("regression", "regressor"), evaluators="default",
        extra_metrics=custom_metrics(ctx) or None, evaluator_config=config)
    result.save(out_dir)
    return {k[len(prefix):]: v for k, v in result.metrics.items()}


_UNSUPPORTED_TRAIN_KEYS = ("predict_prefix", "predict_scores_for_all_classes", "rebalance_training_data",
                           "calibrate_proba")


def _estimator(ctx: StepContext, conf: dict[str, Any], X: Any, y: Any, val: Any, out_dir: str) -> tuple[Any, dict]:
    unsupported = sorted(k for k in _UNSUPPORTED_TRAIN_KEYS if k in conf)
    if unsupported:
        raise InvalidParameterValue(f"The train step keys {unsupported} are not supported by fluvial: the model is "
                                    "the transformer + estimator pipeline (see docs/recipes.md); remove them.")
    if conf.get("using", "custom") != "custom":
        raise InvalidParameterValue(f"train `using: {conf['using']}` is not supported by fluvial (only custom).")
    if not conf.get("estimator_method"):
        raise InvalidParameterValue("Missing 'estimator_method' configuration in the train step.")
    fn = ctx.user_function("train", conf["estimator_method"], "estimator_method")
    params = dict(conf.get("estimator_params") or {})
    tuning = conf.get("tuning") or {}
    if tuning.get("enabled"):
        params.update(_tune(ctx, fn, params, tuning, X, y, val))
    estimator = fn(params) if params else fn()
    return estimator, params


def _hyperopt_algorithm(name: str) -> Any:
    """``hyperopt.<module>.suggest`` named in the config, looked up inside hyperopt only."""
    import importlib

    parts = str(name).split(".")
    if len(parts) < 2 or parts[0] != "hyperopt":
        raise InvalidParameterValue(f"tuning.algorithm must name a hyperopt algorithm such as hyperopt.tpe.suggest, "
                                    f"not {name!r}")
    try:
        target: Any = importlib.import_module(".".join(parts[:-1]))
        return getattr(target, parts[-1])
    except (ImportError, AttributeError):
        raise InvalidParameterValue(f"tuning.algorithm {name!r} does not exist in hyperopt") from None


def _tune(ctx: StepContext, fn: Any, fixed: dict[str, Any], tuning: dict[str, Any], X: Any, y: Any, val: Any) -> dict:
    """hyperopt search over ``tuning.parameters``, scoring each trial's estimator by the primary metric on
    the transformed validation data."""
    for key in ("max_trials", "parameters"):
        if key not in tuning:
            raise InvalidParameterValue(f"The train step's `tuning` section needs `{key}`.")
    if int(tuning.get("parallelism", 1)) != 1:
        raise InvalidParameterValue("tuning.parallelism other than 1 needs Spark trials, which fluvial does not run.")
    try:
        import hyperopt
    except ImportError:
        raise MissingDependency("train step `tuning.enabled: true` needs hyperopt: pip install hyperopt") from None
    from fluvial.models.evaluation.api import _FunctionModel
    from fluvial.models.evaluation.dataset import EvalData
    from fluvial.models.evaluation.evaluator import DefaultEvaluator

    space = {}
    for name, spec in tuning["parameters"].items():
        args = {k: v for k, v in (spec or {}).items() if k != "distribution"}
        dist = getattr(hyperopt.hp, str((spec or {}).get("distribution", "uniform")), None)
        if dist is None:
            raise InvalidParameterValue(f"tuning.parameters.{name}: unknown hyperopt distribution {spec!r}")
        space[name] = dist(name, **args)
    fraction = float(tuning.get("sample_fraction", 1))
    if not 0 < fraction <= 1:
        raise InvalidParameterValue("tuning.sample_fraction must be in (0, 1].")
    if fraction < 1:
        keep = X.sample(frac=fraction, random_state=42).index
        X, y = X.loc[keep], y.loc[keep]
    primary = ctx.config.get("primary_metric") or DEFAULT_PRIMARY[_task(ctx)]
    greater = metric_directions(ctx)[primary]
    data = EvalData(val, targets=ctx.target)
    config: dict[str, Any] = {"pos_label": ctx.config["positive_class"]} if ctx.is_classification else {}
    model_type = "classifier" if ctx.is_classification else "regressor"

    def objective(sampled: dict[str, Any]) -> float:
        est = fn({**fixed, **sampled}).fit(X, y)
        result = DefaultEvaluator(client=None, run_id=None, model_type=model_type, data=data, config=config,
                                  model=_FunctionModel(est.predict), extra_metrics=custom_metrics(ctx),
                                  log=False).run()
        if primary not in result.metrics:
            raise InvalidParameterValue(f"The primary metric {primary!r} cannot be computed while tuning.")
        value = float(result.metrics[primary])
        return -value if greater else value

    early = tuning.get("early_stop_fn")
    best = hyperopt.fmin(
        objective, space, algo=_hyperopt_algorithm(tuning.get("algorithm", "hyperopt.rand.suggest")),
        max_evals=int(tuning["max_trials"]), show_progressbar=False, rstate=__import__("numpy").random.default_rng(42),
        early_stop_fn=ctx.user_function("train", early, "tuning.early_stop_fn") if early else None)
    return hyperopt.space_eval(space, best)


def train(ctx: StepContext) -> dict[str, Any]:
    import cloudpickle
    import pandas as pd
    import yaml
    from sklearn.pipeline import make_pipeline

    import fluvial
    from fluvial.flavors import sklearn as fsk

    conf = ctx.step_conf("train")
    metric_directions(ctx)
    out = ctx.outputs("train")
    t_train = pd.read_parquet(ctx.output("transform", "transformed_training_data.parquet"))
    t_val = pd.read_parquet(ctx.output("transform", "transformed_validation_data.parquet"))
    X, y = t_train.drop(columns=[ctx.target]), t_train[ctx.target]
    with open(ctx.output("transform", "transformer.pkl"), "rb") as f:
        transformer = cloudpickle.load(f)
    ctx.apply_tracking()
    tracking = ctx.tracking()
    run_name = f"{tracking['run_name_prefix']}-run" if tracking["run_name_prefix"] else None
    estimator, params = _estimator(ctx, conf, X, y, t_val, out)
    with fluvial.start_run(run_name=run_name, tags=ctx.run_tags("train")) as run:
        fitted = estimator.fit(X, y)
        fluvial.log_params({k: v for k, v in fitted.get_params().items()})
        fluvial.set_tags({"estimator_name": type(fitted).__name__,
                          "estimator_class": f"{type(fitted).__module__}.{type(fitted).__name__}"})
        from fluvial.models import infer_signature

        with warnings.catch_warnings():  # integer-column hints are about serving data, not this model
            warnings.simplefilter("ignore", UserWarning)
            estimator_info = fsk.log_model(fitted, "train/estimator", signature=infer_signature(X, fitted.predict(X)))
        fsk.log_model(transformer, "transform/transformer")
        pipeline = make_pipeline(transformer, fitted)
        for sub in ("model", "sk_model"):
            shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        raw_X = pd.read_parquet(ctx.output("split", "train.parquet")).drop(columns=[ctx.target])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            signature = infer_signature(raw_X, pipeline.predict(raw_X))
        fsk.save_model(pipeline, os.path.join(out, "sk_model"), signature=signature)
        shutil.copytree(os.path.join(out, "sk_model"), os.path.join(out, "model"))
        fluvial.log_artifacts(os.path.join(out, "model"), "train/model")
        with open(os.path.join(out, "run_id"), "w") as f:
            f.write(run.info.run_id)
        defaults = {k: v for k, v in fitted.get_params().items() if k not in params}
        with open(os.path.join(out, "best_parameters.yaml"), "w") as f:
            if params:
                f.write("# tuned and configured parameters\n")
                yaml.safe_dump({k: str(v) for k, v in params.items()}, f)
            f.write("# default parameters\n")
            yaml.safe_dump({k: str(v) for k, v in defaults.items()}, f)
        fluvial.log_artifact(os.path.join(out, "best_parameters.yaml"), "train")
        metrics = {name: _evaluate(ctx, estimator_info.model_uri, df, prefix, os.path.join(out, f"eval_{name}"))
                   for name, (df, prefix) in {"training": (t_train, "training_"), "validation": (t_val, "val_")}.items()}
        snapshot = os.path.join(out, "recipe_snapshot")
        shutil.rmtree(snapshot, ignore_errors=True)
        os.makedirs(snapshot)
        for rel in ["recipe.yaml", os.path.join("profiles", f"{ctx.profile}.yaml")]:
            os.makedirs(os.path.dirname(os.path.join(snapshot, rel)) or snapshot, exist_ok=True)
            shutil.copy2(os.path.join(ctx.root, rel), os.path.join(snapshot, rel))
        fluvial.log_artifacts(snapshot, "recipe_snapshot")
    return {"run_id": run.info.run_id, "metrics": metrics, "params": {k: str(v) for k, v in params.items()}}


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
        metrics = {name: _evaluate(ctx, model_uri, pd.read_parquet(ctx.output("split", f"{name}.parquet")), prefix,
                                   os.path.join(out, f"eval_{name}"))
                   for name, prefix in (("validation", "val_"), ("test", "test_"))}
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
