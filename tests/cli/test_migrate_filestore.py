"""``fluvial migrate-filestore``: an MLflow file store (./mlruns) into a SQL database, read-only on the source."""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import subprocess
import textwrap

import pytest

from fluvial import MlflowClient
from fluvial.entities import ViewType
from fluvial.store.tracking.sql.loading import MAX_DOUBLE

MLFLOW_PYTHON = pathlib.Path(__file__).resolve().parents[2] / ".venvs" / "mlflow-2.22.5" / "bin" / "python"


def tree_hash(root: pathlib.Path) -> str:
    """Names, kinds, permissions and contents of everything under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest.update(f"{path.relative_to(root)}|{st.st_mode}|".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


# ---- a file store written by MLflow 2.22.5 ----------------------------------------------------------

GENERATE = textwrap.dedent(
    """
    import json, sys
    import mlflow, pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    root = sys.argv[1]
    mlflow.set_tracking_uri("file://" + root)
    c = MlflowClient()
    eid = mlflow.create_experiment("exp one", tags={"team": "vision", "nested/key": "v", "note": "two\\nlines"})
    mlflow.set_experiment(experiment_id=eid)
    with mlflow.start_run(run_name="full") as r:
        mlflow.log_params({"lr": "0.1", "a/b": "nested", "text": "café ✓\\nsecond line"})
        for step, value in [(0, 1.0), (1, float("nan")), (2, 3.0), (2, float("inf")), (3, 0.5)]:
            mlflow.log_metric("loss", value, step=step)
        mlflow.log_metric("neg", float("-inf"))
        mlflow.log_metric("last_nan", 2.0, step=0)
        mlflow.log_metric("last_nan", float("nan"), step=5)
        mlflow.log_metric("grp/acc", 0.75, step=-1)
        mlflow.set_tags({"t": "v", "multi": "a\\nb"})
        dataset = mlflow.data.from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), name="train", source="/data/train.csv")
        mlflow.log_input(dataset, context="training")
        with open(root + "/../artifact.txt", "w") as fh:
            fh.write("artifact body")
        mlflow.log_artifact(root + "/../artifact.txt", "docs")
    with mlflow.start_run(run_name="dead") as dead:
        mlflow.log_param("p", "1")
    c.delete_run(dead.info.run_id)
    with mlflow.start_run(run_name="failed") as failed:
        pass
    c.set_terminated(failed.info.run_id, "FAILED")
    running = c.create_run(eid, run_name="still-running")
    default_run = c.create_run("0", run_name="in-default")
    c.set_terminated(default_run.info.run_id, "KILLED")
    gone = mlflow.create_experiment("gone", tags={"why": "old"})
    with mlflow.start_run(experiment_id=gone, run_name="in-gone") as g:
        mlflow.log_metric("m", 2.0)
    c.delete_experiment(gone)

    out = {"experiments": [], "runs": []}
    for e in c.search_experiments(view_type=ViewType.ALL):
        out["experiments"].append({
            "id": e.experiment_id, "name": e.name, "tags": e.tags, "lifecycle_stage": e.lifecycle_stage,
            "artifact_location": e.artifact_location, "creation_time": e.creation_time,
            "last_update_time": e.last_update_time,
        })
        for run in c.search_runs([e.experiment_id], run_view_type=ViewType.ALL):
            i = run.info
            history = {
                key: [[m.timestamp, repr(m.value), m.step] for m in c.get_metric_history(i.run_id, key)]
                for key in run.data.metrics
            }
            out["runs"].append({
                "run_id": i.run_id, "experiment_id": i.experiment_id, "run_name": i.run_name,
                "user_id": i.user_id, "status": i.status, "start_time": i.start_time, "end_time": i.end_time,
                "lifecycle_stage": i.lifecycle_stage, "artifact_uri": i.artifact_uri,
                "params": run.data.params, "tags": run.data.tags, "history": history,
                "inputs": [
                    {"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type,
                     "source": d.dataset.source, "schema": d.dataset.schema, "profile": d.dataset.profile,
                     "tags": {t.key: t.value for t in d.tags}}
                    for d in run.inputs.dataset_inputs
                ],
            })
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory) -> tuple[pathlib.Path, dict]:
    if not MLFLOW_PYTHON.exists():
        pytest.skip(f"MLflow 2.22.5 is not installed at {MLFLOW_PYTHON} (run `make mlflow-venvs`)")
    base = tmp_path_factory.mktemp("mlflow-file-store")
    root = base / "mlruns"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONWARNINGS"] = "ignore"
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", GENERATE, str(root)], capture_output=True, text=True, timeout=600, env=env, cwd=base
    )
    assert done.returncode == 0, done.stderr
    return root, json.loads(done.stdout.strip().splitlines()[-1])


def _stored(value_repr: str) -> float:
    """A metric value as the SQL store gives it back: +-inf are kept as the largest doubles."""
    value = float(value_repr)
    if math.isinf(value):
        return MAX_DOUBLE if value > 0 else -MAX_DOUBLE
    return value


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _latest(history: list[list]) -> float:
    """The SQL store's rule: the point with the greatest (step, timestamp, stored value; NaN stored as 0)."""
    def key(point):
        value = _stored(point[1])
        return (point[2], point[0], 0.0 if math.isnan(value) else value)

    return _stored(max(history, key=key)[1])


@pytest.mark.compat
def test_import_of_a_file_store_written_by_mlflow(mlflow_store, db_uri, cli):
    root, expected = mlflow_store
    before = tree_hash(root.parent)
    result = cli.ok("migrate-filestore", "--source", str(root), "--target", db_uri)
    assert tree_hash(root.parent) == before, "the source file store was modified"

    experiments = {e["id"]: e for e in expected["experiments"]}
    assert len(experiments) == 3
    mapping = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "->":
            mapping[parts[0]] = parts[2]
    big = [eid for eid in experiments if int(eid) > 2**31 - 1]
    assert sorted(mapping) == sorted(big)  # ids that do not fit 32 bits are remapped, and said so
    mapping["0"] = "0"
    assert f"Imported 3 experiments and {len(expected['runs'])} runs" in result.stdout
    assert result.stderr.count("] experiment ") == 3  # progress, one line per experiment

    client = MlflowClient(db_uri)
    got = {e.experiment_id: e for e in client.search_experiments(view_type=ViewType.ALL)}
    assert sorted(got) == sorted(mapping.values())
    for source_id, exp in experiments.items():
        e = got[mapping[source_id]]
        assert (e.name, e.tags, e.lifecycle_stage, e.artifact_location, e.creation_time, e.last_update_time) == (
            exp["name"], exp["tags"], exp["lifecycle_stage"], exp["artifact_location"], exp["creation_time"],
            exp["last_update_time"],
        ), source_id
    assert {e.name: e.lifecycle_stage for e in got.values()}["gone"] == "deleted"

    for want in expected["runs"]:
        run = client.get_run(want["run_id"])
        i = run.info
        assert i.experiment_id == mapping[want["experiment_id"]]
        for field in ("run_name", "user_id", "status", "start_time", "end_time", "lifecycle_stage", "artifact_uri"):
            assert getattr(i, field) == want[field], (want["run_name"], field)
        assert run.data.params == want["params"]
        assert run.data.tags == want["tags"]
        assert sorted(run.data.metrics) == sorted(want["history"])
        for key, history in want["history"].items():
            points = client.get_metric_history(i.run_id, key)
            assert [(m.timestamp, m.step) for m in points] == [(p[0], p[2]) for p in history], key
            assert all(_same(m.value, _stored(p[1])) for m, p in zip(points, history, strict=True)), key
            assert _same(run.data.metrics[key], _latest(history)), key
        got_inputs = [
            {"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type,
             "source": d.dataset.source, "schema": d.dataset.schema, "profile": d.dataset.profile,
             "tags": {t.key: t.value for t in d.tags}}
            for d in run.inputs.dataset_inputs
        ]
        assert got_inputs == want["inputs"]

    by_name = {r["run_name"]: r for r in expected["runs"]}
    assert by_name["full"]["params"]["text"] == "café ✓\nsecond line"
    assert by_name["dead"]["lifecycle_stage"] == "deleted"
    assert by_name["failed"]["status"] == "FAILED" and by_name["in-default"]["status"] == "KILLED"
    assert by_name["still-running"]["end_time"] is None
    assert math.isnan(client.get_run(by_name["full"]["run_id"]).data.metrics["last_nan"])
    assert by_name["full"]["inputs"][0]["tags"] == {"mlflow.data.context": "training"}
    # the artifacts stay in the file store, where the imported runs still find them
    full_id = by_name["full"]["run_id"]
    assert [f.path for f in client.list_artifacts(full_id, "docs")] == ["docs/artifact.txt"]

    # the database keeps working: new experiments get fresh ids (PostgreSQL's sequence was moved on)
    new_id = client.create_experiment("after the import")
    assert int(new_id) == max(int(x) for x in mapping.values()) + 1

    # importing again is refused, and changes nothing
    snapshot = cli.dump_db(db_uri)
    cli.error("migrate-filestore", "--source", str(root), "--target", db_uri, contains="already has experiments named")
    assert cli.dump_db(db_uri) == snapshot
    assert tree_hash(root.parent) == before


@pytest.mark.compat
def test_mlflow_reads_the_imported_database(mlflow_store, tmp_path, cli):
    root, expected = mlflow_store
    target = f"sqlite:///{tmp_path / 'imported.db'}"
    cli.ok("migrate-filestore", "--source", str(root.parent), "--target", target, "--no-progress")
    script = (
        "import json, sys\n"
        "from mlflow import MlflowClient\n"
        "from mlflow.entities import ViewType\n"
        "c = MlflowClient(sys.argv[1])\n"
        "print(json.dumps(sorted([r.info.run_id, r.info.status, r.data.params]"
        " for e in c.search_experiments(view_type=ViewType.ALL)"
        " for r in c.search_runs([e.experiment_id], run_view_type=ViewType.ALL))))\n"
    )
    done = subprocess.run([str(MLFLOW_PYTHON), "-c", script, target], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == sorted(
        [r["run_id"], r["status"], r["params"]] for r in expected["runs"]
    )


# ---- hand-written file stores ------------------------------------------------------------------------


def write_file_store(root: pathlib.Path, experiments: dict[str, dict]) -> None:
    """A minimal file store in MLflow 2.x's layout: {experiment id: {"name", "deleted", "runs": {...}}}."""
    for eid, spec in experiments.items():
        edir = root / (".trash" if spec.get("deleted") else "") / eid
        edir.mkdir(parents=True)
        stage = "deleted" if spec.get("deleted") else "active"
        (edir / "meta.yaml").write_text(
            f"artifact_location: file://{root}/{eid}\ncreation_time: {spec.get('created', 1000)}\n"
            f"experiment_id: '{eid}'\nlast_update_time: 2000\nlifecycle_stage: {stage}\nname: {spec['name']}\n"
        )
        for key, value in spec.get("tags", {}).items():
            (edir / "tags" / key).parent.mkdir(parents=True, exist_ok=True)
            (edir / "tags" / key).write_text(value)
        for run_id, run in spec.get("runs", {}).items():
            rdir = edir / run_id
            rdir.mkdir()
            if run.get("no_meta"):
                continue
            (rdir / "meta.yaml").write_text(
                f"artifact_uri: file://{root}/{eid}/{run_id}/artifacts\nend_time: 5000\nentry_point_name: ''\n"
                f"experiment_id: '{eid}'\nlifecycle_stage: active\nrun_id: {run_id}\nrun_name: {run.get('name', 'r')}\n"
                f"run_uuid: {run_id}\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 4000\n"
                f"status: {run.get('status', 3)}\ntags: []\nuser_id: alice\n"
            )
            for kind in ("params", "tags", "metrics"):
                for key, value in run.get(kind, {}).items():
                    (rdir / kind / key).parent.mkdir(parents=True, exist_ok=True)
                    (rdir / kind / key).write_text(value)


RUN_A = "a" * 32
RUN_B = "b" * 32


def _store(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "src" / "mlruns"
    write_file_store(root, {
        "0": {"name": "Default"},
        "5": {"name": "small id", "created": 10, "runs": {RUN_A: {
            "params": {"p": "1"}, "metrics": {"legacy": "100 1.5\n200 2.5\n", "m": "100 1 0\n100 1 0\n"},
            "status": 4,
        }}},
        "912345678901234567": {"name": "big id", "created": 20, "tags": {"k": "v"}, "runs": {RUN_B: {"name": "b"}}},
        "812345678901234567": {"name": "trashed", "deleted": True, "created": 30},
    })
    return root


def test_small_ids_are_kept_and_big_ones_mapped(tmp_path, cli):
    root = _store(tmp_path)
    before = tree_hash(root)
    target = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = cli.ok("migrate-filestore", "--source", str(root.parent), "--target", target)
    assert tree_hash(root) == before
    assert "912345678901234567 -> 6  big id" in result.stdout
    assert "812345678901234567 -> 7  trashed (deleted)" in result.stdout
    assert " 5 -> " not in result.stdout
    assert "[2/4] experiment 'small id' (5 -> 5, active): 1 runs, 1 params, 1 tags, 3 metric points" in result.stderr

    client = MlflowClient(target)
    assert client.get_experiment("5").name == "small id"
    assert client.get_experiment("6").tags == {"k": "v"}
    assert client.get_experiment("7").lifecycle_stage == "deleted"
    run = client.get_run(RUN_A)
    assert run.info.status == "FAILED" and run.info.user_id == "alice" and run.info.experiment_id == "5"
    assert run.data.tags == {"mlflow.runName": "r"}  # the run name tag is added like the SQL store does
    assert [(m.timestamp, m.value, m.step) for m in client.get_metric_history(RUN_A, "legacy")] == [
        (100, 1.5, 0), (200, 2.5, 0)
    ]
    assert len(client.get_metric_history(RUN_A, "m")) == 1  # an exact duplicate line is one point
    assert run.data.metrics == {"legacy": 2.5, "m": 1.0}


def test_an_unused_default_experiment_in_the_target_is_taken_over(tmp_path, cli):
    target = f"sqlite:///{tmp_path / 'db.sqlite'}"
    MlflowClient(target).search_experiments()  # opening the store creates the Default experiment
    root = _store(tmp_path)
    cli.ok("migrate-filestore", "--source", str(root), "--target", target, "--no-progress")
    assert MlflowClient(target).get_experiment("0").artifact_location == f"file://{root}/0"


def test_refuses_a_target_with_the_same_experiment_names(tmp_path, cli):
    target = f"sqlite:///{tmp_path / 'db.sqlite'}"
    client = MlflowClient(target)
    client.create_experiment("big id")
    client.create_run("0")  # the Default experiment is in use now
    root = _store(tmp_path)
    before = cli.dump_db(target)
    line = cli.error("migrate-filestore", "--source", str(root), "--target", target)
    assert "'Default' (id 0)" in line and "'big id' (id 1)" in line and "Nothing was imported" in line
    assert cli.dump_db(target) == before


def test_refuses_runs_that_exist_already(tmp_path, cli):
    other = tmp_path / "other"
    write_file_store(other, {"0": {"name": "Default"}, "3": {"name": "elsewhere", "runs": {RUN_A: {}}}})
    target = f"sqlite:///{tmp_path / 'db.sqlite'}"
    cli.ok("migrate-filestore", "--source", str(other), "--target", target)
    before = cli.dump_db(target)
    cli.error("migrate-filestore", "--source", str(_store(tmp_path)), "--target", target,
              contains=f"already has runs with ids {RUN_A}")
    assert cli.dump_db(target) == before


def test_bad_input(tmp_path, cli):
    root = _store(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    target = f"sqlite:///{tmp_path / 'db.sqlite'}"
    cli.error("migrate-filestore", "--source", str(empty), "--target", target, contains="No MLflow file store found")
    cli.error("migrate-filestore", "--source", str(tmp_path / "absent"), "--target", target, contains="does not exist")
    cli.error("migrate-filestore", "--target", target, contains="Missing option '--source'")
    cli.error("migrate-filestore", "--source", str(root), "--target", str(tmp_path / "x"), contains="must be a database URL")
    cli.error("migrate-filestore", "--source", str(root), "--target", f"sqlite:///{tmp_path}/no/such/dir/db.sqlite",
              contains="directory of the target database does not exist")
    assert not (tmp_path / "db.sqlite").exists()
    assert not (tmp_path / "no").exists()


def test_a_malformed_metric_file_stops_the_import_with_its_path(tmp_path, cli):
    root = tmp_path / "mlruns"
    write_file_store(root, {
        "0": {"name": "Default", "runs": {RUN_B: {"metrics": {"good": "100 1 0\n"}}}},
        "5": {"name": "broken", "runs": {RUN_A: {"metrics": {"bad": "100 x 0\n"}}}},
    })
    before = tree_hash(root)
    target = f"sqlite:///{tmp_path / 'db.sqlite'}"
    line = cli.error("migrate-filestore", "--source", str(root), "--target", target, "--no-progress",
                     contains="Malformed line 1 of metric 'bad'")
    assert "experiment 'broken' (5) was not imported" in line and "imported before it: 'Default'" in line
    assert tree_hash(root) == before
    client = MlflowClient(target)
    assert [e.name for e in client.search_experiments(view_type=ViewType.ALL)] == ["Default"]  # 'broken' rolled back
    assert [r.info.run_id for r in client.search_runs(["0"])] == [RUN_B]


def test_runs_without_meta_are_skipped_with_a_warning(tmp_path, cli):
    root = tmp_path / "mlruns"
    write_file_store(root, {"0": {"name": "Default", "runs": {RUN_A: {"no_meta": True}, RUN_B: {}}}})
    target = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = cli.ok("migrate-filestore", "--source", str(root), "--target", target, "--no-progress")
    assert f"Warning: skipped {root}/0/{RUN_A}: no meta.yaml" in result.stderr
    assert "] experiment" not in result.stderr
    assert [r.info.run_id for r in MlflowClient(target).search_runs(["0"])] == [RUN_B]
