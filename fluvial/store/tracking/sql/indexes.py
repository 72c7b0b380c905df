"""fluvial's extra indexes on MLflow's tables, so a run search walks an index in the requested order and
stops after one page instead of scanning the experiment.

Every name starts with ``fluvial_``: MLflow's Alembic migrations and its ORM never look at indexes they
did not create, so a database with these indexes still opens (and is written) by MLflow 2.22.5, and
MLflow's own writes keep them up to date (indexes are maintained by the database, not by fluvial).

PostgreSQL limits a b-tree entry to about 2.7 kB while param and tag values may hold 8,000 characters,
so there the value columns are indexed through ``left(value, 200)`` in the "C" collation (the search
compiler adds the matching condition, see ``search.py``); SQLite indexes the whole value.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

PG_VALUE_PREFIX = 200
SMALL_DATABASE_ROWS = 500_000
# (name, table, SQLite columns, PostgreSQL columns)
INDEXES: list[tuple[str, str, str, str]] = [
    # the default order of a run search: newest first within an experiment, run_uuid breaks ties;
    # lifecycle_stage rides along so ACTIVE_ONLY/DELETED_ONLY are checked without reading the row
    ("fluvial_runs_experiment_start", "runs", "experiment_id, start_time DESC, run_uuid, lifecycle_stage",
     "experiment_id, start_time DESC, run_uuid, lifecycle_stage"),
    ("fluvial_params_key_value", "params", "key, value, run_uuid",
     f'key, (left(value, {PG_VALUE_PREFIX}) COLLATE "C"), run_uuid'),
    ("fluvial_tags_key_value", "tags", "key, value, run_uuid",
     f'key, (left(value, {PG_VALUE_PREFIX}) COLLATE "C"), run_uuid'),
    ("fluvial_latest_metrics_key_value", "latest_metrics", "key, is_nan, value, run_uuid",
     "key, is_nan, value, run_uuid"),
    # one metric's history of one run in step order (MLflow's primary key starts with the key)
    ("fluvial_metrics_run_key_step", "metrics", "run_uuid, key, step, timestamp, is_nan, value",
     "run_uuid, key, step, timestamp, is_nan, value"),
]
NAMES = [name for name, *_ in INDEXES]


def _existing(conn: sa.Connection) -> set[str]:
    inspector = sa.inspect(conn)
    found: set[str] = set()
    for table in {t for _, t, _, _ in INDEXES}:
        found |= {str(i["name"]) for i in inspector.get_indexes(table) if i.get("name")}
    return found


def missing_indexes(engine: sa.Engine) -> list[str]:
    """The names of fluvial's indexes this database lacks."""
    if engine.dialect.name not in ("sqlite", "postgresql"):
        return []
    with engine.connect() as conn:
        have = _existing(conn)
    return [name for name in NAMES if name not in have]


def small_enough_to_index_now(engine: sa.Engine, limit: int = SMALL_DATABASE_ROWS) -> bool:
    """Whether building the indexes on first open is quick (at most ``limit`` metric rows); larger
    databases get them from ``fluvial db upgrade``, which reports progress."""
    with engine.connect() as conn:
        probe = sa.text(f"SELECT count(*) FROM (SELECT 1 FROM metrics LIMIT {limit + 1}) AS probe")
        return int(conn.execute(probe).scalar() or 0) <= limit


def ensure_indexes(engine: sa.Engine, progress: Callable[[str], None] | None = None) -> None:
    """Create whichever of fluvial's indexes are missing (each in its own transaction, so an
    interrupted upgrade keeps what it finished); ``progress`` hears one line before and after each."""
    from fluvial.store.tracking.sql.engine import write_transaction

    if engine.dialect.name not in ("sqlite", "postgresql"):
        return  # MySQL keeps MLflow's indexes only (fluvial's query shapes are tuned for these two)
    with engine.connect() as conn:
        have = _existing(conn)
    for name, table, sqlite_cols, pg_cols in INDEXES:
        if name in have:
            continue
        cols = sqlite_cols if engine.dialect.name == "sqlite" else pg_cols
        with write_transaction(engine) as conn:
            rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() if progress else 0
            if progress:
                progress(f"creating index {name} on {table} ({rows:,} rows)...")
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})")
        if progress:
            progress(f"created index {name}")
