"""MLflow's module path ``mlflow.data.code_dataset_source``; the code is in :mod:`fluvial.data.sources`."""

from fluvial.data.sources import CodeDatasetSource

__all__ = ["CodeDatasetSource"]
