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

from fluvial.store.tracking.sql import change_log, value_counts

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

# Run counts per (experiment, lifecycle stage), kept by triggers on ``runs`` so that whoever writes
# (fluvial, MLflow, a hand-written UPDATE) keeps them right; an unfiltered count reads a few rows.
COUNTS_TABLE = "fluvial_run_counts"
_COUNTS_DDL = (f"CREATE TABLE IF NOT EXISTS {COUNTS_TABLE} (experiment_id INTEGER NOT NULL, "
               "lifecycle_stage VARCHAR(20) NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (experiment_id, lifecycle_stage))")
_ADD = (f"INSERT INTO {COUNTS_TABLE} (experiment_id, lifecycle_stage, n) "
        "VALUES (COALESCE(NEW.experiment_id, -1), COALESCE(NEW.lifecycle_stage, ''), 1) "
        f"ON CONFLICT (experiment_id, lifecycle_stage) DO UPDATE SET n = {COUNTS_TABLE}.n + 1")
_SUB = (f"UPDATE {COUNTS_TABLE} SET n = n - 1 WHERE experiment_id = COALESCE(OLD.experiment_id, -1) "
        "AND lifecycle_stage = COALESCE(OLD.lifecycle_stage, '')")
_CHANGED = ("OLD.experiment_id IS NOT NEW.experiment_id OR OLD.lifecycle_stage IS NOT NEW.lifecycle_stage")
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS fluvial_runs_count_insert AFTER INSERT ON runs BEGIN {_ADD}; END",
    f"CREATE TRIGGER IF NOT EXISTS fluvial_runs_count_delete AFTER DELETE ON runs BEGIN {_SUB}; END",
    "CREATE TRIGGER IF NOT EXISTS fluvial_runs_count_update AFTER UPDATE OF experiment_id, lifecycle_stage "
    f"ON runs WHEN {_CHANGED} BEGIN {_SUB}; {_ADD}; END",
]
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION fluvial_runs_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN {_SUB}; END IF;
  IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN {_ADD}; END IF;
  RETURN NULL;
END $$"""
_PG_TRIGGERS = [
    "CREATE TRIGGER fluvial_runs_count_insert AFTER INSERT OR DELETE ON runs "
    "FOR EACH ROW EXECUTE FUNCTION fluvial_runs_count()",
    "CREATE TRIGGER fluvial_runs_count_update AFTER UPDATE OF experiment_id, lifecycle_stage ON runs FOR EACH ROW "
    f"WHEN ({_CHANGED.replace('IS NOT', 'IS DISTINCT FROM')}) EXECUTE FUNCTION fluvial_runs_count()",
]


def _existing(conn: sa.Connection) -> set[str]:
    inspector = sa.inspect(conn)
    found: set[str] = set()
    for table in {t for _, t, _, _ in INDEXES}:
        found |= {str(i["name"]) for i in inspector.get_indexes(table) if i.get("name")}
    return found


def missing_indexes(engine: sa.Engine) -> list[str]:
    """The names of fluvial's indexes (and its run-count table) this database lacks."""
    if engine.dialect.name not in ("sqlite", "postgresql"):
        return []
    with engine.connect() as conn:
        have = _existing(conn)
        if sa.inspect(conn).has_table(COUNTS_TABLE):
            have.add(COUNTS_TABLE)
        if engine.dialect.name == "sqlite" and value_counts.complete(conn):
            have.add(value_counts.TABLE)
        if change_log.complete(conn):
            have.add(change_log.TABLE)
    wanted = [*NAMES, COUNTS_TABLE, change_log.TABLE] + ([value_counts.TABLE] if engine.dialect.name == "sqlite" else [])
    return [name for name in wanted if name not in have]


def _create_counts(conn: sa.Connection) -> None:
    """The count table, its triggers and its first content, in one transaction (on PostgreSQL with
    writers to ``runs`` held off, so no run is counted twice or missed)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE")
    conn.exec_driver_sql(_COUNTS_DDL)
    if conn.dialect.name == "sqlite":
        for ddl in _SQLITE_TRIGGERS:
            conn.exec_driver_sql(ddl)
    else:
        conn.exec_driver_sql(_PG_FUNCTION)
        for ddl in _PG_TRIGGERS:
            conn.exec_driver_sql(ddl)
    conn.exec_driver_sql(f"DELETE FROM {COUNTS_TABLE}")
    conn.exec_driver_sql(
        f"INSERT INTO {COUNTS_TABLE} (experiment_id, lifecycle_stage, n) SELECT COALESCE(experiment_id, -1), "
        "COALESCE(lifecycle_stage, ''), count(*) FROM runs GROUP BY COALESCE(experiment_id, -1), "
        "COALESCE(lifecycle_stage, '')"
    )


def count_runs(conn: sa.Connection, experiment_ids: list[int], stages: list[str]) -> int | None:
    """Runs in these experiments and stages from the count table; None when it does not exist."""
    by_stage = count_runs_by_stage(conn, experiment_ids)
    return None if by_stage is None else sum(by_stage.get(stage, 0) for stage in stages)


def count_runs_by_stage(conn: sa.Connection, experiment_ids: list[int]) -> dict[str, int] | None:
    """Runs in these experiments by lifecycle stage from the count table; None when it does not exist."""
    if conn.dialect.name not in ("sqlite", "postgresql"):
        return None
    table = sa.table(COUNTS_TABLE, sa.column("experiment_id"), sa.column("lifecycle_stage"), sa.column("n"))
    query = sa.select(table.c.lifecycle_stage, sa.func.sum(table.c.n)).where(
        table.c.experiment_id.in_(experiment_ids)).group_by(table.c.lifecycle_stage)
    try:
        with conn.begin_nested():
            return {str(stage): int(n or 0) for stage, n in conn.execute(query)}
    except sa.exc.DBAPIError:
        return None


def small_enough_to_index_now(engine: sa.Engine, limit: int = SMALL_DATABASE_ROWS) -> bool:
    """Whether building the indexes on first open is quick (at most ``limit`` metric rows); larger
    databases get them from ``fluvial db upgrade``, which reports progress."""
    with engine.connect() as conn:
        probe = sa.text(f"SELECT count(*) FROM (SELECT 1 FROM metrics LIMIT {limit + 1}) AS probe")
        return int(conn.execute(probe).scalar() or 0) <= limit


def ensure_indexes(engine: sa.Engine, progress: Callable[[str], None] | None = None) -> None:
    """Create whichever of fluvial's indexes are missing (each in its own transaction, so an
    interrupted upgrade keeps what it finished); ``progress`` hears one line before and after each. On
    PostgreSQL, tables that got an index (or whose value index has no statistics yet) are then analyzed."""
    from fluvial.store.tracking.sql.engine import write_transaction

    if engine.dialect.name not in ("sqlite", "postgresql"):
        return  # MySQL keeps MLflow's indexes only (fluvial's query shapes are tuned for these two)
    with engine.connect() as conn:
        have = _existing(conn)
    missing = missing_indexes(engine)
    if COUNTS_TABLE in missing:
        with write_transaction(engine) as conn:
            if progress:
                progress(f"creating table {COUNTS_TABLE} (run counts kept by triggers)...")
            _create_counts(conn)
    if value_counts.TABLE in missing:
        with write_transaction(engine) as conn:
            if progress:
                progress(f"creating table {value_counts.TABLE} (runs per param/tag value, kept by triggers)...")
            value_counts.create(conn)
    if change_log.TABLE in missing:
        with write_transaction(engine) as conn:
            if progress:
                progress(f"creating table {change_log.TABLE} (runs changed, written by triggers)...")
            change_log.create(conn)
    created: set[str] = set()
    for name, table, sqlite_cols, pg_cols in INDEXES:
        if name in have:
            continue
        created.add(table)
        cols = sqlite_cols if engine.dialect.name == "sqlite" else pg_cols
        with write_transaction(engine) as conn:
            rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() if progress else 0
            if progress:
                progress(f"creating index {name} on {table} ({rows:,} rows)...")
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})")
        if progress:
            progress(f"created index {name}")
    if engine.dialect.name == "postgresql":
        analyze_tables(engine, created | _tables_missing_value_stats(engine), progress)


# PostgreSQL keeps no statistics for an expression index until ANALYZE reads its table; without them
# the planner guesses (0.5% of the rows for any value) and picks bitmap scans for common values.
_EXPRESSION_INDEXES = {"fluvial_params_key_value": "params", "fluvial_tags_key_value": "tags"}


def _tables_missing_value_stats(engine: sa.Engine) -> set[str]:
    """Tables holding rows whose ``left(value, 200)`` index has no planner statistics yet."""
    query = sa.text("SELECT DISTINCT tablename FROM pg_stats WHERE tablename IN :names").bindparams(
        sa.bindparam("names", expanding=True))
    with engine.connect() as conn:
        have = {str(t) for t in conn.execute(query, {"names": list(_EXPRESSION_INDEXES)}).scalars()}
        return {table for index, table in _EXPRESSION_INDEXES.items() if index not in have
                and conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar()}


def analyze_tables(engine: sa.Engine, tables: set[str], progress: Callable[[str], None] | None = None) -> None:
    """ANALYZE these tables (PostgreSQL samples a fixed number of rows, so this is quick at any size)."""
    if not tables:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in sorted(tables):
            if progress:
                progress(f"analyzing {table} (planner statistics for the new indexes)...")
            conn.exec_driver_sql(f"ANALYZE {table}")
            if progress:
                progress(f"analyzed {table}")
