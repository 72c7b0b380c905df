"""Metric-history queries that stay fast on one metric with 10,000,000 points: keyset pages and the
min/max-per-bucket downsample, both computed by the database on the ``fluvial_metrics_run_key_step``
index (see ``indexes.py``), so neither the server nor the client holds more than a page."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import sqlalchemy as sa

from fluvial.entities import Metric
from fluvial.exceptions import InvalidParameterValue
from fluvial.search.downsample import bucket_width, check_arguments, integer_bounds
from fluvial.search.paging import decode_page_token
from fluvial.store.tracking.sql import loading
from fluvial.store.tracking.sql import schema as s

# from this many points per bucket, one index-range aggregate per bucket beats one grouped pass (whose
# sort grows with the points): at 100k points in 500 buckets grouped wins, at 10M ranges win 4x
STEP_RANGES_FROM = 2_000
INT64 = 2**63  # SQL integers are signed 64-bit
_HISTORY_ORDER = ("step", "timestamp", "is_nan", "value")


def _point(row: Any) -> Metric:
    """A (key, value, timestamp, step, is_nan) row as a Metric (unpacked by position: a Row's attribute
    lookup costs more than the rest of a 10,000,000-point paging together)."""
    key, value, timestamp, step, is_nan = row
    return Metric(key, loading.decode_metric_value(value, is_nan), timestamp, step)


def encode_history_token(row: Any) -> str:
    """A keyset token: the (step, timestamp, is_nan, value) of the last point of the page."""
    last = [row.step, row.timestamp, bool(row.is_nan), float(row.value)]
    return base64.b64encode(json.dumps({"after": last}).encode()).decode("ascii")


def _decode_history_token(token: str | None) -> tuple[list[Any] | None, int]:
    """(keyset position, offset): fluvial's keyset tokens, or MLflow-style offset tokens."""
    if not token:
        return None, 0
    try:
        data = json.loads(base64.b64decode(token))
    except (ValueError, binascii.Error, TypeError):
        data = None
    if isinstance(data, dict) and "after" in data:
        after = data["after"]
        if (isinstance(after, list) and len(after) == 4 and all(isinstance(x, int) for x in after[:2])
                and isinstance(after[2], bool) and isinstance(after[3], (int, float))):
            return after, 0
        raise InvalidParameterValue("Invalid page token")
    return None, decode_page_token(token)


def _after(after: list[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after ``after`` in (step, timestamp, is_nan, value) order, as an OR of prefixes
    that both SQLite and PostgreSQL turn into one index range plus a filter."""
    m = s.metrics
    cols = [m.c[name] for name in _HISTORY_ORDER]
    values = [sa.literal(after[0], sa.BigInteger()), sa.literal(after[1], sa.BigInteger()),
              sa.literal(after[2], sa.Boolean()), sa.literal(float(after[3]), sa.Float())]
    terms = []
    for i in range(len(cols)):
        eq = [cols[j] == values[j] for j in range(i)]
        terms.append(sa.and_(*eq, cols[i] > values[i]))
    return sa.and_(m.c.step >= after[0], sa.or_(*terms))


def history_page(
    conn: sa.Connection, run_id: str, metric_key: str, max_results: int | None, page_token: str | None
) -> tuple[list[Metric], str | None]:
    """One page of the history in (step, timestamp, value) order, NaN after numbers at a tie."""
    m = s.metrics
    after, offset = _decode_history_token(page_token)
    query = (
        sa.select(m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.is_nan)
        .where(m.c.run_uuid == run_id, m.c.key == metric_key)
        .order_by(*(m.c[name] for name in _HISTORY_ORDER))
    )
    if after is not None:
        query = query.where(_after(after))
    if max_results is None:
        rows = conn.execute(query.offset(offset) if offset else query).all()
        return [_point(r) for r in rows], None
    query = query.limit(max_results + 1)
    rows = conn.execute(query.offset(offset) if offset else query).all()
    more = len(rows) > max_results
    rows = rows[:max_results]
    return [_point(r) for r in rows], (encode_history_token(rows[-1]) if more and rows else None)


def reduced(
    conn: sa.Connection, run_id: str, metric_key: str, x_axis: str, start: float | None, end: float | None,
    max_points: int,
) -> tuple[list[Metric], bool, int]:
    """``TrackingStore.get_metric_history_reduced`` in SQL: one aggregate for the count and extent,
    then either the whole range or each bucket's min and max point (``_bucket_extremes``)."""
    check_arguments(x_axis, start, end, max_points)
    m = s.metrics
    x = m.c[x_axis]
    other = m.c["timestamp" if x_axis == "step" else "step"]
    lo_bound, hi_bound = integer_bounds(start, end)
    if (lo_bound is not None and lo_bound >= INT64) or (hi_bound is not None and hi_bound < -INT64):
        return [], False, 0  # no 64-bit x lies in range
    where = [m.c.run_uuid == run_id, m.c.key == metric_key]
    if lo_bound is not None:
        where.append(x >= max(lo_bound, -INT64))  # SQL integers are 64-bit; the buckets keep the bounds
    if hi_bound is not None:
        where.append(x <= min(hi_bound, INT64 - 1))
    total, x_min, x_max = conn.execute(sa.select(sa.func.count(), sa.func.min(x), sa.func.max(x)).where(*where)).one()
    cols = (m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.is_nan)
    in_order = (x, other, m.c.is_nan, m.c.value)
    if total <= max_points:
        rows = conn.execute(sa.select(*cols).where(*where).order_by(*in_order)).all()
        return [_point(r) for r in rows], False, int(total)
    lo = lo_bound if lo_bound is not None else int(x_min)
    hi = hi_bound if hi_bound is not None else int(x_max)
    width = bucket_width(lo, hi, max_points // 2)
    buckets = (hi - lo) // width + 1
    # the same bucket boundaries from the first bucket holding a point (bounds like -1e30 overflow SQL)
    first = lo + (int(x_min) - lo) // width * width
    occupied = (int(x_max) - first) // width + 1
    if x_axis == "step" and total >= STEP_RANGES_FROM * buckets:
        return _step_bucket_extremes(conn, where, first, width, occupied), True, int(total)
    if width < INT64 and int(x_max) - first < INT64:
        bucket = (x - first) // width  # integer division of a non-negative integer: the floor everywhere
    else:  # a width beyond 64 bits: the points fall in at most two buckets
        bucket = sa.case((x >= min(first + width, INT64 - 1), 1), else_=0)
    return _bucket_extremes(conn, where, x_axis, bucket), True, int(total)


def _step_bucket_extremes(conn: sa.Connection, where: list[Any], lo: int, width: int, buckets: int) -> list[Metric]:
    """The step axis with many points per bucket: each bucket is a range of the step index, so one
    aggregate per bucket reads it in index order (no sort), and each extreme is the first row in
    (step, timestamp) order holding it, found by a LIMIT 1 walk of the same range."""
    m = s.metrics
    cols = (m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.is_nan)
    number = sa.case((m.c.is_nan, sa.null()), else_=m.c.value)
    first = lo
    chosen: dict[tuple[Any, ...], Any] = {}
    for _ in range(buckets):
        in_bucket = [*where, m.c.step >= max(first, -INT64), m.c.step <= min(first + width - 1, INT64 - 1)]
        first += width
        count, vmin, vmax = conn.execute(
            sa.select(sa.func.count(), sa.func.min(number), sa.func.max(number)).where(*in_bucket)).one()
        if not count:
            continue
        picks = [sa.true()] if vmin is None else [m.c.value == v for v in dict.fromkeys((vmin, vmax))]
        for pick in picks:
            extra = [] if vmin is None else [m.c.is_nan == sa.false()]
            row = conn.execute(sa.select(*cols).where(*in_bucket, *extra, pick)
                               .order_by(m.c.step, m.c.timestamp, m.c.is_nan, m.c.value).limit(1)).one()
            chosen[(row.step, row.timestamp, bool(row.is_nan), 0.0 if row.is_nan else row.value)] = row
    return [_point(chosen[k]) for k in sorted(chosen)]


def _bucket_extremes(conn: sa.Connection, where: list[Any], x_axis: str, bucket: Any) -> list[Metric]:
    """Each bucket's lowest and highest point, in two grouped passes instead of two window sorts: the
    database computes each bucket's min and max value (NaN aside), then streams only the rows that hold
    one of them (or every row of an all-NaN bucket); the first of those in (x, other) order wins."""
    m = s.metrics
    number = sa.case((m.c.is_nan, sa.null()), else_=m.c.value)
    extremes = (
        sa.select(bucket.label("b"), sa.func.min(number).label("vmin"), sa.func.max(number).label("vmax"))
        .where(*where).group_by(bucket).subquery()
    )
    candidates = (
        sa.select(bucket.label("b"), m.c.step, m.c.timestamp, m.c.is_nan, m.c.value, m.c.key,
                  extremes.c.vmin, extremes.c.vmax)
        .join(extremes, extremes.c.b == bucket)
        .where(*where, sa.or_(
            extremes.c.vmin.is_(None),
            sa.and_(m.c.is_nan == sa.false(), sa.or_(m.c.value == extremes.c.vmin, m.c.value == extremes.c.vmax)),
        ))
    )
    # per bucket: [lowest (x, other, row), highest (x, other, row)]; an all-NaN bucket uses both slots
    best: dict[int, list[Any]] = {}
    for row in conn.execution_options(stream_results=True, max_row_buffer=10_000).execute(candidates):
        slots = best.setdefault(row.b, [None, None])
        place = (row.step, row.timestamp) if x_axis == "step" else (row.timestamp, row.step)
        targets: tuple[int, ...]
        if row.vmin is None:
            targets = (0, 1)
        else:
            targets = tuple(i for i, v in ((0, row.vmin), (1, row.vmax)) if row.value == v)
        for i in targets:
            if slots[i] is None or place < slots[i][0]:
                slots[i] = (place, row)
    chosen: dict[tuple[Any, ...], Any] = {}
    for slots in best.values():
        for place, row in slots:
            chosen[(place, bool(row.is_nan), row.value)] = row
    rows = [chosen[k] for k in sorted(chosen, key=lambda k: (k[0], k[1], 0.0 if k[1] else k[2]))]
    return [_point((r.key, r.value, r.timestamp, r.step, r.is_nan)) for r in rows]
