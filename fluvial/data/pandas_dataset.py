"""``PandasDataset`` and ``from_pandas``."""

from __future__ import annotations

import json
import logging
from functools import cached_property
from typing import Any, NamedTuple

from fluvial.data.dataset import Dataset, infer_schema, resolve_source
from fluvial.data.dataset_source import DatasetSource
from fluvial.data.digest_utils import compute_pandas_digest
from fluvial.exceptions import InvalidParameterValue

_logger = logging.getLogger(__name__)


class PyFuncInputsOutputs(NamedTuple):
    inputs: Any
    outputs: Any = None


class PandasDataset(Dataset):
    """A pandas DataFrame logged as a run input. ``targets`` / ``predictions`` name columns of ``df``."""

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
                    f"The specified pandas DataFrame does not contain the specified {what} column '{column}'."
                )
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source=source, name=name, digest=digest)

    def _compute_digest(self) -> str:
        return compute_pandas_digest(self._df)

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
    def profile(self) -> dict[str, int]:
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    @cached_property
    def schema(self) -> Any:
        """The column schema (as ``infer_signature`` infers it), or None when it cannot be inferred."""
        try:
            return infer_schema(self._df)
        except Exception as e:
            _logger.warning("Failed to infer schema for Pandas dataset. Exception: %s", e)
            return None

    def to_pyfunc(self) -> PyFuncInputsOutputs:
        """``(inputs, outputs)``: the frame without the targets column, and that column."""
        if self._targets:
            return PyFuncInputsOutputs(self._df.drop(columns=[self._targets]), self._df[self._targets])
        return PyFuncInputsOutputs(self._df)


def from_pandas(
    df: Any,
    source: str | DatasetSource | None = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """A :class:`PandasDataset` for ``df``. ``source`` is a URI or path (``"s3://b/iris.csv"``,
    ``"/tmp/iris.csv"``, ``"https://..."``), a DatasetSource, or None for the code that runs."""
    return PandasDataset(
        df=df, source=resolve_source(source), targets=targets, name=name, digest=digest, predictions=predictions
    )
