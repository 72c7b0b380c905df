"""MLflow's module path ``mlflow.data.dataset_source_registry``; the code is in :mod:`fluvial.data.sources`."""

from fluvial.data.sources import (
    get_dataset_source_from_json,
    get_registered_sources,
    register_dataset_source,
    resolve_dataset_source,
)

__all__ = ["register_dataset_source", "resolve_dataset_source", "get_dataset_source_from_json", "get_registered_sources"]
