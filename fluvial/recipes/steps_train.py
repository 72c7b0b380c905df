"""The train step, as MLflow 2.22.5 runs it: binary training data over 5,000 rows rebalanced, the
estimator from ``steps/train.py`` (hyperopt tuning with one child run per trial) or from FLAML
(``using: automl/flaml``), fitted label-encoded or calibrated (``calibrate_proba``), and logged with
the transformer and the recipe model (``predict_prefix`` / ``predict_scores_for_all_classes``) in one
run that holds every step's artifacts."""

from __future__ import annotations

import os
import shutil
import warnings
from typing import Any

from fluvial.exceptions import InvalidParameterValue
from fluvial.recipes.context import StepContext
from fluvial.recipes.steps_model import (
    DEFAULT_PRIMARY,
    evaluate_model,
    metric_directions,
    task,
)

REBALANCING_CUTOFF = 5000  # binary training data with more rows than this is rebalanced
REBALANCING_DEFAULT_RATIO = 0.3  # the minority share it is rebalanced to (resampling_minority_percentage)
USING = ("custom", "automl/flaml")


def check_conf(conf: dict[str, Any]) -> dict[str, Any]:
    """The train step's configuration with MLflow's defaults filled in, or the error MLflow gives."""
    conf = dict(conf)
    conf.setdefault("using", "custom")
    if conf["using"] not in USING:
        raise InvalidParameterValue(f"Invalid train step configuration value {conf['using']} for key 'using'. "
                                    f"Supported values are: {list(USING)}")
    tuning = dict(conf.get("tuning") or {}) if "tuning" in conf else None
    conf["tuning_enabled"] = False
    if tuning is not None:
        if not isinstance(tuning.get("enabled"), bool):
            raise InvalidParameterValue("The 'tuning' configuration in the train step must include an 'enabled' "
                                        "key whose value is either true or false.")
        conf["tuning_enabled"] = tuning["enabled"]
    if conf["tuning_enabled"]:
        assert tuning is not None
        fraction = float(tuning.get("sample_fraction", 1.0))
        if not 0 < fraction <= 1:
            raise InvalidParameterValue("The tuning 'sample_fraction' configuration in the train step must be "
                                        "between 0 and 1.")
        tuning["sample_fraction"] = fraction
        tuning.setdefault("algorithm", "hyperopt.rand.suggest")
        tuning.setdefault("parallelism", 1)
        for key in ("max_trials", "parameters"):
            if key not in tuning:
                raise InvalidParameterValue(f"The '{key}' configuration in the train step must be provided when "
                                            "tuning is enabled.")
        if int(tuning["parallelism"]) != 1:
            raise InvalidParameterValue("tuning.parallelism other than 1 runs trials on Spark workers "
                                        "(SparkTrials), which fluvial does not do: set parallelism to 1.")
        conf["tuning"] = tuning
    if conf["using"] == "custom" and not conf.get("estimator_method"):
        raise InvalidParameterValue("Missing 'estimator_method' configuration in the train step, which is using "
                                    "'custom'.")
    conf["estimator_params"] = dict(conf.get("estimator_params") or {})
    conf.setdefault("predict_prefix", "predicted_")
    conf.setdefault("predict_scores_for_all_classes", True)
    if "calibrate_proba" in conf and conf["calibrate_proba"] not in ("sigmoid", "isotonic"):
        raise InvalidParameterValue(f"calibrate_proba must be 'sigmoid' or 'isotonic', not {conf['calibrate_proba']!r}")
    return conf


def is_binary(ctx: StepContext) -> bool:
    return ctx.is_classification and ctx.config.get("positive_class") is not None


def rebalance(ctx: StepContext, conf: dict[str, Any], df: Any) -> tuple[Any, dict[Any, float] | None]:
    """MLflow's rebalancing: binary training data over ``REBALANCING_CUTOFF`` rows (and
    ``rebalance_training_data`` not false) keeps its minority class and a sample of the majority class
    sized so the minority makes ``resampling_minority_percentage`` (0.3) of the rows, shuffled. Both
    draws use numpy's global random state, unseeded, exactly like MLflow (seed it with
    ``numpy.random.seed`` for repeatable rows). Returns the data and, when rebalancing applies, the
    original balanced class weights the estimator gets as ``class_weight``."""
    import numpy as np
    import pandas as pd
    from sklearn.utils.class_weight import compute_class_weight

    if not is_binary(ctx):
        return df, None
    target, positive = ctx.target, ctx.config["positive_class"]
    classes = np.unique(df[target])
    weights = dict(zip(classes, compute_class_weight(class_weight="balanced", classes=classes, y=df[target]), strict=True))
    if not conf.get("rebalance_training_data", True) or len(classes) != 2 or len(df) <= REBALANCING_CUTOFF:
        return df, None
    share = float(conf.get("resampling_minority_percentage", REBALANCING_DEFAULT_RATIO))
    if not 0 < share < 1:
        raise InvalidParameterValue(f"resampling_minority_percentage must be in (0, 1), not {share}")
    pos, neg = df[df[target] == positive], df[df[target] != positive]
    minority, majority = (neg, pos) if len(pos) > len(neg) else (pos, neg)
    if len(minority) / len(df) >= share:
        return df, weights
    keep = int(len(minority) * (1 - share) / share)
    return pd.concat([minority, majority.sample(keep)], axis=0).sample(frac=1), weights


def fit(ctx: StepContext, conf: dict[str, Any], estimator: Any, X: Any, y: Any) -> tuple[Any, dict[str, Any]]:
    """The fitted estimator and what the recipe model needs of it: with ``calibrate_proba`` a
    ``CalibratedClassifierCV`` around it; otherwise a classifier fitted on label-encoded targets whose
    ``predict`` gives the original labels back."""
    import pandas as pd

    if "calibrate_proba" in conf:
        original = estimator.fit(X, y)
        if ctx.is_classification:
            from sklearn.calibration import CalibratedClassifierCV

            estimator = CalibratedClassifierCV(estimator, method=conf["calibrate_proba"]).fit(X, y)
        return estimator, {"original_estimator": original}
    if not ctx.is_classification:
        return estimator.fit(X, y), {"target_column_class_labels": None}
    from sklearn.preprocessing import LabelEncoder

    encoder = LabelEncoder().fit(y)
    estimator.fit(X, pd.Series(encoder.transform(y)))
    estimator.predict = _Decoded(estimator.predict, encoder)
    return estimator, {"target_column_class_labels": encoder.classes_}


class _Decoded:
    """A fitted classifier's ``predict`` that maps the encoded labels back (picklable)."""

    def __init__(self, predict: Any, encoder: Any) -> None:
        self.predict, self.encoder = predict, encoder

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.encoder.inverse_transform(self.predict(*args, **kwargs))


def log_estimator(ctx: StepContext, estimator: Any, X: Any, pip_requirements: Any = None) -> Any:
    import fluvial
    from fluvial.flavors import sklearn as fsk
    from fluvial.models import infer_signature

    if isinstance(getattr(estimator, "best_score_", None), (int, float)):
        fluvial.log_metric("best_cv_score", estimator.best_score_)
    if hasattr(estimator, "best_params_"):
        fluvial.log_params(estimator.best_params_)
    fluvial.log_params(dict(estimator.get_params()))
    fluvial.set_tags({"estimator_name": type(estimator).__name__,
                      "estimator_class": f"{type(estimator).__module__}.{type(estimator).__name__}"})
    with warnings.catch_warnings():  # integer-column hints are about serving data, not this model
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(X, estimator.predict(X.copy()))
    return fsk.log_model(estimator, "train/estimator", signature=signature, pip_requirements=pip_requirements)


def _dump_params(params: dict[str, Any], f: Any, caption: str) -> None:
    import numpy as np
    import yaml

    if not params:
        return
    f.write(f"# {caption} \n")
    yaml.safe_dump({k: float(v) if isinstance(v, np.floating) else int(v) if isinstance(v, np.integer) else str(v)
                    for k, v in params.items()}, f, default_flow_style=False)
    f.write("\n")


def write_best_parameters(out: str, tuned: dict | None = None, hardcoded: dict | None = None,
                          automl: dict | None = None, default: dict | None = None) -> None:
    import fluvial

    if not (tuned or hardcoded or automl or default):
        return
    path = os.path.join(out, "best_parameters.yaml")
    with open(path, "w") as f:
        for params, caption in ((automl, "automl parameters"), (tuned, "tuned hyperparameters"),
                                (hardcoded, "hardcoded parameters"), (default, "default parameters")):
            _dump_params(params or {}, f, caption)
    fluvial.log_artifact(path, "train")


def custom_estimator(ctx: StepContext, conf: dict[str, Any], X: Any, y: Any, val: Any, out: str,
                     class_weights: dict | None) -> Any:
    from fluvial.recipes import tuning

    fn = ctx.user_function("train", conf["estimator_method"], "estimator_method")
    hardcoded = conf["estimator_params"]
    if class_weights is not None:  # rebalanced: the estimator learns the original class distribution
        hardcoded["class_weight"] = class_weights
    if conf["tuning_enabled"]:
        hardcoded, tuned = tuning.tune(ctx, conf, fn, hardcoded, X, y, val)
        combined = {**hardcoded, **tuned}
        estimator = fn(combined)
        defaults = {k: v for k, v in estimator.get_params().items() if k not in combined}
        write_best_parameters(out, tuned=tuned, hardcoded=hardcoded, default=defaults)
    elif hardcoded:
        estimator = fn(hardcoded)
        defaults = {k: v for k, v in estimator.get_params().items() if k not in hardcoded}
        write_best_parameters(out, hardcoded=hardcoded, default=defaults)
    else:
        estimator = fn()
        write_best_parameters(out, default=estimator.get_params())
    return estimator


def _save_pipeline(pipeline: Any, out: str) -> str:
    """``outputs/sk_model``: the transformer + estimator pipeline, which the evaluate step scores; returns
    its requirements.txt, which the other models of the run reuse (the same libraries, inferred once)."""
    from fluvial.flavors import sklearn as fsk

    for sub in ("model", "sk_model"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    fsk.save_model(pipeline, os.path.join(out, "sk_model"))
    return os.path.join(out, "sk_model", "requirements.txt")


def _save_recipe_model(ctx: StepContext, conf: dict[str, Any], extras: dict[str, Any],
                       run_id: str, raw_X: Any, out: str) -> Any:
    """``outputs/model``: the recipe model (with a sklearn flavor on the pipeline's pickle), logged as
    ``train/model``."""
    import tempfile

    import sklearn

    import fluvial
    from fluvial import pyfunc
    from fluvial.models import Model, infer_signature
    from fluvial.recipes.wrapped_model import WrappedRecipeModel

    model_dir, sk_dir = os.path.join(out, "model"), os.path.join(out, "sk_model")
    requirements = os.path.join(sk_dir, "requirements.txt")
    wrapped = WrappedRecipeModel(conf["predict_scores_for_all_classes"], conf["predict_prefix"],
                                 target_column_class_labels=extras.get("target_column_class_labels"))
    artifacts = {"model_path": sk_dir}
    with tempfile.TemporaryDirectory() as tmp:
        pyfunc.save_model(os.path.join(tmp, "m"), python_model=wrapped, artifacts=artifacts, pip_requirements=[])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            signature = infer_signature(raw_X, pyfunc.load_model(os.path.join(tmp, "m")).predict(raw_X.copy()))
    pyfunc.save_model(model_dir, python_model=wrapped, artifacts=artifacts, signature=signature,
                      code_paths=[os.path.join(ctx.root, "steps")], pip_requirements=requirements)
    info = Model.load(model_dir)
    info.artifact_path, info.run_id = "train/model", run_id
    info.add_flavor("sklearn", pickled_model=os.path.join("artifacts", "sk_model", "model.pkl"),
                    sklearn_version=sklearn.__version__, serialization_format="cloudpickle", code="code")
    info.save(os.path.join(model_dir, "MLmodel"))
    fluvial.log_artifacts(model_dir, "train/model")
    return pyfunc.load_model(model_dir)


def _predicted_training_data(conf: dict[str, Any], model: Any, raw_train: Any, target: str) -> Any:
    import pandas as pd

    predictions = model.predict(raw_train.drop(columns=[target]))
    prefix = conf["predict_prefix"]
    if isinstance(predictions, pd.DataFrame) and {f"{prefix}label", f"{prefix}score"} <= set(predictions.columns):
        return raw_train.assign(predicted_data=predictions[f"{prefix}label"].to_numpy(),
                                predicted_score=predictions[f"{prefix}score"].to_numpy())
    return raw_train.assign(predicted_data=predictions)


def train(ctx: StepContext) -> dict[str, Any]:
    import cloudpickle
    import pandas as pd
    from sklearn.pipeline import make_pipeline

    import fluvial
    from fluvial.flavors import sklearn as fsk

    conf = check_conf(ctx.step_conf("train"))
    metric_directions(ctx)
    out = ctx.outputs("train")
    t_train = pd.read_parquet(ctx.output("transform", "transformed_training_data.parquet"))
    t_train, class_weights = rebalance(ctx, conf, t_train)
    t_val = pd.read_parquet(ctx.output("transform", "transformed_validation_data.parquet"))
    X, y = t_train.drop(columns=[ctx.target]), t_train[ctx.target]
    with open(ctx.output("transform", "transformer.pkl"), "rb") as f:
        transformer = cloudpickle.load(f)
    raw_train = pd.read_parquet(ctx.output("split", "train.parquet"))
    ctx.apply_tracking()
    tracking = ctx.tracking()
    run_name = f"{tracking['run_name_prefix']}-run" if tracking["run_name_prefix"] else None
    if os.path.exists(os.path.join(out, "best_parameters.yaml")):
        os.remove(os.path.join(out, "best_parameters.yaml"))
    with fluvial.start_run(run_name=run_name, tags=ctx.run_tags("train")) as run:
        if conf["using"] == "custom":
            estimator = custom_estimator(ctx, conf, X, y, t_val, out, class_weights)
        else:
            from fluvial.recipes import automl

            estimator, best = automl.flaml_estimator(ctx, conf, X, y)
            write_best_parameters(out, automl=best)
        fitted, extras = fit(ctx, conf, estimator, X, y)
        requirements = _save_pipeline(make_pipeline(transformer, fitted), out)
        estimator_info = log_estimator(ctx, fitted, X, pip_requirements=requirements)
        fsk.log_model(transformer, "transform/transformer", pip_requirements=requirements)
        model = _save_recipe_model(ctx, conf, extras, run.info.run_id, raw_train.drop(columns=[ctx.target]), out)
        with open(os.path.join(out, "run_id"), "w") as f:
            f.write(run.info.run_id)
        _snapshot(ctx, out)
        metrics = {name: evaluate_model(ctx, estimator_info.model_uri, df, prefix, os.path.join(out, f"eval_{name}"))
                   for name, (df, prefix) in {"training": (t_train, "training_"), "validation": (t_val, "val_")}.items()}
    _predicted_training_data(conf, model, raw_train, ctx.target).to_parquet(
        os.path.join(out, "predicted_training_data.parquet"))
    primary = ctx.config.get("primary_metric") or DEFAULT_PRIMARY[task(ctx)]
    trials = []
    if conf["tuning_enabled"]:
        from fluvial.recipes import tuning

        trials = tuning.trial_table(run.info.run_id, primary, metric_directions(ctx)[primary])
    return {"run_id": run.info.run_id, "metrics": metrics, "rows": {"training (after rebalancing)": len(t_train)},
            "params": {k: str(v) for k, v in fitted.get_params().items()},
            "tables": {"tuning trials": trials} if len(trials) else {}}


def _snapshot(ctx: StepContext, out: str) -> None:
    import fluvial

    snapshot = os.path.join(out, "recipe_snapshot")
    shutil.rmtree(snapshot, ignore_errors=True)
    os.makedirs(snapshot)
    for rel in ["recipe.yaml", os.path.join("profiles", f"{ctx.profile}.yaml")]:
        os.makedirs(os.path.dirname(os.path.join(snapshot, rel)) or snapshot, exist_ok=True)
        shutil.copy2(os.path.join(ctx.root, rel), os.path.join(snapshot, rel))
    fluvial.log_artifacts(snapshot, "recipe_snapshot")
