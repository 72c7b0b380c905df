"""MLflow 3.x endpoints: logged models (``/mlflow/logged-models...``), run outputs, server-info.

An MLflow 3 client creates a logged model on every ``log_model``, uploads the model's files to the
model's ``artifact_location`` (``<experiment location>/models/<model_id>/artifacts``, proxied like
run artifacts), links it to the run (``runs/outputs``) and copies the run's metrics of that step to
it (``log-batch`` with ``model_id``). ``runs:/<run_id>/<name>`` URIs then resolve through
``logged-models/search`` with ``name = '<name>'``. Storage: ``store/tracking/sql/logged_models.py``.
"""

from __future__ import annotations

from typing import Any

from fluvial.entities import LifecycleStage
from fluvial.exceptions import InvalidParameterValue, NotImplementedFeature
from fluvial.server.config import Stores
from fluvial.server.handlers import handler
from fluvial.wire.endpoints import LoggedModelStatus
from fluvial.wire.entities import file_info_to_json
from fluvial.wire.fields import encode_double, missing


def model_store(stores: Stores) -> Any:
    """The logged-model store next to the server's tracking store (SQL stores only)."""
    engine = getattr(stores.tracking, "engine", None)
    if engine is None:
        raise NotImplementedFeature("Logged models (MLflow 3.x) need a SQL backend store.")
    from fluvial.store.tracking.sql import logged_models

    return logged_models.for_engine(engine)


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != ""}


def model_to_json(m: Any) -> dict[str, Any]:
    """A logged model as MLflow 3's ``LoggedModel`` message (``info`` + ``data``)."""
    info = _drop_empty({
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_timestamp,
        "last_updated_timestamp_ms": m.last_updated_timestamp,
        "artifact_uri": m.artifact_location,
        "status": LoggedModelStatus(m.status).name,
        "model_type": m.model_type,
        "source_run_id": m.source_run_id,
        "status_message": m.status_message,
        "tags": [{"key": k, "value": v} for k, v in m.tags.items()],
    })
    metrics = [
        _drop_empty({"key": x.key, "value": encode_double(x.value), "timestamp": x.timestamp, "step": x.step,
                     "dataset_name": x.dataset_name, "dataset_digest": x.dataset_digest, "model_id": x.model_id,
                     "run_id": x.run_id})
        for x in m.metrics
    ]
    data = _drop_empty({"params": [{"key": k, "value": v} for k, v in m.params.items()], "metrics": metrics})
    return {"info": info, "data": data}


def _pairs(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(i["key"], i.get("value", "")) for i in items]


@handler("CreateLoggedModel")
def create_logged_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    model = model_store(stores).create(
        req["experiment_id"], req.get("name") or None, req.get("model_type"), req.get("source_run_id"),
        _pairs(req.get("params", [])), _pairs(req.get("tags", [])),
    )
    return {"model": model_to_json(model)}


@handler("GetLoggedModel")
def get_logged_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"model": model_to_json(model_store(stores).get(req["model_id"], bool(req.get("allow_deleted"))))}


@handler("FinalizeLoggedModel")
def finalize_logged_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"model": model_to_json(model_store(stores).finalize(req["model_id"], int(req["status"])))}


@handler("DeleteLoggedModel")
def delete_logged_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    model_store(stores).delete(req["model_id"])
    return {}


@handler("SetLoggedModelTags")
def set_logged_model_tags(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    model_store(stores).set_tags(req["model_id"], _pairs(req.get("tags", [])))
    return {}


@handler("DeleteLoggedModelTag")
def delete_logged_model_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    model_store(stores).delete_tag(req["model_id"], req["tag_key"])
    return {}


@handler("LogLoggedModelParams")
def log_logged_model_params(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    model_store(stores).log_params(req["model_id"], _pairs(req.get("params", [])))
    return {}


@handler("SearchLoggedModels")
def search_logged_models(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    if not req.get("experiment_ids"):
        raise missing("experiment_ids")
    order_by = req.get("order_by", [])
    if len(order_by) > stores.config.max_order_by_clauses:
        raise InvalidParameterValue(f"{len(order_by)} order_by clauses given; the limit is "
                                    f"{stores.config.max_order_by_clauses}.")
    filter_string = req.get("filter")
    if filter_string and len(filter_string) > stores.config.max_filter_length:
        raise InvalidParameterValue(f"The filter string is {len(filter_string)} characters long; the limit is "
                                    f"{stores.config.max_filter_length}.")
    page = model_store(stores).search(
        req["experiment_ids"], filter_string, req.get("datasets", []), req.get("max_results") or None, order_by,
        req.get("page_token"),
    )
    out: dict[str, Any] = {}
    if page:
        out["models"] = [model_to_json(m) for m in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


@handler("ListLoggedModelArtifacts")
def list_logged_model_artifacts(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    from fluvial._internal.paths import validate_relative_path
    from fluvial.server.handlers.artifacts import run_artifact_repository  # artifacts -> runs -> this module

    model = model_store(stores).get(req["model_id"])
    path = validate_relative_path(req.get("artifact_directory_path"))
    files = run_artifact_repository(stores, model.artifact_location).list_artifacts(path or None)
    out: dict[str, Any] = {"root_uri": model.artifact_location}
    if files:
        out["files"] = [file_info_to_json(f) for f in files]
    return out


@handler("GetServerInfo")
def get_server_info(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """Capabilities, as MLflow 3 reports them: no workspaces, multipart or presigned transfers here."""
    return {
        "store_type": "SqlStore" if getattr(stores.tracking, "engine", None) is not None else None,
        "workspaces_enabled": False,
        "trace_archival_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "presigned_upload_run_id_supported": False,
        "presigned_upload_model_id_supported": False,
        "features_enabled": {"gateway": False},
    }


# ---- runs <-> models ----------------------------------------------------------------------------
def _active_run(stores: Stores, run_id: str) -> None:
    run = stores.tracking.get_run(run_id)
    if run.info.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidParameterValue(
            f"The run {run_id} must be in the 'active' state. Current state is {run.info.lifecycle_stage}."
        )


@handler("LogOutputs")
def log_outputs(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    models = req.get("models", [])
    if not models:
        raise missing("models")
    _active_run(stores, req["run_id"])
    model_store(stores).link_run(req["run_id"], "output", [(m["model_id"], m.get("step", 0)) for m in models])
    return {}


def log_model_inputs(stores: Stores, run_id: str, models: list[dict[str, Any]]) -> None:
    """``log-inputs`` with ``models`` (MLflow 3): the run used these logged models."""
    _active_run(stores, run_id)
    model_store(stores).link_run(run_id, "input", [(m["model_id"], 0) for m in models])


def model_metrics(stores: Stores, run_id: str, metrics: list[dict[str, Any]]) -> list[Any]:
    """The metrics sent with a ``model_id`` (MLflow 3), which also become that logged model's metrics.
    Checks that those models exist, so call it before the run's metrics are stored."""
    from fluvial.store.tracking.sql.logged_models import ModelMetric

    linked = [
        ModelMetric(m["key"], m["value"], m["timestamp"], m.get("step", 0), run_id, m["model_id"],
                    m.get("dataset_name"), m.get("dataset_digest"))
        for m in metrics if m.get("model_id")
    ]
    if linked:
        model_store(stores).require({m.model_id for m in linked})
    return linked


def log_model_metrics(stores: Stores, run_id: str, linked: list[Any]) -> None:
    """Store what :func:`model_metrics` returned, once the run's own metrics are stored."""
    if linked:
        model_store(stores).log_metrics(run_id, linked)


def add_model_links(stores: Stores, runs: list[dict[str, Any]]) -> None:
    """Fill ``outputs.model_outputs`` and ``inputs.model_inputs`` of run JSON objects (MLflow 3 fields;
    a 2.x client ignores them). Nothing is added for runs without logged models."""
    if not runs or getattr(stores.tracking, "engine", None) is None:
        return
    links = model_store(stores).run_links([r["info"]["run_id"] for r in runs])
    for run in runs:
        found = links.get(run["info"]["run_id"])
        if not found:
            continue
        if found.get("output"):
            run["outputs"] = {"model_outputs": [{"model_id": mid, "step": step} for mid, step in found["output"]]}
        if found.get("input"):
            run.setdefault("inputs", {})["model_inputs"] = [{"model_id": mid} for mid, _ in found["input"]]
