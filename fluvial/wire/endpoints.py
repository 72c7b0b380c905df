"""THE endpoint table of MLflow's REST API: the server's routes and the REST client both come from it.

Paths are relative to ``/api/<version>`` (and ``/ajax-api/<version>`` for the UI twin).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fluvial.entities import RunStatus, ViewType
from fluvial.wire.access import (
    EDIT_EXPERIMENT,
    EDIT_LOGGED_MODEL,
    EDIT_RUN,
    MANAGE_EXPERIMENT,
    MANAGE_LOGGED_MODEL,
    MANAGE_RUN,
    READ_EXPERIMENT,
    READ_EXPERIMENTS,
    READ_LOGGED_MODEL,
    READ_RUN,
    USER,
    Access,
    filtered,
    read,
)
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
    # what the caller needs (fluvial/wire/access.py); None refuses to start the server
    access: Access | None = None

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
             {"name": string(required=True), "artifact_location": string(), "tags": message(TAG, repeated=True)}, access=USER),
    Endpoint("GetExperiment", ("GET",), "/mlflow/experiments/get", {"experiment_id": string(required=True)}, access=READ_EXPERIMENT),
    Endpoint("GetExperimentByName", ("GET",), "/mlflow/experiments/get-by-name",
             {"experiment_name": string(required=True)}, access=read("experiment_name")),
    Endpoint("SearchExperiments", ("POST", "GET"), "/mlflow/experiments/search",
             {"max_results": int64(), "page_token": string(), "filter": string(),
              "order_by": string(repeated=True), "view_type": enum_of(ViewType)}, access=filtered("experiments")),
    Endpoint("UpdateExperiment", ("POST",), "/mlflow/experiments/update",
             {"experiment_id": string(required=True), "new_name": string(required=True)}, access=EDIT_EXPERIMENT),
    Endpoint("DeleteExperiment", ("POST",), "/mlflow/experiments/delete", {"experiment_id": string(required=True)}, access=MANAGE_EXPERIMENT),
    Endpoint("RestoreExperiment", ("POST",), "/mlflow/experiments/restore", {"experiment_id": string(required=True)}, access=MANAGE_EXPERIMENT),
    Endpoint("SetExperimentTag", ("POST",), "/mlflow/experiments/set-experiment-tag",
             {"experiment_id": string(required=True), "key": string(required=True), "value": string()}, access=EDIT_EXPERIMENT),
    Endpoint("DeleteExperimentTag", ("POST",), "/mlflow/experiments/delete-experiment-tag",
             {"experiment_id": string(required=True), "key": string(required=True)}, access=EDIT_EXPERIMENT),
    Endpoint("CreateRun", ("POST",), "/mlflow/runs/create",
             {"experiment_id": string(), "user_id": string(), "run_name": string(), "start_time": int64(),
              "tags": message(TAG, repeated=True)}, access=EDIT_EXPERIMENT),
    Endpoint("GetRun", ("GET",), "/mlflow/runs/get", RUN_ID, access=READ_RUN),
    Endpoint("UpdateRun", ("POST",), "/mlflow/runs/update",
             {**RUN_ID, "status": enum_of(RunStatus), "end_time": int64(), "run_name": string()}, access=EDIT_RUN),
    Endpoint("DeleteRun", ("POST",), "/mlflow/runs/delete", {"run_id": string(required=True)}, access=MANAGE_RUN),
    Endpoint("RestoreRun", ("POST",), "/mlflow/runs/restore", {"run_id": string(required=True)}, access=MANAGE_RUN),
    Endpoint("SearchRuns", ("POST",), "/mlflow/runs/search",
             {"experiment_ids": string(repeated=True), "filter": string(), "run_view_type": enum_of(ViewType),
              "max_results": int32(), "order_by": string(repeated=True), "page_token": string()}, access=READ_EXPERIMENTS),
    Endpoint("LogMetric", ("POST",), "/mlflow/runs/log-metric",
             {**RUN_ID, "key": string(required=True), "value": double(required=True),
              "timestamp": int64(required=True), "step": int64()}, access=EDIT_RUN),
    Endpoint("LogParam", ("POST",), "/mlflow/runs/log-parameter",
             {**RUN_ID, "key": string(required=True), "value": string()}, access=EDIT_RUN),
    Endpoint("LogBatch", ("POST",), "/mlflow/runs/log-batch",
             {"run_id": string(required=True), "metrics": message(METRIC, repeated=True),
              "params": message(TAG, repeated=True), "tags": message(TAG, repeated=True)}, access=EDIT_RUN),
    Endpoint("SetTag", ("POST",), "/mlflow/runs/set-tag", {**RUN_ID, "key": string(required=True), "value": string()}, access=EDIT_RUN),
    Endpoint("DeleteTag", ("POST",), "/mlflow/runs/delete-tag",
             {"run_id": string(required=True), "key": string(required=True)}, access=EDIT_RUN),
    Endpoint("LogInputs", ("POST",), "/mlflow/runs/log-inputs",
             {"run_id": string(required=True), "datasets": message(DATASET_INPUT, repeated=True)}, access=EDIT_RUN),
    Endpoint("LogModel", ("POST",), "/mlflow/runs/log-model",
             {"run_id": string(required=True), "model_json": string(required=True)}, access=EDIT_RUN),
    Endpoint("GetMetricHistory", ("GET",), "/mlflow/metrics/get-history",
             {**RUN_ID, "metric_key": string(required=True), "page_token": string(), "max_results": int32()}, access=READ_RUN),
    Endpoint("GetMetricHistoryBulkInterval", ("GET",), "/mlflow/metrics/get-history-bulk-interval",
             {"run_ids": string(repeated=True), "metric_key": string(required=True), "start_step": int32(),
              "end_step": int32(), "max_results": int32()}, access=read("runs", "run_ids")),
    Endpoint("GetMetricHistoryBulk", ("GET",), "/mlflow/metrics/get-history-bulk",
             {"run_id": string(repeated=True), "metric_key": string(required=True), "max_results": int32()},
             ajax_only=True, access=read("runs", "run_id")),
    Endpoint("ListArtifacts", ("GET",), "/mlflow/artifacts/list", {**RUN_ID, "path": string(), "page_token": string()}, access=READ_RUN),
    Endpoint("SearchDatasets", ("POST",), "/mlflow/experiments/search-datasets",
             {"experiment_ids": string(repeated=True)}, ajax_only=True, access=READ_EXPERIMENTS),
    # MLflow's UI lists AI gateway endpoints here; fluvial has no gateway (GET: none; POST: 501): no data
    Endpoint("GatewayProxy", ("GET", "POST"), "/mlflow/gateway-proxy", {"gateway_path": string()}, ajax_only=True,
             access=USER),
]

# fluvial-only extensions: under /api/2.0/fluvial/... and /ajax-api/2.0/fluvial/..., never under mlflow/.
# GET with a query string, or POST with a JSON body.
FLUVIAL: list[Endpoint] = [
    Endpoint("CountRuns", ("GET", "POST"), "/fluvial/runs/count",
             {"experiment_ids": string(repeated=True), "filter": string(), "run_view_type": enum_of(ViewType)},
             access=READ_EXPERIMENTS),
    Endpoint("GetMetricHistoryReduced", ("GET", "POST"), "/fluvial/metrics/get-history-reduced",
             {**RUN_ID, "metric_key": string(required=True), "x_axis": string(), "start": double(),
              "end": double(), "max_points": int32()}, access=READ_RUN),
]

ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in TRACKING + FLUVIAL}


def register(endpoints: list[Endpoint]) -> None:
    """Add endpoints (the registry and artifact tables register themselves here)."""
    for endpoint in endpoints:
        ENDPOINTS[endpoint.name] = endpoint


__all__ = ["ENDPOINTS", "Endpoint", "Routes", "boolean", "fill_path", "path_parameters", "register"]


# ==================================================================================================
# MLflow 3.x: what the 3.x client (checked against 3.17.2) calls on a tracking server, beyond 2.x.
#
# Logged models live under /api/2.0 (declared "since 2.0" by MLflow 3); their paths carry
# parameters in braces, filled from the URL by the server; ``{name:path}`` also takes slashes (tag
# keys like "a/b"; MLflow's own server refuses those). 3.x adds optional fields to Metric, LogMetric and
# LogInputs; the 2.x endpoints above are re-registered here with them (unknown to a 2.x client).
# ==================================================================================================
class LoggedModelStatus(enum.IntEnum):
    LOGGED_MODEL_STATUS_UNSPECIFIED = 0
    LOGGED_MODEL_PENDING = 1
    LOGGED_MODEL_READY = 2
    LOGGED_MODEL_UPLOAD_FAILED = 3


MODEL_METRIC_FIELDS = {"dataset_name": string(), "dataset_digest": string(), "model_id": string()}
METRIC_V3 = {**METRIC, **MODEL_METRIC_FIELDS, "run_id": string()}
MODEL_PARAM = {"key": string(required=True), "value": string()}
MODEL_ID = {"model_id": string(required=True)}

MLFLOW_3: list[Endpoint] = [
    Endpoint("LogMetric", ("POST",), "/mlflow/runs/log-metric",
             {**RUN_ID, "key": string(required=True), "value": double(required=True),
              "timestamp": int64(required=True), "step": int64(), **MODEL_METRIC_FIELDS}, access=EDIT_RUN),
    Endpoint("LogBatch", ("POST",), "/mlflow/runs/log-batch",
             {"run_id": string(required=True), "metrics": message(METRIC_V3, repeated=True),
              "params": message(TAG, repeated=True), "tags": message(TAG, repeated=True)}, access=EDIT_RUN),
    Endpoint("LogInputs", ("POST",), "/mlflow/runs/log-inputs",
             {"run_id": string(required=True), "datasets": message(DATASET_INPUT, repeated=True),
              "models": message({"model_id": string(required=True)}, repeated=True)}, access=EDIT_RUN),
    Endpoint("LogOutputs", ("POST",), "/mlflow/runs/outputs",
             {"run_id": string(required=True),
              "models": message({"model_id": string(required=True), "step": int64()}, repeated=True)}, access=EDIT_RUN),
    Endpoint("CreateLoggedModel", ("POST",), "/mlflow/logged-models",
             {"experiment_id": string(required=True), "name": string(), "model_type": string(),
              "source_run_id": string(), "params": message(MODEL_PARAM, repeated=True),
              "tags": message(TAG, repeated=True)}, access=EDIT_EXPERIMENT),
    Endpoint("SearchLoggedModels", ("POST",), "/mlflow/logged-models/search",
             {"experiment_ids": string(repeated=True), "filter": string(),
              "datasets": message({"dataset_name": string(required=True), "dataset_digest": string()},
                                  repeated=True),
              "max_results": int32(),
              "order_by": message({"field_name": string(required=True), "ascending": boolean(),
                                   "dataset_name": string(), "dataset_digest": string()}, repeated=True),
              "page_token": string()}, access=READ_EXPERIMENTS),
    Endpoint("GetLoggedModel", ("GET",), "/mlflow/logged-models/{model_id}",
             {**MODEL_ID, "allow_deleted": boolean()}, access=READ_LOGGED_MODEL),
    Endpoint("FinalizeLoggedModel", ("PATCH",), "/mlflow/logged-models/{model_id}",
             {**MODEL_ID, "status": enum_of(LoggedModelStatus, required=True)}, access=EDIT_LOGGED_MODEL),
    Endpoint("DeleteLoggedModel", ("DELETE",), "/mlflow/logged-models/{model_id}", MODEL_ID, access=MANAGE_LOGGED_MODEL),
    Endpoint("SetLoggedModelTags", ("PATCH",), "/mlflow/logged-models/{model_id}/tags",
             {**MODEL_ID, "tags": message(TAG, repeated=True)}, access=EDIT_LOGGED_MODEL),
    Endpoint("DeleteLoggedModelTag", ("DELETE",), "/mlflow/logged-models/{model_id}/tags/{tag_key:path}",
             {**MODEL_ID, "tag_key": string(required=True)}, access=EDIT_LOGGED_MODEL),
    Endpoint("LogLoggedModelParams", ("POST",), "/mlflow/logged-models/{model_id}/params",
             {**MODEL_ID, "params": message(MODEL_PARAM, repeated=True)}, access=EDIT_LOGGED_MODEL),
    Endpoint("ListLoggedModelArtifacts", ("GET",), "/mlflow/logged-models/{model_id}/artifacts/directories",
             {**MODEL_ID, "artifact_directory_path": string(), "page_token": string()}, access=READ_LOGGED_MODEL),
    # Plain JSON (no protobuf message): what the server supports; 3.x clients probe it before
    # choosing multipart/presigned artifact transfers and workspaces.
    Endpoint("GetServerInfo", ("GET",), "/mlflow/server-info", {}, version="3.0", access=USER),
]
register(MLFLOW_3)

# ==================================================================================================
# fluvial-only endpoints for the web UI, under /ajax-api/2.0/fluvial/ui/... (never under mlflow/).
# ==================================================================================================
UI_COLUMNS = {"params": string(repeated=True), "metrics": string(repeated=True), "tags": string(repeated=True)}
UI_SEARCH = {"experiment_ids": string(repeated=True), "filter": string(), "run_view_type": enum_of(ViewType),
             "start_time_after": int64()}

FLUVIAL_UI: list[Endpoint] = [
    Endpoint("UiRunsPage", ("POST",), "/fluvial/ui/runs-page",
             {"experiment_ids": string(repeated=True), "filter": string(), "order_by": string(repeated=True),
              "run_view_type": enum_of(ViewType), "page_token": string(), "max_results": int32(),
              "columns": message(UI_COLUMNS), "start_time_after": int64(), "with_count": boolean()},
             ajax_only=True,
             access=READ_EXPERIMENTS),
    Endpoint("UiCompare", ("POST", "GET"), "/fluvial/ui/compare", {"run_ids": string(repeated=True)},
             ajax_only=True, access=read("runs", "run_ids")),
    Endpoint("UiColumns", ("GET", "POST"), "/fluvial/ui/columns", {"experiment_ids": string(repeated=True)},
             ajax_only=True, access=READ_EXPERIMENTS),
    Endpoint("UiGroups", ("POST",), "/fluvial/ui/groups",
             {**UI_SEARCH, "group_by": string(), "metrics": string(repeated=True)}, ajax_only=True,
             access=READ_EXPERIMENTS),
    Endpoint("UiGroupRuns", ("POST",), "/fluvial/ui/group-runs",
             {**UI_SEARCH, "group_by": string(), "value": string(), "no_value": boolean(), "page_token": string(),
              "max_results": int32(), "columns": message(UI_COLUMNS)}, ajax_only=True, access=READ_EXPERIMENTS),
    Endpoint("UiNesting", ("POST",), "/fluvial/ui/nesting",
             {**UI_SEARCH, "run_ids": string(repeated=True), "parent_ids": string(repeated=True)}, ajax_only=True,
             access=READ_EXPERIMENTS),
    Endpoint("UiArtifactPreview", ("GET",), "/fluvial/ui/artifact-preview",
             {"run_id": string(), "path": string(), "max_rows": int32()}, ajax_only=True, access=READ_RUN),
]
register(FLUVIAL_UI)

_PARAM = re.compile(r"\{(\w+)(:path)?\}")


def path_parameters(path: str) -> list[str]:
    """The names of the parameters in an endpoint path (``{model_id}`` -> ``model_id``)."""
    return [m.group(1) for m in _PARAM.finditer(path)]


def fill_path(path: str, values: dict[str, Any]) -> str:
    """An endpoint path with its parameters replaced by URL-quoted values (client side)."""
    return _PARAM.sub(lambda m: quote(str(values[m.group(1)]), safe="/" if m.group(2) else ""), path)


def _compile(path: str) -> re.Pattern[str]:
    pattern, end = "", 0
    for m in _PARAM.finditer(path):
        pattern += re.escape(path[end:m.start()]) + f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})"
        end = m.end()
    return re.compile(pattern + re.escape(path[end:]) + "$")


class Routes:
    """Finds the endpoints at a request path: literal paths first, then paths with parameters.

    Several endpoints may share a path with different methods (logged models: GET, PATCH, DELETE)."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.literal: dict[tuple[str, str], list[Endpoint]] = {}
        templates: dict[tuple[str, str], list[Endpoint]] = {}
        for e in endpoints:
            table = templates if "{" in e.path else self.literal
            table.setdefault((e.version, e.path), []).append(e)
        self.templates: list[tuple[str, re.Pattern[str], list[Endpoint]]] = []
        # more literal text first, so ".../{model_id}/tags" is tried before ".../{model_id}"
        for (version, path), group in sorted(templates.items(), key=lambda kv: -len(_PARAM.sub("", kv[0][1]))):
            self.templates.append((version, _compile(path), group))

    def match(self, version: str, path: str) -> tuple[list[Endpoint], dict[str, str]]:
        """(endpoints at that path, path parameters); no endpoints when nothing matches."""
        found = self.literal.get((version, path))
        if found:
            return found, {}
        for v, pattern, group in self.templates:
            if v == version and (m := pattern.match(path)):
                return group, m.groupdict()
        return [], {}

from fluvial.wire import auth_endpoints, registry_endpoints  # noqa: E402,F401
