"""Experiment endpoints."""

from __future__ import annotations

from typing import Any

from fluvial.entities import ExperimentTag, ViewType
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.server.config import Stores
from fluvial.server.handlers import handler
from fluvial.server.handlers.limits import check_artifact_location, check_search_args
from fluvial.wire.entities import experiment_to_json

MAX_DATASET_EXPERIMENTS = 20


@handler("CreateExperiment")
def create_experiment(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    location = req.get("artifact_location") or None
    check_artifact_location(stores.config, location)
    tags = [ExperimentTag(t["key"], t.get("value", "")) for t in req.get("tags", [])]
    return {"experiment_id": stores.tracking.create_experiment(req["name"], location, tags)}


@handler("GetExperiment")
def get_experiment(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"experiment": experiment_to_json(stores.tracking.get_experiment(req["experiment_id"]))}


@handler("GetExperimentByName")
def get_experiment_by_name(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    found = stores.tracking.get_experiment_by_name(req["experiment_name"])
    if found is None:
        raise ResourceDoesNotExist(f"Could not find experiment with name '{req['experiment_name']}'")
    return {"experiment": experiment_to_json(found)}


@handler("SearchExperiments")
def search_experiments(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    order_by = req.get("order_by", [])
    check_search_args(stores.config, req.get("filter"), order_by)
    if "max_results" not in req:
        raise InvalidParameterValue("Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer")
    page = stores.tracking.search_experiments(
        req.get("view_type", ViewType.ACTIVE_ONLY), req["max_results"], req.get("filter"), order_by, req.get("page_token")
    )
    out: dict[str, Any] = {"experiments": [experiment_to_json(e) for e in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


@handler("UpdateExperiment")
def update_experiment(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.rename_experiment(req["experiment_id"], req["new_name"])
    return {}


@handler("DeleteExperiment")
def delete_experiment(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.delete_experiment(req["experiment_id"])
    return {}


@handler("RestoreExperiment")
def restore_experiment(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.restore_experiment(req["experiment_id"])
    return {}


@handler("SetExperimentTag")
def set_experiment_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.set_experiment_tag(req["experiment_id"], ExperimentTag(req["key"], req.get("value", "")))
    return {}


@handler("DeleteExperimentTag")
def delete_experiment_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    stores.tracking.delete_experiment_tag(req["experiment_id"], req["key"])
    return {}


@handler("SearchDatasets")
def search_datasets(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """MLflow's UI-only dataset summaries of experiments (``/ajax-api/2.0/mlflow/experiments/search-datasets``)."""
    experiment_ids = req.get("experiment_ids", [])
    if not experiment_ids:
        raise InvalidParameterValue("SearchDatasets request must specify at least one experiment_id.")
    if len(experiment_ids) > MAX_DATASET_EXPERIMENTS:
        raise InvalidParameterValue(f"SearchDatasets request cannot specify more than {MAX_DATASET_EXPERIMENTS} "
                                    f"experiment_ids. Received {len(experiment_ids)} experiment_ids.")
    summaries = [{"experiment_id": d.experiment_id, "name": d.name, "digest": d.digest,
                  **({"context": d.context} if d.context is not None else {})}
                 for d in stores.tracking.search_datasets(experiment_ids)]
    return {"dataset_summaries": summaries} if summaries else {}
