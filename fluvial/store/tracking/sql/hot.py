"""The metric-logging hot paths: prepared statements on a raw driver cursor, inside one transaction.

Built per dialect (SQLite and PostgreSQL share the ON CONFLICT forms); other dialects use the
general Core path in ``store.py``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.statements import Prepared, _greater

HOT_DIALECTS = ("sqlite", "postgresql")
METRIC_COLUMNS = ("key", "value", "timestamp", "step", "is_nan", "run_uuid")
PARAM_COLUMNS = ("key", "value", "run_uuid")
_cache: dict[str, tuple[Prepared, Prepared, Prepared, Prepared]] = {}


def _build(dialect_name: str) -> tuple[Prepared, Prepared, Prepared, Prepared]:
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    runs = s.runs
    run_state = sa.select(runs.c.lifecycle_stage).where(runs.c.run_uuid == sa.bindparam("run_uuid"))
    values: dict[str, Any] = {c: sa.bindparam(c) for c in METRIC_COLUMNS}
    insert_metric = insert(s.metrics).values(values).on_conflict_do_nothing()
    # the run check and the insert in one statement: INSERT ... SELECT <the point> WHERE the run is active
    active = sa.exists().where(runs.c.run_uuid == sa.bindparam("run_uuid"), runs.c.lifecycle_stage == sa.literal_column("'active'"))
    point = sa.select(*[sa.bindparam(c, type_=s.metrics.c[c].type) for c in METRIC_COLUMNS]).where(active)
    insert_if_active = insert(s.metrics).from_select(list(METRIC_COLUMNS), point).on_conflict_do_nothing()
    latest = insert(s.latest_metrics).values(values)
    cols = ("step", "timestamp", "value")
    upsert_latest = latest.on_conflict_do_update(
        index_elements=["key", "run_uuid"],
        set_={c: latest.excluded[c] for c in ("value", "timestamp", "step", "is_nan")},
        where=_greater([latest.excluded[c] for c in cols], [s.latest_metrics.c[c] for c in cols]),
    )
    return Prepared(run_state), Prepared(insert_metric), Prepared(upsert_latest), Prepared(insert_if_active)


def statements(dialect_name: str) -> tuple[Prepared, Prepared, Prepared, Prepared]:
    found = _cache.get(dialect_name)
    if found is None:
        found = _cache[dialect_name] = _build(dialect_name)
    return found


def log_metric_row(cursor: Any, dialect: sa.Dialect, row: tuple[Any, ...]) -> str | None:
    """Insert one metric point (a tuple in METRIC_COLUMNS order) and update the latest value; returns
    the run's lifecycle stage (None when the run does not exist), writing nothing unless it is
    'active'. Usually two statements: the point is inserted only if its run is active, and only when
    nothing was inserted (a repeated point, or no active run) is the run looked at."""
    hot = _metric_hot.get(dialect.name)
    if hot is None:
        _run_state, _insert_metric, upsert_latest, insert_if_active = statements(dialect.name)
        hot = _metric_hot[dialect.name] = (*insert_if_active.bound(dialect, METRIC_COLUMNS),
                                           *upsert_latest.bound(dialect, METRIC_COLUMNS))
    insert_sql, insert_args, latest_sql, latest_args = hot
    cursor.execute(insert_sql, insert_args(row))
    if cursor.rowcount != 1:
        statements(dialect.name)[0].run_row(cursor, dialect, row, METRIC_COLUMNS)
        found = cursor.fetchone()
        if found is None or found[0] != "active":
            return None if found is None else found[0]
    cursor.execute(latest_sql, latest_args(row))
    return "active"


# per dialect: the SQL and parameter getter of the two statements a new point runs (no lookups per call)
_metric_hot: dict[str, tuple[str, Any, str, Any]] = {}


def write_metric_rows(
    cursor: Any, dialect: sa.Dialect, rows: list[tuple[Any, ...]], latest: list[tuple[Any, ...]]
) -> None:
    """Bulk-insert metric points (tuples in METRIC_COLUMNS order) and upsert the latest value per key;
    the caller has checked the run, in the same transaction."""
    _run_state, insert_metric, upsert_latest, _insert_if_active = statements(dialect.name)
    insert_metric.executemany(cursor, dialect, rows, METRIC_COLUMNS)
    upsert_latest.executemany(cursor, dialect, latest, METRIC_COLUMNS)


_param_cache: dict[str, tuple[Prepared, Prepared, Prepared]] = {}


def _param_statements(dialect_name: str) -> tuple[Prepared, Prepared, Prepared]:
    found = _param_cache.get(dialect_name)
    if found is None:
        if dialect_name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        p, runs = s.params, s.runs
        run_state = sa.select(runs.c.lifecycle_stage).where(runs.c.run_uuid == sa.bindparam("run_uuid"))
        existing = sa.select(p.c.value).where(p.c.run_uuid == sa.bindparam("run_uuid"), p.c.key == sa.bindparam("key"))
        # the run check and the insert in one statement, as for metrics
        active = sa.exists().where(runs.c.run_uuid == sa.bindparam("run_uuid"),
                                   runs.c.lifecycle_stage == sa.literal_column("'active'"))
        param = sa.select(*[sa.bindparam(c, type_=p.c[c].type) for c in PARAM_COLUMNS]).where(active)
        insert_if_active = insert(p).from_select(list(PARAM_COLUMNS), param).on_conflict_do_nothing()
        found = _param_cache[dialect_name] = (Prepared(run_state), Prepared(existing), Prepared(insert_if_active))
    return found


def log_param_row(cursor: Any, dialect: sa.Dialect, row: tuple[str, str, str]) -> tuple[str | None, str | None]:
    """Insert one param (a tuple in PARAM_COLUMNS order) unless it exists; returns (the run's lifecycle
    stage or None when the run does not exist, the value already logged under that key or None).
    Writes only into an active run. Usually one statement: the param is inserted only if its run is
    active and the key is new; only when nothing was inserted are the run and the old value looked at."""
    run_state, existing, insert_if_active = _param_statements(dialect.name)
    if insert_if_active.run_row(cursor, dialect, row, PARAM_COLUMNS) == 1:
        return "active", None
    run_state.run_row(cursor, dialect, row, PARAM_COLUMNS)
    found = cursor.fetchone()
    if found is None or found[0] != "active":
        return (None if found is None else found[0]), None
    existing.run_row(cursor, dialect, row, PARAM_COLUMNS)
    old = cursor.fetchone()
    return "active", None if old is None else old[0]
