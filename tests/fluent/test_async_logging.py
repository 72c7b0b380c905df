"""Asynchronous logging as MLflow 2.x defines it: ``synchronous=False``, ``MLFLOW_ENABLE_ASYNC_LOGGING``,
``mlflow.config.enable_async_logging``, ``flush_async_logging``, ``RunOperations.wait()``; batches
coalesced, failures surfaced, flushed on ``end_run`` and at exit, locally and through a server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import fluvial as mlflow
from fluvial.entities import Metric, Param, RunTag
from fluvial.exceptions import MlflowException
from fluvial.tracking import _stores
from fluvial.tracking.client import RunOperations

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from _serve import fluvial_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _async_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_ENABLE_ASYNC_LOGGING", raising=False)
    monkeypatch.delenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", raising=False)


def _held_writes(monkeypatch):
    """Make the store's first batch write wait until released, so that everything logged meanwhile
    queues up behind it; returns (entered event, release event, list of the item counts of every write)."""
    store = _stores.get_store()
    entered, release = threading.Event(), threading.Event()
    writes: list[int] = []
    original = store.log_batch_unbounded

    def write(run_id, metrics, params, tags):
        writes.append(len(metrics) + len(params) + len(tags))
        if len(writes) == 1:
            entered.set()
            assert release.wait(30)
        return original(run_id, metrics, params, tags)

    monkeypatch.setattr(store, "log_batch_unbounded", write)
    return entered, release, writes


def test_synchronous_false_returns_operations_and_stores_everything(tracking_uri):
    with mlflow.start_run() as run:
        ops = [mlflow.log_metric("m", i, step=i, synchronous=False) for i in range(50)]
        ops.append(mlflow.log_param("p", 1, synchronous=False))
        ops.append(mlflow.set_tag("t", "v", synchronous=False))
        ops.append(mlflow.log_metrics({"a": 1.0, "b": 2.0}, step=3, synchronous=False))
        ops.append(mlflow.log_params({"q": "x"}, synchronous=False))
        ops.append(mlflow.set_tags({"u": 1}, synchronous=False))
        client = mlflow.MlflowClient()
        ops.append(client.log_batch(run.info.run_id, metrics=[Metric("c", 5.0, 1, 0)], synchronous=False))
        ops.append(client.log_metric(run.info.run_id, "d", 1.5, synchronous=False))
        assert all(isinstance(op, RunOperations) for op in ops)
        for op in ops:
            op.wait()
    data = mlflow.get_run(run.info.run_id).data
    assert data.params == {"p": "1", "q": "x"}
    assert {"t": "v", "u": "1"}.items() <= data.tags.items()
    assert data.metrics == {"m": 49.0, "a": 1.0, "b": 2.0, "c": 5.0, "d": 1.5}
    assert [m.step for m in mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")] == list(range(50))


def test_synchronous_calls_return_what_mlflow_returns(tracking_uri):
    with mlflow.start_run():
        assert mlflow.log_param("p", 0.01) == 0.01
        assert mlflow.log_metric("m", 1.0) is None
        assert mlflow.set_tag("t", 1) is None
        assert mlflow.log_metrics({"m": 2.0}) is None


@pytest.mark.parametrize("how", ["env", "config"])
def test_async_by_default_from_env_or_config(tracking_uri, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "true")
    else:
        monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
        mlflow.config.enable_async_logging(True)
    with mlflow.start_run() as run:
        op = mlflow.log_metric("m", 1.0)
        assert isinstance(op, RunOperations)
        assert isinstance(mlflow.log_param("p", "v"), RunOperations)
        assert mlflow.log_metric("s", 2.0, synchronous=True) is None  # the argument wins
    assert mlflow.get_run(run.info.run_id).data.params == {"p": "v"}  # end_run flushed
    mlflow.config.enable_async_logging(False)
    with mlflow.start_run():
        assert mlflow.log_metric("m", 1.0) is None


def test_malformed_env_values_are_errors(tracking_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "maybe")
    with mlflow.start_run(), pytest.raises(MlflowException, match="MLFLOW_ENABLE_ASYNC_LOGGING"):
        mlflow.log_metric("m", 1.0)
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "true")
    monkeypatch.setenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "soon")
    with mlflow.start_run(), pytest.raises(MlflowException, match="MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"):
        mlflow.log_metric("m", 1.0)


def test_requests_queued_behind_a_write_are_coalesced_into_one_batch(tracking_uri, monkeypatch):
    entered, release, writes = _held_writes(monkeypatch)
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 0, step=0, synchronous=False)
        assert entered.wait(30)
        ops = [mlflow.log_metric("m", i, step=i, synchronous=False) for i in range(1, 500)]
        release.set()
        mlflow.flush_async_logging()
        for op in ops:
            op.wait()
    assert writes == [1, 499]
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")
    assert [m.step for m in history] == list(range(500))


def test_a_failed_request_in_a_coalesced_batch_fails_alone(tracking_uri, monkeypatch):
    entered, release, writes = _held_writes(monkeypatch)
    with mlflow.start_run() as run:
        mlflow.log_param("first", 1, synchronous=False)
        assert entered.wait(30)
        good_before = mlflow.log_metric("ok", 1.0, synchronous=False)
        bad = mlflow.log_metric("not allowed!?*", 1.0, synchronous=False)
        good_after = mlflow.log_params({"lr": 0.1}, synchronous=False)
        release.set()
        good_before.wait()
        good_after.wait()
        with pytest.raises(MlflowException, match="async logging operations") as info:
            bad.wait()
        assert "not allowed" in str(info.value)
        mlflow.flush_async_logging()  # already reported through wait(): nothing left to raise
    assert writes[0] == 1 and writes[1] == 3  # the three queued requests went as one batch, then alone
    data = mlflow.get_run(run.info.run_id).data
    assert data.params == {"first": "1", "lr": "0.1"} and data.metrics == {"ok": 1.0}


def test_unwaited_failure_is_raised_by_flush_then_forgotten(tracking_uri):
    with mlflow.start_run():
        mlflow.log_param("p", "a")
        mlflow.log_param("p", "b", synchronous=False)  # changing a param is refused by the store
        with pytest.raises(MlflowException, match="asynchronous logging operation"):
            mlflow.flush_async_logging()
        mlflow.flush_async_logging()


def test_end_run_flushes_and_raises_an_unwaited_failure_after_ending_the_run(tracking_uri):
    run = mlflow.start_run()
    for i in range(200):
        mlflow.log_metric("m", i, step=i, synchronous=False)
    mlflow.log_param("p", "a", synchronous=False)
    mlflow.log_param("p", "b", synchronous=False)
    with pytest.raises(MlflowException, match="asynchronous logging operation"):
        mlflow.end_run()
    ended = mlflow.get_run(run.info.run_id)
    assert ended.info.status == "FINISHED" and ended.data.params == {"p": "a"}
    assert len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")) == 200
    assert mlflow.active_run() is None


def test_pending_logging_is_flushed_at_exit_and_failures_reported(tmp_path):
    script = textwrap.dedent("""
        import fluvial as mlflow
        mlflow.set_tracking_uri("sqlite:///exit.db")
        run = mlflow.start_run()
        print(run.info.run_id, flush=True)
        for i in range(300):
            mlflow.log_metric("m", i, step=i, synchronous=False)
        mlflow.MlflowClient().log_batch(run.info.run_id, params=[Param("p", "x")], synchronous=False)
        mlflow.MlflowClient().log_batch(run.info.run_id, params=[Param("p", "y")], synchronous=False)
    """).replace("import fluvial as mlflow", "import fluvial as mlflow\nfrom fluvial.entities import Param")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "asynchronous logging operation(s) failed" in proc.stderr
    run_id = proc.stdout.split()[0]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'exit.db'}")
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params == {"p": "x"}
    assert len(mlflow.MlflowClient().get_metric_history(run_id, "m")) == 300


def test_async_logging_through_a_server(tmp_path):
    with fluvial_server(tmp_path / "srv") as server:
        mlflow.set_tracking_uri(server.url)
        with mlflow.start_run() as run:
            for i in range(1000):
                mlflow.log_metric("m", i, step=i, synchronous=False)
            op = mlflow.log_param("bad key!?", 1, synchronous=False)
            with pytest.raises(MlflowException, match="bad key"):
                op.wait()
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")
        assert [m.step for m in history] == list(range(1000))


def test_unknown_keyword_is_a_type_error(tracking_uri):
    with mlflow.start_run():
        with pytest.raises(TypeError):
            mlflow.log_metric("m", 1.0, synchronus=False)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            mlflow.log_metrics({"m": 1.0}, sync=True)  # type: ignore[call-arg]


def test_batch_entities_are_accepted_by_client_log_batch_async(tracking_uri):
    with mlflow.start_run() as run:
        op = mlflow.MlflowClient().log_batch(run.info.run_id, metrics=[Metric("m", 1.0, 1, 0)],
                                             params=[Param("a", "1")], tags=[RunTag("b", "2")], synchronous=False)
        op.wait()
    data = mlflow.get_run(run.info.run_id).data
    assert data.metrics == {"m": 1.0} and data.params == {"a": "1"} and data.tags["b"] == "2"


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_its_own_queue(tracking_uri):
    import os

    with mlflow.start_run() as run:
        mlflow.log_metric("parent", 1.0, synchronous=False).wait()  # the parent's queue thread exists
        pid = os.fork()
        if pid == 0:  # the child: its inherited queue has no thread; logging must still work
            code = 1
            try:
                mlflow.log_metric("child", 2.0, synchronous=False).wait()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    assert mlflow.get_run(run.info.run_id).data.metrics == {"parent": 1.0, "child": 2.0}
