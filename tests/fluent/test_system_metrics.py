"""System metrics of a run: ``start_run(log_system_metrics=True)``, the environment switches and
settings, MLflow's metric names, a thread that stops with the run, and the error without psutil."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import fluvial as mlflow
from fluvial.exceptions import InvalidParameterValue, MlflowException

REPO = Path(__file__).resolve().parents[2]
NAMES = {
    "system/cpu_utilization_percentage", "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage", "system/disk_usage_percentage", "system/disk_usage_megabytes",
    "system/disk_available_megabytes", "system/network_receive_megabytes", "system/network_transmit_megabytes",
}


@pytest.fixture(autouse=True)
def _fast_sampling(monkeypatch):
    for name in ("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "MLFLOW_SYSTEM_METRICS_NODE_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.05")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "1")


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fluvial-system-metrics")]


def _wait_for_steps(run_id: str, key: str, steps: int) -> list:
    client = mlflow.MlflowClient()
    deadline = time.monotonic() + 60  # bounded wait for the background thread, not a timing assertion
    while time.monotonic() < deadline:
        history = client.get_metric_history(run_id, key)
        if len(history) >= steps:
            return history
        time.sleep(0.05)
    raise AssertionError(f"{key}: fewer than {steps} steps logged within 60 s")


def test_log_system_metrics_logs_mlflow_names_and_stops_with_the_run(tracking_uri):
    with mlflow.start_run(log_system_metrics=True) as run:
        assert _threads() == [f"fluvial-system-metrics-{run.info.run_id}"]
        history = _wait_for_steps(run.info.run_id, "system/cpu_utilization_percentage", 3)
    assert _threads() == []
    assert [m.step for m in history[:3]] == [0, 1, 2]
    metrics = mlflow.get_run(run.info.run_id).data.metrics
    assert set(metrics) >= NAMES
    assert 0 <= metrics["system/system_memory_usage_percentage"] <= 100
    assert metrics["system/system_memory_usage_megabytes"] > 0
    assert 0 <= metrics["system/disk_usage_percentage"] <= 100
    assert metrics["system/network_receive_megabytes"] >= 0
    steps_at_end = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage"))
    time.sleep(0.3)  # nothing is logged after the run ended
    assert len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")) == steps_at_end


def test_off_by_default_and_switched_by_env_and_functions(tracking_uri):
    with mlflow.start_run():
        assert _threads() == []
    mlflow.enable_system_metrics_logging()
    try:
        with mlflow.start_run() as run:
            assert len(_threads()) == 1
            _wait_for_steps(run.info.run_id, "system/cpu_utilization_percentage", 1)
        with mlflow.start_run(log_system_metrics=False):
            assert _threads() == []
    finally:
        mlflow.config.disable_system_metrics_logging()
    with mlflow.start_run():
        assert _threads() == []


def test_samples_before_logging_and_node_id(tracking_uri):
    mlflow.set_system_metrics_sampling_interval(0.02)
    mlflow.set_system_metrics_samples_before_logging(3)
    mlflow.set_system_metrics_node_id("node_0")
    try:
        with mlflow.start_run(log_system_metrics=True) as run:
            history = _wait_for_steps(run.info.run_id, "system/node_0/cpu_utilization_percentage", 2)
        assert [m.step for m in history[:2]] == [0, 1]
        assert not any(k.startswith("system/cpu") for k in mlflow.get_run(run.info.run_id).data.metrics)
    finally:
        mlflow.set_system_metrics_node_id(None)
        mlflow.set_system_metrics_samples_before_logging(None)
        mlflow.set_system_metrics_sampling_interval(None)
    import os

    assert "MLFLOW_SYSTEM_METRICS_NODE_ID" not in os.environ


def test_resumed_run_continues_the_steps(tracking_uri):
    with mlflow.start_run(log_system_metrics=True) as run:
        _wait_for_steps(run.info.run_id, "system/cpu_utilization_percentage", 2)
    done = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage"))
    with mlflow.start_run(run_id=run.info.run_id, log_system_metrics=True):
        history = _wait_for_steps(run.info.run_id, "system/cpu_utilization_percentage", done + 1)
    assert [m.step for m in history] == list(range(len(history)))


def test_bad_settings_are_refused(tracking_uri, monkeypatch):
    with pytest.raises(InvalidParameterValue):
        mlflow.set_system_metrics_sampling_interval(0)
    with pytest.raises(InvalidParameterValue):
        mlflow.set_system_metrics_samples_before_logging("many")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "often")
    with pytest.raises(InvalidParameterValue, match="MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"):
        mlflow.start_run(log_system_metrics=True)
    assert mlflow.active_run() is None
    run = mlflow.search_runs(output_format="list")[0]
    assert run.info.status == "FAILED"
    monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "sometimes")
    with pytest.raises(MlflowException, match="MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"):
        mlflow.start_run()


def test_without_psutil_a_clear_error(tmp_path):
    script = (
        "import sys; sys.modules['psutil'] = None\n"
        "import fluvial as mlflow\n"
        "mlflow.set_tracking_uri('sqlite:///m.db')\n"
        "try:\n"
        "    mlflow.start_run(log_system_metrics=True)\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "print('active', mlflow.active_run())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "MissingDependency System metrics logging needs psutil: pip install 'fluvial[system-metrics]'" in proc.stdout
    assert "active None" in proc.stdout
