"""Run endpoints: create, read, update, delete, search, and logging to runs."""

from __future__ import annotations

import json
from typing import Any

from fluvial.entities import DatasetInput, Metric, Param, RunStatus, RunTag, ViewType
from fluvial.exceptions import InvalidParameterValue
from fluvial.server.config import Stores
from fluvial.server.handlers import handler
from fluvial.server.handlers.limits import check_search_args
from fluvial.server.handlers.logged_models import (
    add_model_links,
    log_model_inputs,
    log_model_metrics,
    model_metrics,
)
from fluvial.wire.entities import dataset_input_from_json, run_info_to_json, run_to_json
from fluvial.wire.fields import missing


def run_id_of(req: dict[str, Any]) -> str:
    """``run_id``, falling back to the legacy ``run_uuid``; one of them is required."""
    run_id = req.get("run_id") or req.get("run_uuid")
    if not run_id:
        raise missing("run_id")
    return run_id


@handler("CreateRun")
def create_run(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    tags = [RunTag(t["key"], t.get("value", "")) for t in req.get("tags", [])]
    user_id = req.get("user_id", "")
    run = stores.tracking.create_run(
        req.get("experiment_id") or "0", user_id, req.get("start_time", 0), tags, req.get("run_name") or None
    )
    return {"run": run_to_json(run)}


@handler("GetRun")
def get_run(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    run = run_to_json(stores.tracking.get_run(run_id_of(req)))
    add_model_links(stores, [run])
    return {"run": run}


@handler("UpdateRun")
def update_run(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    status = req.get("status")
    info = stores.tracking.update_run_info(
        run_id_of(req), RunStatus(status).name if status is not None else None, req.get("end_time"),
        req.get("run_name") or None,
    )
    return {"run_info": run_info_to_json(info)}


@handler("DeleteRun")
def delete_run(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.delete_run(req["run_id"])
    return {}


@handler("RestoreRun")
def restore_run(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.restore_run(req["run_id"])
    return {}


@handler("SearchRuns")
def search_runs(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    order_by = req.get("order_by", [])
    check_search_args(stores.config, req.get("filter"), order_by)
    page = stores.tracking.search_runs(
        req.get("experiment_ids", []), req.get("filter"), req.get("run_view_type", ViewType.ACTIVE_ONLY),
        req.get("max_results", 1000), order_by, req.get("page_token"),
    )
    out: dict[str, Any] = {}
    if page:
        out["runs"] = [run_to_json(r) for r in page]
        add_model_links(stores, out["runs"])
    if page.token:
        out["next_page_token"] = page.token
    return out


@handler("LogMetric")
def log_metric(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    run_id = run_id_of(req)
    linked = model_metrics(stores, run_id, [req]) if req.get("model_id") else []  # MLflow 3: a model's metric too
    stores.tracking.log_metric(run_id, Metric(req["key"], req["value"], req["timestamp"], req.get("step", 0)))
    log_model_metrics(stores, run_id, linked)
    return {}


@handler("LogParam")
def log_param(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.log_param(run_id_of(req), Param(req["key"], req.get("value", "")))
    return {}


@handler("SetTag")
def set_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.set_tag(run_id_of(req), RunTag(req["key"], req.get("value", "")))
    return {}


@handler("DeleteTag")
def delete_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.delete_tag(req["run_id"], req["key"])
    return {}


@handler("LogBatch")
def log_batch(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    linked = model_metrics(stores, req["run_id"], req.get("metrics", []))  # MLflow 3: metrics with a model_id
    stores.tracking.log_batch(
        req["run_id"],
        [Metric(m["key"], m["value"], m["timestamp"], m.get("step", 0)) for m in req.get("metrics", [])],
        [Param(p["key"], p.get("value", "")) for p in req.get("params", [])],
        [RunTag(t["key"], t.get("value", "")) for t in req.get("tags", [])],
    )
    log_model_metrics(stores, req["run_id"], linked)
    return {}


@handler("LogInputs")
def log_inputs(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    datasets: list[DatasetInput] = [dataset_input_from_json(d) for d in req.get("datasets", [])]
    models = req.get("models", [])  # MLflow 3: logged models the run used
    if not datasets and not models:
        raise missing("datasets")
    if datasets:
        stores.tracking.log_inputs(req["run_id"], datasets)
    if models:
        log_model_inputs(stores, req["run_id"], models)
    return {}


_MODEL_FIELDS = ("artifact_path", "flavors", "utc_time_created", "run_id")


@handler("LogModel")
def log_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    try:
        model = json.loads(req["model_json"])
    except ValueError:
        raise InvalidParameterValue("Malformed model info. `model_json` must be a valid JSON string.") from None
    if not isinstance(model, dict) or any(f not in model for f in _MODEL_FIELDS):
        raise InvalidParameterValue(f"Model json is missing mandatory fields: {list(_MODEL_FIELDS)}")
    entry = {k: model.get(k) for k in ("run_id", "artifact_path", "utc_time_created", "model_uuid", "flavors")}
    stores.tracking.record_logged_model(req["run_id"], entry)
    return {}
