"""Experiments and their tags."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExperimentTag:
    key: str
    value: str


@dataclass
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None

    @property
    def _tags(self) -> dict[str, str]:  # MLflow exposes both spellings
        return self.tags
