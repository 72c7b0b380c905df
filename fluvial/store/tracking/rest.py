"""The REST tracking store: ``http(s)://`` tracking URIs, talking MLflow's REST API 2.0 to a
``fluvial server`` or an ``mlflow server``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fluvial._internal import validation as v
from fluvial.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from fluvial.exceptions import InvalidParameterValue, NotImplementedFeature, ResourceDoesNotExist
from fluvial.store.rest import RestClient
from fluvial.store.tracking.base import SEARCH_MAX_RESULTS_DEFAULT, TrackingStore
from fluvial.transport.base import Transport
from fluvial.wire.entities import (
    dataset_input_to_json,
    experiment_from_json,
    metric_from_json,
    metric_to_json,
    run_from_json,
    run_info_from_json,
)

HISTORY_PAGE = 25_000


def _tags(tags: Sequence[Any]) -> list[dict[str, str]]:
    return [{"key": t.key, "value": t.value} for t in tags]


def _metric_json(m: Metric) -> dict[str, Any]:
    """A metric as JSON, after the same value checks the server makes (a bad value never leaves)."""
    v.validate_key(m.key, "metric")
    return metric_to_json(Metric(m.key, v.metric_value(m.key, m.value), v.metric_timestamp(m.key, m.timestamp),
                                 v.metric_step(m.key, m.step)))


def _view(view_type: int) -> str:
    return ViewType(int(view_type)).name


class RestTrackingStore(TrackingStore):
    def __init__(self, store_uri: str, artifact_uri: str | None = None, transport: Transport | None = None) -> None:
        self.client = RestClient(store_uri, transport)
        self.store_uri = store_uri

    def _call(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.client.call(name, payload)

    # ---- experiments ---------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[ExperimentTag] | None = None
    ) -> str:
        v.experiment_name(name)
        v.artifact_location(artifact_location)
        body = self._call("CreateExperiment", {"name": name, "artifact_location": artifact_location,
                                               "tags": _tags(tags or [])})
        return str(body["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        return experiment_from_json(self._call("GetExperiment", {"experiment_id": str(experiment_id)})["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            body = self._call("GetExperimentByName", {"experiment_name": name})
        except ResourceDoesNotExist:
            return None
        return experiment_from_json(body["experiment"])

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        body = self._call("SearchExperiments", {
            "view_type": _view(view_type), "max_results": max_results, "filter": filter_string,
            "order_by": list(order_by or []), "page_token": page_token,
        })
        found = [experiment_from_json(e) for e in body.get("experiments", [])]
        return PagedList(found, body.get("next_page_token") or None)

    def delete_experiment(self, experiment_id: str) -> None:
        self._call("DeleteExperiment", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self._call("RestoreExperiment", {"experiment_id": str(experiment_id)})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._call("UpdateExperiment", {"experiment_id": str(experiment_id), "new_name": new_name})

    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None:
        self._call("SetExperimentTag", {"experiment_id": str(experiment_id), "key": tag.key, "value": tag.value})

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._call("DeleteExperimentTag", {"experiment_id": str(experiment_id), "key": key})

    # ---- runs ----------------------------------------------------------------------------------
    def create_run(
        self, experiment_id: str, user_id: str, start_time: int | None, tags: Sequence[RunTag], run_name: str | None
    ) -> Run:
        body = self._call("CreateRun", {
            "experiment_id": str(experiment_id), "user_id": user_id, "start_time": start_time,
            "tags": _tags(tags), "run_name": run_name,
        })
        return run_from_json(body["run"])

    def get_run(self, run_id: str) -> Run:
        return run_from_json(self._call("GetRun", {"run_id": run_id, "run_uuid": run_id})["run"])

    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        if run_status is not None and not isinstance(run_status, str):
            run_status = RunStatus(run_status).name
        body = self._call("UpdateRun", {"run_id": run_id, "run_uuid": run_id, "status": run_status,
                                        "end_time": end_time, "run_name": run_name})
        return run_info_from_json(body["run_info"])

    def delete_run(self, run_id: str) -> None:
        self._call("DeleteRun", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._call("RestoreRun", {"run_id": run_id})

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        body = self._call("SearchRuns", {
            "experiment_ids": [str(x) for x in experiment_ids], "filter": filter_string or "",
            "run_view_type": _view(run_view_type), "max_results": max_results,
            "order_by": list(order_by or []), "page_token": page_token,
        })
        return PagedList([run_from_json(r) for r in body.get("runs", [])], body.get("next_page_token") or None)

    # ---- logging -------------------------------------------------------------------------------
    def log_metric(self, run_id: str, metric: Metric) -> None:
        self._call("LogMetric", {"run_id": run_id, "run_uuid": run_id, **_metric_json(metric)})

    def log_param(self, run_id: str, param: Param) -> None:
        # long values are truncated (or refused) here: the server refuses them whole
        value = v.param_value(param.key, param.value) if isinstance(param.key, str) else param.value
        self._call("LogParam", {"run_id": run_id, "run_uuid": run_id, "key": param.key, "value": value})

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        value = v.tag_value(tag.key, tag.value) if isinstance(tag.key, str) else tag.value
        self._call("SetTag", {"run_id": run_id, "run_uuid": run_id, "key": tag.key, "value": value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call("DeleteTag", {"run_id": run_id, "key": key})

    def log_batch(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        params = [Param(p.key, v.param_value(p.key, p.value)) if isinstance(p.key, str) else p for p in params]
        tags = [RunTag(t.key, v.tag_value(t.key, t.value)) if isinstance(t.key, str) else t for t in tags]
        self._call("LogBatch", {
            "run_id": run_id, "metrics": [_metric_json(m) for m in metrics],
            "params": _tags(params), "tags": _tags(tags),
        })

    def log_batch_unbounded(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        """Any number of items, split into requests within the server's limits. Everything is checked
        before the first request is sent (keys, values, and param values against those already
        logged), so a batch that would fail part-way stores nothing."""
        metrics, params, tags = list(metrics), list(params), list(tags)
        fits = (len(metrics) <= v.MAX_METRICS_PER_BATCH and len(params) <= v.MAX_PARAMS_TAGS_PER_BATCH
                and len(tags) <= v.MAX_PARAMS_TAGS_PER_BATCH
                and len(metrics) + len(params) + len(tags) <= v.MAX_ENTITIES_PER_BATCH)
        if fits:
            self.log_batch(run_id, metrics, params, tags)
            return
        v.unique_param_keys(p.key for p in params)
        params = [Param(p.key, v.param_value(p.key, p.value)) for p in params]
        tags = [RunTag(t.key, v.tag_value(t.key, t.value)) for t in tags]
        for p in params:
            v.validate_key(p.key, "param")
        for t in tags:
            v.validate_key(t.key, "tag")
        for m in metrics:
            _metric_json(m)
        run = self.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise InvalidParameterValue(
                f"The run {run_id} must be in the 'active' state. Current state is {run.info.lifecycle_stage}."
            )
        existing = run.data.params
        changed = [{"key": p.key, "old_value": existing[p.key], "new_value": p.value}
                   for p in params if p.key in existing and existing[p.key] != p.value]
        if changed:
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Params were already logged='{changed}' for run ID='{run_id}'."
            )
        step = v.MAX_PARAMS_TAGS_PER_BATCH
        for i in range(0, len(params), step):
            self.log_batch(run_id, [], params[i : i + step], [])
        for i in range(0, len(tags), step):
            self.log_batch(run_id, [], [], tags[i : i + step])
        for i in range(0, len(metrics), v.MAX_METRICS_PER_BATCH):
            self.log_batch(run_id, metrics[i : i + v.MAX_METRICS_PER_BATCH], [], [])

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self._call("LogInputs", {"run_id": run_id, "datasets": [dataset_input_to_json(d) for d in datasets]})

    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Metric]:
        body = self._call("GetMetricHistory", {
            "run_id": run_id, "run_uuid": run_id, "metric_key": metric_key,
            "max_results": max_results or HISTORY_PAGE, "page_token": page_token,
        })
        return PagedList([metric_from_json(m) for m in body.get("metrics", [])], body.get("next_page_token") or None)

    # ---- fluvial-only extensions (a fluvial server answers them; an mlflow server does not) ------
    def count_runs(
        self, experiment_ids: Sequence[str], filter_string: str = "", run_view_type: int = ViewType.ACTIVE_ONLY
    ) -> int:
        body = self._call("CountRuns", {"experiment_ids": [str(x) for x in experiment_ids],
                                        "filter": filter_string or "", "run_view_type": _view(run_view_type)})
        return int(body.get("count", 0))

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
        from fluvial.search.downsample import check_arguments

        check_arguments(x_axis, start, end, max_points)
        body = self._call("GetMetricHistoryReduced", {
            "run_id": run_id, "metric_key": metric_key, "x_axis": x_axis, "start": start, "end": end,
            "max_points": max_points,
        })
        points = [metric_from_json(m) for m in body.get("metrics", [])]
        return points, bool(body.get("reduced", False)), int(body.get("total", len(points)))

    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        self._call("LogModel", {"run_id": run_id, "model_json": json.dumps(model_dict)})

    # ---- garbage collection: only with direct database access ---------------------------------
    def _no_gc(self) -> NotImplementedFeature:
        return NotImplementedFeature(
            "Permanent deletion needs direct access to the tracking database: run `fluvial gc "
            "--backend-store-uri <database URL>` where the database is reachable."
        )

    def deleted_run_ids(self, older_than_ms: int | None = None) -> list[str]:
        raise self._no_gc()

    def hard_delete_run(self, run_id: str) -> None:
        raise self._no_gc()

    def hard_delete_experiment(self, experiment_id: str) -> None:
        raise self._no_gc()
