"""``SparkDataset``: a pyspark DataFrame logged as a run input (MLflow's ``mlflow.data.spark_dataset``).

Its digest is MLflow's: the MD5 digest of the DataFrame's semantic hash (equal plans, equal digests; the
data is not read). Its profile is ``{"approx_count": n}``, an approximate row count that waits at most
5 s (``"unknown"`` when Spark reports none), and its schema the ColSpecs ``infer_signature`` gives a Spark
DataFrame. Only the DataFrame form exists here: no Delta or Spark-table sources (``from_spark``)."""

from __future__ import annotations

import logging
from typing import Any

from fluvial.data.digest_utils import get_normalized_md5_digest
from fluvial.data.frame_dataset import FrameDataset

_logger = logging.getLogger(__name__)
_COUNT_TIMEOUT_MS = 5000
_COUNT_CONFIDENCE = 0.9


class SparkDataset(FrameDataset):
    """A Spark DataFrame as a run input. ``targets`` / ``predictions`` name columns of ``df``."""

    FRAME_KIND = "Spark dataset"
    DATASET_KIND = "Spark dataset"

    def _compute_digest(self) -> str:
        import numpy as np

        return get_normalized_md5_digest([np.int64(self._df.semanticHash())])

    @property
    def profile(self) -> dict[str, Any] | None:
        try:
            count = self._df.rdd.countApprox(_COUNT_TIMEOUT_MS, _COUNT_CONFIDENCE)
        except Exception as e:
            _logger.warning("Could not compute the Spark dataset's profile: %s", e)
            return None
        return {"approx_count": int(count) if count > 0 else "unknown"}

