"""``FrameDataset``: what a DataFrame logged as a run input has whatever its library (pandas, Spark):
the frame, its ``targets`` / ``predictions`` columns (checked to exist), the inferred column schema, and
MLflow's ``to_dict`` with ``schema`` and ``profile`` as JSON. Subclasses give the digest and profile."""

from __future__ import annotations

import json
import logging
from functools import cached_property
from typing import Any

from fluvial.data.dataset import Dataset, infer_schema
from fluvial.data.dataset_source import DatasetSource
from fluvial.exceptions import InvalidParameterValue

_logger = logging.getLogger(__name__)


class FrameDataset(Dataset):
    """A DataFrame as a run input. ``targets`` / ``predictions`` name columns of ``df``."""

    FRAME_KIND = "DataFrame"  # MLflow's messages name the frame: a missing column ...
    DATASET_KIND = "dataset"  # ... and a schema that cannot be inferred

    def __init__(
        self,
        df: Any,
        source: DatasetSource,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ):
        for what, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                raise InvalidParameterValue(
                    f"The specified {self.FRAME_KIND} does not contain the specified {what} column '{column}'."
                )
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source=source, name=name, digest=digest)

    def to_dict(self) -> dict[str, Any]:
        """Adds ``schema`` (``{"mlflow_colspec": [...]}`` as JSON, or None) and ``profile`` (JSON)."""
        schema = self.schema
        config = super().to_dict()
        config["schema"] = json.dumps({"mlflow_colspec": schema.to_dict()}) if schema else None
        config["profile"] = json.dumps(self.profile)
        return config

    @property
    def df(self) -> Any:
        return self._df

    @property
    def targets(self) -> str | None:
        return self._targets

    @property
    def predictions(self) -> str | None:
        return self._predictions

    @cached_property
    def schema(self) -> Any:
        """The column schema (as ``infer_signature`` infers it), or None when it cannot be inferred."""
        try:
            return infer_schema(self._df)
        except Exception as e:
            _logger.warning("Failed to infer schema for %s. Exception: %s", self.DATASET_KIND, e)
            return None
