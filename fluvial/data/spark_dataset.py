"""``SparkDataset``: a pyspark DataFrame logged as a run input (MLflow's ``mlflow.data.spark_dataset``).

Its digest is MLflow's: the MD5 digest of the DataFrame's semantic hash (equal plans, equal digests; the
data is not read). Its profile is ``{"approx_count": n}``, an approximate row count that waits at most
5 s (``"unknown"`` when Spark reports none), and its schema the ColSpecs ``infer_signature`` gives a Spark
DataFrame. Only the DataFrame form exists here: no Delta or Spark-table sources (``from_spark``)."""

from __future__ import annotations

import json
import logging
from functools import cached_property
from typing import Any

from fluvial.data.dataset import Dataset, infer_schema
from fluvial.data.dataset_source import DatasetSource
from fluvial.data.digest_utils import get_normalized_md5_digest
from fluvial.exceptions import InvalidParameterValue

_logger = logging.getLogger(__name__)
_COUNT_TIMEOUT_MS = 5000
_COUNT_CONFIDENCE = 0.9


class SparkDataset(Dataset):
    """A Spark DataFrame as a run input. ``targets`` / ``predictions`` name columns of ``df``."""

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
                    f"The specified Spark dataset does not contain the specified {what} column '{column}'.")
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source=source, name=name, digest=digest)

    def _compute_digest(self) -> str:
        import numpy as np

        return get_normalized_md5_digest([np.int64(self._df.semanticHash())])

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

    @property
    def profile(self) -> dict[str, Any] | None:
        try:
            count = self._df.rdd.countApprox(_COUNT_TIMEOUT_MS, _COUNT_CONFIDENCE)
        except Exception as e:
            _logger.warning("Could not compute the Spark dataset's profile: %s", e)
            return None
        return {"approx_count": int(count) if count > 0 else "unknown"}

    @cached_property
    def schema(self) -> Any:
        """The column schema, or None when it cannot be inferred."""
        try:
            return infer_schema(self._df)
        except Exception as e:
            _logger.warning("Failed to infer schema for Spark dataset. Exception: %s", e)
            return None
