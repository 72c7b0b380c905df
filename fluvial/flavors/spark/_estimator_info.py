"""What pyspark.ml autologging records about an estimator before it is fitted, in MLflow 2.22's form.

Every stage reachable from the estimator (Pipeline stages, and params whose value is itself a
``Params``: OneVsRest's classifier, a tuner's estimator and evaluator) gets a *name*: its class name, or
``<class>_<n>`` (n counted in depth-first order) when that class occurs more than once. Params are then
logged flat for the estimator itself and as ``<stage name>.<param>`` for nested stages; a Pipeline's
``stages`` param is the list of its stage names; a tuner's ``estimator`` param is the tuned estimator's
name (its params are not expanded) and its ``estimatorParamMaps`` are left to ``estimator_info.json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_KEY_LENGTH = 250


def class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__name__}"


def estimator_tags(estimator: Any) -> dict[str, str]:
    return {"estimator_name": type(estimator).__name__, "estimator_class": class_path(estimator)}


def is_tuner(obj: Any) -> bool:
    from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

    return isinstance(obj, (CrossValidator, TrainValidationSplit))


def is_tuned_model(obj: Any) -> bool:
    from pyspark.ml.tuning import CrossValidatorModel, TrainValidationSplitModel

    return isinstance(obj, (CrossValidatorModel, TrainValidationSplitModel))


def param_map(instance: Any) -> dict[str, Any]:
    """``{param name: value}`` of each param that has a value or a default."""
    return {p.name: instance.getOrDefault(p) for p in instance.params if instance.isDefined(p)}


def stage_params(instance: Any) -> dict[str, Any]:
    """The params whose value is itself a ``pyspark.ml.param.Params`` (a nested stage)."""
    from pyspark.ml.param import Params

    return {k: v for k, v in param_map(instance).items() if isinstance(v, Params)}


def _walk(stage: Any) -> Iterator[Any]:
    from pyspark.ml import Pipeline

    yield stage
    if isinstance(stage, Pipeline):
        for sub in stage.getStages():
            yield from _walk(sub)
    else:
        for sub in stage_params(stage).values():
            yield from _walk(sub)


@dataclass
class EstimatorInfo:
    """The names of the stages of one estimator, its hierarchy, and the tuners in it."""

    names: dict[str, str] = field(default_factory=dict)  # uid -> name
    hierarchy: dict[str, Any] = field(default_factory=dict)
    tuners: list[Any] = field(default_factory=list)


def describe(estimator: Any) -> EstimatorInfo:
    stages = list(_walk(estimator))
    totals = Counter(type(s).__name__ for s in stages)
    seen: Counter[str] = Counter()
    names: dict[str, str] = {}
    for s in stages:
        cls = type(s).__name__
        seen[cls] += 1
        names[s.uid] = f"{cls}_{seen[cls]}" if totals[cls] > 1 else cls
    return EstimatorInfo(names, _hierarchy(estimator, names), [s for s in stages if is_tuner(s)])


def _hierarchy(stage: Any, names: dict[str, str]) -> dict[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import OneVsRest

    name = names[stage.uid]
    if isinstance(stage, Pipeline):
        return {"name": name, "stages": [_hierarchy(s, names) for s in stage.getStages()]}
    if isinstance(stage, OneVsRest):
        return {"name": name, "classifier": _hierarchy(stage.getClassifier(), names)}
    if is_tuner(stage):
        return {"name": name, "evaluator": _hierarchy(stage.getEvaluator(), names),
                "tuned_estimator": _hierarchy(stage.getEstimator(), names)}
    nested = stage_params(stage)
    if nested:
        return {"name": name, "params": {k: _hierarchy(v, names) for k, v in nested.items()}}
    return {"name": name}


def has_hierarchy(estimator: Any) -> bool:
    """Whether ``estimator_info.json`` gets a ``hierarchy``: a Pipeline, OneVsRest, tuner, or any estimator
    with a nested stage."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import OneVsRest

    return isinstance(estimator, (Pipeline, OneVsRest)) or is_tuner(estimator) or bool(stage_params(estimator))


def params(instance: Any, names: dict[str, str], level: int = 0) -> dict[str, Any]:
    """The params to log for ``instance`` (nested stages' prefixed with their names)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.param import Params

    prefix = "" if level == 0 else names[instance.uid] + "."
    tuner = is_tuner(instance)
    out: dict[str, Any] = {}
    for key, value in param_map(instance).items():
        logged = prefix + key
        if isinstance(instance, Pipeline) and key == "stages":
            out[logged] = [names[s.uid] for s in instance.getStages()]
            for s in instance.getStages():
                out.update(params(s, names, level + 1))
        elif tuner and key == "estimator":
            out[logged] = names[value.uid]
        elif tuner and key == "estimatorParamMaps":
            continue
        elif isinstance(value, Params):
            out[logged] = names[value.uid]
            out.update(params(value, names, level + 1))
        else:
            out[logged] = value
    return out


def tuning_param_maps(tuner: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    """Each of the tuner's param maps as ``{"<stage name>.<param>": value}``."""
    out = []
    for grid_point in tuner.getEstimatorParamMaps():
        point = {}
        for param, value in grid_point.items():
            if param.parent not in names:
                raise ValueError(f"Tuning params should not include params not owned by the tuned estimator, but "
                                 f"found a param {param}")
            point[f"{names[param.parent]}.{param.name}"] = value
        out.append(point)
    return out


def estimator_info(estimator: Any, info: EstimatorInfo) -> dict[str, Any]:
    """The content of ``estimator_info.json`` (empty: the file is not logged)."""
    out: dict[str, Any] = {}
    if has_hierarchy(estimator):
        out["hierarchy"] = info.hierarchy
    for tuner in info.tuners:
        out[info.names[tuner.uid]] = {
            "tuning_parameter_map_list": tuning_param_maps(tuner, info.names),
            "tuned_estimator_parameter_map": params(tuner.getEstimator(), info.names, level=1),
        }
    return out


def _ellipsize(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def truncate(values: dict[str, Any], value_limit: int | None) -> dict[str, Any]:
    """Keys longer than 250 characters (and values longer than ``value_limit``) cut, ending in ``...``."""
    out = {}
    for key, value in values.items():
        new_key = _ellipsize(key, MAX_KEY_LENGTH) if len(str(key)) > MAX_KEY_LENGTH else key
        if value_limit is not None and len(str(value)) > value_limit:
            value = _ellipsize(value, value_limit)
        out[new_key] = value
    return out


# ---- which fitted models are logged --------------------------------------------------------------
DEFAULT_ALLOWLIST = frozenset({
    "pyspark.ml.classification.LinearSVCModel",
    "pyspark.ml.classification.DecisionTreeClassificationModel",
    "pyspark.ml.classification.GBTClassificationModel",
    "pyspark.ml.classification.LogisticRegressionModel",
    "pyspark.ml.classification.RandomForestClassificationModel",
    "pyspark.ml.classification.NaiveBayesModel",
    "pyspark.ml.clustering.BisectingKMeansModel",
    "pyspark.ml.clustering.KMeansModel",
    "pyspark.ml.clustering.GaussianMixtureModel",
    "pyspark.ml.regression.AFTSurvivalRegressionModel",
    "pyspark.ml.regression.DecisionTreeRegressionModel",
    "pyspark.ml.regression.GBTRegressionModel",
    "pyspark.ml.regression.GeneralizedLinearRegressionModel",
    "pyspark.ml.regression.LinearRegressionModel",
    "pyspark.ml.regression.RandomForestRegressionModel",
    "pyspark.ml.feature.BucketedRandomProjectionLSHModel",
    "pyspark.ml.feature.ChiSqSelectorModel",
    "pyspark.ml.feature.CountVectorizerModel",
    "pyspark.ml.feature.IDFModel",
    "pyspark.ml.feature.ImputerModel",
    "pyspark.ml.feature.MaxAbsScalerModel",
    "pyspark.ml.feature.MinHashLSHModel",
    "pyspark.ml.feature.MinMaxScalerModel",
    "pyspark.ml.feature.OneHotEncoderModel",
    "pyspark.ml.feature.RobustScalerModel",
    "pyspark.ml.feature.RFormulaModel",
    "pyspark.ml.feature.StandardScalerModel",
    "pyspark.ml.feature.StringIndexerModel",
    "pyspark.ml.feature.VarianceThresholdSelectorModel",
    "pyspark.ml.feature.VectorIndexerModel",
    "pyspark.ml.feature.UnivariateFeatureSelectorModel",
    "pyspark.ml.classification.OneVsRestModel",
    "pyspark.ml.pipeline.PipelineModel",
    "pyspark.ml.tuning.CrossValidatorModel",
    "pyspark.ml.tuning.TrainValidationSplitModel",
    "synapse.ml.cognitive.*",
    "synapse.ml.exploratory.*",
    "synapse.ml.featurize.*",
    "synapse.ml.geospatial.*",
    "synapse.ml.image.*",
    "synapse.ml.io.*",
    "synapse.ml.isolationforest.*",
    "synapse.ml.lightgbm.*",
    "synapse.ml.nn.*",
    "synapse.ml.opencv.*",
    "synapse.ml.stages.*",
    "synapse.ml.vw.*",
})


def parse_allowlist(lines: Any) -> set[str]:
    """The class names of an allowlist file: one a line, blank lines and ``#`` comments skipped."""
    return {s for s in (line.strip() for line in lines) if s and not s.startswith("#")}


def allowed(model: Any, allowlist: set[str] | frozenset[str]) -> bool:
    """Whether ``model`` (and every model nested in it) is in the allowlist; an entry ending in ``*``
    admits every class whose dotted name starts with what precedes it."""
    from pyspark.ml.base import Model

    name = class_path(model)
    if name not in allowlist and not any(e.endswith("*") and name.startswith(e[:-1]) for e in allowlist):
        return False
    if name == "pyspark.ml.classification.OneVsRestModel":
        return allowed(model.models[0], allowlist)
    if name == "pyspark.ml.pipeline.PipelineModel":
        return all(allowed(s, allowlist) for s in model.stages if isinstance(s, Model))
    if is_tuned_model(model):
        return allowed(model.bestModel, allowlist)
    return all(allowed(v, allowlist) for v in param_map(model).values() if isinstance(v, Model))
