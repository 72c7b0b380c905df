"""The web UI's data endpoints (``/ajax-api/2.0/fluvial/ui/...``): a page of runs with only the columns
the table shows and the total count, up to 1000 runs for compare in one request, and the column keys of
experiments for the column picker. Built on the store's search; none of these are MLflow's API. And
MLflow's ``gateway-proxy``, which its UI asks for AI gateway endpoints."""

from __future__ import annotations

from typing import Any

from fluvial.entities import ViewType
from fluvial.exceptions import InvalidParameterValue, NotImplementedFeature
from fluvial.server.config import Stores
from fluvial.server.handlers import handler
from fluvial.server.handlers.limits import check_search_args
from fluvial.wire.entities import run_info_to_json, run_to_json
from fluvial.wire.fields import encode_double, missing

RUNS_PAGE_DEFAULT = 100
RUNS_PAGE_MAX = 5000
COMPARE_MAX = 1000
COLUMNS_MAX_EXPERIMENTS = 100


def _pick(values: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    return {k: values[k] for k in wanted if k in values}


def _search_args(stores: Stores, req: dict[str, Any]) -> tuple[list[str], str, int]:
    """(experiment ids, filter with the time preset's clause, view type) of a UI request, checked."""
    filter_string = req.get("filter") or ""
    if "start_time_after" in req:  # the time presets: runs started after a moment (ms since the epoch)
        clause = f"attributes.start_time > {int(req['start_time_after'])}"
        filter_string = f"{filter_string} and {clause}" if filter_string.strip() else clause
    check_search_args(stores.config, filter_string, req.get("order_by", []))
    return req.get("experiment_ids", []), filter_string, req.get("run_view_type", ViewType.ACTIVE_ONLY)


def _max_results(req: dict[str, Any]) -> int:
    max_results: int = req.get("max_results", RUNS_PAGE_DEFAULT)
    if not 1 <= max_results <= RUNS_PAGE_MAX:
        raise InvalidParameterValue(f"max_results must be between 1 and {RUNS_PAGE_MAX}, got {max_results}.")
    return max_results


def _rows(runs: Any, columns: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Runs as the table's rows: the run info and only the requested param/metric/tag columns."""
    params, metrics, tags = columns.get("params", []), columns.get("metrics", []), columns.get("tags", [])
    out = []
    for run in runs:
        data = run.data
        out.append({
            "info": run_info_to_json(run.info),
            "params": _pick(data.params, params),
            "metrics": {k: encode_double(v) for k, v in _pick(data.metrics, metrics).items()},
            "tags": _pick(data.tags, tags),
        })
    return out


def _structure(stores: Stores) -> Any:
    """The store's whole-result grouping and nesting queries (SQL stores)."""
    if not hasattr(stores.tracking, "ui_groups"):
        raise NotImplementedFeature("Grouping and nesting over the whole result need a SQL tracking store.")
    return stores.tracking


@handler("UiRunsPage")
def runs_page(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    experiment_ids, filter_string, view = _search_args(stores, req)
    max_results = _max_results(req)
    page = stores.tracking.search_runs(experiment_ids, filter_string, view, max_results, req.get("order_by", []),
                                       req.get("page_token"))
    out: dict[str, Any] = {"runs": _rows(page, req.get("columns", {}))}
    if req.get("with_count", True):  # the UI asks for the count once, beside the first page
        out["count"] = stores.tracking.count_runs(experiment_ids, filter_string, view)
    if page.token:
        out["next_page_token"] = page.token
    return out


def _group_by(req: dict[str, Any]) -> tuple[str, str]:
    kind, _, key = (req.get("group_by") or "").partition(":")
    if kind not in ("param", "tag") or not key:
        raise InvalidParameterValue("group_by must be 'param:<key>' or 'tag:<key>'.")
    return kind, key


@handler("UiGroups")
def groups(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """The result's groups by a param/tag value: size and aggregates of the requested metrics."""
    experiment_ids, filter_string, view = _search_args(stores, req)
    kind, key = _group_by(req)
    found, truncated = _structure(stores).ui_groups(experiment_ids, filter_string, view, kind, key,
                                                    req.get("metrics", []))
    for group in found:
        for aggregate in group["metrics"].values():
            if aggregate:
                for name in ("mean", "min", "max"):
                    aggregate[name] = encode_double(aggregate[name])
    return {"groups": found, "truncated": truncated}


@handler("UiGroupRuns")
def group_runs(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """The runs of one group (``no_value``: runs without the param/tag), newest first, in keyset pages."""
    experiment_ids, filter_string, view = _search_args(stores, req)
    kind, key = _group_by(req)
    value = None if req.get("no_value") else req.get("value", "")
    found, token = _structure(stores).ui_group_runs(experiment_ids, filter_string, view, kind, key, value,
                                                    _max_results(req), req.get("page_token"))
    out: dict[str, Any] = {"runs": _rows(found, req.get("columns", {}))}
    if token:
        out["next_page_token"] = token
    return out


@handler("UiNesting")
def nesting(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """For the loaded runs: how many runs of the result are each one's children, and which of the named
    parents are in the result (their children nest under them instead of showing at the top)."""
    experiment_ids, filter_string, view = _search_args(stores, req)
    counts, present = _structure(stores).ui_nesting(experiment_ids, filter_string, view, req.get("run_ids", []),
                                                    req.get("parent_ids", []))
    return {"child_counts": counts, "parents_in_result": present}


@handler("UiCompare")
def compare(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    run_ids = req.get("run_ids", [])
    if not run_ids:
        raise missing("run_ids")
    if len(run_ids) > COMPARE_MAX:
        raise InvalidParameterValue(f"Compare takes at most {COMPARE_MAX} runs; {len(run_ids)} were given.")
    runs = stores.tracking.get_runs(run_ids)
    param_keys = sorted({k for r in runs for k in r.data.params})
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    out: dict[str, Any] = {"runs": [run_to_json(r) for r in runs], "param_keys": param_keys,
                           "metric_keys": metric_keys}
    found = {r.info.run_id for r in runs}
    missing_ids = [r for r in dict.fromkeys(run_ids) if r not in found]
    if missing_ids:
        out["missing_run_ids"] = missing_ids
    return out


@handler("UiColumns")
def columns(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    experiment_ids = req.get("experiment_ids", [])
    if not experiment_ids:
        raise missing("experiment_ids")
    if len(experiment_ids) > COLUMNS_MAX_EXPERIMENTS:
        raise InvalidParameterValue(
            f"Columns of at most {COLUMNS_MAX_EXPERIMENTS} experiments at once; {len(experiment_ids)} were given.")
    return dict(stores.tracking.run_column_keys(experiment_ids))


@handler("UiArtifactPreview")
def artifact_preview(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """The first rows of a run's Parquet artifact (``fluvial/server/ui/parquet.py``), read from the run's
    artifact store or the server's artifacts destination, as ``/get-artifact`` reads files."""
    from fluvial._internal.paths import validate_relative_path
    from fluvial.server.mlflow_ui_routes import _repository_at
    from fluvial.server.ui import parquet

    run_id = req.get("run_id") or ""
    if not run_id:
        raise missing("run_id")
    rel = validate_relative_path(req.get("path"))
    if not rel:
        raise missing("path")
    info = stores.tracking.get_run(run_id).info
    try:
        opened = _repository_at(stores, info.artifact_uri).open(rel)
    except OSError as exc:  # the artifact service's mapping: no such file, a folder, refused
        from fluvial.server.proxy import _os_error

        mapped = _os_error(exc, rel)
        if mapped is None:
            raise
        raise mapped from exc
    try:
        return parquet.preview(opened.stream, req.get("max_rows", parquet.DEFAULT_ROWS))
    finally:
        opened.close()


@handler("GatewayProxy")
def gateway_proxy(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """No AI gateway is ever configured on a fluvial server: the list of endpoints is empty (as MLflow
    answers without ``MLFLOW_DEPLOYMENTS_TARGET``), and requests to be proxied are refused."""
    if req.get("gateway_path", "").strip("/") in ("", "api/2.0/endpoints"):
        return {"endpoints": []}
    raise NotImplementedFeature(
        "This server has no AI gateway (MLflow deployments server) configured; fluvial does not proxy gateway "
        "requests.")
