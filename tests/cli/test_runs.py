"""``fluvial runs``: list, describe, delete, restore, and bad input that changes nothing."""

from __future__ import annotations

import json

from fluvial import MlflowClient
from fluvial.entities import Dataset, DatasetInput, InputTag


def test_list_newest_first_with_views(uri, cli, make_run):
    first = make_run(run_name="first")
    second = make_run(run_name="second")
    MlflowClient().delete_run(first.info.run_id)
    experiment_id = first.info.experiment_id

    lines = cli.ok("runs", "list", "--experiment-id", experiment_id).stdout.splitlines()
    assert lines[0].split() == ["Date", "Name", "ID"]
    assert [line.split()[-2:] for line in lines[2:]] == [["second", second.info.run_id]]
    assert lines[2].split()[2] == "UTC"

    deleted = cli.ok("runs", "list", "--experiment-id", experiment_id, "-v", "deleted_only").stdout
    assert first.info.run_id in deleted and second.info.run_id not in deleted
    both = cli.ok("runs", "list", "--experiment-id", experiment_id, "--view", "all").stdout.splitlines()[2:]
    assert [line.split()[-1] for line in both] == [second.info.run_id, first.info.run_id]


def test_list_takes_the_experiment_from_the_environment(uri, cli, make_run):
    run = make_run()
    out = cli.ok("runs", "list", env={"MLFLOW_EXPERIMENT_ID": run.info.experiment_id}).stdout
    assert run.info.run_id in out


def test_list_filter_string(uri, cli, make_run):
    a = make_run(run_name="a")
    b = make_run(run_name="b")
    MlflowClient().log_metric(b.info.run_id, "acc", 0.9)
    out = cli.ok("runs", "list", "--experiment-id", a.info.experiment_id, "--filter-string", "metrics.acc > 0.5").stdout
    assert b.info.run_id in out and a.info.run_id not in out


def test_describe_prints_the_rest_shape(uri, cli, make_run):
    run = make_run()
    client = MlflowClient()
    run_id = run.info.run_id
    client.log_metric(run_id, "best", float("inf"))
    dataset = Dataset(name="train", digest="abc123", source_type="local", source='{"uri": "/data"}', schema="{}")
    reopened = client.create_run(run.info.experiment_id, run_name="with-input")
    client.log_inputs(reopened.info.run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "train")])])

    described = json.loads(cli.ok("runs", "describe", "--run-id", run_id).stdout)
    info = described["info"]
    assert info == {
        "run_id": run_id,
        "run_uuid": run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": "r1",
        "user_id": run.info.user_id,
        "status": "FINISHED",
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "artifact_uri": run.info.artifact_uri,
        "lifecycle_stage": "active",
    }
    metrics = {m["key"]: m for m in described["data"]["metrics"]}
    assert metrics["loss"]["value"] == "NaN" and metrics["loss"]["step"] == 2
    assert metrics["best"]["value"] == 1.7976931348623157e308  # the SQL store keeps +inf as the largest double
    assert {"key": "alpha", "value": "0.5"} in described["data"]["params"]
    assert {"key": "team", "value": "growth"} in described["data"]["tags"]
    assert described["inputs"] == {"dataset_inputs": []}

    running = json.loads(cli.ok("runs", "describe", "--run-id", reopened.info.run_id).stdout)
    assert "end_time" not in running["info"]
    assert running["info"]["status"] == "RUNNING"
    assert running["inputs"]["dataset_inputs"] == [
        {
            "tags": [{"key": "mlflow.data.context", "value": "train"}],
            "dataset": {"name": "train", "digest": "abc123", "source_type": "local", "source": '{"uri": "/data"}',
                        "schema": "{}"},
        }
    ]


def test_delete_and_restore(uri, cli, make_run):
    run_id = make_run().info.run_id
    assert cli.ok("runs", "delete", "--run-id", run_id).stdout == f"Run with ID {run_id} has been deleted.\n"
    assert MlflowClient().get_run(run_id).info.lifecycle_stage == "deleted"
    assert cli.ok("runs", "restore", "--run-id", run_id).stdout == f"Run with id {run_id} has been restored.\n"
    assert MlflowClient().get_run(run_id).info.lifecycle_stage == "active"


def test_bad_input_changes_nothing(uri, cli, make_run):
    run = make_run()
    before = cli.dump_db(uri)
    missing = "f" * 32
    cli.error("runs", "describe", "--run-id", missing, contains=f"Run with id={missing} not found")
    cli.error("runs", "delete", "--run-id", missing, contains="not found")
    cli.error("runs", "restore", "--run-id", missing, contains="not found")
    cli.error("runs", "list", contains="Missing option '--experiment-id'")
    cli.error("runs", "list", "--experiment-id", "404", contains="No Experiment with id=404 exists")
    cli.error("runs", "list", "--experiment-id", run.info.experiment_id, "-v", "some", contains="'some' is not one of")
    cli.error(
        "runs", "list", "--experiment-id", run.info.experiment_id, "--filter-string", "metrics.loss >> 1",
        contains="Error: ",
    )
    cli.error("runs", "describe", "--run-id", contains="'--run-id' requires an argument")
    cli.error("runs", "delete", "--bogus", contains="No such option '--bogus'")
    assert cli.dump_db(uri) == before
