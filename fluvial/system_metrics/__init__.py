"""System metrics of a run (``mlflow.system_metrics``): CPU, memory, disk, network and, when pynvml
finds NVIDIA GPUs, GPU figures, sampled by a background thread and logged as ``system/...`` metrics
while the run is active. Needs ``psutil`` (``pip install 'fluvial[system-metrics]'``).

Settings are the environment variables MLflow reads, so subprocesses inherit them:
``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``, ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` (seconds,
default 10), ``MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING`` (default 1) and
``MLFLOW_SYSTEM_METRICS_NODE_ID`` (metrics become ``system/<node id>/...``).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from fluvial.exceptions import InvalidParameterValue, MissingDependency

if TYPE_CHECKING:
    from fluvial.system_metrics.monitor import SystemMetricsMonitor

ENV_ENABLE = "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"
ENV_INTERVAL = "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"
ENV_SAMPLES = "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING"
ENV_NODE_ID = "MLFLOW_SYSTEM_METRICS_NODE_ID"
DEFAULT_INTERVAL = 10.0
DEFAULT_SAMPLES = 1

__all__ = [
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
]


def enable_system_metrics_logging() -> None:
    """Log system metrics for every run started from now on (unless ``log_system_metrics=False``)."""
    os.environ[ENV_ENABLE] = "true"


def disable_system_metrics_logging() -> None:
    os.environ[ENV_ENABLE] = "false"


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between two samples; ``None`` restores the default (10)."""
    _set(ENV_INTERVAL, interval, float, lambda v: v > 0, "a positive number of seconds")


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """How many samples are averaged into one logged value; ``None`` restores the default (1)."""
    _set(ENV_SAMPLES, samples, int, lambda v: v >= 1, "a positive integer")


def set_system_metrics_node_id(node_id: str | None) -> None:
    """A node name inserted into the metric names (``system/<node_id>/...``); ``None`` removes it."""
    if node_id is None:
        os.environ.pop(ENV_NODE_ID, None)
    else:
        os.environ[ENV_NODE_ID] = str(node_id)


def _set(name: str, value: object, kind: type, ok: object, what: str) -> None:
    if value is None:
        os.environ.pop(name, None)
        return
    _checked(name, str(value), kind, ok, what)
    os.environ[name] = str(value)


def _checked(name: str, raw: str, kind: type, ok: object, what: str) -> float:
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"{name} must be {what}, got {raw!r}") from None
    if isinstance(value, bool) or not ok(value):  # type: ignore[operator]
        raise InvalidParameterValue(f"{name} must be {what}, got {raw!r}")
    return float(value)


def sampling_interval() -> float:
    raw = os.environ.get(ENV_INTERVAL)
    return DEFAULT_INTERVAL if not raw else _checked(ENV_INTERVAL, raw, float, lambda v: v > 0, "a positive number")


def samples_before_logging() -> int:
    raw = os.environ.get(ENV_SAMPLES)
    return DEFAULT_SAMPLES if not raw else int(_checked(ENV_SAMPLES, raw, int, lambda v: v >= 1, "a positive integer"))


def node_id() -> str | None:
    return os.environ.get(ENV_NODE_ID) or None


def enabled() -> bool:
    value = os.environ.get(ENV_ENABLE, "").strip().lower()
    if value in ("", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise InvalidParameterValue(f"{ENV_ENABLE} must be one of 'true', 'false', '1' or '0', got {value!r}")


# ---- the monitors of the runs of this process --------------------------------------------------
_monitors: dict[str, SystemMetricsMonitor] = {}
_lock = threading.Lock()


def start_for_run(run_id: str, tracking_uri: str, wanted: bool | None, resume: bool) -> None:
    """Start sampling for a run that ``start_run`` just made active, if asked to (argument, else
    ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``). Without psutil this is an error that says what to do."""
    if not (wanted if wanted is not None else enabled()):
        return
    try:
        import psutil  # noqa: F401
    except ImportError:
        raise MissingDependency(
            "System metrics logging needs psutil: pip install 'fluvial[system-metrics]' (or psutil), or pass "
            "log_system_metrics=False to start_run / call disable_system_metrics_logging()."
        ) from None
    from fluvial.system_metrics.monitor import SystemMetricsMonitor

    monitor = SystemMetricsMonitor(run_id, tracking_uri, sampling_interval(), samples_before_logging(), node_id(),
                                   resume=resume)
    with _lock:
        previous = _monitors.pop(run_id, None)
        _monitors[run_id] = monitor
    if previous is not None:
        previous.stop()
    monitor.start()


def stop_for_run(run_id: str) -> None:
    """Stop (and wait for) the sampling thread of a run that is ending."""
    with _lock:
        monitor = _monitors.pop(run_id, None)
    if monitor is not None:
        monitor.stop()
