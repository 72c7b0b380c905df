"""THE endpoint table of MLflow's REST API: the server's routes and the REST client both come from it.

Paths are relative to ``/api/<version>`` (and ``/ajax-api/<version>`` for the UI twin).
"""

from __future__ import annotations

from dataclasses import dataclass

from fluvial.entities import RunStatus, ViewType
from fluvial.wire.fields import (
    Field,
    boolean,
    double,
    enum_of,
    int32,
    int64,
    message,
    string,
)


@dataclass(frozen=True)
class Endpoint:
    name: str  # the RPC name, e.g. "CreateRun"; also the handler's key
    methods: tuple[str, ...]  # the first one is what the client sends
    path: str  # e.g. "/mlflow/runs/create"
    request: dict[str, Field]
    version: str = "2.0"
    ajax_only: bool = False  # only under /ajax-api (UI helpers)

    @property
    def method(self) -> str:
        return self.methods[0]


TAG = {"key": string(required=True), "value": string()}
METRIC = {"key": string(required=True), "value": double(required=True), "timestamp": int64(required=True),
          "step": int64()}
DATASET = {
    "name": string(required=True),
    "digest": string(required=True),
    "source_type": string(required=True),
    "source": string(required=True),
    "schema": string(),
    "profile": string(),
}
DATASET_INPUT = {"tags": message({"key": string(required=True), "value": string(required=True)}, repeated=True),
                 "dataset": message(DATASET, required=True)}
RUN_ID = {"run_id": string(), "run_uuid": string()}

TRACKING: list[Endpoint] = [
    Endpoint("CreateExperiment", ("POST",), "/mlflow/experiments/create",
             {"name": string(required=True), "artifact_location": string(), "tags": message(TAG, repeated=True)}),
    Endpoint("GetExperiment", ("GET",), "/mlflow/experiments/get", {"experiment_id": string(required=True)}),
    Endpoint("GetExperimentByName", ("GET",), "/mlflow/experiments/get-by-name",
             {"experiment_name": string(required=True)}),
    Endpoint("SearchExperiments", ("POST", "GET"), "/mlflow/experiments/search",
             {"max_results": int64(), "page_token": string(), "filter": string(),
              "order_by": string(repeated=True), "view_type": enum_of(ViewType)}),
    Endpoint("UpdateExperiment", ("POST",), "/mlflow/experiments/update",
             {"experiment_id": string(required=True), "new_name": string(required=True)}),
    Endpoint("DeleteExperiment", ("POST",), "/mlflow/experiments/delete", {"experiment_id": string(required=True)}),
    Endpoint("RestoreExperiment", ("POST",), "/mlflow/experiments/restore", {"experiment_id": string(required=True)}),
    Endpoint("SetExperimentTag", ("POST",), "/mlflow/experiments/set-experiment-tag",
             {"experiment_id": string(required=True), "key": string(required=True), "value": string()}),
    Endpoint("DeleteExperimentTag", ("POST",), "/mlflow/experiments/delete-experiment-tag",
             {"experiment_id": string(required=True), "key": string(required=True)}),
    Endpoint("CreateRun", ("POST",), "/mlflow/runs/create",
             {"experiment_id": string(), "user_id": string(), "run_name": string(), "start_time": int64(),
              "tags": message(TAG, repeated=True)}),
    Endpoint("GetRun", ("GET",), "/mlflow/runs/get", RUN_ID),
    Endpoint("UpdateRun", ("POST",), "/mlflow/runs/update",
             {**RUN_ID, "status": enum_of(RunStatus), "end_time": int64(), "run_name": string()}),
    Endpoint("DeleteRun", ("POST",), "/mlflow/runs/delete", {"run_id": string(required=True)}),
    Endpoint("RestoreRun", ("POST",), "/mlflow/runs/restore", {"run_id": string(required=True)}),
    Endpoint("SearchRuns", ("POST",), "/mlflow/runs/search",
             {"experiment_ids": string(repeated=True), "filter": string(), "run_view_type": enum_of(ViewType),
              "max_results": int32(), "order_by": string(repeated=True), "page_token": string()}),
    Endpoint("LogMetric", ("POST",), "/mlflow/runs/log-metric",
             {**RUN_ID, "key": string(required=True), "value": double(required=True),
              "timestamp": int64(required=True), "step": int64()}),
    Endpoint("LogParam", ("POST",), "/mlflow/runs/log-parameter",
             {**RUN_ID, "key": string(required=True), "value": string()}),
    Endpoint("LogBatch", ("POST",), "/mlflow/runs/log-batch",
             {"run_id": string(required=True), "metrics": message(METRIC, repeated=True),
              "params": message(TAG, repeated=True), "tags": message(TAG, repeated=True)}),
    Endpoint("SetTag", ("POST",), "/mlflow/runs/set-tag", {**RUN_ID, "key": string(required=True), "value": string()}),
    Endpoint("DeleteTag", ("POST",), "/mlflow/runs/delete-tag",
             {"run_id": string(required=True), "key": string(required=True)}),
    Endpoint("LogInputs", ("POST",), "/mlflow/runs/log-inputs",
             {"run_id": string(required=True), "datasets": message(DATASET_INPUT, repeated=True)}),
    Endpoint("LogModel", ("POST",), "/mlflow/runs/log-model",
             {"run_id": string(required=True), "model_json": string(required=True)}),
    Endpoint("GetMetricHistory", ("GET",), "/mlflow/metrics/get-history",
             {**RUN_ID, "metric_key": string(required=True), "page_token": string(), "max_results": int32()}),
    Endpoint("GetMetricHistoryBulkInterval", ("GET",), "/mlflow/metrics/get-history-bulk-interval",
             {"run_ids": string(repeated=True), "metric_key": string(required=True), "start_step": int32(),
              "end_step": int32(), "max_results": int32()}),
    Endpoint("GetMetricHistoryBulk", ("GET",), "/mlflow/metrics/get-history-bulk",
             {"run_id": string(repeated=True), "metric_key": string(required=True), "max_results": int32()},
             ajax_only=True),
    Endpoint("ListArtifacts", ("GET",), "/mlflow/artifacts/list", {**RUN_ID, "path": string(), "page_token": string()}),
    Endpoint("SearchDatasets", ("POST",), "/mlflow/experiments/search-datasets",
             {"experiment_ids": string(repeated=True)}, ajax_only=True),
]

ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in TRACKING}


def register(endpoints: list[Endpoint]) -> None:
    """Add endpoints (the registry and artifact tables register themselves here)."""
    for endpoint in endpoints:
        ENDPOINTS[endpoint.name] = endpoint


def by_route() -> dict[tuple[str, str], Endpoint]:
    """(version, path) -> endpoint, for the server's dispatcher."""
    return {(e.version, e.path): e for e in ENDPOINTS.values()}


__all__ = ["ENDPOINTS", "Endpoint", "boolean", "by_route", "register"]
