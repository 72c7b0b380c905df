"""Entities to and from their JSON shapes (reference §2.2). Unset fields are omitted on the way out;
missing fields get protobuf defaults on the way in."""

from __future__ import annotations

from typing import Any

from fluvial.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)
from fluvial.wire.fields import _NON_FINITE, encode_double


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != []}


def _double_in(value: Any) -> float:
    if isinstance(value, str):
        return _NON_FINITE.get(value, float(value) if value else 0.0)
    return float(value) if value is not None else 0.0


# ---- experiments --------------------------------------------------------------------------------
def experiment_to_json(e: Experiment) -> dict[str, Any]:
    return _drop_none(
        {
            "experiment_id": e.experiment_id,
            "name": e.name,
            "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage,
            "last_update_time": e.last_update_time,
            "creation_time": e.creation_time,
            "tags": [{"key": k, "value": v} for k, v in e.tags.items()],
        }
    )


def experiment_from_json(d: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(d.get("experiment_id", "")),
        name=d.get("name", ""),
        artifact_location=d.get("artifact_location", ""),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        tags={t["key"]: t.get("value", "") for t in d.get("tags", [])},
        creation_time=_int_or_none(d.get("creation_time")),
        last_update_time=_int_or_none(d.get("last_update_time")),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


# ---- runs ---------------------------------------------------------------------------------------
def metric_to_json(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": encode_double(m.value), "timestamp": m.timestamp, "step": m.step}


def metric_from_json(d: dict[str, Any]) -> Metric:
    return Metric(d.get("key", ""), _double_in(d.get("value")), int(d.get("timestamp", 0)), int(d.get("step", 0)))


def run_info_to_json(i: RunInfo) -> dict[str, Any]:
    return _drop_none(
        {
            "run_uuid": i.run_id,
            "experiment_id": i.experiment_id,
            "run_name": i.run_name,
            "user_id": i.user_id,
            "status": i.status,
            "start_time": i.start_time,
            "end_time": i.end_time,
            "artifact_uri": i.artifact_uri,
            "lifecycle_stage": i.lifecycle_stage,
            "run_id": i.run_id,
        }
    )


def run_info_from_json(d: dict[str, Any]) -> RunInfo:
    end = d.get("end_time")
    return RunInfo(
        run_id=d.get("run_id") or d.get("run_uuid", ""),
        experiment_id=str(d.get("experiment_id", "")),
        run_name=d.get("run_name", ""),
        user_id=d.get("user_id", ""),
        status=d.get("status", "RUNNING") if not isinstance(d.get("status"), int) else _status_name(d["status"]),
        start_time=_int_or_none(d.get("start_time")),
        end_time=int(end) if end else None,  # proto default 0 means "not ended"
        artifact_uri=d.get("artifact_uri", ""),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
    )


def _status_name(number: int) -> str:
    from fluvial.entities import RunStatus

    return RunStatus(number).name


def dataset_input_to_json(di: DatasetInput) -> dict[str, Any]:
    ds = di.dataset
    return _drop_none(
        {
            "tags": [{"key": t.key, "value": t.value} for t in di.tags],
            "dataset": _drop_none(
                {
                    "name": ds.name,
                    "digest": ds.digest,
                    "source_type": ds.source_type,
                    "source": ds.source,
                    "schema": ds.schema,
                    "profile": ds.profile,
                }
            ),
        }
    )


def dataset_input_from_json(d: dict[str, Any]) -> DatasetInput:
    ds = d.get("dataset", {})
    return DatasetInput(
        Dataset(
            name=ds.get("name", ""),
            digest=ds.get("digest", ""),
            source_type=ds.get("source_type", ""),
            source=ds.get("source", ""),
            schema=ds.get("schema"),
            profile=ds.get("profile"),
        ),
        tuple(InputTag(t.get("key", ""), t.get("value", "")) for t in d.get("tags", [])),
    )


def run_to_json(r: Run) -> dict[str, Any]:
    data = _drop_none(
        {
            "metrics": [metric_to_json(m) for m in r.data.metric_list],
            "params": [{"key": p.key, "value": p.value} for p in r.data.param_list],
            "tags": [{"key": t.key, "value": t.value} for t in r.data.tag_list],
        }
    )
    inputs = _drop_none({"dataset_inputs": [dataset_input_to_json(di) for di in r.inputs.dataset_inputs]})
    return {"info": run_info_to_json(r.info), "data": data, "inputs": inputs}


def run_from_json(d: dict[str, Any]) -> Run:
    data = d.get("data", {})
    return Run(
        info=run_info_from_json(d.get("info", {})),
        data=RunData(
            [metric_from_json(m) for m in data.get("metrics", [])],
            [Param(p.get("key", ""), p.get("value", "")) for p in data.get("params", [])],
            [RunTag(t.get("key", ""), t.get("value", "")) for t in data.get("tags", [])],
        ),
        inputs=RunInputs([dataset_input_from_json(x) for x in d.get("inputs", {}).get("dataset_inputs", [])]),
    )


# ---- artifacts ----------------------------------------------------------------------------------
def file_info_to_json(f: FileInfo) -> dict[str, Any]:
    return _drop_none({"path": f.path, "is_dir": f.is_dir, "file_size": None if f.is_dir else f.file_size})


def file_info_from_json(d: dict[str, Any]) -> FileInfo:
    size = d.get("file_size")
    return FileInfo(d.get("path", ""), bool(d.get("is_dir", False)), int(size) if size is not None else None)
