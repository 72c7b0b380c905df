"""fluvial: an MLflow 2.x compatible ML lifecycle platform. ``import fluvial as mlflow``.

Importing this package loads the standard library only; every name below is resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fluvial.version import VERSION as __version__  # noqa: F401

# public name -> module that defines it
_FLUENT = "fluvial.tracking.fluent"
_NAMES: dict[str, str] = {
    **{
        name: _FLUENT
        for name in (
            "ActiveRun", "active_run", "create_experiment", "delete_experiment", "delete_run", "delete_tag",
            "end_run", "flush_async_logging", "get_artifact_uri", "get_experiment", "get_experiment_by_name", "get_parent_run",
            "get_registry_uri", "get_run", "get_tracking_uri", "is_tracking_uri_set", "last_active_run",
            "log_artifact", "log_artifacts", "log_dict", "log_figure", "log_image", "log_input", "log_metric",
            "log_metrics", "log_param", "log_params", "log_text", "search_experiments", "search_runs",
            "set_experiment", "set_experiment_tag", "set_experiment_tags", "set_registry_uri", "set_tag",
            "set_tags", "set_tracking_uri", "start_run",
        )
    },
    **{name: "fluvial.tracking.registry"
       for name in ("register_model", "search_model_versions", "search_registered_models")},
    **{name: "fluvial.system_metrics"
       for name in ("disable_system_metrics_logging", "enable_system_metrics_logging", "set_system_metrics_node_id",
                    "set_system_metrics_samples_before_logging", "set_system_metrics_sampling_interval")},
    "MlflowClient": "fluvial.tracking.client",
    "set_journal_dir": "fluvial.tracking._stores",
    "evaluate": "fluvial.models.evaluation.api",
    "validate_evaluation_results": "fluvial.models.evaluation.validation",
    **{name: "fluvial.tracking.tables" for name in ("log_table", "load_table")},
    "run": "fluvial.projects",
    "autolog": "fluvial.autologging",
    "MlflowException": "fluvial.exceptions",
    "FluvialError": "fluvial.exceptions",
}
# submodules reachable as attributes: fluvial.tracking, fluvial.entities, ...
_SUBMODULES = {"artifacts", "config", "data", "entities", "exceptions", "flavors", "models", "projects", "pyfunc", "search",
               "sklearn", "store", "system_metrics", "tracking", "types"}
_SUBMODULES |= {"autologging", "lightgbm", "pytorch", "xgboost"}
_SUBMODULES |= {"metrics", "recipes"}
_SUBMODULES |= {"catboost", "keras", "onnx", "statsmodels"}
_SUBMODULES |= {"sentence_transformers", "shap", "transformers"}
_SUBMODULES |= {"prophet", "pyspark", "spark"}

__all__ = sorted([*_NAMES, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"fluvial.{name}")
    raise AttributeError(f"module 'fluvial' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # for type checkers and IDEs only
    from fluvial.exceptions import FluvialError, MlflowException  # noqa: F401
    from fluvial.tracking.client import MlflowClient  # noqa: F401
    from fluvial.tracking.fluent import *  # noqa: F403
    from fluvial.tracking.registry import (  # noqa: F401
        register_model,
        search_model_versions,
        search_registered_models,
    )
