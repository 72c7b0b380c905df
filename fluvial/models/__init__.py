"""``fluvial.models`` (MLflow's ``mlflow.models``): the MLmodel format, signatures and schemas, input
examples, environment files. Names are resolved on first use, so importing this package is cheap."""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "Model": "fluvial.models.model",
    "ModelInfo": "fluvial.models.model",
    "ModelSignature": "fluvial.models.signature",
    "infer_signature": "fluvial.models.signature",
    "set_signature": "fluvial.models.api",
    "get_model_info": "fluvial.models.api",
    "validate_schema": "fluvial.models.enforcement",
    "convert_input_example_to_serving_input": "fluvial.models.input_example",
    "infer_pip_requirements": "fluvial.models.api",
    **{name: "fluvial.models.evaluation" for name in (
        "evaluate", "EvaluationResult", "EvaluationArtifact", "EvaluationMetric", "make_metric", "MetricThreshold",
        "validate_evaluation_results")},
    "list_evaluators": "fluvial.models.evaluation.api",
    "set_model": "fluvial.models.from_code",
    "ModelConfig": "fluvial.models.from_code",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'fluvial.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
