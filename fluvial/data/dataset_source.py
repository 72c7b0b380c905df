"""``DatasetSource``: where a dataset came from (a file, a bucket, a URL, the code that built it)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any


class DatasetSource(ABC):
    """Base of dataset sources. A source is stored with a run's dataset as ``source_type`` (from
    :meth:`_get_source_type`) and ``source`` (the JSON of :meth:`to_dict`)."""

    @staticmethod
    @abstractmethod
    def _get_source_type() -> str:
        """The stored type name, e.g. ``"local"``, ``"s3"``, ``"http"``, ``"code"``."""

    @abstractmethod
    def load(self, *args: Any, **kwargs: Any) -> Any:
        """Fetch what the source refers to (e.g. download a file and return its local path)."""

    @staticmethod
    @abstractmethod
    def _can_resolve(raw_source: Any) -> bool:
        """True when :meth:`_resolve` can build this kind of source from ``raw_source`` (e.g. a URI)."""

    @classmethod
    @abstractmethod
    def _resolve(cls, raw_source: Any) -> DatasetSource:
        """Build the source from a raw value such as ``"s3://bucket/iris.csv"``."""

    @abstractmethod
    def to_dict(self) -> dict[Any, Any]:
        """A JSON-compatible mapping describing the source."""

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    @abstractmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> DatasetSource:
        """The source back from :meth:`to_dict`'s mapping."""

    @classmethod
    def from_json(cls, source_json: str) -> DatasetSource:
        return cls.from_dict(json.loads(source_json))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, json.dumps(self.to_dict(), sort_keys=True, default=str)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"
