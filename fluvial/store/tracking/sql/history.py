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

_HISTORY_ORDER = ("step", "timestamp", "is_nan", "value")


def _point(row: Any) -> Metric:
    return Metric(row.key, loading.decode_metric_value(row.value, row.is_nan), row.timestamp, row.step)


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
    then either the whole range or one window query that keeps each bucket's min and max point."""
    check_arguments(x_axis, start, end, max_points)
    m = s.metrics
    x = m.c[x_axis]
    other = m.c["timestamp" if x_axis == "step" else "step"]
    lo_bound, hi_bound = integer_bounds(start, end)
    where = [m.c.run_uuid == run_id, m.c.key == metric_key]
    if lo_bound is not None:
        where.append(x >= lo_bound)
    if hi_bound is not None:
        where.append(x <= hi_bound)
    total, x_min, x_max = conn.execute(sa.select(sa.func.count(), sa.func.min(x), sa.func.max(x)).where(*where)).one()
    cols = (m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.is_nan)
    in_order = (x, other, m.c.is_nan, m.c.value)
    if total <= max_points:
        rows = conn.execute(sa.select(*cols).where(*where).order_by(*in_order)).all()
        return [_point(r) for r in rows], False, int(total)
    lo = lo_bound if lo_bound is not None else int(x_min)
    hi = hi_bound if hi_bound is not None else int(x_max)
    width = bucket_width(lo, hi, max_points // 2)
    bucket = (x - lo) // width  # integer division of a non-negative integer: the floor on every dialect
    low = sa.func.row_number().over(partition_by=bucket, order_by=(m.c.is_nan, m.c.value, x, other))
    high = sa.func.row_number().over(partition_by=bucket, order_by=(m.c.is_nan, m.c.value.desc(), x, other))
    ranked = sa.select(*cols, low.label("lo_rank"), high.label("hi_rank")).where(*where).subquery()
    rows = conn.execute(
        sa.select(ranked.c.key, ranked.c.value, ranked.c.timestamp, ranked.c.step, ranked.c.is_nan)
        .where(sa.or_(ranked.c.lo_rank == 1, ranked.c.hi_rank == 1))
        .order_by(ranked.c[x_axis], ranked.c["timestamp" if x_axis == "step" else "step"], ranked.c.is_nan,
                  ranked.c.value)
    ).all()
    return [_point(r) for r in rows], True, int(total)
