"""Rows to entities, loading a whole page of runs with one query per child table (no N+1)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from fluvial.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)
from fluvial.store.tracking.sql import schema as s

# +-inf are stored as the largest finite doubles, NaN as 0 with is_nan set (MLflow's convention).
MAX_DOUBLE = 1.7976931348623157e308


def encode_metric_value(value: float) -> tuple[float, bool]:
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (MAX_DOUBLE if value > 0 else -MAX_DOUBLE), False
    return value, False


def decode_metric_value(value: float, is_nan: bool) -> float:
    return math.nan if is_nan else float(value)


def run_info(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row.run_uuid,
        experiment_id=str(row.experiment_id),
        run_name=row.name or "",
        user_id=row.user_id or "",
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri or "",
        lifecycle_stage=row.lifecycle_stage,
    )


def experiment(row: Any, tags: dict[str, str]) -> Experiment:
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location or "",
        lifecycle_stage=row.lifecycle_stage,
        tags=tags,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
    )


def experiments(conn: sa.Connection, rows: Sequence[Any]) -> list[Experiment]:
    ids = [r.experiment_id for r in rows]
    tags: dict[int, dict[str, str]] = defaultdict(dict)
    if ids:
        t = s.experiment_tags
        for tag in conn.execute(sa.select(t.c.experiment_id, t.c.key, t.c.value).where(t.c.experiment_id.in_(ids))):
            tags[tag.experiment_id][tag.key] = tag.value or ""
    return [experiment(r, tags[r.experiment_id]) for r in rows]


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _fetch_children(conn: sa.Connection, table: str, columns: str, ids: list[str]) -> list[tuple[Any, ...]]:
    """``SELECT <columns> FROM <table> WHERE run_uuid IN (<ids>)`` as plain tuples on the driver cursor
    (a page of runs has thousands of child rows; SQLAlchemy's Row objects cost more than the query)."""
    mark = _MARKS.get(conn.dialect.paramstyle)
    if mark is None:  # drivers with other parameter styles take the Core path
        tbl = s.metadata.tables[table]
        cols = [tbl.c[c.strip().strip('"')] for c in columns.split(",")]
        return [tuple(r) for r in conn.execute(sa.select(*cols).where(tbl.c.run_uuid.in_(ids)))]
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE run_uuid IN ({', '.join([mark] * len(ids))})", ids)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def runs(conn: sa.Connection, rows: Sequence[Any]) -> list[Run]:
    """Build full ``Run`` objects for run rows: latest metrics, params, tags and dataset inputs."""
    ids = [r.run_uuid for r in rows]
    metrics: dict[str, list[Metric]] = defaultdict(list)
    params: dict[str, list[Param]] = defaultdict(list)
    tags: dict[str, list[RunTag]] = defaultdict(list)
    inputs: dict[str, list[DatasetInput]] = defaultdict(list)
    q = conn.dialect.identifier_preparer.quote
    metric_cols = f"run_uuid, {q('key')}, value, {q('timestamp')}, step, is_nan"
    for chunk in _chunks(ids):
        for run_uuid, key, value, timestamp, step, is_nan in _fetch_children(conn, "latest_metrics", metric_cols, chunk):
            metrics[run_uuid].append(Metric(key, math.nan if is_nan else float(value), timestamp or 0, step or 0))
        for run_uuid, key, value in _fetch_children(conn, "params", f"run_uuid, {q('key')}, value", chunk):
            params[run_uuid].append(Param(key, value))
        for run_uuid, key, value in _fetch_children(conn, "tags", f"run_uuid, {q('key')}, value", chunk):
            tags[run_uuid].append(RunTag(key, value or ""))
        for run_id, dataset_input in _dataset_inputs(conn, chunk):
            inputs[run_id].append(dataset_input)
    return [
        Run(
            info=run_info(r),
            data=RunData(metrics[r.run_uuid], params[r.run_uuid], tags[r.run_uuid]),
            inputs=RunInputs(inputs[r.run_uuid]),
        )
        for r in rows
    ]


def _dataset_inputs(conn: sa.Connection, run_ids: list[str]) -> list[tuple[str, DatasetInput]]:
    i, d, it = s.inputs, s.datasets, s.input_tags
    rows = conn.execute(
        sa.select(i.c.destination_id, i.c.input_uuid, d)
        .join(d, d.c.dataset_uuid == i.c.source_id)
        .where(i.c.destination_type == "RUN", i.c.source_type == "DATASET", i.c.destination_id.in_(run_ids))
    ).all()
    if not rows:
        return []
    tag_map: dict[str, list[InputTag]] = defaultdict(list)
    for tag in conn.execute(
        sa.select(it.c.input_uuid, it.c.name, it.c.value).where(it.c.input_uuid.in_([r.input_uuid for r in rows]))
    ):
        tag_map[tag.input_uuid].append(InputTag(tag.name, tag.value))
    out = []
    for r in rows:
        dataset = Dataset(
            name=r.name,
            digest=r.digest,
            source_type=r.dataset_source_type,
            source=r.dataset_source,
            schema=r.dataset_schema,
            profile=r.dataset_profile,
        )
        out.append((r.destination_id, DatasetInput(dataset=dataset, tags=tuple(tag_map[r.input_uuid]))))
    return out
