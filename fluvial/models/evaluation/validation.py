"""Model validation: ``MetricThreshold`` and ``validate_evaluation_results``, which raises
``ModelValidationFailedException`` listing every failed check (one line each, then a table)."""

from __future__ import annotations

import logging
import operator
from decimal import Decimal
from typing import Any

from fluvial.exceptions import BadRequest, InvalidParameterValue

_logger = logging.getLogger(__name__)


class MetricThresholdClassException(InvalidParameterValue):
    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__("Could not instantiate MetricThreshold class: " + message, **kwargs)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


class MetricThreshold:
    """Pass conditions for one metric: an absolute ``threshold`` and/or a minimum absolute or relative
    improvement over a baseline model's value, in the direction given by ``greater_is_better``."""

    def __init__(
        self,
        threshold: float | None = None,
        min_absolute_change: float | None = None,
        min_relative_change: float | None = None,
        greater_is_better: bool | None = None,
        higher_is_better: bool | None = None,
    ) -> None:
        if threshold is not None and not _is_number(threshold):
            raise MetricThresholdClassException("`threshold` parameter must be a number.")
        if min_absolute_change is not None and (not _is_number(min_absolute_change) or min_absolute_change <= 0):
            raise MetricThresholdClassException("`min_absolute_change` parameter must be a positive number.")
        if min_relative_change is not None:
            if not isinstance(min_relative_change, float):
                raise MetricThresholdClassException("`min_relative_change` parameter must be a floating point number.")
            if not 0 <= min_relative_change <= 1:
                raise MetricThresholdClassException("`min_relative_change` parameter must be between 0 and 1.")
        if higher_is_better is None and greater_is_better is None:
            raise MetricThresholdClassException("`greater_is_better` parameter must be defined.")
        if higher_is_better is not None and greater_is_better is not None:
            raise MetricThresholdClassException(
                "`higher_is_better` parameter must be None when `greater_is_better` is defined."
            )
        if greater_is_better is None:
            greater_is_better = higher_is_better
        if not isinstance(greater_is_better, bool):
            raise MetricThresholdClassException("`greater_is_better` parameter must be a boolean.")
        if threshold is None and min_absolute_change is None and min_relative_change is None:
            raise MetricThresholdClassException("no threshold was specified.")
        self._threshold = threshold
        self._min_absolute_change = min_absolute_change
        self._min_relative_change = min_relative_change
        self._greater_is_better = greater_is_better

    @property
    def threshold(self) -> float | None:
        return self._threshold

    @property
    def min_absolute_change(self) -> float | None:
        return self._min_absolute_change

    @property
    def min_relative_change(self) -> float | None:
        return self._min_relative_change

    @property
    def greater_is_better(self) -> bool:
        return self._greater_is_better

    @property
    def higher_is_better(self) -> bool:
        return self._greater_is_better

    def __str__(self) -> str:
        parts = []
        if self._threshold is not None:
            parts.append(f"Threshold: {self._threshold}.")
        if self._min_absolute_change is not None:
            parts.append(f"Minimum Absolute Change: {self._min_absolute_change}.")
        if self._min_relative_change is not None:
            parts.append(f"Minimum Relative Change: {self._min_relative_change}.")
        parts.append("Higher value is better." if self._greater_is_better else "Lower value is better.")
        return " ".join(parts)


class ModelValidationFailedException(BadRequest):
    """Raised when a candidate model misses a validation threshold; ``failures`` holds one row per
    failed check: ``(metric, check, candidate value, required bound, baseline value)``."""

    def __init__(self, message: str, failures: list[tuple[Any, ...]] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.failures = failures or []


def _table(rows: list[tuple[Any, ...]]) -> str:
    header = ("metric", "check", "candidate", "required", "baseline")
    cells = [header] + [tuple("-" if v is None else str(v) for v in row) for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _check(name: str, t: MetricThreshold, candidate: dict[str, Any], baseline: dict[str, Any]) -> list[tuple]:
    """The failed checks of one metric, as (metric, check, candidate, required, baseline, message)."""
    if name not in candidate:
        return [(name, "missing", None, None, None,
                 f"Metric validation failed: metric {name} was missing from the evaluation result of the candidate model.")]
    value = candidate[name]
    better = operator.ge if t.greater_is_better else operator.le
    shift = operator.add if t.greater_is_better else operator.sub
    sign = ">=" if t.greater_is_better else "<="
    out: list[tuple] = []
    if t.threshold is not None and not better(value, t.threshold):
        out.append((name, "threshold", value, f"{sign} {t.threshold}", None,
                    f"Metric {name} value threshold check failed: candidate model {name} = {value}, "
                    f"{name} threshold = {t.threshold}."))
    if t.min_absolute_change is None and t.min_relative_change is None:
        return out
    if name not in baseline:
        out.append((name, "baseline missing", value, None, None,
                    f"Model comparison failed: metric {name} was missing from the evaluation result of the baseline model."))
        return out
    base = baseline[name]
    if t.min_absolute_change is not None:
        bound = shift(base, t.min_absolute_change)
        if not better(Decimal(value), Decimal(bound)):
            out.append((name, "min_absolute_change", value, f"{sign} {bound}", base,
                        f"Metric {name} minimum absolute change check failed: candidate model {name} = {value}, "
                        f"baseline model {name} = {base}, {name} minimum absolute change threshold = "
                        f"{t.min_absolute_change}."))
    if t.min_relative_change is not None:
        if base == 0:
            _logger.warning("Cannot perform relative model comparison for metric %s as baseline metric value is 0. "
                            "Falling back to simple comparison: verifying that candidate metric value is better "
                            "than the baseline metric value.", name)
            failed = not better(Decimal(value), Decimal(shift(base, 1e-10)))
            required = f"{sign} {shift(base, 1e-10)}"
        else:
            change = (value - base) / base if t.greater_is_better else (base - value) / base
            failed = change < t.min_relative_change
            required = f"relative change >= {t.min_relative_change}"
        if failed:
            out.append((name, "min_relative_change", value, required, base,
                        f"Metric {name} minimum relative change check failed: candidate model {name} = {value}, "
                        f"baseline model {name} = {base}, {name} minimum relative change threshold = "
                        f"{t.min_relative_change}."))
    return out


def validate_metrics(thresholds: dict[str, MetricThreshold], candidate: dict[str, Any],
                     baseline: dict[str, Any] | None = None) -> None:
    """Raise ModelValidationFailedException when any metric misses its thresholds."""
    failures = [f for name, t in thresholds.items() for f in _check(name, t, candidate, baseline or {})]
    if not failures:
        return
    lines = [f[5] for f in failures]
    rows = [f[:5] for f in failures]
    raise ModelValidationFailedException("\n".join(lines) + "\n\n" + _table(rows), failures=rows)


def validate_evaluation_results(
    validation_thresholds: dict[str, MetricThreshold], candidate_result: Any, baseline_result: Any = None
) -> None:
    """Check ``candidate_result.metrics`` against ``validation_thresholds`` (and against
    ``baseline_result.metrics`` for the change thresholds); raises ModelValidationFailedException."""
    if not isinstance(validation_thresholds, dict) or not all(
        isinstance(k, str) and isinstance(v, MetricThreshold) for k, v in validation_thresholds.items()
    ):
        raise InvalidParameterValue(
            "The validation thresholds argument must be a dictionary that maps strings to MetricThreshold objects."
        )
    _logger.info("Validating candidate model metrics against baseline")
    validate_metrics(validation_thresholds, candidate_result.metrics,
                     baseline_result.metrics if baseline_result is not None else None)
    _logger.info("Model validation passed!")
