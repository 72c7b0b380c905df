"""``fluvial experiments``: every subcommand, and bad input that changes nothing."""

from __future__ import annotations

import csv
import io

from fluvial import MlflowClient


def _table(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}
    return [line.split() for line in lines[2:]]


def test_create_prints_the_id_and_stores_the_experiment(uri, cli, tmp_path):
    out = cli.ok("experiments", "create", "-n", "churn").stdout
    assert out == "Created experiment 'churn' with id 1\n"
    experiment = MlflowClient().get_experiment("1")
    assert experiment.name == "churn"
    assert experiment.artifact_location == str(tmp_path / "mlruns" / "1")


def test_create_with_artifact_location_resolves_local_paths(uri, cli, tmp_path):
    cli.ok("experiments", "create", "--experiment-name", "a", "-l", "store/here")
    cli.ok("experiments", "create", "-n", "b", "--artifact-location", "s3://bucket/path")
    client = MlflowClient()
    assert client.get_experiment_by_name("a").artifact_location == str(tmp_path / "store" / "here")
    assert client.get_experiment_by_name("b").artifact_location == "s3://bucket/path"


def test_search_views_and_filter(uri, cli):
    cli.ok("experiments", "create", "-n", "kept")
    cli.ok("experiments", "create", "-n", "dropped")
    cli.ok("experiments", "delete", "-x", "2")
    assert _table(cli.ok("experiments", "search").stdout) == [["0", "Default", *_loc("0")], ["1", "kept", *_loc("1")]]
    assert [r[1] for r in _table(cli.ok("experiments", "search", "-v", "deleted_only").stdout)] == ["dropped"]
    assert [r[1] for r in _table(cli.ok("experiments", "search", "--view", "ALL").stdout)] == ["Default", "kept", "dropped"]
    filtered = cli.ok("experiments", "search", "-v", "all", "--filter-string", "name LIKE 'k%'").stdout
    assert [r[1] for r in _table(filtered)] == ["kept"]
    assert len(_table(cli.ok("experiments", "search", "-v", "all", "--max-results", "2").stdout)) == 2


def _loc(experiment_id: str) -> list[str]:
    return [MlflowClient().get_experiment(experiment_id).artifact_location]


def test_search_header_matches_mlflow(uri, cli):
    lines = cli.ok("experiments", "search").stdout.splitlines()
    assert lines[0].split("  ")[0] == "Experiment Id"
    assert "Name" in lines[0] and "Artifact Location" in lines[0]


def test_delete_restore_rename(uri, cli):
    cli.ok("experiments", "create", "-n", "x")
    assert cli.ok("experiments", "delete", "-x", "1").stdout == "Experiment with ID 1 has been deleted.\n"
    assert MlflowClient().get_experiment("1").lifecycle_stage == "deleted"
    assert cli.ok("experiments", "restore", "--experiment-id", "1").stdout == "Experiment with id 1 has been restored.\n"
    assert MlflowClient().get_experiment("1").lifecycle_stage == "active"
    out = cli.ok("experiments", "rename", "-x", "1", "--new-name", "y").stdout
    assert out == "Experiment with id 1 has been renamed to 'y'.\n"
    assert MlflowClient().get_experiment("1").name == "y"


def test_csv_to_stdout_and_file(uri, cli, make_run, tmp_path):
    run = make_run()
    experiment_id = run.info.experiment_id
    out = cli.ok("experiments", "csv", "-x", experiment_id).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    assert rows[0]["run_id"] == run.info.run_id
    assert rows[0]["params.alpha"] == "0.5"
    assert rows[0]["metrics.loss"] == ""  # the latest value is NaN
    assert rows[0]["tags.team"] == "growth"
    assert rows[0]["status"] == "FINISHED"

    target = tmp_path / "runs.csv"
    msg = cli.ok("experiments", "csv", "--experiment-id", experiment_id, "-o", str(target)).stdout
    assert msg == f"Experiment with ID {experiment_id} has been exported as a CSV to file: {target}.\n"
    assert target.read_text() == out


def test_bad_input_changes_nothing(uri, cli):
    cli.ok("experiments", "create", "-n", "taken")
    cli.ok("experiments", "create", "-n", "gone")
    cli.ok("experiments", "delete", "-x", "2")
    before = cli.dump_db(uri)
    cli.error("experiments", "create", "-n", "taken", contains="already exists")
    cli.error("experiments", "create", "-n", "", contains="Invalid experiment name")
    cli.error("experiments", "create", contains="Missing option '-n' / '--experiment-name'")
    cli.error("experiments", "delete", "-x", "99", contains="No Experiment with id=99 exists")
    cli.error("experiments", "delete", "-x", "not-an-id", contains="No Experiment with id=not-an-id")
    cli.error("experiments", "delete", "-x", "2", contains="No Experiment with id=2 exists")  # already deleted
    cli.error("experiments", "restore", "-x", "1", contains="Cannot restore an active experiment")
    cli.error("experiments", "restore", "-x", "99")
    cli.error("experiments", "rename", "-x", "1", "--new-name", "gone", contains="already exists")
    cli.error("experiments", "rename", "-x", "2", "--new-name", "back", contains="non-active")
    cli.error("experiments", "rename", "-x", "1", contains="Missing option '--new-name'")
    cli.error("experiments", "search", "-v", "bad", contains="'bad' is not one of 'active_only', 'deleted_only', 'all'")
    cli.error("experiments", "search", "--filter-string", "nme = 'x'", contains="Invalid attribute key 'nme'")
    cli.error("experiments", "search", "--filter-string", "name = ", contains="Error: ")
    cli.error("experiments", "search", "--max-results", "0", contains="--max-results")
    cli.error("experiments", "csv", "-x", "99", contains="No Experiment with id=99 exists")
    assert cli.dump_db(uri) == before
