"""The SQL store's reads for the web UI and MLflow's UI-side endpoints, each a bounded number of queries:
several runs by id in one load, the distinct column keys of experiments by a loose index scan, dataset
summaries, and the step sampling of ``metrics/get-history-bulk-interval`` done by the database (window
functions over the distinct steps) instead of loading whole histories."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from fluvial.entities import Metric, Run
from fluvial.store.tracking.base import (
    BULK_INTERVAL_PER_RUN,
    DATASET_CONTEXT_TAG,
    DATASET_SUMMARIES_LIMIT,
    UI_KEYS_LIMIT,
    DatasetSummary,
)
from fluvial.store.tracking.sql import loading
from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.engine import read_connection
from fluvial.store.tracking.sql.ui_structure import SqlUiStructure

_ID_CHUNK = 500


def _experiment_ints(experiment_ids: Sequence[str]) -> list[int]:
    out = []
    for e in experiment_ids:
        try:
            out.append(int(e))
        except (TypeError, ValueError):
            continue  # no experiment has that id
    return out


def _distinct_keys(conn: sa.Connection, table: sa.Table, experiments: list[int], limit: int) -> list[str]:
    """Distinct ``key`` of a (key, run_uuid)-keyed child table for runs of the experiments: one index seek
    per distinct key (a recursive loose index scan), then one existence probe per key that walks the key's
    rows and stops at the first run of the experiments."""
    q = conn.dialect.identifier_preparer.quote
    name, key = q(table.name), q("key")
    marks = ", ".join(f":e{i}" for i in range(len(experiments)))
    sql = sa.text(
        f"WITH RECURSIVE k(v, n) AS ("
        f" SELECT (SELECT MIN({key}) FROM {name}), 1"
        f" UNION ALL SELECT (SELECT t.{key} FROM {name} t WHERE t.{key} > k.v ORDER BY t.{key} LIMIT 1), n + 1"
        f" FROM k WHERE k.v IS NOT NULL AND n < :cap)"
        f" SELECT v FROM k WHERE v IS NOT NULL AND EXISTS ("
        # CROSS JOIN: SQLite then walks the key's rows first and probes each run, so a rare key (two runs
        # in a 1,000,000-run experiment) is found at once instead of after scanning the experiment's runs
        f" SELECT 1 FROM {name} c CROSS JOIN runs r"
        f" WHERE r.run_uuid = c.run_uuid AND c.{key} = k.v AND r.experiment_id IN ({marks}))"
        f" ORDER BY v"
    )
    params: dict[str, Any] = {f"e{i}": e for i, e in enumerate(experiments)}
    # the scan visits keys of other experiments too; bound it well above the answer's limit
    params["cap"] = limit * 10
    return [row[0] for row in conn.execute(sql, params)][:limit]


class SqlUiQueries(SqlUiStructure):
    """Mixed into ``SqlTrackingStore``; needs its ``engine``."""

    engine: sa.Engine

    def get_runs(self, run_ids: Sequence[str]) -> list[Run]:
        wanted = list(dict.fromkeys(run_ids))
        by_id: dict[str, Run] = {}
        with read_connection(self.engine) as conn:
            for i in range(0, len(wanted), _ID_CHUNK):
                rows = conn.execute(sa.select(s.runs).where(s.runs.c.run_uuid.in_(wanted[i:i + _ID_CHUNK]))).all()
                by_id.update((r.info.run_id, r) for r in loading.runs(conn, rows))
        return [by_id[r] for r in wanted if r in by_id]

    def run_column_keys(self, experiment_ids: Sequence[str], limit: int = UI_KEYS_LIMIT) -> dict[str, list[str]]:
        experiments = _experiment_ints(experiment_ids)
        if not experiments:
            return {"params": [], "metrics": [], "tags": []}
        with read_connection(self.engine) as conn:
            return {kind: _distinct_keys(conn, table, experiments, limit)
                    for kind, table in (("params", s.params), ("metrics", s.latest_metrics), ("tags", s.tags))}

    def search_datasets(self, experiment_ids: Sequence[str]) -> list[DatasetSummary]:
        experiments = _experiment_ints(experiment_ids)
        if not experiments:
            return []
        d, i, it = s.datasets, s.inputs, s.input_tags
        query = (
            sa.select(d.c.experiment_id, d.c.name, d.c.digest, it.c.value)
            .select_from(d)
            .join(i, i.c.source_id == d.c.dataset_uuid)
            .join(it, sa.and_(it.c.input_uuid == i.c.input_uuid, it.c.name == DATASET_CONTEXT_TAG), isouter=True)
            .where(d.c.experiment_id.in_(experiments))
            .distinct()
            .order_by(d.c.experiment_id, d.c.name, d.c.digest, it.c.value)
            .limit(DATASET_SUMMARIES_LIMIT)
        )
        with read_connection(self.engine) as conn:
            return [DatasetSummary(str(r[0]), r[1], r[2], r[3]) for r in conn.execute(query)]

    def get_metric_history_bulk_interval(
        self, run_ids: Sequence[str], metric_key: str, start_step: int | None, end_step: int | None,
        max_results: int,
    ) -> list[tuple[str, Metric]]:
        m = s.metrics
        distinct_runs = list(dict.fromkeys(run_ids))
        if not distinct_runs:
            return []
        where = [m.c.run_uuid.in_(distinct_runs), m.c.key == metric_key]
        if start_step is None or end_step is None:
            where.append(m.c.step >= 0)  # MLflow's default range: step 0 to the largest step
        else:
            where.append(m.c.step.between(start_step, end_step))
        steps = sa.select(m.c.step).where(*where).distinct().subquery("steps")
        ranked = sa.select(
            steps.c.step,
            (sa.func.row_number().over(order_by=steps.c.step) - 1).label("p"),
            sa.func.count().over().label("n"),
        ).subquery("ranked")
        p, n, cap = ranked.c.p, ranked.c.n, sa.literal(max_results, sa.BigInteger)
        sampled = sa.select(ranked.c.step).where(sa.or_(
            n <= cap,
            p == n - 1,
            # some i < cap has floor(i * n / cap) == p: ceil(p * cap / n) * n < (p + 1) * cap
            ((p * cap + n - 1) // n) * n < (p + 1) * cap,
        ))
        firsts = sa.select(sa.func.min(m.c.step)).where(*where).group_by(m.c.run_uuid)
        lasts = sa.select(sa.func.max(m.c.step)).where(*where).group_by(m.c.run_uuid)
        chosen = sa.union(sampled, firsts, lasts).subquery("chosen")
        query = (
            sa.select(m.c.run_uuid, m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.is_nan)
            .where(m.c.run_uuid.in_(distinct_runs), m.c.key == metric_key, m.c.step.in_(sa.select(chosen.c[0])))
            .order_by(m.c.run_uuid, m.c.step, m.c.timestamp, m.c.value)
        )
        points: dict[str, list[Metric]] = defaultdict(list)
        with read_connection(self.engine) as conn:
            for r in conn.execute(query):
                run_points = points[r.run_uuid]
                if len(run_points) < BULK_INTERVAL_PER_RUN:
                    run_points.append(Metric(r.key, loading.decode_metric_value(r.value, r.is_nan), r.timestamp, r.step))
        return [(run_id, point) for run_id in run_ids for point in points.get(run_id, [])]
