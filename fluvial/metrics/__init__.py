"""``fluvial.metrics`` (MLflow's ``mlflow.metrics``): ``make_metric``, ``MetricValue`` and
``EvaluationMetric`` for ``evaluate(extra_metrics=...)``. Resolved on first use."""

from __future__ import annotations

from typing import Any

__all__ = ["EvaluationMetric", "MetricValue", "make_metric"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'fluvial.metrics' has no attribute {name!r}")
    from fluvial.models.evaluation import base

    value = getattr(base, name)
    globals()[name] = value
    return value
