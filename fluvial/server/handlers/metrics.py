"""Metric history endpoints."""

from __future__ import annotations

from typing import Any

from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.server.config import Stores
from fluvial.server.handlers import handler
from fluvial.server.handlers.runs import run_id_of
from fluvial.wire.entities import metric_to_json
from fluvial.wire.fields import missing

MAX_HISTORY_PAGE = 25_000
MAX_BULK_RUNS = 100
MAX_RESULTS_PER_RUN = 2500


@handler("GetMetricHistory")
def get_metric_history(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    max_results = req.get("max_results")
    if max_results is not None and max_results <= 0:
        max_results = None
    page = stores.tracking.get_metric_history(run_id_of(req), req["metric_key"], max_results, req.get("page_token"))
    out: dict[str, Any] = {}
    if page:
        out["metrics"] = [metric_to_json(m) for m in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def _bulk(stores: Stores, run_ids: list[str], key: str, max_results: int) -> list[tuple[str, Any]]:
    if not run_ids:
        raise InvalidParameterValue("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise InvalidParameterValue(f"GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} run_ids.")
    points = []
    for run_id in sorted(set(run_ids)):
        try:
            history = stores.tracking.get_metric_history(run_id, key, max_results)
        except ResourceDoesNotExist:  # as MLflow: a run that does not exist has no points
            continue
        points += [(run_id, m) for m in history]
    return points


@handler("GetMetricHistoryBulk")
def get_metric_history_bulk(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    max_results = min(req.get("max_results") or MAX_HISTORY_PAGE, MAX_HISTORY_PAGE)
    points = _bulk(stores, req.get("run_id", []), req["metric_key"], max_results)
    points.sort(key=lambda p: (p[0], p[1].timestamp, p[1].step, p[1].value))
    return {"metrics": [{**metric_to_json(m), "run_id": run_id} for run_id, m in points[:max_results]]}


@handler("GetMetricHistoryBulkInterval")
def get_metric_history_bulk_interval(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """MLflow's sampling of several runs' histories for charts; the SQL store picks the steps in SQL."""
    run_ids = req.get("run_ids", [])
    if not run_ids:
        raise missing("run_ids")
    if len(run_ids) > MAX_BULK_RUNS:
        raise InvalidParameterValue(f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} "
                                    f"run_ids. Received {len(run_ids)} run_ids.")
    start, end = req.get("start_step"), req.get("end_step")
    if (start is None) != (end is None):
        raise InvalidParameterValue("If either start step or end step are specified, both must be specified.")
    if start is not None and end is not None and start > end:
        raise InvalidParameterValue(
            f"end_step must be greater than start_step. Found start_step={start} and end_step={end}.")
    max_results = req.get("max_results", MAX_RESULTS_PER_RUN)
    if not 1 <= max_results <= MAX_RESULTS_PER_RUN:
        raise InvalidParameterValue(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")
    points = stores.tracking.get_metric_history_bulk_interval(run_ids, req["metric_key"], start, end, max_results)
    if not points:
        return {}
    return {"metrics": [{**metric_to_json(m), "run_id": run_id} for run_id, m in points]}
