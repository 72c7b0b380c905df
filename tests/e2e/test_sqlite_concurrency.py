"""Several processes logging into one SQLite file at once, and a process killed mid-logging."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import fluvial as mlflow

WRITER = textwrap.dedent(
    """
    import sys
    import fluvial as mlflow
    from fluvial.entities import Metric
    mlflow.set_tracking_uri(sys.argv[1])
    worker, points = int(sys.argv[2]), int(sys.argv[3])
    mlflow.set_experiment("shared")          # all workers race to create it
    client = mlflow.MlflowClient()
    with mlflow.start_run(run_name=f"w{worker}") as run:
        for i in range(points):
            mlflow.log_metric("m", i, step=i)
            if i % 10 == 0:
                mlflow.log_param(f"p{i}", i)
                mlflow.set_tag("progress", i)
                client.log_batch(run.info.run_id, metrics=[Metric("b", float(i), 1, i)])
    print(run.info.run_id)
    """
)


@pytest.mark.slow
def test_many_processes_one_sqlite_file(tmp_path):
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    workers, points = 6, 300
    procs = [
        subprocess.Popen([sys.executable, str(script), uri, str(w), str(points)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for w in range(workers)
    ]
    run_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "database is locked" not in err
        run_ids.append(out.strip().splitlines()[-1])
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    experiments = [e for e in client.search_experiments() if e.name == "shared"]
    assert len(experiments) == 1
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(points))
        assert len(client.get_metric_history(run_id, "b")) == points // 10
        assert len(run.data.params) == points // 10
        assert run.data.metrics["m"] == points - 1


KILLED = textwrap.dedent(
    """
    import sys
    import fluvial as mlflow
    mlflow.set_tracking_uri(sys.argv[1])
    run = mlflow.start_run()
    print(run.info.run_id, flush=True)
    i = 0
    while True:
        mlflow.log_metric("m", i, step=i)
        print(i, flush=True)   # printed only after the call returned
        i += 1
    """
)


def test_logged_metrics_survive_a_killed_process(tmp_path):
    uri = f"sqlite:///{tmp_path / 'kill.db'}"
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen([sys.executable, str(script), uri], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    last = -1
    deadline = time.monotonic() + 60
    while last < 200 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        last = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert last >= 200
    mlflow.set_tracking_uri(uri)
    steps = [m.step for m in mlflow.MlflowClient().get_metric_history(run_id, "m")]
    # every call that returned is stored: durable when the call returns
    assert steps[: last + 1] == list(range(last + 1))
    assert mlflow.get_run(run_id).info.status == "RUNNING"
