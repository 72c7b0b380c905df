"""An append-only log of which runs changed, written by triggers on ``runs``, ``params``, ``tags`` and
``latest_metrics`` (SQLite and PostgreSQL), so an in-process snapshot of runs (``run_snapshot.py``) can
catch up by re-reading only the runs that changed since it last looked.

Whoever writes (fluvial, MLflow 2.22.5's ORM, a hand-written statement) appends one row per changed
row; nothing is updated in place, so concurrent writers share no row (no lock waits, no deadlocks on
PostgreSQL). A reader's position in the log is a cursor:

* SQLite has one writer at a time, so ids are committed in increasing order: the cursor is the largest
  id read, taken in the same read transaction as the data it goes with.
* On PostgreSQL ids are handed out before commit, so a smaller id can become visible after a larger
  one. Each row records its writing transaction (``pg_current_xact_id()``) and the cursor is the
  ``xmin`` of the reader's snapshot: every transaction below it had finished and is in the data read;
  the next catch-up re-reads every row from a transaction at or above it (re-reading a run is harmless).

The log keeps its newest ``KEEP`` rows: every ``TRIM_EVERY``-th row appended (whoever writes it) fires a
trigger that deletes the older ones. A reader whose cursor is older than what was deleted learns it
from ``trimmed_past`` and rebuilds instead of catching up (SQLite: ids are contiguous, so a gap below
the oldest row says so; PostgreSQL: a one-row table keeps the largest transaction id deleted).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

TABLE = "fluvial_run_changes"
HORIZON = "fluvial_run_changes_horizon"  # PostgreSQL: the largest writer xid among trimmed rows
WATCHED = ("runs", "params", "tags", "latest_metrics")
KEEP = 1_000_000  # rows the log keeps (about 50 MB); a snapshot further behind rebuilds
TRIM_EVERY = 8_192  # one trim per this many appended rows

# rowid ids without AUTOINCREMENT (which costs a write to sqlite_sequence per row): rows are never deleted
# from the end of the log, so a new row's id is always above every id a reader has seen
_SQLITE_DDL = f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, run_uuid VARCHAR(32))"
_PG_DDL = [
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGSERIAL PRIMARY KEY, "
    "xid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint), run_uuid VARCHAR(32))",  # BIGINT: a type every reflector knows
    f"CREATE INDEX IF NOT EXISTS {TABLE}_xid ON {TABLE} (xid)",
    f"""CREATE OR REPLACE FUNCTION fluvial_run_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN INSERT INTO {TABLE} (run_uuid) VALUES (OLD.run_uuid); END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.run_uuid IS DISTINCT FROM OLD.run_uuid) THEN
    INSERT INTO {TABLE} (run_uuid) VALUES (NEW.run_uuid);
  END IF;
  RETURN NULL;
END $$""",
]


def _trim_ddl(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"CREATE TRIGGER IF NOT EXISTS {TABLE}_trim AFTER INSERT ON {TABLE} WHEN NEW.id % {TRIM_EVERY} = 0 "
                f"BEGIN DELETE FROM {TABLE} WHERE id <= NEW.id - {KEEP}; END"]
    return [
        f"CREATE TABLE IF NOT EXISTS {HORIZON} (id INTEGER PRIMARY KEY, h BIGINT NOT NULL)",  # one row, id 1
        f"INSERT INTO {HORIZON} (id, h) VALUES (1, -1) ON CONFLICT (id) DO NOTHING",
        f"""CREATE OR REPLACE FUNCTION fluvial_run_changes_trim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH gone AS (DELETE FROM {TABLE} WHERE id <= NEW.id - {KEEP} RETURNING xid AS x)
  UPDATE {HORIZON} SET h = GREATEST(h, (SELECT max(x) FROM gone)) WHERE id = 1 AND EXISTS (SELECT 1 FROM gone);
  RETURN NULL;
END $$""",
    ]


def _name(table: str) -> str:
    return f"fluvial_{table}_change"


def _sqlite_triggers(table: str) -> list[str]:
    add = f"INSERT INTO {TABLE} (run_uuid) VALUES"
    name = _name(table)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {name}_insert AFTER INSERT ON {table} BEGIN {add} (NEW.run_uuid); END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_delete AFTER DELETE ON {table} BEGIN {add} (OLD.run_uuid); END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_update AFTER UPDATE ON {table} BEGIN {add} (OLD.run_uuid); "
        f"INSERT INTO {TABLE} (run_uuid) SELECT NEW.run_uuid WHERE NEW.run_uuid IS NOT OLD.run_uuid; END",
    ]


def _pg_trigger(table: str) -> str:
    return (f"CREATE TRIGGER {_name(table)} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION fluvial_run_change()")


def _trigger_names(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"{_name(t)}_{op}" for t in WATCHED for op in ("insert", "delete", "update")]
    return [_name(t) for t in WATCHED]


def complete(conn: sa.Connection) -> bool:
    """Whether the log and all its triggers exist (an MLflow migration that rebuilds a table by copy
    and rename drops the triggers on the old one: then the log no longer sees every change)."""
    names = _trigger_names(conn.dialect.name)
    listed = ", ".join(f"'{n}'" for n in names)
    if conn.dialect.name == "sqlite":
        query = f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({listed})"
    elif conn.dialect.name == "postgresql":
        query = f"SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname IN ({listed})"
    else:
        return False
    if not sa.inspect(conn).has_table(TABLE):
        return False
    return int(conn.exec_driver_sql(query).scalar() or 0) == len(names)


def stamp(conn: sa.Connection) -> Any:
    """A cheap value that changes whenever the log's table or triggers may have been dropped or made
    anew (then ``complete`` is asked again, and snapshots read before are rebuilt: they may have missed
    changes while a trigger was gone): SQLite's schema version; on PostgreSQL the log table's and the
    triggers' object ids."""
    if conn.dialect.name == "sqlite":
        return int(conn.exec_driver_sql("PRAGMA schema_version").scalar() or 0)
    listed = ", ".join(f"'{n}'" for n in _trigger_names(conn.dialect.name))
    return tuple(conn.exec_driver_sql(
        f"SELECT to_regclass('{TABLE}')::oid::bigint, (SELECT count(*) || ':' || COALESCE(sum(oid::bigint), 0) "
        f"FROM pg_trigger WHERE NOT tgisinternal AND tgname IN ({listed}))").one())


def create(conn: sa.Connection) -> None:
    """The log and its triggers, in the caller's write transaction (the log starts empty: a snapshot
    reads the tables themselves first)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_DDL)
        for table in WATCHED:
            for ddl in _sqlite_triggers(table):
                conn.exec_driver_sql(ddl)
        for ddl in _trim_ddl("sqlite"):
            conn.exec_driver_sql(ddl)
        return
    for ddl in _PG_DDL + _trim_ddl("postgresql"):
        conn.exec_driver_sql(ddl)
    have = {str(r[0]) for r in conn.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
    for table in WATCHED:
        if _name(table) not in have:
            conn.exec_driver_sql(_pg_trigger(table))
    if f"{TABLE}_trim" not in have:
        conn.exec_driver_sql(f"CREATE TRIGGER {TABLE}_trim AFTER INSERT ON {TABLE} FOR EACH ROW "
                             f"WHEN (mod(NEW.id, {TRIM_EVERY}) = 0) EXECUTE FUNCTION fluvial_run_changes_trim()")


def head(conn: sa.Connection) -> int:
    """The cursor for data read in this (read) transaction: see the module docstring."""
    if conn.dialect.name == "sqlite":
        return int(conn.exec_driver_sql(f"SELECT COALESCE(max(id), 0) FROM {TABLE}").scalar() or 0)
    return int(conn.exec_driver_sql("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").scalar() or 0)


def trimmed_past(conn: sa.Connection, cursor: int) -> bool:
    """Whether rows a reader at ``cursor`` has not seen were trimmed (it must rebuild, not catch up)."""
    if conn.dialect.name == "sqlite":
        oldest = conn.exec_driver_sql(f"SELECT min(id) FROM {TABLE}").scalar()
        return oldest is not None and int(oldest) > cursor + 1
    horizon = conn.exec_driver_sql(f"SELECT h FROM {HORIZON} WHERE id = 1").scalar()
    return horizon is not None and int(horizon) >= cursor


def changed_since(conn: sa.Connection, cursor: int) -> Iterator[str]:
    """The runs changed after ``cursor`` (each at most once), as seen by this transaction."""
    if conn.dialect.name == "sqlite":
        query = sa.text(f"SELECT DISTINCT run_uuid FROM {TABLE} WHERE id > :c")
    else:
        query = sa.text(f"SELECT DISTINCT run_uuid FROM {TABLE} WHERE xid >= :c")
    for (run_uuid,) in conn.execute(query, {"c": cursor}):
        if run_uuid is not None:
            yield str(run_uuid)
