"""Model evaluation (MLflow 2.x's ``mlflow.models.evaluation``): ``evaluate``, results and artifacts,
user metrics, validation thresholds. Names are resolved on first use."""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "evaluate": "fluvial.models.evaluation.api",
    **{name: "fluvial.models.evaluation.base" for name in (
        "EvaluationResult", "EvaluationArtifact", "EvaluationMetric", "MetricValue", "make_metric")},
    **{name: "fluvial.models.evaluation.validation" for name in (
        "MetricThreshold", "ModelValidationFailedException", "validate_evaluation_results")},
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'fluvial.models.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
