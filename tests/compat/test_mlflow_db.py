"""One SQLite file, two programs: MLflow 2.22.5 and fluvial read and write each other's databases.

MLflow runs in its own virtualenv (``.venvs/mlflow-2.22.5``), driven by scripts in subprocesses (see
``_mlflow.py``); the tests skip when that virtualenv is missing. ``DUMP`` is one script that both
programs run against the same file, so "fluvial reads what MLflow reads" is checked value by value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from _mlflow import require_mlflow, run_fluvial, run_mlflow, run_script

pytestmark = pytest.mark.compat

MAX_DOUBLE = 1.7976931348623157e308  # +-inf are stored as the largest doubles, by MLflow and fluvial
T0 = 1_700_000_000_000

# Reads everything through the public client API of the module named by argv[1] (``mlflow`` or
# ``fluvial``) from the tracking URI argv[2], runs the searches in argv[3], and emits it as JSON.
DUMP = """
import importlib, json, sys

module, uri = sys.argv[1], sys.argv[2]
searches = json.loads(sys.argv[3]) if len(sys.argv) > 3 else []
mlflow = importlib.import_module(module)
ViewType = importlib.import_module(module + ".entities").ViewType
client = mlflow.MlflowClient(tracking_uri=uri)

def run_data(run):
    return {"params": dict(run.data.params), "metrics": dict(run.data.metrics), "tags": dict(run.data.tags)}

experiments = {}
for e in client.search_experiments(view_type=ViewType.ALL, max_results=1000):
    experiments[e.experiment_id] = {
        "name": e.name, "artifact_location": e.artifact_location, "lifecycle_stage": e.lifecycle_stage,
        "tags": dict(e.tags), "creation_time": e.creation_time, "last_update_time": e.last_update_time,
    }
experiment_ids = sorted(experiments, key=int)
runs = {}
for listed in client.search_runs(experiment_ids, run_view_type=ViewType.ALL, max_results=1000):
    run = client.get_run(listed.info.run_id)
    i = run.info
    history = {}
    for key in run.data.metrics:
        points = [[m.step, m.timestamp, m.value] for m in client.get_metric_history(i.run_id, key)]
        history[key] = sorted(points, key=lambda p: (p[0], p[1], repr(p[2])))
    inputs = [
        {
            "name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type,
            "source": d.dataset.source, "schema": d.dataset.schema, "profile": d.dataset.profile,
            "tags": {t.key: t.value for t in d.tags},
        }
        for d in run.inputs.dataset_inputs
    ]
    runs[i.run_id] = {
        "info": {
            "run_id": i.run_id, "experiment_id": i.experiment_id, "run_name": i.run_name, "user_id": i.user_id,
            "status": i.status, "start_time": i.start_time, "end_time": i.end_time,
            "artifact_uri": i.artifact_uri, "lifecycle_stage": i.lifecycle_stage,
        },
        **run_data(run),
        "history": history,
        "inputs": sorted(inputs, key=lambda d: (d["name"], d["digest"])),
        "search_view_matches_get_run": repr(run_data(listed)) == repr(run_data(run)),
    }
found = []
for s in searches:
    result = client.search_runs(
        s.get("experiment_ids") or experiment_ids, s["filter"], run_view_type=s.get("view", ViewType.ACTIVE_ONLY),
        order_by=s.get("order_by"), max_results=1000,
    )
    found.append([r.info.run_id for r in result])
emit({"experiments": experiments, "runs": runs, "searches": found})
"""


def dump(program: str, uri: str, cwd: Path, searches: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What ``program`` ("mlflow" or "fluvial") reads from ``uri``, by running ``DUMP`` in its Python."""
    run = {"mlflow": run_mlflow, "fluvial": run_fluvial}[program]
    return run(DUMP, program, uri, json.dumps(searches or []), cwd=cwd, name=f"dump_{program}.py")


def assert_same_view(fluvial_view: dict[str, Any], mlflow_view: dict[str, Any]) -> None:
    """Section by section, so a difference points at the experiment or run that differs."""
    assert fluvial_view["experiments"] == mlflow_view["experiments"]
    assert sorted(fluvial_view["runs"]) == sorted(mlflow_view["runs"])
    for run_id, seen_by_mlflow in mlflow_view["runs"].items():
        assert fluvial_view["runs"][run_id] == seen_by_mlflow, f"run {run_id} reads differently"
        assert seen_by_mlflow["search_view_matches_get_run"], f"MLflow: search_runs and get_run differ for {run_id}"
    assert fluvial_view["searches"] == mlflow_view["searches"]


def same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def history_of(client: Any, run_id: str, key: str) -> list[tuple[int, int, float]]:
    points = [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]
    return sorted(points, key=lambda p: (p[0], p[1], repr(p[2])))


def assert_history(actual: list[tuple[int, int, float]], expected: list[tuple[int, int, float]]) -> None:
    assert [(s, t) for s, t, _ in actual] == [(s, t) for s, t, _ in expected]
    for (_, _, got), (_, _, want) in zip(actual, expected, strict=True):
        assert same_float(got, want), f"{got!r} != {want!r}"


@pytest.fixture
def db_uri(tmp_path: Path) -> Any:
    """A fresh SQLite file for both programs; fluvial's pooled connections to it are closed afterwards."""
    yield f"sqlite:///{tmp_path / 'shared.db'}"
    from fluvial.store.tracking.sql import engine

    engine.dispose_engines()


# ---- 1. MLflow writes, fluvial reads (and writes on) ------------------------------------------------
MLFLOW_WRITER = """
import math, sys
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

uri, t0 = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(uri)
client = MlflowClient()
exp_a = client.create_experiment("compat-a", tags={"team": "ml", "note": "caf\\u00e9 \\u2713"})
exp_b = client.create_experiment("compat-b", artifact_location="s3://compat-bucket/b")
exp_gone = client.create_experiment("compat-gone")
client.delete_experiment(exp_gone)

mlflow.set_experiment("compat-a")
with mlflow.start_run(run_name="parent", tags={"stage": "dev"}, description="the parent run") as parent:
    pid = parent.info.run_id
    mlflow.log_params({"lr": 0.01, "layers": 3, "optimizer": "adam w"})
    losses = [0.5, 0.25, float("nan"), float("inf"), -float("inf"), 0.125]
    for step, value in enumerate(losses):
        client.log_metric(pid, "loss", value, timestamp=t0 + step, step=step)
    client.log_metric(pid, "acc", 0.9, timestamp=t0, step=0)
    client.log_metric(pid, "acc", 0.95, timestamp=t0 + 1, step=1)
    client.log_metric(pid, "ends_nan", 1.0, timestamp=t0, step=0)
    client.log_metric(pid, "ends_nan", float("nan"), timestamp=t0 + 1, step=1)
    client.log_metric(pid, "ends_inf", float("inf"), timestamp=t0, step=0)
    mlflow.set_tag("owner", "alice")
    have_pandas = True
    try:
        import pandas as pd
    except ImportError:
        have_pandas = False
    if have_pandas:
        df = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 1.5, 2.5]})
        mlflow.log_input(mlflow.data.from_pandas(df, source="x", name="train-df"), context="train")
    with mlflow.start_run(run_name="child", nested=True) as child:
        cid = child.info.run_id
        mlflow.log_param("depth", "2")
        client.log_metric(cid, "child_metric", 1.5, timestamp=t0 + 3, step=3)

failed = client.create_run(exp_b, start_time=t0, tags={"kind": "batch"}, run_name="failed-run")
fid = failed.info.run_id
client.log_batch(
    fid,
    metrics=[Metric("m", float(s) / 10, t0 + s, s) for s in range(5)],
    params=[Param("p", "b")],
    tags=[RunTag("t", "x")],
)
client.set_terminated(fid, "FAILED", end_time=t0 + 1000)
doomed = client.create_run(exp_a, run_name="doomed")
client.log_param(doomed.info.run_id, "p", "gone")
client.delete_run(doomed.info.run_id)
emit({
    "experiments": {"a": exp_a, "b": exp_b, "gone": exp_gone},
    "runs": {"parent": pid, "child": cid, "failed": fid, "doomed": doomed.info.run_id},
    "pandas": have_pandas,
})
"""


def test_mlflow_database_opens_in_fluvial(db_uri: str, tmp_path: Path) -> None:
    require_mlflow()
    made = run_mlflow(MLFLOW_WRITER, db_uri, str(T0), cwd=tmp_path, name="mlflow_writer.py")
    exp, ids = made["experiments"], made["runs"]

    import fluvial
    from fluvial.entities import ViewType

    client = fluvial.MlflowClient(tracking_uri=db_uri)

    # experiments
    a = client.get_experiment_by_name("compat-a")
    assert a is not None and a.experiment_id == exp["a"]
    assert a.tags == {"team": "ml", "note": "caf\u00e9 \u2713"}
    assert a.lifecycle_stage == "active"
    assert client.get_experiment(exp["b"]).artifact_location == "s3://compat-bucket/b"
    assert client.get_experiment(exp["gone"]).lifecycle_stage == "deleted"
    active_names = {e.name for e in client.search_experiments()}
    assert {"Default", "compat-a", "compat-b"} <= active_names and "compat-gone" not in active_names
    assert {e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)} == {"compat-gone"}

    # the parent run: info, params, latest metrics (NaN, +-inf), tags
    parent = client.get_run(ids["parent"])
    assert parent.info.experiment_id == exp["a"]
    assert parent.info.run_name == "parent"
    assert parent.info.status == "FINISHED" and parent.info.end_time is not None
    assert parent.info.lifecycle_stage == "active"
    assert parent.data.params == {"lr": "0.01", "layers": "3", "optimizer": "adam w"}
    metrics = parent.data.metrics
    assert metrics["loss"] == 0.125 and metrics["acc"] == 0.95
    assert math.isnan(metrics["ends_nan"])
    assert metrics["ends_inf"] == MAX_DOUBLE
    tags = parent.data.tags
    assert tags["stage"] == "dev" and tags["owner"] == "alice"
    assert tags["mlflow.runName"] == "parent"
    assert tags["mlflow.note.content"] == "the parent run"
    assert "mlflow.user" in tags and "mlflow.source.name" in tags

    # metric history, every step
    losses = [0.5, 0.25, math.nan, MAX_DOUBLE, -MAX_DOUBLE, 0.125]
    assert_history(history_of(client, ids["parent"], "loss"), [(s, T0 + s, v) for s, v in enumerate(losses)])
    assert_history(history_of(client, ids["parent"], "ends_nan"), [(0, T0, 1.0), (1, T0 + 1, math.nan)])
    assert_history(history_of(client, ids["failed"], "m"), [(s, T0 + s, s / 10) for s in range(5)])

    # the nested run, the failed run, the deleted run
    child = client.get_run(ids["child"])
    assert child.data.tags["mlflow.parentRunId"] == ids["parent"]
    assert child.data.params == {"depth": "2"}
    assert history_of(client, ids["child"], "child_metric") == [(3, T0 + 3, 1.5)]
    failed = client.get_run(ids["failed"])
    assert failed.info.status == "FAILED" and failed.info.end_time == T0 + 1000 and failed.info.start_time == T0
    assert failed.data.tags["kind"] == "batch" and failed.data.metrics == {"m": 0.4}
    assert client.get_run(ids["doomed"]).info.lifecycle_stage == "deleted"

    # the dataset input
    if made["pandas"]:
        (dataset_input,) = parent.inputs.dataset_inputs
        ds = dataset_input.dataset
        assert ds.name == "train-df" and ds.digest and ds.source_type == "local"
        assert json.loads(ds.source) == {"uri": "x"}
        assert {c["name"] for c in json.loads(ds.schema)["mlflow_colspec"]} == {"x", "y"}
        assert json.loads(ds.profile)["num_rows"] == 3
        assert {t.key: t.value for t in dataset_input.tags} == {"mlflow.data.context": "train"}

    # searches with filters
    def found(filter_string: str, experiment_ids: list[str] | None = None, **kw: Any) -> list[str]:
        page = client.search_runs(experiment_ids or [exp["a"], exp["b"]], filter_string, **kw)
        return [r.info.run_id for r in page]

    assert found("params.lr = '0.01'") == [ids["parent"]]
    assert found("metrics.acc > 0.9") == [ids["parent"]]
    assert found("metrics.loss < 0.2 AND tags.stage = 'dev'") == [ids["parent"]]
    assert found(f"tags.mlflow.parentRunId = '{ids['parent']}'") == [ids["child"]]
    assert found("attributes.status = 'FAILED'") == [ids["failed"]]
    assert found("params.p = 'gone'") == []
    assert found("params.p = 'gone'", run_view_type=ViewType.DELETED_ONLY) == [ids["doomed"]]
    if made["pandas"]:
        assert found("dataset.context = 'train'") == [ids["parent"]]
    assert set(found("")) == {ids["parent"], ids["child"], ids["failed"]}

    # fluvial reads everything the way MLflow itself reads it (same script, same file)
    searches = [
        {"filter": "params.lr = '0.01'"},
        {"filter": "metrics.m >= 0.2", "order_by": ["metrics.m DESC"]},
        {"filter": "", "order_by": ["attributes.start_time ASC", "attributes.run_name"]},
        {"filter": "tags.mlflow.runName LIKE '%ar%'", "view": ViewType.ALL},
        {"filter": "metrics.loss != 0.5", "order_by": ["metrics.ends_nan DESC"]},
    ]
    assert_same_view(dump("fluvial", db_uri, tmp_path, searches), dump("mlflow", db_uri, tmp_path, searches))

    # fluvial keeps writing into MLflow's file: a new run, and more points on MLflow's run
    fluvial.set_tracking_uri(db_uri)
    fluvial.set_experiment("compat-a")
    with fluvial.start_run(run_name="by-fluvial") as run:
        fluvial.log_param("lr", "0.02")
        for step, value in enumerate([0.4, math.nan, 0.1]):
            fluvial.log_metric("loss", value, step=step, timestamp=T0 + 10 + step)
        fluvial.set_tag("writer", "fluvial")
    client.log_metric(ids["parent"], "loss", 0.0625, timestamp=T0 + 6, step=6)
    new = client.get_run(run.info.run_id)
    assert new.info.status == "FINISHED" and new.info.experiment_id == exp["a"]
    assert new.data.params == {"lr": "0.02"} and new.data.metrics == {"loss": 0.1}
    assert new.data.tags["writer"] == "fluvial"
    assert_history(history_of(client, run.info.run_id, "loss"), [(0, T0 + 10, 0.4), (1, T0 + 11, math.nan),
                                                                (2, T0 + 12, 0.1)])
    assert client.get_run(ids["parent"]).data.metrics["loss"] == 0.0625
    assert found("params.lr = '0.02'") == [run.info.run_id]

    # ... and MLflow reads those writes as fluvial does
    assert_same_view(dump("fluvial", db_uri, tmp_path, searches), dump("mlflow", db_uri, tmp_path, searches))


# ---- 2. fluvial writes, MLflow reads (and writes on) ------------------------------------------------
MLFLOW_CONTINUES = """
import sys
import mlflow
from mlflow import MlflowClient

uri, parent_id, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3])
mlflow.set_tracking_uri(uri)
client = MlflowClient()
client.log_metric(parent_id, "loss", 0.01, timestamp=t0 + 100, step=100)
client.set_tag(parent_id, "touched_by", "mlflow")
mlflow.set_experiment("fl-a")
with mlflow.start_run(run_name="by-mlflow") as run:
    mlflow.log_params({"alpha": 0.5})
    client.log_metric(run.info.run_id, "score", 0.75, timestamp=t0 + 200, step=0)
    client.log_metric(run.info.run_id, "score", float("nan"), timestamp=t0 + 201, step=1)
    mlflow.set_tag("writer", "mlflow")
    try:
        import pandas as pd
        df = pd.DataFrame({"a": [1.0, 2.0]})
        mlflow.log_input(mlflow.data.from_pandas(df, source="y", name="eval-df"), context="eval")
        have_pandas = True
    except ImportError:
        have_pandas = False
emit({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id, "pandas": have_pandas})
"""


def test_fluvial_database_opens_in_mlflow(db_uri: str, tmp_path: Path) -> None:
    require_mlflow()
    import fluvial
    from fluvial.entities import Dataset, Metric, Param, RunTag, ViewType

    fluvial.set_tracking_uri(db_uri)
    client = fluvial.MlflowClient()
    exp_a = client.create_experiment("fl-a", tags={"owner": "fluvial", "note": "caf\u00e9"})
    exp_b = client.create_experiment("fl-b", artifact_location="s3://fl-bucket/b")
    exp_gone = client.create_experiment("fl-gone")
    client.delete_experiment(exp_gone)
    fluvial.set_experiment("fl-a")
    dataset = Dataset(
        name="train-df",
        digest="4f1c2b9a",
        source_type="local",
        source=json.dumps({"uri": "x"}),
        schema=json.dumps({"mlflow_colspec": [{"type": "long", "name": "x", "required": True}]}),
        profile=json.dumps({"num_rows": 3, "num_elements": 3}),
    )
    with fluvial.start_run(run_name="fl-parent", tags={"stage": "dev"}, description="made by fluvial") as parent:
        fluvial.log_params({"lr": 0.01, "layers": 3})
        for step, value in enumerate([0.5, math.nan, math.inf, -math.inf, 0.25]):
            fluvial.log_metric("loss", value, step=step, timestamp=T0 + step)
        fluvial.log_metric("ends_nan", math.nan, step=0, timestamp=T0)
        fluvial.set_tag("owner", "bob")
        fluvial.log_input(dataset, context="train")
        with fluvial.start_run(run_name="fl-child", nested=True) as child:
            fluvial.log_metric("child_metric", 2.5, step=1, timestamp=T0 + 1)
    failed = client.create_run(exp_b, start_time=T0, tags={"kind": "batch"}, run_name="fl-failed")
    client.log_batch(
        failed.info.run_id,
        metrics=[Metric("m", s / 10, T0 + s, s) for s in range(5)],
        params=[Param("p", "b")],
        tags=[RunTag("t", "x")],
    )
    client.set_terminated(failed.info.run_id, "FAILED", end_time=T0 + 1000)
    doomed = client.create_run(exp_a, run_name="fl-doomed")
    client.delete_run(doomed.info.run_id)

    # MLflow reads every value the way fluvial does
    searches = [
        {"filter": "params.lr = '0.01'"},
        {"filter": "metrics.m >= 0.2", "order_by": ["metrics.m DESC"]},
        {"filter": "metrics.loss < 0.3 AND tags.stage = 'dev'"},
        {"filter": "", "order_by": ["attributes.start_time ASC", "attributes.run_name"]},
        {"filter": "", "view": ViewType.DELETED_ONLY},
        {"filter": "dataset.context = 'train'"},
    ]
    seen = dump("mlflow", db_uri, tmp_path, searches)
    assert_same_view(dump("fluvial", db_uri, tmp_path, searches), seen)
    # ... and those values are the ones fluvial was given
    pid, cid, fid = parent.info.run_id, child.info.run_id, failed.info.run_id
    assert {e["name"]: e["lifecycle_stage"] for e in seen["experiments"].values()} == {
        "Default": "active", "fl-a": "active", "fl-b": "active", "fl-gone": "deleted"}
    assert seen["experiments"][exp_a]["tags"] == {"owner": "fluvial", "note": "caf\u00e9"}
    assert seen["experiments"][exp_b]["artifact_location"] == "s3://fl-bucket/b"
    p = seen["runs"][pid]
    assert p["info"]["run_name"] == "fl-parent" and p["info"]["status"] == "FINISHED"
    assert p["params"] == {"lr": "0.01", "layers": "3"}
    assert p["metrics"] == {"loss": 0.25, "ends_nan": "nan"}
    assert p["history"]["loss"] == [[0, T0, 0.5], [1, T0 + 1, "nan"], [2, T0 + 2, MAX_DOUBLE],
                                    [3, T0 + 3, -MAX_DOUBLE], [4, T0 + 4, 0.25]]
    assert p["tags"]["stage"] == "dev" and p["tags"]["owner"] == "bob"
    assert p["tags"]["mlflow.note.content"] == "made by fluvial" and p["tags"]["mlflow.runName"] == "fl-parent"
    assert p["inputs"] == [{
        "name": "train-df", "digest": "4f1c2b9a", "source_type": "local", "source": dataset.source,
        "schema": dataset.schema, "profile": dataset.profile, "tags": {"mlflow.data.context": "train"},
    }]
    assert seen["runs"][cid]["tags"]["mlflow.parentRunId"] == pid
    assert seen["runs"][cid]["history"] == {"child_metric": [[1, T0 + 1, 2.5]]}
    f = seen["runs"][fid]
    assert f["info"]["status"] == "FAILED" and f["info"]["end_time"] == T0 + 1000
    assert f["history"]["m"] == [[s, T0 + s, s / 10] for s in range(5)]
    assert seen["runs"][doomed.info.run_id]["info"]["lifecycle_stage"] == "deleted"
    assert seen["searches"][0] == [pid] and seen["searches"][1] == [fid] and seen["searches"][2] == [pid]
    assert seen["searches"][4] == [doomed.info.run_id] and seen["searches"][5] == [pid]

    # MLflow keeps writing into fluvial's file ...
    wrote = run_mlflow(MLFLOW_CONTINUES, db_uri, pid, str(T0), cwd=tmp_path, name="mlflow_continues.py")
    # ... and fluvial reads those writes
    parent_now = client.get_run(pid)
    assert parent_now.data.metrics["loss"] == 0.01
    assert parent_now.data.tags["touched_by"] == "mlflow"
    assert history_of(client, pid, "loss")[-1] == (100, T0 + 100, 0.01)
    new = client.get_run(wrote["run_id"])
    assert new.info.experiment_id == exp_a == wrote["experiment_id"]
    assert new.info.run_name == "by-mlflow" and new.info.status == "FINISHED"
    assert new.data.params == {"alpha": "0.5"} and new.data.tags["writer"] == "mlflow"
    assert math.isnan(new.data.metrics["score"])
    assert_history(history_of(client, wrote["run_id"], "score"), [(0, T0 + 200, 0.75), (1, T0 + 201, math.nan)])
    if wrote["pandas"]:
        (dataset_input,) = new.inputs.dataset_inputs
        assert dataset_input.dataset.name == "eval-df"
        assert {t.key: t.value for t in dataset_input.tags} == {"mlflow.data.context": "eval"}
    found = client.search_runs([exp_a], "tags.writer = 'mlflow'")
    assert [r.info.run_id for r in found] == [wrote["run_id"]]
    # fluvial writes once more after MLflow, and both still agree on the whole file
    client.log_metric(wrote["run_id"], "score", 0.8, timestamp=T0 + 202, step=2)
    assert client.get_run(wrote["run_id"]).data.metrics["score"] == 0.8
    assert_same_view(dump("fluvial", db_uri, tmp_path, searches), dump("mlflow", db_uri, tmp_path, searches))


# ---- 3. the same schema ----------------------------------------------------------------------------
CREATE_EMPTY = """
import sys
import mlflow
mlflow.MlflowClient(tracking_uri=sys.argv[1]).search_experiments()
emit({"ok": True})
"""


def sqlite_affinity(declared: str) -> str:
    """SQLite's type affinity for a declared column type (its documented rules, in order)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(s in t for s in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if any(s in t for s in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def describe_schema(path: Path) -> dict[str, Any]:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        inspector = sa.inspect(engine)
        tables: dict[str, Any] = {}
        for name in sorted(t for t in inspector.get_table_names() if not t.startswith("fluvial_")):
            pk = inspector.get_pk_constraint(name)
            tables[name] = {
                "columns": {
                    c["name"]: (sqlite_affinity(str(c["type"])), bool(c["nullable"]))
                    for c in inspector.get_columns(name)
                },
                "primary_key": sorted(pk["constrained_columns"]),
                # fluvial's own search indexes (fluvial_*) are compared separately
                "indexes": sorted(i["name"] for i in inspector.get_indexes(name)
                                  if i["name"] and not i["name"].startswith("fluvial_")),
                "fluvial_indexes": sorted(i["name"] for i in inspector.get_indexes(name)
                                          if (i["name"] or "").startswith("fluvial_")),
            }
        with engine.connect() as conn:
            revisions = [row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
        return {"tables": tables, "alembic_version": revisions}
    finally:
        engine.dispose()


def test_fresh_databases_have_the_same_schema(tmp_path: Path) -> None:
    python = require_mlflow()
    mlflow_db, fluvial_db = tmp_path / "mlflow.db", tmp_path / "fluvial.db"
    run_script(python, CREATE_EMPTY, f"sqlite:///{mlflow_db}", cwd=tmp_path, name="mlflow_create.py")
    run_fluvial(CREATE_EMPTY.replace("import mlflow", "import fluvial as mlflow"), f"sqlite:///{fluvial_db}",
                cwd=tmp_path, name="fluvial_create.py")
    theirs, ours = describe_schema(mlflow_db), describe_schema(fluvial_db)

    assert sorted(ours["tables"]) == sorted(theirs["tables"])
    for table, expected in theirs["tables"].items():
        got = ours["tables"][table]
        assert got["columns"] == expected["columns"], f"columns of {table} (name: (affinity, nullable))"
        assert got["primary_key"] == expected["primary_key"], f"primary key of {table}"
        assert got["indexes"] == expected["indexes"], f"indexes of {table}"
    assert ours["alembic_version"] == theirs["alembic_version"]
    assert len(theirs["alembic_version"]) == 1
    from fluvial.store.tracking.sql.indexes import NAMES

    assert sorted(n for t in ours["tables"].values() for n in t["fluvial_indexes"]) == sorted(NAMES)

