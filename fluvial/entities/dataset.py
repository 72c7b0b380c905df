"""Datasets linked to runs as inputs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class InputTag:
    key: str
    value: str


@dataclass(frozen=True)
class DatasetInput:
    dataset: Dataset
    tags: tuple[InputTag, ...] | list[InputTag] = field(default_factory=tuple)
