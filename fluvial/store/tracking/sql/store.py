"""The SQL tracking store (SQLite, PostgreSQL, MySQL) on MLflow 2.22.5's schema, with SQLAlchemy Core.

Every write is one short transaction; logging calls validate everything before touching the database,
so a rejected batch stores nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from fluvial._internal import validation as v
from fluvial._internal.clock import now_ms
from fluvial._internal.names import generate_run_name
from fluvial._internal.uri import append_to_uri_path, resolve_local
from fluvial.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from fluvial.exceptions import (
    BadRequest,
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from fluvial.search import parse_filter
from fluvial.search.paging import decode_any_token, decode_page_token, encode_page_token, validate_max_results
from fluvial.store.tracking.base import SEARCH_MAX_RESULTS_DEFAULT, TrackingStore
from fluvial.store.tracking.sql import (
    history,
    hot,
    loading,
    metric_blocks_logging,
    migrations,
    run_count,
    runs_page,
)
from fluvial.store.tracking.sql import metric_blocks_read as summaries
from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.engine import (
    get_engine,
    normalize_db_uri,
    raw_write_transaction,
    read_connection,
    write_transaction,
)
from fluvial.store.tracking.sql.search import (
    _int_ids,
    build_count_query,
    build_experiments_query,
    build_runs_query,
    lifecycle_stages,
)
from fluvial.store.tracking.sql.statements import insert_ignore, upsert
from fluvial.store.tracking.sql.ui_queries import SqlUiQueries

DEFAULT_ARTIFACT_ROOT = "./mlruns"
RUN_NAME_TAG = "mlflow.runName"
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"
_initialized: set[str] = set()


class SqlTrackingStore(SqlUiQueries, TrackingStore):
    """Tracking store on any SQLAlchemy database URL."""

    def __init__(self, db_uri: str, default_artifact_root: str | None = None) -> None:
        self.db_uri = db_uri
        self.default_artifact_root = resolve_local(default_artifact_root or DEFAULT_ARTIFACT_ROOT)
        self.engine = get_engine(db_uri)
        key = normalize_db_uri(db_uri)
        if key not in _initialized:
            migrations.initialize(self.engine)
            self._ensure_default_experiment()
            _initialized.add(key)

    # ---- helpers ---------------------------------------------------------------------------------
    def _ensure_default_experiment(self) -> None:
        e = s.experiments
        with write_transaction(self.engine) as conn:
            if conn.execute(sa.select(e.c.experiment_id).limit(1)).first() is not None:
                return
            now = now_ms()
            if conn.dialect.name == "mysql":
                conn.exec_driver_sql("SET @@SESSION.sql_mode='NO_AUTO_VALUE_ON_ZERO'")
            conn.execute(
                sa.insert(e).values(
                    experiment_id=0,
                    name="Default",
                    artifact_location=append_to_uri_path(self.default_artifact_root, "0"),
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                )
            )

    @staticmethod
    def _experiment_int(experiment_id: Any) -> int:
        try:
            return int(experiment_id)
        except (TypeError, ValueError):
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists") from None

    def _experiment_row(self, conn: sa.Connection, experiment_id: Any) -> Any:
        row = conn.execute(
            sa.select(s.experiments).where(s.experiments.c.experiment_id == self._experiment_int(experiment_id))
        ).first()
        if row is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return row

    @staticmethod
    def _run_row(conn: sa.Connection, run_id: str) -> Any:
        row = conn.execute(sa.select(s.runs).where(s.runs.c.run_uuid == run_id)).first()
        if row is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return row

    def _active_run(self, conn: sa.Connection, run_id: str) -> Any:
        row = conn.execute(
            sa.select(s.runs.c.lifecycle_stage, s.runs.c.experiment_id).where(s.runs.c.run_uuid == run_id)
        ).first()
        if row is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        if row.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(
                f"The run {run_id} must be in the 'active' state. Current state is {row.lifecycle_stage}."
            )
        return row

    # ---- experiments -------------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[ExperimentTag] | None = None
    ) -> str:
        v.experiment_name(name)
        v.artifact_location(artifact_location)
        if artifact_location:
            artifact_location = resolve_local(artifact_location)  # a relative path is relative to the cwd now
        tag_rows = []
        for tag in tags or ():
            v.validate_key(tag.key, "tag")
            tag_rows.append({"key": tag.key, "value": v.experiment_tag_value(tag.key, tag.value)})
        e = s.experiments
        now = now_ms()
        with write_transaction(self.engine) as conn:
            if conn.execute(sa.select(e.c.experiment_id).where(e.c.name == name)).first() is not None:
                raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.")
            try:
                result = conn.execute(
                    sa.insert(e).values(
                        name=name,
                        artifact_location=artifact_location,
                        lifecycle_stage=LifecycleStage.ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
            except sa.exc.IntegrityError as exc:
                raise ResourceAlreadyExists(f"Experiment(name={name}) already exists. Error: {exc.orig}") from None
            experiment_id = result.inserted_primary_key[0]  # type: ignore[index]
            if not artifact_location:
                conn.execute(
                    sa.update(e)
                    .where(e.c.experiment_id == experiment_id)
                    .values(artifact_location=append_to_uri_path(self.default_artifact_root, str(experiment_id)))
                )
            for row in tag_rows:
                row["experiment_id"] = experiment_id
            if tag_rows:
                conn.execute(sa.insert(s.experiment_tags), tag_rows)
        return str(experiment_id)

    def get_experiment(self, experiment_id: str) -> Experiment:
        with read_connection(self.engine) as conn:
            return loading.experiments(conn, [self._experiment_row(conn, experiment_id)])[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with read_connection(self.engine) as conn:
            row = conn.execute(sa.select(s.experiments).where(s.experiments.c.name == name)).first()
            return loading.experiments(conn, [row])[0] if row is not None else None

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        validate_max_results(max_results, v.MAX_RESULTS_SEARCH_EXPERIMENTS)
        offset = decode_page_token(page_token)
        query = build_experiments_query(filter_string, int(view_type), list(order_by or []), max_results + 1, offset)
        with read_connection(self.engine) as conn:
            rows = conn.execute(query).all()
            more = len(rows) > max_results
            found = loading.experiments(conn, rows[:max_results])
        return PagedList(found, encode_page_token(offset + max_results) if more else None)

    def delete_experiment(self, experiment_id: str) -> None:
        e, r = s.experiments, s.runs
        now = now_ms()
        with write_transaction(self.engine) as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage == LifecycleStage.DELETED:
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
            conn.execute(
                sa.update(e)
                .where(e.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=LifecycleStage.DELETED, last_update_time=now)
            )
            conn.execute(
                sa.update(r)
                .where(r.c.experiment_id == row.experiment_id, r.c.lifecycle_stage == LifecycleStage.ACTIVE)
                .values(lifecycle_stage=LifecycleStage.DELETED, deleted_time=now)
            )

    def restore_experiment(self, experiment_id: str) -> None:
        e, r = s.experiments, s.runs
        with write_transaction(self.engine) as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != LifecycleStage.DELETED:
                raise ResourceDoesNotExist(
                    f"Cannot restore an active experiment. No deleted Experiment with id={experiment_id} exists"
                )
            conn.execute(
                sa.update(e)
                .where(e.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=LifecycleStage.ACTIVE, last_update_time=now_ms())
            )
            conn.execute(
                sa.update(r)
                .where(r.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=LifecycleStage.ACTIVE, deleted_time=None)
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        v.experiment_name(new_name)
        e = s.experiments
        with write_transaction(self.engine) as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidState(f"Cannot rename a non-active experiment (id={experiment_id}).")
            clash = conn.execute(
                sa.select(e.c.experiment_id).where(e.c.name == new_name, e.c.experiment_id != row.experiment_id)
            ).first()
            if clash is not None:
                raise BadRequest(f"An experiment with the name {new_name!r} already exists (id={clash[0]}).")
            conn.execute(
                sa.update(e)
                .where(e.c.experiment_id == row.experiment_id)
                .values(name=new_name, last_update_time=now_ms())
            )

    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None:
        v.validate_key(tag.key, "tag")
        value = v.experiment_tag_value(tag.key, tag.value)
        with write_transaction(self.engine) as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameterValue(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {row.lifecycle_stage}."
                )
            upsert(
                conn,
                s.experiment_tags,
                [{"key": tag.key, "value": value, "experiment_id": row.experiment_id}],
                keys=("key", "experiment_id"),
                update=("value",),
            )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        t = s.experiment_tags
        with write_transaction(self.engine) as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameterValue(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {row.lifecycle_stage}."
                )
            result = conn.execute(sa.delete(t).where(t.c.experiment_id == row.experiment_id, t.c.key == key))
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with name: {key} in experiment with id {experiment_id}")

    # ---- runs -------------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int | None,
        tags: Sequence[RunTag],
        run_name: str | None,
        *,
        run_id: str | None = None,
    ) -> Run:
        """A new RUNNING run; ``run_id`` (fluvial-only, for imports that keep ids) chooses its id, which
        must be a valid run id not taken by any run (``RESOURCE_ALREADY_EXISTS`` otherwise)."""
        if run_id is not None:
            v.run_id(run_id)
        tag_map: dict[str, str] = {}
        for tag in tags:
            v.validate_key(tag.key, "tag")
            tag_map[tag.key] = v.tag_value(tag.key, tag.value)
        tag_name = tag_map.get(RUN_NAME_TAG)
        if run_name and tag_name and run_name != tag_name:
            raise InvalidParameterValue(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
                f"values (run_name='{run_name}', mlflow.runName='{tag_name}')."
            )
        run_name = run_name or tag_name or generate_run_name()
        tag_map[RUN_NAME_TAG] = run_name
        chosen, run_id = run_id is not None, run_id or uuid.uuid4().hex
        with write_transaction(self.engine) as conn:
            exp = self._experiment_row(conn, experiment_id)
            if chosen and conn.execute(sa.select(s.runs.c.run_uuid).where(s.runs.c.run_uuid == run_id)).first() is not None:
                raise ResourceAlreadyExists(f"Run with id={run_id} already exists")
            if exp.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameterValue(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {exp.lifecycle_stage}."
                )
            values = {
                "run_uuid": run_id,
                "name": run_name,
                "source_type": "UNKNOWN",
                "source_name": "",
                "entry_point_name": "",
                "user_id": user_id or "",
                "status": RunStatus.RUNNING.name,
                "start_time": start_time if start_time is not None else now_ms(),
                "end_time": None,
                "deleted_time": None,
                "source_version": "",
                "lifecycle_stage": LifecycleStage.ACTIVE,
                "artifact_uri": append_to_uri_path(exp.artifact_location or "", run_id, "artifacts"),
                "experiment_id": exp.experiment_id,
            }
            conn.execute(sa.insert(s.runs), values)
            conn.execute(
                sa.insert(s.tags), [{"key": k, "value": val, "run_uuid": run_id} for k, val in tag_map.items()]
            )
            row = self._run_row(conn, run_id)
            return loading.runs(conn, [row])[0]

    def get_run(self, run_id: str) -> Run:
        with read_connection(self.engine) as conn:
            return loading.runs(conn, [self._run_row(conn, run_id)])[0]

    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if run_status is not None:
            status = run_status if isinstance(run_status, str) else RunStatus(run_status).name
            if status not in RunStatus.__members__:
                raise InvalidParameterValue(f"Invalid run status {run_status!r}")
            values["status"] = status
        if end_time is not None:
            values["end_time"] = end_time
        if run_name:
            values["name"] = run_name
        with write_transaction(self.engine) as conn:
            self._active_run(conn, run_id)
            if values:
                conn.execute(sa.update(s.runs).where(s.runs.c.run_uuid == run_id).values(values))
            if run_name:
                upsert(
                    conn,
                    s.tags,
                    [{"key": RUN_NAME_TAG, "value": run_name, "run_uuid": run_id}],
                    keys=("key", "run_uuid"),
                    update=("value",),
                )
            return loading.run_info(self._run_row(conn, run_id))

    def _set_lifecycle(self, run_id: str, stage: str, deleted_time: int | None) -> None:
        with write_transaction(self.engine) as conn:
            self._run_row(conn, run_id)
            conn.execute(
                sa.update(s.runs)
                .where(s.runs.c.run_uuid == run_id)
                .values(lifecycle_stage=stage, deleted_time=deleted_time)
            )

    def delete_run(self, run_id: str) -> None:
        self._set_lifecycle(run_id, LifecycleStage.DELETED, now_ms())

    def restore_run(self, run_id: str) -> None:
        self._set_lifecycle(run_id, LifecycleStage.ACTIVE, None)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        validate_max_results(max_results, v.MAX_RESULTS_SEARCH_RUNS)
        offset, keyset = decode_any_token(page_token)
        if not experiment_ids:
            return PagedList([], None)
        ids = [str(x) for x in experiment_ids]
        planned = runs_page.plan(self.engine.dialect.name, ids, filter_string, int(run_view_type), list(order_by or []))
        if planned is not None and not offset:
            with read_connection(self.engine) as conn:
                page, token = runs_page.page(conn, planned, max_results, keyset)
                return PagedList(loading.runs(conn, page), token)
        if keyset is not None:
            raise InvalidParameterValue("Invalid page token for this search")
        query = build_runs_query(
            [str(x) for x in experiment_ids], filter_string, int(run_view_type), list(order_by or []),
            max_results + 1, offset,
        )
        with read_connection(self.engine) as conn:
            rows = conn.execute(query).all()
            more = len(rows) > max_results
            found = loading.runs(conn, rows[:max_results])
        return PagedList(found, encode_page_token(offset + max_results) if more else None)

    def count_runs(
        self, experiment_ids: Sequence[str], filter_string: str = "", run_view_type: int = ViewType.ACTIVE_ONLY
    ) -> int:
        if not experiment_ids:
            return 0
        ids = [str(x) for x in experiment_ids]
        query = build_count_query(ids, filter_string, int(run_view_type))  # also validates the arguments
        comparisons = parse_filter(filter_string, "runs")
        with read_connection(self.engine) as conn:  # counters and indexes first (run_count.py)
            counted = run_count.count(conn, _int_ids(ids), lifecycle_stages(int(run_view_type)), comparisons)
            if counted is not None:
                return counted
            return int(conn.execute(query).scalar() or 0)

    # ---- logging ----------------------------------------------------------------------------------
    @staticmethod
    def _metric_rows(run_id: str, metrics: Sequence[Metric]) -> list[tuple[Any, ...]]:
        """Validated rows in ``hot.METRIC_COLUMNS`` order; plain ints and floats skip the slow checks."""
        rows = []
        checked: set[str] = set()
        encode = loading.encode_metric_value
        for m in metrics:
            key, value, timestamp, step = m.key, m.value, m.timestamp, m.step
            if key not in checked:  # each distinct key once per batch
                v.validate_key(key, "metric")
                checked.add(key)
            if type(value) is not float:
                value = v.metric_value(key, value)
            if type(timestamp) is not int or timestamp < 0:
                timestamp = v.metric_timestamp(key, timestamp)
            if type(step) is not int:
                step = v.metric_step(key, step)
            stored, is_nan = encode(value) if value - value != 0.0 else (value, False)  # NaN or +-inf
            rows.append((key, stored, timestamp, step, is_nan, run_id))
        return rows

    @staticmethod
    def _write_metrics(conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        latest: dict[str, tuple[Any, ...]] = {}
        for row in rows:  # newest per key within the batch by (step, timestamp, value); one upsert per key
            cur = latest.get(row[0])
            if cur is None or (row[3], row[2], row[1]) > (cur[3], cur[2], cur[1]):
                latest[row[0]] = row
        if conn.dialect.name in hot.HOT_DIALECTS:  # bulk insert on the driver cursor, same transaction
            hot.write_metric_rows(conn.connection.cursor(), conn.dialect, rows, list(latest.values()))
            return
        names = hot.METRIC_COLUMNS
        insert_ignore(conn, s.metrics, [dict(zip(names, r, strict=False)) for r in rows])
        upsert(
            conn,
            s.latest_metrics,
            [dict(zip(names, r, strict=False)) for r in latest.values()],
            keys=("key", "run_uuid"),
            update=("value", "timestamp", "step", "is_nan"),
            newer_by=("step", "timestamp", "value"),
        )

    def log_metric(self, run_id: str, metric: Metric) -> None:
        rows = self._metric_rows(run_id, [metric])
        dialect = self.engine.dialect
        if dialect.name not in hot.HOT_DIALECTS:
            with write_transaction(self.engine) as conn:
                self._active_run(conn, run_id)
                self._write_metrics(conn, rows)
            return
        with raw_write_transaction(self.engine) as cursor:
            stage = hot.log_metric_row(cursor, dialect, rows[0])
            if stage is None:
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            if stage != LifecycleStage.ACTIVE:
                raise InvalidParameterValue(
                    f"The run {run_id} must be in the 'active' state. Current state is {stage}."
                )
        metric_blocks_logging.logged(self.engine, run_id, (metric.key,))

    def log_param(self, run_id: str, param: Param) -> None:
        dialect = self.engine.dialect
        if dialect.name not in hot.HOT_DIALECTS:
            self.log_batch(run_id, [], [param], [])
            return
        v.validate_key(param.key, "param")
        value = v.param_value(param.key, param.value)
        with raw_write_transaction(self.engine) as cursor:  # one transaction, usually one statement
            stage, old = hot.log_param_row(cursor, dialect, (param.key, value, run_id))
        if stage is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        if stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(f"The run {run_id} must be in the 'active' state. Current state is {stage}.")
        if old is not None and old != value:
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Param with key='{param.key}' was already logged "
                f"with value='{old}' for run ID='{run_id}'. Attempted logging new value '{value}'."
            )

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, [], [], [tag])

    def delete_tag(self, run_id: str, key: str) -> None:
        t = s.tags
        with write_transaction(self.engine) as conn:
            self._active_run(conn, run_id)
            result = conn.execute(sa.delete(t).where(t.c.run_uuid == run_id, t.c.key == key))
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    def log_batch(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        v.batch_limits(metrics, params, tags)
        self.log_batch_unbounded(run_id, metrics, params, tags)

    def log_batch_unbounded(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        """``log_batch`` without the per-request size limits: the in-process client logs any number
        of items in one transaction instead of splitting them (and failing half-way) as MLflow does."""
        v.unique_param_keys(p.key for p in params)
        param_rows = []
        for p in params:
            v.validate_key(p.key, "param")
            param_rows.append({"key": p.key, "value": v.param_value(p.key, p.value), "run_uuid": run_id})
        tag_rows: dict[str, dict[str, Any]] = {}
        for t in tags:
            v.validate_key(t.key, "tag")
            tag_rows[t.key] = {"key": t.key, "value": v.tag_value(t.key, t.value), "run_uuid": run_id}
        metric_rows = self._metric_rows(run_id, metrics)
        with write_transaction(self.engine) as conn:
            self._active_run(conn, run_id)
            if param_rows:
                self._check_params_unchanged(conn, run_id, param_rows)
                insert_ignore(conn, s.params, param_rows)
            if tag_rows:
                upsert(conn, s.tags, list(tag_rows.values()), keys=("key", "run_uuid"), update=("value",))
                if RUN_NAME_TAG in tag_rows:
                    conn.execute(
                        sa.update(s.runs)
                        .where(s.runs.c.run_uuid == run_id)
                        .values(name=tag_rows[RUN_NAME_TAG]["value"])
                    )
            if metric_rows:
                self._write_metrics(conn, metric_rows)
        if metrics:
            metric_blocks_logging.logged(self.engine, run_id, (m.key for m in metrics))

    @staticmethod
    def _check_params_unchanged(conn: sa.Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
        p = s.params
        new = {r["key"]: r["value"] for r in rows}
        existing = conn.execute(
            sa.select(p.c.key, p.c.value).where(p.c.run_uuid == run_id, p.c.key.in_(list(new)))
        ).all()
        changed = [
            {"key": key, "old_value": old, "new_value": new[key]} for key, old in existing if old != new[key]
        ]
        if not changed:
            return
        if len(rows) == 1:
            c = changed[0]
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Param with key='{c['key']}' was already logged "
                f"with value='{c['old_value']}' for run ID='{run_id}'. Attempted logging new value "
                f"'{c['new_value']}'."
            )
        raise InvalidParameterValue(
            f"Changing param values is not allowed. Params were already logged='{changed}' for run ID='{run_id}'."
        )

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        for di in datasets:
            _validate_dataset_input(di)
        d, i, it = s.datasets, s.inputs, s.input_tags
        with write_transaction(self.engine) as conn:
            run = self._active_run(conn, run_id)
            for di in datasets:
                ds = di.dataset
                found = conn.execute(
                    sa.select(d.c.dataset_uuid).where(
                        d.c.experiment_id == run.experiment_id, d.c.name == ds.name, d.c.digest == ds.digest
                    )
                ).first()
                if found is None:
                    dataset_uuid = uuid.uuid4().hex
                    conn.execute(
                        sa.insert(d).values(
                            dataset_uuid=dataset_uuid,
                            experiment_id=run.experiment_id,
                            name=ds.name,
                            digest=ds.digest,
                            dataset_source_type=ds.source_type,
                            dataset_source=ds.source,
                            dataset_schema=ds.schema,
                            dataset_profile=ds.profile,
                        )
                    )
                else:
                    dataset_uuid = found[0]
                edge = conn.execute(
                    sa.select(i.c.input_uuid).where(
                        i.c.source_type == "DATASET",
                        i.c.source_id == dataset_uuid,
                        i.c.destination_type == "RUN",
                        i.c.destination_id == run_id,
                    )
                ).first()
                if edge is not None:
                    continue
                input_uuid = uuid.uuid4().hex
                conn.execute(
                    sa.insert(i).values(
                        input_uuid=input_uuid,
                        source_type="DATASET",
                        source_id=dataset_uuid,
                        destination_type="RUN",
                        destination_id=run_id,
                    )
                )
                tag_rows = [{"input_uuid": input_uuid, "name": t.key, "value": t.value} for t in di.tags]
                if tag_rows:
                    conn.execute(sa.insert(it), tag_rows)

    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Metric]:
        with read_connection(self.engine) as conn:
            self._run_row(conn, run_id)
            points, token = history.history_page(conn, run_id, metric_key, max_results, page_token)
        return PagedList(points, token)

    def get_metric_history_reduced(
        self,
        run_id: str,
        metric_key: str,
        *,
        x_axis: str = "step",
        start: float | None = None,
        end: float | None = None,
        max_points: int = 1000,
    ) -> tuple[list[Metric], bool, int]:
        with read_connection(self.engine) as conn:
            self._run_row(conn, run_id)
        return summaries.reduce(self.engine, run_id, metric_key, x_axis, start, end, max_points)

    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        t = s.tags
        with write_transaction(self.engine) as conn:
            self._active_run(conn, run_id)
            current = conn.execute(
                sa.select(t.c.value).where(t.c.run_uuid == run_id, t.c.key == LOG_MODEL_HISTORY_TAG)
            ).scalar()
            history = json.loads(current) if current else []
            history.append(model_dict)
            upsert(
                conn,
                t,
                [{"key": LOG_MODEL_HISTORY_TAG, "value": json.dumps(history), "run_uuid": run_id}],
                keys=("key", "run_uuid"),
                update=("value",),
            )

    # ---- garbage collection -------------------------------------------------------------------
    def deleted_run_ids(self, older_than_ms: int | None = None) -> list[str]:
        r = s.runs
        query = sa.select(r.c.run_uuid).where(r.c.lifecycle_stage == LifecycleStage.DELETED)
        if older_than_ms:
            query = query.where(sa.func.coalesce(r.c.deleted_time, 0) <= now_ms() - older_than_ms)
        with read_connection(self.engine) as conn:
            return [row[0] for row in conn.execute(query)]

    def hard_delete_run(self, run_id: str) -> None:
        with write_transaction(self.engine) as conn:
            self._run_row(conn, run_id)
            _hard_delete_runs(conn, [run_id])

    def hard_delete_experiment(self, experiment_id: str) -> None:
        with write_transaction(self.engine) as conn:
            row = self._experiment_row(conn, experiment_id)
            exp_id = row.experiment_id
            run_ids = [r[0] for r in conn.execute(sa.select(s.runs.c.run_uuid).where(s.runs.c.experiment_id == exp_id))]
            _hard_delete_runs(conn, run_ids)
            conn.execute(sa.delete(s.experiment_tags).where(s.experiment_tags.c.experiment_id == exp_id))
            conn.execute(sa.delete(s.datasets).where(s.datasets.c.experiment_id == exp_id))
            conn.execute(sa.delete(s.experiments).where(s.experiments.c.experiment_id == exp_id))


def _hard_delete_runs(conn: sa.Connection, run_ids: list[str]) -> None:
    for chunk in [run_ids[i : i + 500] for i in range(0, len(run_ids), 500)]:
        input_ids = sa.select(s.inputs.c.input_uuid).where(
            s.inputs.c.destination_type == "RUN", s.inputs.c.destination_id.in_(chunk)
        )
        conn.execute(sa.delete(s.input_tags).where(s.input_tags.c.input_uuid.in_(input_ids)))
        conn.execute(sa.delete(s.inputs).where(s.inputs.c.destination_type == "RUN", s.inputs.c.destination_id.in_(chunk)))
        for table in (s.metrics, s.latest_metrics, s.params, s.tags):
            conn.execute(sa.delete(table).where(table.c.run_uuid.in_(chunk)))
        conn.execute(sa.delete(s.runs).where(s.runs.c.run_uuid.in_(chunk)))


def _validate_dataset_input(di: DatasetInput) -> None:
    ds = di.dataset
    for field, limit in (("name", v.MAX_DATASET_NAME_SIZE), ("digest", v.MAX_DATASET_DIGEST_SIZE),
                         ("source", v.MAX_DATASET_SOURCE_SIZE)):
        value = getattr(ds, field)
        if not value:
            raise InvalidParameterValue(f"Dataset {field} is required")
        if len(value) > limit:
            raise InvalidParameterValue(f"Dataset {field} '{value[:40]}...' exceeds the maximum length of {limit}")
    if not ds.source_type:
        raise InvalidParameterValue("Dataset source_type is required")
    if ds.schema and len(ds.schema) > v.MAX_DATASET_SCHEMA_SIZE:
        raise InvalidParameterValue(f"Dataset schema exceeds the maximum length of {v.MAX_DATASET_SCHEMA_SIZE}")
    if ds.profile and len(ds.profile) > v.MAX_DATASET_PROFILE_SIZE:
        raise InvalidParameterValue(f"Dataset profile exceeds the maximum length of {v.MAX_DATASET_PROFILE_SIZE}")
    for tag in di.tags:
        if not tag.key or len(tag.key) > v.MAX_INPUT_TAG_KEY_SIZE:
            raise InvalidParameterValue(f"Input tag key '{tag.key}' must be 1..{v.MAX_INPUT_TAG_KEY_SIZE} characters")
        if tag.value is None or len(tag.value) > v.MAX_INPUT_TAG_VALUE_SIZE:
            raise InvalidParameterValue(
                f"Input tag value for '{tag.key}' must be at most {v.MAX_INPUT_TAG_VALUE_SIZE} characters"
            )

