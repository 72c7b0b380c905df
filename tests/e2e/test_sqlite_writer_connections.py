"""log_metric / log_param on an SQLite file write through one dedicated connection per thread (outside
the connection pool): threads, a forked child, a failed call and ``dispose_engines()`` around it."""

from __future__ import annotations

import gc
import os
import sqlite3
import threading

import pytest

import fluvial as mlflow
from fluvial.exceptions import MlflowException
from fluvial.store.tracking.sql import engine


@pytest.fixture
def client(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'w.db'}")
    yield mlflow.MlflowClient()


def _new_run(client) -> str:
    experiment_id = client.create_experiment(f"e{os.urandom(4).hex()}")
    return client.create_run(experiment_id).info.run_id


def test_threads_log_into_one_file_at_once(client):
    run_ids = [_new_run(client) for _ in range(4)]
    errors: list[BaseException] = []

    def work(run_id: str) -> None:
        try:
            for i in range(100):
                client.log_metric(run_id, "m", i, step=i)
                client.log_param(run_id, f"p{i}", i)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for run_id in run_ids:
        assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(100))
        run = client.get_run(run_id)
        assert run.data.metrics["m"] == 99
        assert len(run.data.params) == 100


def test_a_failed_call_leaves_the_thread_able_to_log(client):
    run_id, deleted = _new_run(client), _new_run(client)
    client.delete_run(deleted)
    with pytest.raises(MlflowException, match="must be in the 'active' state"):
        client.log_metric(deleted, "m", 1.0)
    with pytest.raises(MlflowException, match="Changing param values is not allowed"):
        client.log_param(run_id, "p", "a")
        client.log_param(run_id, "p", "b")
    client.log_metric(run_id, "m", 2.0, step=1)  # the failed transactions were rolled back
    client.log_param(run_id, "q", "c")
    run = client.get_run(run_id)
    assert run.data.metrics == {"m": 2.0}
    assert run.data.params == {"p": "a", "q": "c"}
    assert client.get_run(deleted).data.metrics == {}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_logs_on_its_own_connection(client):
    run_id = _new_run(client)
    client.log_metric(run_id, "m", 0.0, step=0)  # the parent's thread now has its writer connection
    pid = os.fork()
    if pid == 0:  # the child: must not use (or close) the parent's connection
        code = 1
        try:
            for i in range(1, 51):
                client.log_metric(run_id, "child", i, step=i)
            code = 0
        finally:
            os._exit(code)
    for i in range(1, 51):
        client.log_metric(run_id, "m", i, step=i)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    client.log_metric(run_id, "m", 51.0, step=51)  # still usable after the child exited
    assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(52))
    assert [m.step for m in client.get_metric_history(run_id, "child")] == list(range(1, 51))


def test_dispose_engines_closes_the_writer_connections(client, tmp_path):
    run_id = _new_run(client)
    client.log_metric(run_id, "m", 1.0, step=1)
    engine.dispose_engines()
    # leaving WAL mode needs the only connection to the file: none of this process's is left open
    other = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    assert other.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    other.close()
    client.log_metric(run_id, "m", 2.0, step=2)  # a new writer connection, in WAL mode again
    assert [m.value for m in client.get_metric_history(run_id, "m")] == [1.0, 2.0]
    check = sqlite3.connect(tmp_path / "w.db")
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    check.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc/self/fd")
def test_a_thread_that_ends_closes_its_connection(client, tmp_path):
    db = str(tmp_path / "w.db")

    def open_to_db() -> int:
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{fd}") == db
            except OSError:
                pass
        return count

    run_id = _new_run(client)
    client.log_metric(run_id, "m", 0.0, step=0)
    before = open_to_db()
    for n in range(1, 9):  # eight threads, one after the other, each logging once and ending
        t = threading.Thread(target=client.log_metric, args=(run_id, "m", float(n)), kwargs={"step": n})
        t.start()
        t.join(timeout=60)
    gc.collect()
    assert open_to_db() <= before + 1
    assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(9))
