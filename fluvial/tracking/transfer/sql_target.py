"""Keeping run ids on import: on a SQL store target the run row is written with the exported run id
(the MLflow API cannot choose one, so any other target gets new ids and the mapping says which)."""

from __future__ import annotations

from typing import Any

from fluvial.entities import RunTag
from fluvial.tracking.client import MlflowClient

TAG_CHUNK = 100


def _sql_store(client: MlflowClient) -> Any:
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    store = client._store
    return store if isinstance(store, SqlTrackingStore) else None


def create_run_keeping_id(client: MlflowClient, experiment_id: str, info: dict[str, Any],
                          tags: dict[str, str]) -> str | None:
    """Create the run with ``info["run_id"]`` in ``experiment_id`` of a SQL store target (the store's
    ``create_run(..., run_id=)``), then its tags; None when the target is not a SQL store or the id is taken."""
    from fluvial.exceptions import ResourceAlreadyExists

    store = _sql_store(client)
    if store is None:
        return None
    run_id = str(info["run_id"])
    try:
        store.create_run(experiment_id, info["user_id"] or "", info["start_time"], [], info["run_name"] or None,
                         run_id=run_id)
    except ResourceAlreadyExists:
        return None
    items = [RunTag(k, v) for k, v in tags.items()]
    for i in range(0, len(items), TAG_CHUNK):
        client.log_batch(run_id, tags=items[i:i + TAG_CHUNK])
    return run_id


def remove_run(client: MlflowClient, run_id: str) -> None:
    """Remove a half-imported run: for good on a SQL store (its id can then be used again), else deleted."""
    store = _sql_store(client)
    if store is None:
        client.delete_run(run_id)
    else:
        store.hard_delete_run(run_id)
