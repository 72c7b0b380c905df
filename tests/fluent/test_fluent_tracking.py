"""The fluent API as an MLflow user writes it (every tracking behaviour of the certification seed)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

import fluvial as mlflow
from fluvial.entities import Dataset, RunStatus, ViewType
from fluvial.exceptions import InvalidParameterValue, MlflowException, ResourceAlreadyExists


def test_default_tracking_uri_is_sqlite_in_cwd(tmp_path):
    assert mlflow.get_tracking_uri() == "sqlite:///mlflow.db"
    with mlflow.start_run() as run:
        mlflow.log_param("p", 1)
        mlflow.log_text("hello", "notes/hello.txt")
    assert (tmp_path / "mlflow.db").is_file()
    assert run.info.artifact_uri == str(tmp_path / "mlruns" / "0" / run.info.run_id / "artifacts")
    assert (tmp_path / "mlruns" / "0" / run.info.run_id / "artifacts" / "notes" / "hello.txt").read_text() == "hello"


def test_issue_example_end_to_end(tracking_uri, tmp_path):
    (tmp_path / "report.txt").write_text("report")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.txt").write_text("a")
    (tmp_path / "plots" / "sub").mkdir()
    (tmp_path / "plots" / "sub" / "b.txt").write_text("b")
    mlflow.set_experiment("churn")
    with mlflow.start_run(run_name="rf-1") as run:
        mlflow.log_param("n_estimators", 100)
        mlflow.log_params({"max_depth": 5, "model": "rf"})
        mlflow.log_metric("loss", 0.4, step=1)
        mlflow.log_metrics({"acc": 0.93, "f1": 0.9})
        mlflow.set_tag("team", "growth")
        mlflow.log_artifact("report.txt")
        mlflow.log_artifacts("plots/", artifact_path="plots")
    with mlflow.start_run(run_name="lr-1"):
        mlflow.log_params({"model": "lr"})
        mlflow.log_metric("acc", 0.95)
    df = mlflow.search_runs(filter_string="metrics.acc > 0.9 AND params.model = 'rf'", order_by=["metrics.acc DESC"])
    assert list(df["run_id"]) == [run.info.run_id]
    row = df.iloc[0]
    assert row["params.n_estimators"] == "100" and row["params.max_depth"] == "5"
    assert row["metrics.acc"] == 0.93 and row["tags.team"] == "growth"
    assert row["tags.mlflow.runName"] == "rf-1" and row["status"] == "FINISHED"
    client = mlflow.MlflowClient()
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["plots", "report.txt"]
    assert [f.path for f in client.list_artifacts(run.info.run_id, "plots")] == ["plots/a.txt", "plots/sub"]
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="plots", dst_path=str(tmp_path / "dl"))
    assert pathlib.Path(local, "sub", "b.txt").read_text() == "b"


def test_search_runs_dataframe_columns_and_dtypes(tracking_uri):
    with mlflow.start_run():
        mlflow.log_metric("m", 1.0)
        mlflow.log_param("p", "x")
    with mlflow.start_run():
        mlflow.set_tag("only_here", "1")
    df = mlflow.search_runs()
    assert list(df.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert str(df["start_time"].dtype) == "datetime64[ns, UTC]" or str(df["start_time"].dtype).startswith("datetime64")
    assert str(df["start_time"].dt.tz) == "UTC"
    assert df["metrics.m"].dtype == "float64"
    assert df["params.p"].dtype == object
    assert df["metrics.m"].isna().sum() == 1 and df["params.p"].isna().sum() == 1
    assert {"tags.mlflow.user", "tags.mlflow.source.name", "tags.mlflow.source.type", "tags.mlflow.runName"} <= set(df.columns)
    assert "run_name" not in df.columns and "lifecycle_stage" not in df.columns
    runs = mlflow.search_runs(output_format="list")
    assert len(runs) == 2 and runs[0].info.start_time >= runs[1].info.start_time


def test_search_runs_empty_result(tracking_uri):
    df = mlflow.search_runs(filter_string="metrics.x > 1")
    assert list(df.columns) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert len(df) == 0


def test_search_runs_by_experiment_names_and_all(tracking_uri):
    a = mlflow.create_experiment("a")
    b = mlflow.create_experiment("b")
    with mlflow.start_run(experiment_id=a):
        pass
    with mlflow.start_run(experiment_id=b):
        pass
    assert len(mlflow.search_runs(experiment_names=["a", "missing"])) == 1
    assert len(mlflow.search_runs(search_all_experiments=True)) == 2
    assert len(mlflow.search_runs([a, b])) == 2


def test_param_stored_as_string_and_quoted_search(tracking_uri):
    with mlflow.start_run() as run:
        mlflow.log_param("x", 100)
    assert mlflow.get_run(run.info.run_id).data.params["x"] == "100"
    assert len(mlflow.search_runs(filter_string="params.x = '100'")) == 1
    with pytest.raises(InvalidParameterValue):
        mlflow.search_runs(filter_string="params.x = 100")


def test_set_experiment_vs_create_experiment(tracking_uri):
    exp = mlflow.set_experiment("exp")
    assert mlflow.set_experiment("exp").experiment_id == exp.experiment_id  # idempotent
    with pytest.raises(ResourceAlreadyExists) as err:
        mlflow.create_experiment("exp")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert mlflow.get_experiment_by_name("nope") is None
    new_id = mlflow.create_experiment("new", tags={"k": "v"})
    assert mlflow.get_experiment(new_id).tags == {"k": "v"}
    assert mlflow.set_experiment(experiment_id=new_id).name == "new"
    with pytest.raises(InvalidParameterValue):
        mlflow.set_experiment()
    mlflow.delete_experiment(new_id)
    with pytest.raises(InvalidParameterValue):
        mlflow.set_experiment("new")
    assert os.environ["MLFLOW_EXPERIMENT_ID"] == exp.experiment_id or os.environ["MLFLOW_EXPERIMENT_ID"] == new_id


def test_runs_go_to_active_experiment(tracking_uri):
    exp = mlflow.set_experiment("active-one")
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == exp.experiment_id


def test_experiment_from_environment(tracking_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    with mlflow.start_run() as run:
        pass
    assert mlflow.get_experiment(run.info.experiment_id).name == "from-env"


def test_with_block_sets_status(tracking_uri):
    with mlflow.start_run() as ok:
        pass
    assert mlflow.get_run(ok.info.run_id).info.status == "FINISHED"
    assert mlflow.get_run(ok.info.run_id).info.end_time is not None
    with pytest.raises(ZeroDivisionError), mlflow.start_run() as bad:
        1 / 0  # noqa: B018
    assert mlflow.get_run(bad.info.run_id).info.status == "FAILED"
    assert mlflow.active_run() is None


def test_nested_runs_and_active_run_errors(tracking_uri):
    with mlflow.start_run() as parent:
        with pytest.raises(MlflowException, match="already active"):
            mlflow.start_run()
        with mlflow.start_run(nested=True) as child:
            assert mlflow.active_run().info.run_id == child.info.run_id
        assert mlflow.active_run().info.run_id == parent.info.run_id
    child_run = mlflow.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert mlflow.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert mlflow.get_parent_run(parent.info.run_id) is None


def test_implicit_run_start_and_end_run(tracking_uri):
    mlflow.log_metric("m", 1.0)
    run = mlflow.active_run()
    assert run is not None
    mlflow.end_run()
    assert mlflow.active_run() is None
    assert mlflow.last_active_run().info.run_id == run.info.run_id
    assert mlflow.get_run(run.info.run_id).info.status == RunStatus.FINISHED.name
    mlflow.end_run()  # no active run: nothing happens


def test_resume_run_by_id_and_env(tracking_uri, monkeypatch):
    with mlflow.start_run() as run:
        mlflow.log_param("a", 1)
    with mlflow.start_run(run_id=run.info.run_id, tags={"resumed": "yes"}):
        mlflow.log_metric("m", 2.0)
        assert mlflow.get_run(run.info.run_id).info.status == "RUNNING"
    resumed = mlflow.get_run(run.info.run_id)
    assert resumed.data.params == {"a": "1"} and resumed.data.metrics == {"m": 2.0}
    assert resumed.data.tags["resumed"] == "yes" and resumed.info.status == "FINISHED"
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    with mlflow.start_run() as again:
        assert again.info.run_id == run.info.run_id
    assert "MLFLOW_RUN_ID" not in os.environ
    mlflow.delete_run(run.info.run_id)
    with pytest.raises(MlflowException, match="deleted"):
        mlflow.start_run(run_id=run.info.run_id)
    with pytest.raises(InvalidParameterValue):
        mlflow.start_run(run_id="not a run id!")


def test_system_tags(tracking_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_RUN_CONTEXT", json.dumps({"ctx": "1"}))
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    with mlflow.start_run(run_name="named", description="hello") as run:
        pass
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["mlflow.user"] == "alice" and run.info.user_id == "alice"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"] == sys.argv[0]
    assert tags["mlflow.runName"] == "named" and tags["mlflow.note.content"] == "hello" and tags["ctx"] == "1"


def test_git_commit_tag_from_script_in_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    (repo / "train.py").write_text(
        "import fluvial as mlflow\n"
        "with mlflow.start_run() as r:\n"
        "    print(r.info.run_id)\n"
    )
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, check=True, env=env)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True, env=env).stdout.strip()
    out = subprocess.run([sys.executable, "train.py"], cwd=repo, check=True, capture_output=True, text=True, timeout=120, env=env)
    run_id = out.stdout.strip().splitlines()[-1]
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    assert mlflow.get_run(run_id).data.tags["mlflow.source.git.commit"] == commit


def test_text_dict_image_figure_artifacts(tracking_uri, tmp_path):
    import numpy as np

    with mlflow.start_run() as run:
        mlflow.log_text("t", "a/b.txt")
        mlflow.log_dict({"k": [1, 2]}, "d.json")
        mlflow.log_dict({"k": "v"}, "d.yaml")
        mlflow.log_image(np.zeros((4, 4, 3), dtype=np.uint8), "img.png")
        mlflow.log_image(np.ones((2, 2)), key="step-img", step=3)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([1, 2])
        mlflow.log_figure(fig, "fig.png")
        plt.close(fig)
        uri = mlflow.get_artifact_uri()
    base = f"runs:/{run.info.run_id}"
    assert mlflow.artifacts.load_text(f"{base}/a/b.txt") == "t"
    assert mlflow.artifacts.load_dict(f"{base}/d.json") == {"k": [1, 2]}
    assert mlflow.artifacts.load_dict(f"{base}/d.yaml") == {"k": "v"}
    assert mlflow.artifacts.load_image(f"{base}/img.png").size == (4, 4)
    paths = {f.path for f in mlflow.artifacts.list_artifacts(run_id=run.info.run_id)}
    assert {"a", "d.json", "d.yaml", "img.png", "fig.png", "images"} <= paths
    assert mlflow.get_run(run.info.run_id).data.tags["mlflow.loggedImages"] == "true"
    assert uri == run.info.artifact_uri
    assert mlflow.artifacts.load_text(os.path.join(uri, "a", "b.txt")) == "t"


def test_artifact_path_traversal_refused(tracking_uri, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with mlflow.start_run():
        for bad in ("../escape", "/abs", "a/../../b", "%2e%2e/x"):
            with pytest.raises(InvalidParameterValue):
                mlflow.log_artifact("f.txt", artifact_path=bad)
            with pytest.raises(InvalidParameterValue):
                mlflow.log_text("x", f"{bad}/t.txt")
    assert not (tmp_path / "mlruns" / "escape").exists() and not (tmp_path / "escape").exists()


def test_missing_artifact_file_is_clear_error(tracking_uri):
    with mlflow.start_run(), pytest.raises(InvalidParameterValue, match="No such file"):
        mlflow.log_artifact("does-not-exist.txt")


def test_log_input(tracking_uri):
    ds = Dataset(name="iris", digest="d1", source_type="local", source='{"uri": "iris.csv"}')
    with mlflow.start_run() as run:
        mlflow.log_input(ds, context="train", tags={"k": "v"})
    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert inputs[0].dataset.name == "iris"
    assert {(t.key, t.value) for t in inputs[0].tags} == {("k", "v"), ("mlflow.data.context", "train")}
    assert len(mlflow.search_runs(filter_string="datasets.context = 'train'")) == 1


def test_file_uri_is_local_tracking_directory(tmp_path):
    mlflow.set_tracking_uri(f"file://{tmp_path / 'mlruns'}")
    with mlflow.start_run() as run:
        mlflow.log_text("x", "x.txt")
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert (tmp_path / "mlruns" / "0" / run.info.run_id / "artifacts" / "x.txt").is_file()
    mlflow.set_tracking_uri(str(tmp_path / "plain"))
    with mlflow.start_run():
        pass
    assert (tmp_path / "plain" / "mlflow.db").is_file()


def test_tracking_uri_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'env.db'}")
    with mlflow.start_run():
        pass
    assert (tmp_path / "env.db").is_file() and not (tmp_path / "mlflow.db").exists()


def test_search_experiments_fluent(tracking_uri):
    for i in range(3):
        mlflow.create_experiment(f"e{i}")
    assert len(mlflow.search_experiments()) == 4
    assert len(mlflow.search_experiments(max_results=2)) == 2
    assert [e.name for e in mlflow.search_experiments(filter_string="name = 'e1'")] == ["e1"]
    assert mlflow.search_experiments(view_type=ViewType.DELETED_ONLY) == []


def test_experiment_tags_fluent(tracking_uri):
    mlflow.set_experiment("tagged")
    mlflow.set_experiment_tags({"a": 1, "b": "two"})
    assert mlflow.get_experiment_by_name("tagged").tags == {"a": "1", "b": "two"}


def test_client_log_batch_splits_nothing_and_is_atomic(tracking_uri):
    from fluvial.entities import Metric, Param

    client = mlflow.MlflowClient()
    run = client.create_run("0")
    metrics = [Metric("m", float(i), 1, i) for i in range(2500)]
    client.log_batch(run.info.run_id, metrics=metrics, params=[Param("p", 1)])
    assert len(client.get_metric_history(run.info.run_id, "m")) == 2500
    with pytest.raises(InvalidParameterValue):
        client.log_batch(run.info.run_id, metrics=[Metric("n", 1.0, 1, i) for i in range(2500)], params=[Param("p", 2)])
    assert client.get_metric_history(run.info.run_id, "n") == []


def test_client_terminate_and_update(tracking_uri):
    client = mlflow.MlflowClient()
    run = client.create_run("0", run_name="c")
    client.update_run(run.info.run_id, name="c2")
    client.set_terminated(run.info.run_id, "KILLED")
    info = client.get_run(run.info.run_id).info
    assert (info.run_name, info.status) == ("c2", "KILLED") and info.end_time
    with pytest.raises(ValueError):
        client.set_terminated(run.info.run_id, "BOGUS")


def test_invalid_keys_are_refused_every_time(tracking_uri):
    with mlflow.start_run() as run:
        mlflow.log_metric("ok", 1.0)
        mlflow.log_metric("ok", 2.0, step=1)  # a key seen before
        mlflow.log_param("ok", "p")  # a key valid as a metric is valid as a param
        for _ in range(2):
            with pytest.raises(InvalidParameterValue, match=r"Invalid metric name: 'bad;name'\. Names may only"):
                mlflow.log_metric("bad;name", 1.0)
            with pytest.raises(InvalidParameterValue, match=r"Invalid param name: 'a/\.\./b'\. Names may be treated"):
                mlflow.log_param("a/../b", 1)
            with pytest.raises(InvalidParameterValue, match="Missing value for required parameter 'key'"):
                mlflow.log_metric("", 1.0)
    data = mlflow.get_run(run.info.run_id).data
    assert data.metrics == {"ok": 2.0}
    assert data.params == {"ok": "p"}


def test_relative_tracking_uri_follows_the_working_directory(tmp_path, monkeypatch):
    from fluvial.tracking import _stores

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    mlflow.set_tracking_uri("sqlite:///rel.db")
    for name in ("a", "b"):
        monkeypatch.chdir(tmp_path / name)
        with mlflow.start_run():
            mlflow.log_param("p", name)
        assert (tmp_path / name / "rel.db").is_file()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'abs.db'}")  # absolute: one store whatever the cwd
    monkeypatch.chdir(tmp_path / "a")
    store = _stores.get_store()
    monkeypatch.chdir(tmp_path / "b")
    assert _stores.get_store() is store
    mlflow.set_tracking_uri("plain-dir")  # a relative tracking directory follows the cwd too
    assert _stores.get_store() is not _stores.get_store(str(tmp_path / "a" / "plain-dir"))
