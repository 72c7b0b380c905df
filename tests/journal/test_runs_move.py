"""``fluvial runs move`` on a SQL store: only the experiment changes; bad input changes nothing."""

from __future__ import annotations

from click.testing import CliRunner

from fluvial.cli import main
from fluvial.tracking.client import MlflowClient


def test_runs_move(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(uri)
    source, target = client.create_experiment("a"), client.create_experiment("b")
    gone = client.create_experiment("c")
    client.delete_experiment(gone)
    run = client.create_run(source)
    rid = run.info.run_id
    client.log_param(rid, "lr", "0.1")
    client.log_metric(rid, "loss", 1.5, 7, 3)
    before = client.get_run(rid)
    runner = CliRunner()

    for args, message in [
        (["--run-id", rid, "--experiment-id", "999"], "No Experiment with id=999"),
        (["--run-id", rid, "--experiment-id", gone], "is deleted"),
        (["--run-id", rid, "--run-id", "0" * 32, "--experiment-id", target], "not found"),
        (["--run-id", rid, "--experiment-id", "x"], "Invalid experiment ID"),
    ]:
        result = runner.invoke(main, ["runs", "move", *args])
        assert result.exit_code != 0 and message in result.output, result.output
        assert client.get_run(rid).info.experiment_id == source

    result = runner.invoke(main, ["runs", "move", "--run-id", rid, "--experiment-id", target])
    assert result.exit_code == 0, result.output
    assert f"Run {rid} moved from experiment {source} to experiment {target}." in result.output
    after = client.get_run(rid)
    assert after.info.experiment_id == target
    assert (after.data.params, after.data.metrics, after.info.artifact_uri) == (
        before.data.params, before.data.metrics, before.info.artifact_uri)
    assert [m.step for m in client.get_metric_history(rid, "loss")] == [3]
    assert [r.info.run_id for r in client.search_runs([target])] == [rid]
    assert len(client.search_runs([source])) == 0


def test_runs_move_needs_a_sql_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["runs", "move", "--run-id", "a" * 32, "--experiment-id", "1"])
    assert result.exit_code == 1
    assert "works on a SQL tracking store" in result.output and "Traceback" not in result.output
