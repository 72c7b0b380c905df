"""``fluvial gc``: what is removed (runs, experiments, local artifacts), what is kept, and bad input."""

from __future__ import annotations

import pathlib

import pytest
import sqlalchemy as sa

from fluvial import MlflowClient
from fluvial._internal.clock import now_ms
from fluvial.cli.gc import parse_duration_ms
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.store.tracking.sql import schema
from fluvial.store.tracking.sql.engine import get_engine

DAY_MS = 24 * 3600 * 1000


def _age_run(uri: str, run_id: str, days: float) -> None:
    with get_engine(uri).begin() as conn:
        conn.execute(
            sa.update(schema.runs).where(schema.runs.c.run_uuid == run_id).values(deleted_time=now_ms() - int(days * DAY_MS))
        )


def _age_experiment(uri: str, experiment_id: str, days: float) -> None:
    with get_engine(uri).begin() as conn:
        conn.execute(
            sa.update(schema.experiments)
            .where(schema.experiments.c.experiment_id == int(experiment_id))
            .values(last_update_time=now_ms() - int(days * DAY_MS))
        )


def _artifacts(run) -> pathlib.Path:
    return pathlib.Path(run.info.artifact_uri)


def _gone(run_id: str, client: MlflowClient | None = None) -> bool:
    try:
        (client or MlflowClient()).get_run(run_id)
    except ResourceDoesNotExist:
        return True
    return False


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1d", DAY_MS), ("2h", 7_200_000), ("3m", 180_000), ("4s", 4000), ("1d2h3m4s", DAY_MS + 7_384_000),
     ("1.5d", int(1.5 * DAY_MS)), (".5h", 1_800_000), ("0s", 0), ("1.2d3h4m5s", int(1.2 * DAY_MS) + 11_045_000)],
)
def test_parse_duration(text, ms):
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "1x", "d", "1d2x", "-1d", "1h2d", "1..2d", "1 d", "h1"])
def test_parse_duration_rejects(text):
    with pytest.raises(InvalidParameterValue, match="Could not parse any time information"):
        parse_duration_ms(text)


def test_gc_removes_deleted_runs_with_their_artifacts_and_keeps_active_ones(uri, cli, make_run):
    keep, drop = make_run(run_name="keep"), make_run(run_name="drop")
    MlflowClient().delete_run(drop.info.run_id)
    assert _artifacts(drop).is_dir()

    out = cli.ok("gc").stdout
    assert out == f"Run with ID {drop.info.run_id} has been permanently deleted.\n"
    assert _gone(drop.info.run_id)
    assert not _artifacts(drop).exists()
    assert not _artifacts(drop).parent.exists()  # the now empty <run id> directory goes too
    assert MlflowClient().get_run(keep.info.run_id).data.params == {"alpha": "0.5"}
    assert (_artifacts(keep) / "notes" / "keep.txt").read_text() == "artifact body"
    assert cli.ok("gc").stdout == ""  # nothing left to do


def test_older_than_only_takes_runs_deleted_long_enough_ago(uri, cli, make_run):
    old, recent, active = make_run(run_name="old"), make_run(run_name="recent"), make_run(run_name="active")
    client = MlflowClient()
    client.delete_run(old.info.run_id)
    client.delete_run(recent.info.run_id)
    _age_run(uri, old.info.run_id, days=3)
    _age_run(uri, recent.info.run_id, days=0.5)

    out = cli.ok("gc", "--older-than", "1d").stdout
    assert out == f"Run with ID {old.info.run_id} has been permanently deleted.\n"
    assert _gone(old.info.run_id) and not _artifacts(old).exists()
    assert client.get_run(recent.info.run_id).info.lifecycle_stage == "deleted"
    assert _artifacts(recent).is_dir()
    assert client.get_run(active.info.run_id).info.lifecycle_stage == "active"

    cli.ok("gc", "--older-than", "0.25d")
    assert _gone(recent.info.run_id) and not _artifacts(recent).exists()
    assert client.get_run(active.info.run_id).info.lifecycle_stage == "active"


def test_run_ids_removes_exactly_those(uri, cli, make_run):
    a, b, c = make_run(run_name="a"), make_run(run_name="b"), make_run(run_name="c")
    client = MlflowClient()
    for run in (a, b, c):
        client.delete_run(run.info.run_id)
    gone_experiment = client.create_experiment("gone")
    client.delete_experiment(gone_experiment)
    out = cli.ok("gc", "--run-ids", f"{a.info.run_id}, {b.info.run_id}").stdout
    assert out.splitlines() == [
        f"Run with ID {a.info.run_id} has been permanently deleted.",
        f"Run with ID {b.info.run_id} has been permanently deleted.",
    ]
    assert _gone(a.info.run_id) and _gone(b.info.run_id)
    assert client.get_run(c.info.run_id).info.lifecycle_stage == "deleted"
    assert client.get_experiment(gone_experiment).lifecycle_stage == "deleted"  # not listed: kept


def test_experiments_are_removed_with_all_their_runs(uri, cli, make_run):
    client = MlflowClient()
    kept_run = make_run(experiment_name="kept")
    r1 = make_run(experiment_name="doomed", run_name="r1")
    r2 = make_run(experiment_name="doomed", run_name="r2")
    doomed = r1.info.experiment_id
    client.delete_experiment(doomed)

    out = cli.ok("gc", "--experiment-ids", doomed).stdout.splitlines()
    assert sorted(out[:2]) == sorted(f"Run with ID {r.info.run_id} has been permanently deleted." for r in (r1, r2))
    assert out[2:] == [f"Experiment with ID {doomed} has been permanently deleted."]
    with pytest.raises(ResourceDoesNotExist):
        client.get_experiment(doomed)
    assert _gone(r1.info.run_id) and _gone(r2.info.run_id)
    assert not _artifacts(r1).exists() and not _artifacts(r2).exists()
    assert not _artifacts(r1).parent.parent.exists()  # the experiment's (now empty) artifact directory
    assert client.get_run(kept_run.info.run_id).info.lifecycle_stage == "active"
    assert _artifacts(kept_run).is_dir()


def test_without_ids_every_deleted_experiment_goes(uri, cli, make_run):
    client = MlflowClient()
    old = make_run(experiment_name="old")
    new = make_run(experiment_name="new")
    client.delete_experiment(old.info.experiment_id)
    client.delete_experiment(new.info.experiment_id)
    _age_experiment(uri, old.info.experiment_id, days=10)
    _age_run(uri, old.info.run_id, days=10)

    out = cli.ok("gc", "--older-than", "7d").stdout
    assert out.splitlines() == [
        f"Run with ID {old.info.run_id} has been permanently deleted.",
        f"Experiment with ID {old.info.experiment_id} has been permanently deleted.",
    ]
    assert client.get_experiment(new.info.experiment_id).lifecycle_stage == "deleted"
    cli.ok("gc")
    with pytest.raises(ResourceDoesNotExist):
        client.get_experiment(new.info.experiment_id)
    assert [e.name for e in client.search_experiments(view_type=3)] == ["Default"]


def test_backend_store_uri_option_and_proxied_artifacts(tmp_path, cli, db_uri):
    client = MlflowClient(db_uri)
    experiment_id = client.create_experiment("proxied", artifact_location="mlflow-artifacts:/proxied")
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/proxied/{run_id}/artifacts"
    served = tmp_path / "served" / "proxied" / run_id / "artifacts"
    served.mkdir(parents=True)
    (served / "model.pkl").write_bytes(b"model")
    client.delete_run(run_id)

    out = cli.ok("gc", "--backend-store-uri", db_uri, "--artifacts-destination", str(tmp_path / "served")).stdout
    assert out == f"Run with ID {run_id} has been permanently deleted.\n"
    assert not served.exists()
    assert (tmp_path / "served" / "proxied").is_dir()


def test_artifacts_elsewhere_are_reported_not_touched(uri, cli):
    client = MlflowClient()
    experiment_id = client.create_experiment("remote", artifact_location="s3://bucket/remote")
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    result = cli.ok("gc")
    assert result.stdout == f"Run with ID {run_id} has been permanently deleted.\n"
    assert "Warning: artifacts of run" in result.stderr and "s3://bucket/remote" in result.stderr
    assert _gone(run_id)


def test_bad_arguments_change_nothing(uri, cli, make_run):
    client = MlflowClient()
    active, deleted, fresh = make_run(run_name="active"), make_run(run_name="deleted"), make_run(run_name="fresh")
    client.delete_run(deleted.info.run_id)
    client.delete_run(fresh.info.run_id)
    _age_run(uri, deleted.info.run_id, days=5)
    live_experiment = active.info.experiment_id
    dead_experiment = client.create_experiment("dead")
    client.delete_experiment(dead_experiment)
    before = cli.dump_db(uri)
    artifacts_before = sorted(p for r in (active, deleted, fresh) for p in _artifacts(r).rglob("*"))

    for text in ("soon", "1x", "", "-2d"):
        cli.error("gc", "--older-than", text, contains="Could not parse any time information")
    cli.error("gc", "--run-ids", "f" * 32, contains="not found")
    cli.error("gc", "--run-ids", f"{deleted.info.run_id},{'e' * 32}", contains="not found")
    cli.error("gc", "--run-ids", active.info.run_id, contains="is not in the deleted lifecycle stage")
    cli.error("gc", "--run-ids", f"{deleted.info.run_id},{active.info.run_id}", contains="not in the deleted")
    cli.error("gc", "--older-than", "1d", "--run-ids", fresh.info.run_id, contains="deleted less than 1d ago")
    cli.error("gc", "--experiment-ids", live_experiment, contains=f"Experiments ['{live_experiment}'] are not in the deleted")
    cli.error("gc", "--experiment-ids", f"{dead_experiment},{live_experiment}", contains="not in the deleted lifecycle")
    cli.error("gc", "--experiment-ids", "12345", contains="No Experiment with id=12345 exists")
    cli.error("gc", "--older-than", "1d", "--experiment-ids", dead_experiment, contains="deleted less than 1d ago")
    cli.error("gc", "--backend-store-uri", "ftp://nowhere", contains="No tracking store is registered for 'ftp'")

    assert cli.dump_db(uri) == before
    assert sorted(p for r in (active, deleted, fresh) for p in _artifacts(r).rglob("*")) == artifacts_before


def test_a_tracking_directory_as_backend_store(tmp_path, cli):
    directory = tmp_path / "tracking"
    client = MlflowClient(f"file://{directory}")
    run = client.create_run("0")
    client.delete_run(run.info.run_id)
    out = cli.ok("gc", "--backend-store-uri", str(directory)).stdout
    assert out == f"Run with ID {run.info.run_id} has been permanently deleted.\n"
    assert _gone(run.info.run_id, client)


def test_gc_never_creates_a_store(tmp_path, cli):
    cli.error("gc", contains=f"No tracking database at {tmp_path / 'mlflow.db'}")
    cli.error("gc", "--backend-store-uri", str(tmp_path / "typo"), contains="No tracking database at")
    cli.error("gc", "--backend-store-uri", f"sqlite:///{tmp_path / 'typo.db'}", contains="No tracking database at")
    file_store = tmp_path / "mlruns"
    (file_store / "0").mkdir(parents=True)
    (file_store / "0" / "meta.yaml").write_text("name: Default\n")
    cli.error("gc", "--backend-store-uri", f"file://{file_store}", contains="fluvial migrate-filestore --source")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlruns"]
    assert [p.name for p in file_store.iterdir()] == ["0"]
