"""Shape-preserving downsampling of one metric's history (fluvial-only ``get_metric_history_reduced``).

The rule, shared by every store so they answer alike: the points whose x (``step`` or ``timestamp``)
lies in ``[start, end]`` are taken in x order (ties by step, timestamp, value). When there are at most
``max_points`` of them they are all returned. Otherwise ``[lo, hi]`` (``start``/``end`` rounded inward
to integers, or the smallest/largest x present) is cut into ``max_points // 2`` buckets of equal
integer width ``w = ceil((hi - lo + 1) / buckets)``; a point falls in bucket ``(x - lo) // w``. Each
bucket contributes its lowest and its highest point (NaN counts as neither unless the bucket holds
only NaN, then its first point stands in), returned in x order; the first point in x order wins ties.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from fluvial.entities import Metric
from fluvial.exceptions import InvalidParameterValue

X_AXES = ("step", "timestamp")
MAX_POINTS_LIMIT = 100_000


def check_arguments(x_axis: str, start: float | None, end: float | None, max_points: int) -> None:
    """Raise ``InvalidParameterValue`` for an unknown axis, a reversed range or a bad point budget."""
    if x_axis not in X_AXES:
        raise InvalidParameterValue(f"x_axis must be one of {list(X_AXES)}, got {x_axis!r}.")
    if isinstance(max_points, bool) or not isinstance(max_points, int) or not 2 <= max_points <= MAX_POINTS_LIMIT:
        raise InvalidParameterValue(f"max_points must be an integer between 2 and {MAX_POINTS_LIMIT}, got {max_points!r}.")
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, (int, float)) or math.isnan(value)):
            raise InvalidParameterValue(f"{name} must be a number, got {value!r}.")
    if start is not None and end is not None and start > end:
        raise InvalidParameterValue(f"start ({start}) must not be greater than end ({end}).")


def integer_bounds(start: float | None, end: float | None) -> tuple[int | None, int | None]:
    """``[start, end]`` rounded inward to the integers x can take (None stays open)."""
    lo = None if start is None else (math.ceil(start) if math.isfinite(start) else (None if start < 0 else 2**63))
    hi = None if end is None else (math.floor(end) if math.isfinite(end) else (None if end > 0 else -(2**63)))
    return lo, hi


def x_of(metric: Metric, x_axis: str) -> int:
    return metric.step if x_axis == "step" else metric.timestamp


def order_key(metric: Metric, x_axis: str) -> tuple[int, int, bool, float]:
    """x, the other axis, NaN after numbers, value: the order the SQL store reads points in."""
    other = metric.timestamp if x_axis == "step" else metric.step
    nan = math.isnan(metric.value)
    return (x_of(metric, x_axis), other, nan, 0.0 if nan else metric.value)


def bucket_width(lo: int, hi: int, buckets: int) -> int:
    return max(1, -(-(hi - lo + 1) // buckets))


def reduce_points(
    points: Iterable[Metric], x_axis: str, start: float | None, end: float | None, max_points: int
) -> tuple[list[Metric], bool, int]:
    """Apply the rule above to an iterable of points (any order); returns (points, reduced, total)."""
    check_arguments(x_axis, start, end, max_points)
    lo_bound, hi_bound = integer_bounds(start, end)
    chosen = [
        p for p in points
        if (lo_bound is None or x_of(p, x_axis) >= lo_bound) and (hi_bound is None or x_of(p, x_axis) <= hi_bound)
    ]
    chosen.sort(key=lambda p: order_key(p, x_axis))
    total = len(chosen)
    if total <= max_points:
        return chosen, False, total
    lo = lo_bound if lo_bound is not None else x_of(chosen[0], x_axis)
    hi = hi_bound if hi_bound is not None else x_of(chosen[-1], x_axis)
    buckets = max_points // 2
    width = bucket_width(lo, hi, buckets)
    low: dict[int, tuple[int, Metric]] = {}
    high: dict[int, tuple[int, Metric]] = {}
    for i, p in enumerate(chosen):
        b = (x_of(p, x_axis) - lo) // width
        nan = math.isnan(p.value)
        cur = low.get(b)
        if cur is None or (math.isnan(cur[1].value) and not nan) or (not nan and p.value < cur[1].value):
            low[b] = (i, p)
        cur = high.get(b)
        if cur is None or (math.isnan(cur[1].value) and not nan) or (not nan and p.value > cur[1].value):
            high[b] = (i, p)
    keep = sorted({i for i, _ in low.values()} | {i for i, _ in high.values()})
    return [chosen[i] for i in keep], True, total
