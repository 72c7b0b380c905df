"""``evaluate``: MLflow 2.x's model evaluation entry point (default evaluator; classifier, regressor
or metrics-only), logging into the active run or a new one, with optional validation thresholds."""

from __future__ import annotations

import logging
from typing import Any

from fluvial.exceptions import (
    InvalidParameterValue,
    MissingDependency,
    MlflowException,
    NotImplementedFeature,
)
from fluvial.models.evaluation.base import EvaluationResult
from fluvial.models.evaluation.dataset import EvalData, log_dataset_tag

_logger = logging.getLogger(__name__)
MODEL_TYPES = ("classifier", "regressor")
_OTHER_MODEL_TYPES = ("question-answering", "text-summarization", "text", "retriever", "databricks-agent")
_BUILTIN_EVALUATORS = ("default", "classifier", "regressor")


def list_evaluators() -> list[str]:
    """The evaluator names ``evaluate(evaluators=...)`` accepts."""
    return list(_BUILTIN_EVALUATORS)


class _FunctionModel:
    """A plain callable used as the model: ``predict`` calls it."""

    metadata = None

    def __init__(self, fn: Any) -> None:
        self._fn = fn

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._fn(data)


def _resolve_config(evaluators: Any, evaluator_config: dict[str, Any] | None, model_type: str | None) -> dict[str, Any]:
    names = [evaluators] if isinstance(evaluators, str) else list(evaluators or ["default"])
    unknown = [n for n in names if n not in _BUILTIN_EVALUATORS]
    if unknown:
        raise InvalidParameterValue(
            f"Unknown evaluator(s) {unknown}: fluvial has the built-in evaluators {list(_BUILTIN_EVALUATORS)} "
            "(third-party evaluator plugins are not supported)."
        )
    for name in names:
        if name in MODEL_TYPES and name != model_type:
            raise InvalidParameterValue(f"The {name!r} evaluator cannot evaluate model_type={model_type!r}.")
    config = dict(evaluator_config or {})
    if len(names) > 1 or (config and set(config) <= set(_BUILTIN_EVALUATORS) and
                          all(isinstance(v, dict) for v in config.values())):
        merged: dict[str, Any] = {}
        for name in names:
            merged.update(config.get(name) or {})
        config = merged
    return config


def _check_explainability(config: dict[str, Any]) -> None:
    from fluvial.models.evaluation import explain

    explain.requested(config)  # a bad explainability option or an explicit request without shap fails early


def _load_model(model: Any, model_config: dict[str, Any] | None, env_manager: str) -> Any:
    from fluvial.pyfunc.loading import PyFuncModel

    if env_manager != "local":
        if env_manager not in ("virtualenv", "conda", "uv"):
            raise InvalidParameterValue(f"Invalid value for `env_manager`: {env_manager}. Must be one of "
                                        "['local', 'virtualenv', 'conda', 'uv']")
        raise NotImplementedFeature(
            f"evaluate(env_manager={env_manager!r}) is not supported by fluvial: evaluate runs the model in this "
            "Python environment (env_manager='local'). Serve the model with `fluvial models serve` instead."
        )
    if isinstance(model, str):
        if model.startswith("endpoints:/"):
            raise NotImplementedFeature("Deployment endpoints (endpoints:/ URIs) are not supported by fluvial.")
        from fluvial.pyfunc import load_model

        return load_model(model, model_config=model_config)
    if isinstance(model, PyFuncModel):
        if model_config:
            raise InvalidParameterValue(
                "Indicating ``model_config`` when passing a ``PyFuncModel`` object as model argument is not allowed. "
                "Load the model with fluvial.pyfunc.load_model(model_uri, model_config=<value>) instead."
            )
        return model
    if callable(model):
        return _FunctionModel(model)
    if model is not None:
        raise InvalidParameterValue(
            "The model argument must be a string URI referring to an MLflow model, an instance of "
            "`fluvial.pyfunc.PyFuncModel`, a function, or None."
        )
    return None


def _to_eval_data(data: Any, targets: Any, predictions: str | None, model: Any, dataset_path: str | None,
                  feature_names: list[str] | None) -> tuple[EvalData, Any]:
    """The evaluation data and the ``fluvial.data`` dataset to log as the run's input."""
    import fluvial.data as fdata
    from fluvial.data.dataset import Dataset
    from fluvial.data.numpy_dataset import NumpyDataset
    from fluvial.data.pandas_dataset import PandasDataset

    if isinstance(data, Dataset):
        if isinstance(data, PandasDataset):
            ev = EvalData(data.df, targets=data.targets, predictions=data.predictions if model is None else None,
                          feature_names=feature_names, path=dataset_path, name=data.name)
        elif isinstance(data, NumpyDataset):
            ev = EvalData(data.features, targets=data.targets, feature_names=feature_names, path=dataset_path,
                          name=data.name)
        else:
            raise InvalidParameterValue(f"evaluate cannot read a {type(data).__name__}: pass a PandasDataset, a "
                                        "NumpyDataset, a DataFrame or an array.")
        return ev, data
    import pandas as pd

    ev = EvalData(data, targets=targets, predictions=predictions if model is None else None,
                  feature_names=feature_names, path=dataset_path)
    if isinstance(data, pd.DataFrame):
        logged = fdata.from_pandas(data, targets=targets, predictions=predictions if model is None else None)
    else:
        import numpy as np

        logged = fdata.from_numpy(np.asarray(data), targets=None if targets is None else np.asarray(targets))
    return ev, logged


def evaluate(
    model: Any = None,
    data: Any = None,
    *,
    model_type: str | None = None,
    targets: Any = None,
    predictions: str | None = None,
    dataset_path: str | None = None,
    feature_names: list[str] | None = None,
    evaluators: Any = None,
    evaluator_config: dict[str, Any] | None = None,
    custom_metrics: list[Any] | None = None,
    extra_metrics: list[Any] | None = None,
    custom_artifacts: list[Any] | None = None,
    validation_thresholds: dict[str, Any] | None = None,
    baseline_model: Any = None,
    env_manager: str = "local",
    model_config: dict[str, Any] | None = None,
    baseline_config: dict[str, Any] | None = None,
    inference_params: dict[str, Any] | None = None,
) -> EvaluationResult:
    """Evaluate a model (URI, PyFuncModel or callable) or static predictions on ``data`` and log the
    metrics and artifacts to the active run (or a new one). See docs/evaluation.md."""
    import warnings

    from fluvial.data.dataset import Dataset
    from fluvial.models.evaluation.evaluator import DefaultEvaluator
    from fluvial.models.evaluation.validation import validate_evaluation_results
    from fluvial.tracking import fluent

    if inference_params is not None:
        raise InvalidParameterValue("The inference_params argument can only be specified when the model is an "
                                    "MLflow Deployments endpoint URI, which fluvial does not support.")
    if baseline_model is not None and validation_thresholds is None:  # MLflow 2.22.5 ignores it without a word
        raise InvalidParameterValue("baseline_model is only used with validation_thresholds; pass both or neither.")
    if evaluator_config is not None:
        mapping = evaluator_config.get("col_mapping") or {}
        targets = mapping.get(targets, targets) if isinstance(targets, str) else targets
        predictions = mapping.get(predictions, predictions) if isinstance(predictions, str) else predictions
    if data is None:
        raise InvalidParameterValue("The data argument cannot be None.")
    if model_type in _OTHER_MODEL_TYPES:
        raise NotImplementedFeature(f"model_type={model_type!r} (GenAI evaluation) is not supported by fluvial; "
                                    f"use one of {list(MODEL_TYPES)} or None with extra_metrics.")
    if model_type is not None and model_type not in MODEL_TYPES:
        raise InvalidParameterValue(f"Invalid model_type {model_type!r}: use one of {list(MODEL_TYPES)} or None.")
    if isinstance(data, Dataset):
        if targets is not None:
            raise InvalidParameterValue(
                "The top-level targets parameter should not be specified since a Dataset is used. Please only specify "
                "the targets column name in the Dataset, e.g. `fluvial.data.from_pandas(df, targets='y')`.")
        if model is None and predictions is not None:
            raise InvalidParameterValue(
                "The top-level predictions parameter should not be specified since a Dataset is used. Please only "
                "specify the predictions column name in the Dataset.")
        if model is not None and getattr(data, "predictions", None) is not None:
            raise InvalidParameterValue("The predictions parameter should not be specified in the Dataset since a "
                                        "model is specified. Please remove the predictions column from the Dataset.")
    if model_type in MODEL_TYPES:
        has_targets = getattr(data, "targets", None) is not None if isinstance(data, Dataset) else targets is not None
        if not has_targets:
            raise InvalidParameterValue(
                f"The targets column name must be specified in the provided Dataset for {model_type} models."
                if isinstance(data, Dataset) else f"The targets argument must be specified for {model_type} models.")
    elif not (extra_metrics or custom_metrics):
        raise InvalidParameterValue("The extra_metrics argument must be specified model_type is None.")
    if extra_metrics and custom_metrics:
        raise MlflowException("The 'custom_metrics' parameter in mlflow.evaluate is deprecated. Please update your "
                              "code to only use the 'extra_metrics' parameter instead.")
    if custom_metrics:
        warnings.warn("The 'custom_metrics' parameter in mlflow.evaluate is deprecated. Please update your code to "
                      "use the 'extra_metrics' parameter instead.", FutureWarning, stacklevel=2)
        extra_metrics = custom_metrics
    import importlib.util

    if importlib.util.find_spec("sklearn") is None:
        raise MissingDependency('evaluate computes its metrics with scikit-learn: pip install "fluvial[sklearn]"')
    loaded = _load_model(model, model_config, env_manager)
    config = _resolve_config(evaluators, evaluator_config, model_type)
    _check_explainability(config)
    ev, logged = _to_eval_data(data, targets, predictions, loaded, dataset_path, feature_names)
    expected_output = predictions if loaded is not None else None

    def run_one(client: Any, run_id: str | None, candidate: Any, log: bool) -> EvaluationResult:
        return DefaultEvaluator(client=client, run_id=run_id, model_type=model_type, data=ev, config=config,
                                model=candidate, predictions=expected_output, extra_metrics=extra_metrics,
                                custom_artifacts=custom_artifacts, log=log).run()

    started = fluent.active_run() is None
    run = fluent.start_run() if started else fluent.active_run()
    assert run is not None
    try:
        client = fluent._client()
        run_id = run.info.run_id
        context = config.get("metric_prefix")
        with warnings.catch_warnings():  # the integer-column schema hint is about signatures, not inputs
            warnings.simplefilter("ignore", UserWarning)
            fluent.log_input(logged, context=context or None)
        meta = getattr(loaded, "metadata", None)
        log_dataset_tag(client, run_id, ev, getattr(meta, "model_uuid", None))
        result = run_one(client, run_id, loaded, True)
    except BaseException:
        if started:
            fluent.end_run("FAILED")
        raise
    if started:
        fluent.end_run()
    if validation_thresholds is not None:
        baseline_result = None
        if baseline_model is not None:
            baseline = _load_model(baseline_model, baseline_config, env_manager)
            baseline_result = run_one(client, None, baseline, False)
        validate_evaluation_results(validation_thresholds, result, baseline_result)
    return result
