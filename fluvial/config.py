"""``mlflow.config``: process-wide settings (each one is the environment variable MLflow reads,
so subprocesses inherit it)."""

from __future__ import annotations

import os

from fluvial.system_metrics import (
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_node_id,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
)
from fluvial.tracking._stores import (
    get_registry_uri,
    get_tracking_uri,
    is_tracking_uri_set,
    set_registry_uri,
    set_tracking_uri,
)
from fluvial.tracking.async_logging import ENV_ENABLE

__all__ = [
    "disable_system_metrics_logging",
    "enable_async_logging",
    "enable_system_metrics_logging",
    "get_registry_uri",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "set_registry_uri",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tracking_uri",
]


def enable_async_logging(enable: bool = True) -> None:
    """Make the logging calls whose ``synchronous`` argument is left at ``None`` asynchronous (or not)."""
    os.environ[ENV_ENABLE] = "true" if enable else "false"
