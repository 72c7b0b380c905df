"""``Dataset``: a dataset's name, digest, source, schema and profile, as logged with ``log_input``."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from fluvial.data.dataset_source import DatasetSource
from fluvial.entities import Dataset as DatasetEntity


class Dataset(ABC):
    """Base of datasets. Subclasses set their data attributes, then call ``super().__init__`` (the
    digest is computed from the data when not given)."""

    def __init__(self, source: DatasetSource, name: str | None = None, digest: str | None = None):
        self._name = name
        self._source = source
        self._digest = digest or self._compute_digest()

    @abstractmethod
    def _compute_digest(self) -> str:
        """A short fingerprint of the data (8 hex characters for the built-in datasets)."""

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "digest", "source" (JSON string), "source_type"}``; subclasses add ``schema`` and
        ``profile`` (JSON strings)."""
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self.source.to_json(),
            "source_type": self.source._get_source_type(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @property
    def name(self) -> str:
        """The dataset's name; ``"dataset"`` when none was given."""
        return self._name if self._name is not None else "dataset"

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def source(self) -> DatasetSource:
        return self._source

    @property
    @abstractmethod
    def profile(self) -> Any:
        """Summary statistics (e.g. ``{"num_rows": ..., "num_elements": ...}``), or None."""

    @property
    @abstractmethod
    def schema(self) -> Any:
        """The dataset's schema, or None when it cannot be inferred."""

    def _to_mlflow_entity(self) -> DatasetEntity:
        """The ``fluvial.entities.Dataset`` stored by ``log_input``."""
        d = self.to_dict()
        return DatasetEntity(
            name=d["name"],
            digest=d["digest"],
            source_type=d["source_type"],
            source=d["source"],
            schema=d.get("schema"),
            profile=d.get("profile"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} digest={self.digest!r} source_type={self.source._get_source_type()!r}>"


def resolve_source(source: Any) -> DatasetSource:
    """A DatasetSource from ``source=``: an instance as it is, a URI or path resolved through the
    registry, and None as the code that is running (the run context tags)."""
    from fluvial.data.sources import CodeDatasetSource, resolve_dataset_source

    if source is None:
        from fluvial.tracking.context import default_run_tags

        return CodeDatasetSource(tags=default_run_tags())
    if isinstance(source, DatasetSource):
        return source
    return resolve_dataset_source(source)


def infer_schema(data: Any) -> Any:
    """``fluvial.models.signature._infer_schema`` (the same inference as ``infer_signature``)."""
    from fluvial.models.signature import _infer_schema

    return _infer_schema(data)
