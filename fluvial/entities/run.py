"""Runs: RunInfo (identity and lifecycle), RunData (metrics, params, tags), RunInputs (datasets)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fluvial.entities.dataset import DatasetInput
from fluvial.entities.metric import Metric, Param, RunTag


@dataclass
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass
class RunData:
    """``metrics`` holds the latest value per key; ``*_list`` keep the entity objects."""

    metric_list: list[Metric] = field(default_factory=list)
    param_list: list[Param] = field(default_factory=list)
    tag_list: list[RunTag] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, float]:
        return {m.key: m.value for m in self.metric_list}

    @property
    def params(self) -> dict[str, str]:
        return {p.key: p.value for p in self.param_list}

    @property
    def tags(self) -> dict[str, str]:
        return {t.key: t.value for t in self.tag_list}

    @property
    def _metric_objs(self) -> list[Metric]:
        return self.metric_list


@dataclass
class RunInputs:
    dataset_inputs: list[DatasetInput] = field(default_factory=list)


@dataclass
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)
