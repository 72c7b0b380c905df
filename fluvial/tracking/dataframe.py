"""``search_runs`` results as the pandas DataFrame MLflow users know (reference §10.5)."""

from __future__ import annotations

from typing import Any

from fluvial._internal.lazy import require
from fluvial.entities import Run

INFO_COLUMNS = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]


def runs_to_dataframe(runs: list[Run]) -> Any:
    pd = require("pandas", "data")
    info: dict[str, list[Any]] = {c: [] for c in INFO_COLUMNS}
    metric_keys: dict[str, None] = {}
    param_keys: dict[str, None] = {}
    tag_keys: dict[str, None] = {}
    for run in runs:  # column order = first time each key is seen
        for m in run.data.metric_list:
            metric_keys.setdefault(m.key)
        for p in run.data.param_list:
            param_keys.setdefault(p.key)
        for t in run.data.tag_list:
            tag_keys.setdefault(t.key)
    metrics: dict[str, list[Any]] = {k: [] for k in metric_keys}
    params: dict[str, list[Any]] = {k: [] for k in param_keys}
    tags: dict[str, list[Any]] = {k: [] for k in tag_keys}
    nan = float("nan")
    for run in runs:
        i = run.info
        info["run_id"].append(i.run_id)
        info["experiment_id"].append(i.experiment_id)
        info["status"].append(i.status)
        info["artifact_uri"].append(i.artifact_uri)
        info["start_time"].append(i.start_time)
        info["end_time"].append(i.end_time)
        run_metrics, run_params, run_tags = run.data.metrics, run.data.params, run.data.tags
        for k, col in metrics.items():
            col.append(run_metrics.get(k, nan))
        for k, col in params.items():
            col.append(run_params.get(k))
        for k, col in tags.items():
            col.append(run_tags.get(k))
    data: dict[str, Any] = {
        "run_id": pd.Series(info["run_id"], dtype=object),
        "experiment_id": pd.Series(info["experiment_id"], dtype=object),
        "status": pd.Series(info["status"], dtype=object),
        "artifact_uri": pd.Series(info["artifact_uri"], dtype=object),
        "start_time": pd.to_datetime(pd.Series(info["start_time"], dtype="float64"), unit="ms", utc=True),
        "end_time": pd.to_datetime(pd.Series(info["end_time"], dtype="float64"), unit="ms", utc=True),
    }
    for k, col in metrics.items():
        data[f"metrics.{k}"] = pd.Series(col, dtype="float64")
    for k, col in params.items():
        data[f"params.{k}"] = pd.Series(col, dtype=object)
    for k, col in tags.items():
        data[f"tags.{k}"] = pd.Series(col, dtype=object)
    return pd.DataFrame(data)
