"""MLflow's module path ``mlflow.data.filesystem_dataset_source``; the code is in :mod:`fluvial.data.sources`."""

from fluvial.data.sources import FileSystemDatasetSource

__all__ = ["FileSystemDatasetSource"]
