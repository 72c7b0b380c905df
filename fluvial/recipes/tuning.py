"""The train step's hyperparameter tuning (``tuning.enabled: true``), as MLflow 2.22.5 does it: a
hyperopt search over ``tuning.parameters`` where each trial is a child run of the training run (its
parameters, its estimator under ``train/estimator`` and its validation metrics), then the configured
``estimator_params`` tried once more and kept when they beat the best trial."""

from __future__ import annotations

import importlib
import os
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MissingDependency
from fluvial.recipes.context import StepContext
from fluvial.recipes.steps_model import DEFAULT_PRIMARY, custom_metrics, metric_directions, task


def search_space(parameters: dict[str, Any]) -> dict[str, Any]:
    from hyperopt import hp

    if not isinstance(parameters, dict):
        raise InvalidParameterValue(f"tuning.parameters must be a mapping of parameter names, not {parameters!r}")
    space = {}
    for name, spec in parameters.items():
        spec = spec if isinstance(spec, dict) else {}
        if "values" in spec:
            space[name] = hp.choice(name, spec["values"])
        elif "distribution" in spec:
            dist = getattr(hp, str(spec["distribution"]), None)
            if dist is None or str(spec["distribution"]).startswith("_"):
                raise InvalidParameterValue(f"tuning.parameters.{name}: unknown hyperopt distribution "
                                            f"{spec['distribution']!r}")
            try:
                space[name] = dist(name, **{k: v for k, v in spec.items() if k != "distribution"})
            except TypeError as exc:
                raise InvalidParameterValue(f"tuning.parameters.{name}: {exc}") from None
        else:
            raise InvalidParameterValue(f"Parameter {name} must contain either a list of 'values' or a "
                                        "'distribution' following hyperopt parameter expressions")
    return space


def algorithm(name: str) -> Any:
    """``hyperopt.<module>.suggest`` named in the config, looked up inside hyperopt only."""
    parts = str(name).split(".")
    if len(parts) < 2 or parts[0] != "hyperopt":
        raise InvalidParameterValue(f"tuning.algorithm must name a hyperopt algorithm such as hyperopt.tpe.suggest, "
                                    f"not {name!r}")
    try:
        return getattr(importlib.import_module(".".join(parts[:-1])), parts[-1])
    except (ImportError, AttributeError):
        raise InvalidParameterValue(f"tuning.algorithm {name!r} does not exist in hyperopt") from None


def _early_stop(ctx: StepContext, name: str) -> Any:
    """``early_stop_fn``: a function of ``steps/train.py``, or ``steps.<module>.<function>``."""
    parts = str(name).split(".")
    if len(parts) == 1:
        return ctx.user_function("train", name, "tuning.early_stop_fn")
    if len(parts) == 3 and parts[0] == "steps":
        return ctx.user_function(parts[1], parts[2], "tuning.early_stop_fn")
    raise InvalidParameterValue(f"tuning.early_stop_fn must name a function of the recipe's steps/ code "
                                f"(fn or steps.<module>.fn), not {name!r}")


def tune(ctx: StepContext, conf: dict[str, Any], fn: Any, hardcoded: dict[str, Any], X: Any, y: Any,
         val: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the search inside the active (training) run; returns (hardcoded params kept, tuned params)."""
    try:
        import hyperopt
    except ImportError:
        raise MissingDependency("Hyperopt not installed and is required if tuning is enabled: "
                                "pip install hyperopt") from None
    import numpy as np

    import fluvial
    from fluvial.recipes import steps_train

    tuning = conf["tuning"]
    primary = ctx.config.get("primary_metric") or DEFAULT_PRIMARY[task(ctx)]
    sign = -1 if metric_directions(ctx)[primary] else 1
    fraction = tuning["sample_fraction"]
    config: dict[str, Any] = {"log_model_explainability": False}
    if ctx.is_classification:
        config["pos_label"] = ctx.config.get("positive_class")
    run_name = f"{ctx.tracking()['run_name_prefix']}-run" if ctx.tracking()["run_name_prefix"] else None

    requirements: list[Any] = []  # the estimator's libraries, inferred by the first trial only

    def objective(args: dict[str, Any]) -> float:
        with fluvial.start_run(run_name=run_name, nested=True) as trial:
            arguments = {**hardcoded, **args}
            X_s, y_s = X.sample(frac=fraction, random_state=42), y.sample(frac=fraction, random_state=42)
            fitted, _ = steps_train.fit(ctx, conf, fn(arguments), X_s, y_s)
            info = steps_train.log_estimator(ctx, fitted, X_s, pip_requirements=requirements[0] if requirements else None)
            if not requirements:
                requirements.append(fluvial.artifacts.download_artifacts(
                    run_id=trial.info.run_id, artifact_path="train/estimator/requirements.txt"))
            result = fluvial.evaluate(info.model_uri, val, targets=ctx.target,
                                      model_type="classifier" if ctx.is_classification else "regressor",
                                      evaluators="default", extra_metrics=custom_metrics(ctx) or None,
                                      evaluator_config=config)
            logged = fluvial.get_run(trial.info.run_id).data.params
            fluvial.log_params({k: v for k, v in arguments.items() if k not in logged} or {})
            if primary not in result.metrics:
                raise InvalidParameterValue(f"The primary metric {primary!r} cannot be computed while tuning.")
            return sign * float(result.metrics[primary])

    space = search_space(tuning["parameters"])
    trials = hyperopt.Trials()
    early = tuning.get("early_stop_fn")
    # MLflow leaves the seed to HYPEROPT_FMIN_SEED; without it fluvial seeds 42 so re-runs repeat
    rstate = None if os.environ.get("HYPEROPT_FMIN_SEED") else np.random.default_rng(42)
    best = hyperopt.fmin(objective, space, algo=algorithm(tuning["algorithm"]), max_evals=int(tuning["max_trials"]),
                         trials=trials, show_progressbar=False, rstate=rstate,
                         early_stop_fn=_early_stop(ctx, early) if early else None)
    tuned = hyperopt.space_eval(space, best)
    # MLflow tries the configured estimator_params on their own only when there are two or more
    if len(hardcoded) > 1:
        if trials.best_trial["result"]["loss"] < objective({}):
            return {k: v for k, v in hardcoded.items() if k not in tuned}, tuned
        return hardcoded, {}
    return {}, tuned


def trial_table(run_id: str, primary: str, greater_is_better: bool) -> Any:
    """The training run's trial runs, best first by the primary metric (the train card's tuning table)."""
    import fluvial

    runs = fluvial.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
                               order_by=[f"metrics.{primary} {'DESC' if greater_is_better else 'ASC'}",
                                         "attribute.start_time ASC"])
    cols = [c for c in runs.columns if c == f"metrics.{primary}" or c.startswith("params.")]
    table = runs[["run_id", *cols]].rename(columns={f"metrics.{primary}": primary}).reset_index(drop=True)
    table.insert(0, "Model Rank", range(1, len(table) + 1))
    return table.head(10)
