"""Keeping run ids on import: on a SQL store target the run row is written with the exported run id
(the MLflow API cannot choose one, so any other target gets new ids and the mapping says which)."""

from __future__ import annotations

from typing import Any

from fluvial._internal.uri import append_to_uri_path
from fluvial.entities import LifecycleStage, RunTag
from fluvial.tracking.client import MlflowClient

TAG_CHUNK = 100


def _sql_store(client: MlflowClient) -> Any:
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    store = client._store
    return store if isinstance(store, SqlTrackingStore) else None


def create_run_keeping_id(client: MlflowClient, experiment_id: str, info: dict[str, Any],
                          tags: dict[str, str]) -> str | None:
    """Create the run with ``info["run_id"]`` in ``experiment_id`` of a SQL store target (RUNNING, as
    ``create_run`` does), then its tags; None when the target is not a SQL store or the id is taken."""
    store = _sql_store(client)
    if store is None:
        return None
    import sqlalchemy as sa

    from fluvial.store.tracking.sql import schema as s
    from fluvial.store.tracking.sql.engine import write_transaction

    run_id = info["run_id"]
    with write_transaction(store.engine) as conn:
        if conn.execute(sa.select(s.runs.c.run_uuid).where(s.runs.c.run_uuid == run_id)).first() is not None:
            return None
        exp = conn.execute(sa.select(s.experiments.c.artifact_location)
                           .where(s.experiments.c.experiment_id == int(experiment_id))).one()
        conn.execute(sa.insert(s.runs), {
            "run_uuid": run_id, "name": info["run_name"], "source_type": "UNKNOWN", "source_name": "",
            "entry_point_name": "", "user_id": info["user_id"] or "", "status": "RUNNING",
            "start_time": info["start_time"], "end_time": None, "deleted_time": None, "source_version": "",
            "lifecycle_stage": LifecycleStage.ACTIVE,
            "artifact_uri": append_to_uri_path(exp.artifact_location or "", run_id, "artifacts"),
            "experiment_id": int(experiment_id)})
    items = [RunTag(k, v) for k, v in tags.items()]
    for i in range(0, len(items), TAG_CHUNK):
        client.log_batch(run_id, tags=items[i:i + TAG_CHUNK])
    return str(run_id)


def remove_run(client: MlflowClient, run_id: str) -> None:
    """Remove a half-imported run: for good on a SQL store (its id can then be used again), else deleted."""
    store = _sql_store(client)
    if store is None:
        client.delete_run(run_id)
    else:
        store.hard_delete_run(run_id)
