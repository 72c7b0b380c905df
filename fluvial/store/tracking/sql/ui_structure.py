"""The runs table's structure over the whole result of a search, not only the rows a browser loaded:
groups of runs by a param or tag value with their size and metric aggregates, the runs of one group in
keyset pages, and for nesting, how many runs of the result each run is the parent of and which parents
are in the result. Each is one bounded query built on the search's own WHERE clauses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from fluvial.entities import Run
from fluvial.exceptions import InvalidParameterValue
from fluvial.store.tracking.sql import loading
from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.engine import read_connection
from fluvial.store.tracking.sql.search import runs_where

PARENT_TAG = "mlflow.parentRunId"
GROUPS_MAX = 1000  # distinct values shown as groups
GROUP_METRICS_MAX = 20
NESTING_IDS_MAX = 5000


def _keyed(kind: str) -> sa.Table:
    if kind == "param":
        return s.params
    if kind == "tag":
        return s.tags
    raise InvalidParameterValue(f"Group by 'param' or 'tag', not {kind!r}.")


def _parse_after(token: str | None) -> tuple[int, str] | None:
    """The keyset position ``<start_time>:<run id>`` of a group page token."""
    if not token:
        return None
    start, _, run_id = token.partition(":")
    try:
        return int(start), run_id
    except ValueError:
        raise InvalidParameterValue("Invalid page_token for the runs of a group.") from None


def _mean(total: Any, n: int) -> float:
    """The mean from a SQL ``sum``: PostgreSQL's float ``sum``/``avg`` fail when the stand-ins of +-inf
    (+-1.8e308) overflow, so there the values are summed as ``numeric`` (exact); SQLite's ``sum`` of
    +inf and -inf is NULL, the NaN it stands for."""
    return math.nan if total is None else float(total) / n


class SqlUiStructure:
    """Mixed into ``SqlTrackingStore``; needs its ``engine``."""

    engine: sa.Engine

    def ui_groups(
        self, experiment_ids: Sequence[str], filter_string: str, view: int, kind: str, key: str,
        metric_keys: Sequence[str], limit: int = GROUPS_MAX,
    ) -> tuple[list[dict[str, Any]], bool]:
        """``[{"value": str | None, "count": n, "metrics": {key: {"mean", "min", "max", "count"}}}]`` by value
        (no value last), at most ``limit``, and whether there were more."""
        if len(metric_keys) > GROUP_METRICS_MAX:
            raise InvalidParameterValue(f"Aggregate at most {GROUP_METRICS_MAX} metrics per grouping.")
        runs, table = s.runs, _keyed(kind).alias("g")
        joined = runs.outerjoin(table, sa.and_(table.c.run_uuid == runs.c.run_uuid, table.c.key == key))
        cols: list[Any] = [table.c.value.label("v"), sa.func.count().label("n")]
        exact_sums = self.engine.dialect.name == "postgresql"  # its float sums fail on overflow
        for i, metric in enumerate(metric_keys):
            m = s.latest_metrics.alias(f"m{i}")
            joined = joined.outerjoin(m, sa.and_(m.c.run_uuid == runs.c.run_uuid, m.c.key == metric,
                                                 m.c.is_nan == sa.false()))
            summed = sa.cast(m.c.value, sa.Numeric) if exact_sums else m.c.value
            cols += [sa.func.sum(summed), sa.func.min(m.c.value), sa.func.max(m.c.value), sa.func.count(m.c.value)]
        query = (sa.select(*cols).select_from(joined).where(*runs_where(experiment_ids, filter_string, view))
                 .group_by(table.c.value).order_by(table.c.value.is_(None), table.c.value).limit(limit + 1))
        with read_connection(self.engine) as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows[:limit]:
            metrics = {}
            for i, metric in enumerate(metric_keys):
                total, low, high, n = row[2 + 4 * i: 6 + 4 * i]
                metrics[metric] = {"mean": _mean(total, n), "min": low, "max": high, "count": n} if n else None
            out.append({"value": row[0], "count": row[1], "metrics": metrics})
        return out, len(rows) > limit

    def ui_group_runs(
        self, experiment_ids: Sequence[str], filter_string: str, view: int, kind: str, key: str,
        value: str | None, max_results: int, page_token: str | None,
    ) -> tuple[list[Run], str | None]:
        """The runs of one group (``value`` None: the runs without the param/tag), newest first, in keyset
        pages; the token of the next page or None."""
        runs, table = s.runs, _keyed(kind)
        member = sa.select(sa.literal(1)).where(table.c.run_uuid == runs.c.run_uuid, table.c.key == key)
        if value is not None:
            member = member.where(table.c.value == value)
        where = [*runs_where(experiment_ids, filter_string, view),
                 member.exists() if value is not None else ~member.exists()]
        start = sa.func.coalesce(runs.c.start_time, 0)
        after = _parse_after(page_token)
        if after is not None:
            where.append(sa.or_(start < after[0], sa.and_(start == after[0], runs.c.run_uuid > after[1])))
        query = sa.select(runs).where(*where).order_by(start.desc(), runs.c.run_uuid).limit(max_results + 1)
        with read_connection(self.engine) as conn:
            rows = conn.execute(query).all()
            found = loading.runs(conn, rows[:max_results])
        token = None
        if len(rows) > max_results:
            last = rows[max_results - 1]
            token = f"{last.start_time or 0}:{last.run_uuid}"
        return found, token

    def ui_nesting(
        self, experiment_ids: Sequence[str], filter_string: str, view: int, run_ids: Sequence[str],
        parent_ids: Sequence[str],
    ) -> tuple[dict[str, int], list[str]]:
        """How many runs of the result name each of ``run_ids`` as their parent, and which of
        ``parent_ids`` are runs of the result."""
        if len(run_ids) > NESTING_IDS_MAX or len(parent_ids) > NESTING_IDS_MAX:
            raise InvalidParameterValue(f"At most {NESTING_IDS_MAX} run ids and {NESTING_IDS_MAX} parent ids at once.")
        runs, tags = s.runs, s.tags
        where = runs_where(experiment_ids, filter_string, view)
        counts: dict[str, int] = {}
        present: list[str] = []
        with read_connection(self.engine) as conn:
            wanted = list(dict.fromkeys(run_ids))
            for i in range(0, len(wanted), 500):
                query = (sa.select(tags.c.value, sa.func.count())
                         .select_from(runs.join(tags, tags.c.run_uuid == runs.c.run_uuid))
                         .where(tags.c.key == PARENT_TAG, tags.c.value.in_(wanted[i:i + 500]), *where)
                         .group_by(tags.c.value))
                counts.update((r[0], int(r[1])) for r in conn.execute(query))
            parents = list(dict.fromkeys(parent_ids))
            for i in range(0, len(parents), 500):
                query = sa.select(runs.c.run_uuid).where(runs.c.run_uuid.in_(parents[i:i + 500]), *where)
                present += [r[0] for r in conn.execute(query)]
        return counts, present
