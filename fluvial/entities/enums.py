"""Enumerations shared by every layer. Values are MLflow's wire names and numbers."""

from __future__ import annotations

import enum


class RunStatus(enum.IntEnum):
    RUNNING = 1
    SCHEDULED = 2
    FINISHED = 3
    FAILED = 4
    KILLED = 5

    @classmethod
    def from_string(cls, name: str) -> RunStatus:
        try:
            return cls[name]
        except KeyError:
            raise ValueError(f"Invalid run status {name!r}; expected one of {[s.name for s in cls]}") from None

    @classmethod
    def to_string(cls, status: int) -> str:
        return cls(status).name

    @classmethod
    def is_terminated(cls, status: RunStatus | str) -> bool:
        name = status if isinstance(status, str) else status.name
        return name in ("FINISHED", "FAILED", "KILLED")

    @classmethod
    def all_status(cls) -> list[int]:
        return [int(s) for s in cls]


class SourceType(enum.IntEnum):
    NOTEBOOK = 1
    JOB = 2
    PROJECT = 3
    LOCAL = 4
    UNKNOWN = 1000

    @classmethod
    def from_string(cls, name: str) -> SourceType:
        return cls[name]

    @classmethod
    def to_string(cls, value: int) -> str:
        return cls(value).name


class ViewType(enum.IntEnum):
    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @classmethod
    def from_string(cls, name: str) -> ViewType:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"Invalid view type {name!r}; expected one of {[v.name for v in cls]}") from None

    @classmethod
    def to_string(cls, value: int) -> str:
        return cls(value).name


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"

    @classmethod
    def view_type_to_stages(cls, view_type: int = ViewType.ACTIVE_ONLY) -> list[str]:
        view_type = ViewType(view_type)
        if view_type == ViewType.ACTIVE_ONLY:
            return [cls.ACTIVE]
        if view_type == ViewType.DELETED_ONLY:
            return [cls.DELETED]
        return [cls.ACTIVE, cls.DELETED]

    @classmethod
    def is_valid(cls, stage: str) -> bool:
        return stage in (cls.ACTIVE, cls.DELETED)

    @classmethod
    def matches_view_type(cls, view_type: int, stage: str) -> bool:
        return stage in cls.view_type_to_stages(view_type)


class ModelVersionStatus(enum.IntEnum):
    PENDING_REGISTRATION = 1
    FAILED_REGISTRATION = 2
    READY = 3

    @classmethod
    def from_string(cls, name: str) -> ModelVersionStatus:
        return cls[name]

    @classmethod
    def to_string(cls, value: int) -> str:
        return cls(value).name
