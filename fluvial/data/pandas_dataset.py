"""``PandasDataset`` and ``from_pandas``."""

from __future__ import annotations

from typing import Any, NamedTuple

from fluvial.data.dataset import resolve_source
from fluvial.data.dataset_source import DatasetSource
from fluvial.data.digest_utils import compute_pandas_digest
from fluvial.data.frame_dataset import FrameDataset


class PyFuncInputsOutputs(NamedTuple):
    inputs: Any
    outputs: Any = None


class PandasDataset(FrameDataset):
    """A pandas DataFrame logged as a run input. ``targets`` / ``predictions`` name columns of ``df``."""

    FRAME_KIND = "pandas DataFrame"
    DATASET_KIND = "Pandas dataset"

    def _compute_digest(self) -> str:
        return compute_pandas_digest(self._df)

    @property
    def profile(self) -> dict[str, int]:
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

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
