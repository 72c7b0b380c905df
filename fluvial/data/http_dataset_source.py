"""MLflow's module path ``mlflow.data.http_dataset_source``; the code is in :mod:`fluvial.data.sources`."""

from fluvial.data.sources import HTTPDatasetSource

__all__ = ["HTTPDatasetSource"]
