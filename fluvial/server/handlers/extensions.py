"""fluvial-only endpoints (under ``/api/2.0/fluvial/`` and ``/ajax-api/2.0/fluvial/``): run counts and
the downsampled metric history for charts."""

from __future__ import annotations

from typing import Any

from fluvial.entities import ViewType
from fluvial.server.config import Stores
from fluvial.server.handlers import handler
from fluvial.server.handlers.runs import run_id_of
from fluvial.wire.entities import metric_to_json


@handler("CountRuns")
def count_runs(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    count = stores.tracking.count_runs(
        req.get("experiment_ids", []), req.get("filter") or "", req.get("run_view_type", ViewType.ACTIVE_ONLY)
    )
    return {"count": count}


@handler("GetMetricHistoryReduced")
def get_metric_history_reduced(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    points, reduced, total = stores.tracking.get_metric_history_reduced(
        run_id_of(req), req["metric_key"], x_axis=req.get("x_axis") or "step", start=req.get("start"),
        end=req.get("end"), max_points=req.get("max_points", 1000),
    )
    return {"metrics": [metric_to_json(m) for m in points], "reduced": reduced, "total": total}
