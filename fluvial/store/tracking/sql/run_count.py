"""Counting the runs a search matches without walking the experiment (SQLite and PostgreSQL).

In order of preference:

1. No filter: the trigger-kept ``fluvial_run_counts`` table (``indexes.py``), a few rows.
2. One ``=`` comparison on a param, a tag or the run name, on SQLite: the trigger-kept
   per-value counters (``value_counts.py``), a few rows.
3. A comparison matching at most ``SELECTIVE_MAX`` runs: driven from its index range (as in 5) --
   unless the run snapshot (4) is already built with every column the filter needs, each numeric or
   dictionary-encoded: then it answers first, without the probes (on PostgreSQL a probe of a common
   param value can read its whole index range: a bitmap scan does not stop at the LIMIT).
4. Experiments holding at least ``run_snapshot.min_runs()`` runs: this process's columnar snapshot,
   kept fresh from the trigger-written change log (``run_snapshot.py``, ``change_log.py``).
5. A filter with an indexable comparison (``=``, ``IN``, a ``LIKE`` with a literal prefix, a metric
   range) that matches fewer runs than the experiments hold (on PostgreSQL: at most ``PG_DRIVE_MAX``
   rows): the count is driven from that
   comparison's ``(key, value, run_uuid)`` index range, each run checked by primary key for its
   experiment, stage and the other comparisons. The range is probed first with a bounded count.
6. Otherwise: ``None``, and the caller runs the general ``SELECT count(*)`` over the experiments.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.util import ClauseAdapter

from fluvial.search import ATTRIBUTE, PARAM, TAG, Comparison
from fluvial.store.tracking.sql import indexes, runs_page, schema, value_counts
from fluvial.store.tracking.sql.search import RUN_NAME_TAG, run_filter_clause

DIALECTS = ("sqlite", "postgresql")
# On PostgreSQL the general count is planned by cost (hash joins, parallel scans): the drive is forced only
# for a filter matching at most this many rows (measured at 1M: driving 200,000 runs took 6.3 s where the
# general count took 0.6 s); SQLite's general count walks the experiment, so there any smaller range wins.
PG_DRIVE_MAX = 20_000
# Before the run snapshot: a comparison matching at most this many runs drives the count from its index
# range (about 9 us of CPU per run on SQLite: 45 ms at 5,000), cheaper than a vector pass over 1M runs.
SELECTIVE_MAX = 5_000


def count(conn: sa.Connection, experiment_ids: list[int], stages: list[str], comparisons: list[Comparison]) -> int | None:
    """The number of runs in these experiments and stages matching every comparison, or None when
    only the general query can tell."""
    if conn.dialect.name not in DIALECTS or not experiment_ids:
        return None
    if not comparisons:
        return indexes.count_runs(conn, experiment_ids, stages)
    if len(comparisons) == 1:
        counted = _from_counters(conn, comparisons[0], experiment_ids, stages)
        if counted is not None:
            return counted
    by_stage = indexes.count_runs_by_stage(conn, experiment_ids)
    if by_stage is None:
        return None
    inside = sum(by_stage.get(stage, 0) for stage in stages)
    run_snapshot = _run_snapshot()
    if run_snapshot is None or sum(by_stage.values()) < run_snapshot.min_runs():
        run_snapshot = None
    elif run_snapshot.ready(conn.engine, experiment_ids, comparisons):
        counted = _from_snapshot(run_snapshot, conn, experiment_ids, stages, comparisons)
        if counted is not None:
            return counted  # dictionary-encoded columns in memory: cheaper than probing index ranges
    counted = _driven(conn, inside, experiment_ids, stages, comparisons, SELECTIVE_MAX) if SELECTIVE_MAX > 0 else None
    if counted is not None:
        return counted  # a selective comparison (a run-name prefix): its few index entries beat a vector pass
    if run_snapshot is not None:
        counted = _from_snapshot(run_snapshot, conn, experiment_ids, stages, comparisons)
        if counted is not None:
            return counted
    return _driven(conn, inside, experiment_ids, stages, comparisons)


def _from_snapshot(run_snapshot: Any, conn: sa.Connection, experiment_ids: list[int], stages: list[str],
                   comparisons: list[Comparison]) -> int | None:
    """The snapshot's count, or None (not built, not covered, or the database refused the catch-up)."""
    try:
        counted: int | None = run_snapshot.count(conn.engine, experiment_ids, stages, comparisons)
    except sa.exc.SQLAlchemyError:
        counted = None  # e.g. an in-memory database with one shared connection: SQL counts
    return counted


def _from_counters(conn: sa.Connection, c: Comparison, experiment_ids: list[int], stages: list[str]) -> int | None:
    if c.comparator != "=" or not isinstance(c.value, str):
        return None
    if c.entity == ATTRIBUTE and c.key == "run_name":
        entity, key = "t", RUN_NAME_TAG
    elif c.entity in (PARAM, TAG):
        entity, key = ("p" if c.entity == PARAM else "t"), c.key
    else:
        return None
    return value_counts.count(conn, entity, key, c.value, experiment_ids, stages)


def _bounded(conn: sa.Connection, table: sa.Table, conditions: list[Any], limit: int) -> int:
    inner = sa.select(sa.literal(1)).select_from(table).where(*conditions).limit(limit).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar() or 0)


def _driven(conn: sa.Connection, inside: int, experiment_ids: list[int], stages: list[str],
            comparisons: list[Comparison], cap: int | None = None) -> int | None:
    """The count driven from the most selective comparison's index range, when one matches fewer than
    ``inside`` (the runs in these experiments and stages) and ``cap`` runs; else None."""
    if conn.dialect.name == "postgresql":
        inside = min(inside, PG_DRIVE_MAX)
    if cap is not None:
        inside = min(inside, cap)
    best: tuple[int, Comparison, sa.Table, list[Any]] | None = None
    for c in comparisons:
        probe = runs_page._probe_clause(c, conn.dialect.name)
        if probe is None:
            continue
        table, conditions = probe
        limit = inside if best is None else best[0]  # more matches than runs inside: scanning is cheaper
        found = _bounded(conn, table, conditions, limit + 1)
        if found <= limit:
            best = (found, c, table, conditions)
        if found == 0:
            return 0
    if best is None:
        return None
    _, driver, table, conditions = best
    drive = table.alias("fluvial_drive")
    adapt = ClauseAdapter(drive)
    runs = schema.runs
    where = [adapt.traverse(cond) for cond in conditions]
    where.append(runs_page._opaque(runs.c.experiment_id).in_(experiment_ids))  # look runs up, do not walk them
    if len(stages) < 2:  # run_view_type=ALL: any stage, as in the general query
        where.append(runs.c.lifecycle_stage.in_(stages))
    where += [run_filter_clause(c) for c in comparisons if c is not driver]
    query = sa.select(sa.func.count()).select_from(drive.join(runs, runs.c.run_uuid == drive.c.run_uuid)).where(*where)
    return int(conn.execute(query).scalar() or 0)


_NO_NUMPY: list[bool] = []  # holds True once importing the run snapshot failed: not tried again


def _run_snapshot() -> Any:
    """The run snapshot module, or None without numpy (the tracking server does not require it): SQL
    counts then."""
    if _NO_NUMPY:
        return None
    try:
        from fluvial.store.tracking.sql import run_snapshot
    except ImportError:
        _NO_NUMPY.append(True)
        return None
    return run_snapshot
