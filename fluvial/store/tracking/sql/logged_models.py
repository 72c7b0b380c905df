"""MLflow 3 logged models on the SQL store (tables in ``logged_models_schema``).

MLflow 3.x clients create a *logged model* for every ``log_model`` call and link it to runs
(``runs/outputs``, metrics with a ``model_id``). Semantics follow MLflow 3's SQL store: ids
``m-<32 hex>``, artifacts under ``<experiment artifact_location>/models/<model_id>/artifacts``, status
PENDING until finalized, soft delete through ``lifecycle_stage``; params are write-once, as on runs.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from fluvial._internal import validation as v
from fluvial._internal.clock import now_ms
from fluvial._internal.names import generate_run_name
from fluvial._internal.uri import append_to_uri_path
from fluvial.entities import LifecycleStage, PagedList
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.search.paging import decode_page_token, encode_page_token, validate_max_results
from fluvial.store.tracking.sql import loading
from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.engine import read_connection, write_transaction
from fluvial.store.tracking.sql.logged_models_schema import (
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_READY,
    STATUS_UNSPECIFIED,
    ensure_tables,
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
    run_models,
)
from fluvial.store.tracking.sql.logged_models_search import build_query
from fluvial.store.tracking.sql.statements import insert_ignore, upsert

__all__ = ["STATUS_FAILED", "STATUS_PENDING", "STATUS_READY", "STATUS_UNSPECIFIED", "LoggedModel",
           "LoggedModelStore", "ModelMetric", "for_engine"]

_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")
MAX_RESULTS_DEFAULT = 50  # what an MLflow 3 server uses when the request has no max_results
MAX_RESULTS_LIMIT = 50_000
_lock = threading.Lock()


# ---- records ------------------------------------------------------------------------------------
@dataclass
class ModelMetric:
    key: str
    value: float
    timestamp: int
    step: int
    run_id: str
    model_id: str
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: int
    lifecycle_stage: str
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)


def _load(conn: sa.Connection, rows: Sequence[Any]) -> list[LoggedModel]:
    """Models for ``rows`` of ``fluvial_logged_models`` with their tags, params and metrics (4 queries)."""
    models = {
        r.model_id: LoggedModel(
            model_id=r.model_id, experiment_id=str(r.experiment_id), name=r.name,
            artifact_location=r.artifact_location, creation_timestamp=r.creation_timestamp_ms,
            last_updated_timestamp=r.last_updated_timestamp_ms, status=r.status,
            lifecycle_stage=r.lifecycle_stage, model_type=r.model_type, source_run_id=r.source_run_id,
            status_message=r.status_message,
        )
        for r in rows
    }
    ids = list(models)
    for chunk in [ids[i : i + 500] for i in range(0, len(ids), 500)]:
        for t in conn.execute(sa.select(logged_model_tags).where(logged_model_tags.c.model_id.in_(chunk))):
            models[t.model_id].tags[t.key] = t.value
        for p in conn.execute(sa.select(logged_model_params).where(logged_model_params.c.model_id.in_(chunk))):
            models[p.model_id].params[p.key] = p.value
        m = logged_model_metrics
        query = sa.select(m).where(m.c.model_id.in_(chunk)).order_by(m.c.key, m.c.step, m.c.timestamp)
        for r in conn.execute(query):
            models[r.model_id].metrics.append(ModelMetric(
                r.key, loading.decode_metric_value(r.value, r.is_nan), r.timestamp, r.step, r.run_id, r.model_id,
                r.dataset_name, r.dataset_digest,
            ))
    return [models[i] for i in ids]


def _validate_name(name: str | None) -> None:
    if name is not None and (not name or any(c in name for c in _BAD_NAME_CHARS)):
        raise InvalidParameterValue(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string and cannot "
            f"contain the following characters: {_BAD_NAME_CHARS}"
        )


def _key_values(pairs: Sequence[tuple[str, str]], kind: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        v.validate_key(key, kind)
        out[key] = "" if value is None else str(value)
    return out


# ---- the store ------------------------------------------------------------------------------------
class LoggedModelStore:
    """Logged models in the database of a SQL tracking store (same engine, same transactions style)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        ensure_tables(engine)

    def _row(self, conn: sa.Connection, model_id: str, allow_deleted: bool = True) -> Any:
        query = sa.select(logged_models).where(logged_models.c.model_id == model_id)
        row = conn.execute(query).first()
        if row is None or (not allow_deleted and row.lifecycle_stage == LifecycleStage.DELETED):
            raise ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")
        return row

    def _get(self, conn: sa.Connection, model_id: str) -> LoggedModel:
        return _load(conn, [self._row(conn, model_id)])[0]

    def create(
        self,
        experiment_id: str,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: Sequence[tuple[str, str]] = (),
        tags: Sequence[tuple[str, str]] = (),
    ) -> LoggedModel:
        _validate_name(name)
        param_map = _key_values(params, "param")
        tag_map = _key_values(tags, "tag")
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()
        with write_transaction(self.engine) as conn:
            try:
                exp_int = int(experiment_id)
            except (TypeError, ValueError):
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists") from None
            exp = conn.execute(sa.select(s.experiments).where(s.experiments.c.experiment_id == exp_int)).first()
            if exp is None:
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
            if exp.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameterValue(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {exp.lifecycle_stage}."
                )
            conn.execute(sa.insert(logged_models).values(
                model_id=model_id, experiment_id=exp_int, name=name or generate_run_name(),
                artifact_location=append_to_uri_path(exp.artifact_location, "models", model_id, "artifacts"),
                creation_timestamp_ms=now, last_updated_timestamp_ms=now, status=STATUS_PENDING,
                lifecycle_stage=LifecycleStage.ACTIVE, model_type=model_type or None,
                source_run_id=source_run_id or None,
            ))
            if param_map:
                conn.execute(sa.insert(logged_model_params),
                             [{"model_id": model_id, "key": k, "value": val} for k, val in param_map.items()])
            if tag_map:
                conn.execute(sa.insert(logged_model_tags),
                             [{"model_id": model_id, "key": k, "value": val} for k, val in tag_map.items()])
            return self._get(conn, model_id)

    def require(self, model_ids: set[str]) -> None:
        """Raise ResourceDoesNotExist unless every model exists (deleted ones count)."""
        lm = logged_models
        with read_connection(self.engine) as conn:
            found = set(conn.execute(sa.select(lm.c.model_id).where(lm.c.model_id.in_(list(model_ids)))).scalars())
        for missing in sorted(model_ids - found):
            raise ResourceDoesNotExist(f"Logged model with ID '{missing}' not found.")

    def get(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        with read_connection(self.engine) as conn:
            return _load(conn, [self._row(conn, model_id, allow_deleted)])[0]

    def _touch(self, conn: sa.Connection, model_id: str, **values: Any) -> None:
        conn.execute(sa.update(logged_models).where(logged_models.c.model_id == model_id)
                     .values(last_updated_timestamp_ms=now_ms(), **values))

    def finalize(self, model_id: str, status: int) -> LoggedModel:
        if status not in (STATUS_UNSPECIFIED, STATUS_PENDING, STATUS_READY, STATUS_FAILED):
            raise InvalidParameterValue(f"Unknown model status: {status}")
        with write_transaction(self.engine) as conn:
            self._row(conn, model_id)
            self._touch(conn, model_id, status=status)
            return self._get(conn, model_id)

    def delete(self, model_id: str) -> None:
        with write_transaction(self.engine) as conn:
            self._row(conn, model_id)
            self._touch(conn, model_id, lifecycle_stage=LifecycleStage.DELETED)

    def set_tags(self, model_id: str, tags: Sequence[tuple[str, str]]) -> None:
        tag_map = _key_values(tags, "tag")
        with write_transaction(self.engine) as conn:
            self._row(conn, model_id)
            upsert(conn, logged_model_tags, [{"model_id": model_id, "key": k, "value": val} for k, val in tag_map.items()],
                   keys=("model_id", "key"), update=("value",))
            self._touch(conn, model_id)

    def delete_tag(self, model_id: str, key: str) -> None:
        t = logged_model_tags
        with write_transaction(self.engine) as conn:
            self._row(conn, model_id)
            if conn.execute(sa.delete(t).where(t.c.model_id == model_id, t.c.key == key)).rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with key {key!r} found for model with ID {model_id!r}.")
            self._touch(conn, model_id)

    def log_params(self, model_id: str, params: Sequence[tuple[str, str]]) -> None:
        """Params are write-once, as on runs: the same value again is fine, a different one an error."""
        param_map = _key_values(params, "param")
        p = logged_model_params
        with write_transaction(self.engine) as conn:
            self._row(conn, model_id)
            existing = dict(conn.execute(sa.select(p.c.key, p.c.value).where(
                p.c.model_id == model_id, p.c.key.in_(list(param_map)))).tuples().all())
            changed = [k for k, val in param_map.items() if k in existing and existing[k] != val]
            if changed:
                raise InvalidParameterValue(
                    f"Changing param values is not allowed. Params {changed} were already logged with other "
                    f"values for logged model {model_id!r}."
                )
            insert_ignore(conn, p, [{"model_id": model_id, "key": k, "value": val} for k, val in param_map.items()])

    # ---- links with runs --------------------------------------------------------------------------
    def log_metrics(self, run_id: str, metrics: Sequence[ModelMetric]) -> None:
        """Metrics a run logged for a model (they also went to the run's own metrics)."""
        rows: list[dict[str, Any]] = []
        for m in metrics:
            value, is_nan = loading.encode_metric_value(m.value) if not math.isfinite(m.value) else (m.value, False)
            rows.append({"model_id": m.model_id, "key": m.key, "timestamp": m.timestamp, "step": m.step,
                         "run_id": run_id, "value": value, "is_nan": is_nan,
                         "dataset_name": m.dataset_name or None, "dataset_digest": m.dataset_digest or None})
        if not rows:
            return
        with write_transaction(self.engine) as conn:
            for model_id in {r["model_id"] for r in rows}:
                self._row(conn, model_id)
            insert_ignore(conn, logged_model_metrics, rows)

    def link_run(self, run_id: str, direction: str, models: Sequence[tuple[str, int]]) -> None:
        """Record models as a run's inputs or outputs (``direction`` "input" / "output")."""
        with write_transaction(self.engine) as conn:
            for model_id, _step in models:
                self._row(conn, model_id)
            upsert(conn, run_models, [{"run_uuid": run_id, "direction": direction, "model_id": mid, "step": step}
                                      for mid, step in models],
                   keys=("run_uuid", "direction", "model_id"), update=("step",))

    def run_links(self, run_ids: Sequence[str]) -> dict[str, dict[str, list[tuple[str, int]]]]:
        """run id -> {"input": [(model_id, step)], "output": [...]} for the runs that have any."""
        out: dict[str, dict[str, list[tuple[str, int]]]] = {}
        if not run_ids:
            return out
        r = run_models
        with read_connection(self.engine) as conn:
            for chunk in [list(run_ids)[i : i + 500] for i in range(0, len(run_ids), 500)]:
                query = sa.select(r).where(r.c.run_uuid.in_(chunk)).order_by(r.c.run_uuid, r.c.model_id)
                for row in conn.execute(query):
                    out.setdefault(row.run_uuid, {}).setdefault(row.direction, []).append((row.model_id, row.step))
        return out

    # ---- search -----------------------------------------------------------------------------------
    # ---- search -----------------------------------------------------------------------------------
    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[dict[str, Any]] = (),
        max_results: int | None = None,
        order_by: Sequence[dict[str, Any]] = (),
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """One page of the active models of ``experiment_ids`` matching the filter (MLflow 3's grammar,
        see ``logged_models_search``); newest first unless ``order_by`` says otherwise."""
        if not experiment_ids:
            raise InvalidParameterValue("Missing value for required parameter 'experiment_ids'.")
        max_results = validate_max_results(MAX_RESULTS_DEFAULT if max_results is None else max_results,
                                           MAX_RESULTS_LIMIT)
        offset = decode_page_token(page_token)
        query = build_query(experiment_ids, filter_string, datasets, order_by).offset(offset).limit(max_results + 1)
        with read_connection(self.engine) as conn:
            rows = conn.execute(query).all()
            found = _load(conn, rows[:max_results])
        return PagedList(found, encode_page_token(offset + max_results) if len(rows) > max_results else None)


_stores: dict[str, LoggedModelStore] = {}


def for_engine(engine: sa.Engine) -> LoggedModelStore:
    """The logged-model store over ``engine`` (one per database per process; tables made on first use)."""
    key = engine.url.render_as_string(hide_password=False)
    found = _stores.get(key)
    if found is None or found.engine is not engine:
        with _lock:
            found = _stores.get(key)
            if found is None or found.engine is not engine:
                found = _stores[key] = LoggedModelStore(engine)
    return found
