"""``fluvial.data`` (MLflow's ``mlflow.data``): datasets logged as run inputs.

    ds = fluvial.data.from_pandas(df, source="s3://bucket/train.csv", name="train", targets="label")
    fluvial.log_input(ds, context="training")

Importing this package loads no third-party module; pandas and numpy are imported by the functions
that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "from_pandas": "fluvial.data.pandas_dataset",
    "from_numpy": "fluvial.data.numpy_dataset",
    "Dataset": "fluvial.data.dataset",
    "DatasetSource": "fluvial.data.dataset_source",
    "PandasDataset": "fluvial.data.pandas_dataset",
    "NumpyDataset": "fluvial.data.numpy_dataset",
    "SparkDataset": "fluvial.data.spark_dataset",
    "TensorDatasetSchema": "fluvial.data.schema",
}

__all__ = ["get_source", *sorted(_NAMES)]


def get_source(dataset: Any) -> Any:
    """The DatasetSource of a ``fluvial.data`` dataset, a ``fluvial.entities.Dataset`` or a
    ``DatasetInput``."""
    from fluvial.data.dataset import Dataset
    from fluvial.data.sources import get_dataset_source_from_json
    from fluvial.entities import Dataset as DatasetEntity
    from fluvial.entities import DatasetInput
    from fluvial.exceptions import InvalidParameterValue

    if isinstance(dataset, DatasetInput):
        dataset = dataset.dataset
    if isinstance(dataset, DatasetEntity):
        return get_dataset_source_from_json(dataset.source, source_type=dataset.source_type)
    if isinstance(dataset, Dataset):
        return dataset.source
    raise InvalidParameterValue(
        f"Unrecognized dataset type {type(dataset)}. Expected one of: `fluvial.data.dataset.Dataset`, "
        "`fluvial.entities.Dataset`, `fluvial.entities.DatasetInput`."
    )


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        if name in ("sources", "dataset", "dataset_source", "pandas_dataset", "numpy_dataset", "spark_dataset", "digest_utils", "schema"):
            return importlib.import_module(f"fluvial.data.{name}")
        raise AttributeError(f"module 'fluvial.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
