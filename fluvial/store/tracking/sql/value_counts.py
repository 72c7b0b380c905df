"""Per-value run counters on SQLite: how many runs of each experiment and lifecycle stage carry each
(param or tag key, value), kept by triggers on ``params``, ``tags`` and ``runs``, so a count such as
``params.model = 'rf'`` over a million runs reads a few rows instead of walking 200,000 index entries.

The triggers run inside the writing transaction, whoever writes (fluvial, MLflow 2.22.5's ORM, a
hand-written statement), so the counters stay exact. Values longer than ``MAX_VALUE`` characters and
NULL values are not counted (a count over them uses the indexes instead). SQLite only: it has one
writer at a time, so hot counter rows cost no concurrency; on PostgreSQL, counter rows shared by all
writers of an experiment would serialize them (and could deadlock MLflow's own writers), so there the
count walks the ``(key, value, run_uuid)`` indexes (``run_count.py``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

TABLE = "fluvial_value_counts"
MAX_VALUE = 200
ENTITIES = {"params": "p", "tags": "t"}
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (entity VARCHAR(1) NOT NULL, key VARCHAR(250) NOT NULL, "
    "value VARCHAR(200) NOT NULL, experiment_id INTEGER NOT NULL, lifecycle_stage VARCHAR(20) NOT NULL, "
    "n BIGINT NOT NULL, PRIMARY KEY (entity, key, value, experiment_id, lifecycle_stage)) WITHOUT ROWID"
)
_CONFLICT = f"ON CONFLICT (entity, key, value, experiment_id, lifecycle_stage) DO UPDATE SET n = {TABLE}.n + 1"
_GROUP = "COALESCE({r}.experiment_id, -1), COALESCE({r}.lifecycle_stage, '')"
_COUNTED = "{v}.value IS NOT NULL AND length({v}.value) <= " + str(MAX_VALUE)


def _row_triggers(table: str) -> list[str]:
    """Insert, delete and update triggers on ``params`` or ``tags``: the row's run gives the group."""
    e = ENTITIES[table]
    add = (f"INSERT INTO {TABLE} (entity, key, value, experiment_id, lifecycle_stage, n) "
           f"SELECT '{e}', NEW.key, NEW.value, {_GROUP.format(r='runs')}, 1 FROM runs "
           f"WHERE runs.run_uuid = NEW.run_uuid AND {_COUNTED.format(v='NEW')} {_CONFLICT}")
    sub = (f"UPDATE {TABLE} SET n = n - 1 WHERE entity = '{e}' AND key = OLD.key AND value = OLD.value "
           f"AND {_COUNTED.format(v='OLD')} AND (experiment_id, lifecycle_stage) IN "
           f"(SELECT {_GROUP.format(r='runs')} FROM runs WHERE runs.run_uuid = OLD.run_uuid)")
    name = f"fluvial_{table}_value_count"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {name}_insert AFTER INSERT ON {table} BEGIN {add}; END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_delete AFTER DELETE ON {table} BEGIN {sub}; END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_update AFTER UPDATE OF key, value, run_uuid ON {table} "
        "WHEN OLD.key IS NOT NEW.key OR OLD.value IS NOT NEW.value OR OLD.run_uuid IS NOT NEW.run_uuid "
        f"BEGIN {sub}; {add}; END",
    ]


def _run_statements(ref: str, sign: str) -> list[str]:
    """Move every counted param and tag of run ``ref`` (OLD or NEW) out of (-) or into (+) its group."""
    out = []
    for table, e in ENTITIES.items():
        if sign == "-":
            out.append(
                f"UPDATE {TABLE} SET n = n - 1 WHERE experiment_id = COALESCE({ref}.experiment_id, -1) "
                f"AND lifecycle_stage = COALESCE({ref}.lifecycle_stage, '') AND entity = '{e}' AND (key, value) IN "
                f"(SELECT key, value FROM {table} WHERE run_uuid = {ref}.run_uuid AND {_COUNTED.format(v=table)})")
        else:
            out.append(
                f"INSERT INTO {TABLE} (entity, key, value, experiment_id, lifecycle_stage, n) "
                f"SELECT '{e}', key, value, COALESCE({ref}.experiment_id, -1), COALESCE({ref}.lifecycle_stage, ''), 1 "
                f"FROM {table} WHERE run_uuid = {ref}.run_uuid AND {_COUNTED.format(v=table)} {_CONFLICT}")
    return out


def triggers() -> list[str]:
    changed = "OLD.experiment_id IS NOT NEW.experiment_id OR OLD.lifecycle_stage IS NOT NEW.lifecycle_stage"
    moved = "; ".join(_run_statements("OLD", "-") + _run_statements("NEW", "+"))
    gone = "; ".join(_run_statements("OLD", "-"))  # the params/tags still there when the run row goes
    born = "; ".join(_run_statements("NEW", "+"))  # any written before their run row (no FK enforced)
    return [
        *_row_triggers("params"),
        *_row_triggers("tags"),
        "CREATE TRIGGER IF NOT EXISTS fluvial_runs_value_count_update AFTER UPDATE OF experiment_id, "
        f"lifecycle_stage ON runs WHEN {changed} BEGIN {moved}; END",
        f"CREATE TRIGGER IF NOT EXISTS fluvial_runs_value_count_delete AFTER DELETE ON runs BEGIN {gone}; END",
        f"CREATE TRIGGER IF NOT EXISTS fluvial_runs_value_count_insert AFTER INSERT ON runs BEGIN {born}; END",
    ]


TRIGGERS = [ddl.split(" IF NOT EXISTS ", 1)[1].split(" ", 1)[0] for ddl in triggers()]
_ALL_TRIGGERS = sa.text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ("
                        + ", ".join(f"'{name}'" for name in TRIGGERS) + ")")


def complete(conn: sa.Connection) -> bool:
    """Whether the table and every one of its triggers exist (a later migration that rebuilds
    ``runs``, ``params`` or ``tags`` by copy and rename drops the triggers on the old table)."""
    return sa.inspect(conn).has_table(TABLE) and int(conn.execute(_ALL_TRIGGERS).scalar() or 0) == len(TRIGGERS)


def create(conn: sa.Connection) -> None:
    """The table, its triggers and its first content, in the caller's (write) transaction."""
    conn.exec_driver_sql(_DDL)
    for ddl in triggers():
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql(f"DELETE FROM {TABLE}")
    for table, e in ENTITIES.items():
        conn.exec_driver_sql(
            f"INSERT INTO {TABLE} (entity, key, value, experiment_id, lifecycle_stage, n) "
            f"SELECT '{e}', c.key, c.value, {_GROUP.format(r='r')}, count(*) FROM {table} c "
            f"JOIN runs r ON r.run_uuid = c.run_uuid WHERE {_COUNTED.format(v='c')} "
            f"GROUP BY c.key, c.value, {_GROUP.format(r='r')}"
        )


def count(conn: sa.Connection, entity: str, key: str, value: str, experiment_ids: list[int],
          stages: list[str]) -> int | None:
    """Runs in these experiments and stages whose param (``entity='p'``) or tag (``'t'``) ``key`` has
    ``value``; None when the counters cannot answer (not SQLite, no table, a long value)."""
    if conn.dialect.name != "sqlite" or len(value) > MAX_VALUE:
        return None
    t = sa.table(TABLE, *(sa.column(c) for c in ("entity", "key", "value", "experiment_id", "lifecycle_stage", "n")))
    query = sa.select(sa.func.coalesce(sa.func.sum(t.c.n), 0)).where(
        t.c.entity == entity, t.c.key == key, t.c.value == value,
        t.c.experiment_id.in_(experiment_ids), t.c.lifecycle_stage.in_(stages))
    if int(conn.execute(_ALL_TRIGGERS).scalar() or 0) != len(TRIGGERS):
        return None  # no counters here, or no longer kept (built by `fluvial db upgrade`)
    found: Any = conn.execute(query).scalar()
    return int(found or 0)
