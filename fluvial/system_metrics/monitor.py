"""The sampling thread of one run: psutil (and pynvml) readings, averaged over
``samples_before_logging`` samples, logged with ``log_batch`` at steps 0, 1, 2, ... under MLflow's
metric names. The thread ends when the run ends (``stop``) or is no longer RUNNING."""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from typing import Any

from fluvial._internal.clock import now_ms
from fluvial.entities import Metric
from fluvial.exceptions import MlflowException

_logger = logging.getLogger(__name__)
PREFIX = "system/"
_STOP_TIMEOUT = 30.0


class _Gpus:
    """NVIDIA GPUs through pynvml, when it is installed and finds a driver; else no readings."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        try:
            import pynvml
        except ImportError:
            return
        try:
            pynvml.nvmlInit()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception as exc:  # no driver / no device: GPU metrics are simply absent, as in MLflow
            _logger.info("No GPU metrics: %s", exc)
            return
        self.nvml = pynvml

    def sample(self, into: dict[str, list[float]]) -> None:
        for i, handle in enumerate(self.handles):
            nvml = self.nvml
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            into[f"gpu_{i}_memory_usage_percentage"].append(round(memory.used / memory.total * 100, 1))
            into[f"gpu_{i}_memory_usage_megabytes"].append(memory.used / 1e6)
            into[f"gpu_{i}_utilization_percentage"].append(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            try:
                power = nvml.nvmlDeviceGetPowerUsage(handle) / 1000
                limit = nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000
            except Exception:  # power readings are not supported on every device
                continue
            into[f"gpu_{i}_power_usage_watts"].append(power)
            into[f"gpu_{i}_power_usage_percentage"].append(power / limit * 100 if limit else 0.0)


class SystemMetricsMonitor:
    def __init__(self, run_id: str, tracking_uri: str, interval: float, samples: int, node_id: str | None,
                 resume: bool = False) -> None:
        import psutil

        from fluvial.tracking.client import MlflowClient

        self.run_id, self.interval, self.samples = run_id, interval, samples
        self.prefix = PREFIX + (f"{node_id}/" if node_id else "")
        self.client = MlflowClient(tracking_uri)
        self.psutil = psutil
        self.gpus = _Gpus()
        net = psutil.net_io_counters()
        self.net_start = (net.bytes_recv, net.bytes_sent)
        psutil.cpu_percent()  # the first reading only starts psutil's measuring interval
        self.step = self._next_step() if resume else 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"fluvial-system-metrics-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(_STOP_TIMEOUT)

    def _next_step(self) -> int:
        """Resuming a run continues after the last logged system step."""
        metrics = self.client.get_run(self.run_id).data.metrics
        key = next((k for k in metrics if k.startswith(self.prefix)), None)
        if key is None:
            return 0
        return max(m.step for m in self.client.get_metric_history(self.run_id, key)) + 1

    def sample(self, into: dict[str, list[float]]) -> None:
        psutil = self.psutil
        into["cpu_utilization_percentage"].append(psutil.cpu_percent())
        memory = psutil.virtual_memory()
        into["system_memory_usage_megabytes"].append(memory.used / 1e6)
        into["system_memory_usage_percentage"].append(memory.used / memory.total * 100)
        disk = psutil.disk_usage(os.sep)
        into["disk_usage_percentage"].append(disk.percent)
        into["disk_usage_megabytes"].append(disk.used / 1e6)
        into["disk_available_megabytes"].append(disk.free / 1e6)
        self.gpus.sample(into)

    def _aggregate(self, collected: dict[str, list[float]]) -> dict[str, float]:
        values = {k: round(sum(v) / len(v), 1) for k, v in collected.items() if v}
        net = self.psutil.net_io_counters()  # cumulative since the run started, as MLflow logs it
        values["network_receive_megabytes"] = (net.bytes_recv - self.net_start[0]) / 1e6
        values["network_transmit_megabytes"] = (net.bytes_sent - self.net_start[1]) / 1e6
        return values

    def _loop(self) -> None:
        while not self._stop.is_set():
            collected: dict[str, list[float]] = defaultdict(list)
            for _ in range(self.samples):
                self.sample(collected)
                if self._stop.wait(self.interval):
                    return  # the run ended: samples short of a full set are not logged (as in MLflow)
                try:
                    if self.client.get_run(self.run_id).info.status != "RUNNING":
                        return
                except MlflowException as exc:
                    _logger.warning("System metrics: cannot read run %s (%s); stopping.", self.run_id, exc)
                    return
            stamp = now_ms()
            metrics = [Metric(self.prefix + k, v, stamp, self.step) for k, v in self._aggregate(collected).items()]
            try:
                self.client.log_batch(self.run_id, metrics=metrics, synchronous=True)
            except MlflowException as exc:
                _logger.warning("System metrics: logging to run %s failed (%s); stopping.", self.run_id, exc)
                return
            self.step += 1
