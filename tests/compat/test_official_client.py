"""The official MLflow clients (2.22.5 and 3.17.2, each in its own virtualenv) against a real
``fluvial server`` (SQLite, proxied artifacts, 2 workers).

Every case runs a script with the client's Python, checks what the client saw (the script emits
JSON) and then what fluvial's own SQL store holds in the server's database. One server per client
version for the whole module; every test uses fresh experiment names.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat._mlflow import mlflow_python, run_script
from tests.compat._servers import RunningServer, fluvial_server

pytestmark = pytest.mark.compat

VERSIONS = ["2.22.5", "3.17.2"]


class Client:
    """One official client version and the fluvial server it talks to."""

    def __init__(self, version: str, python: Path, server: RunningServer) -> None:
        self.version = version
        self.python = python
        self.server = server
        self.major = int(version.split(".")[0])

    def run(self, source: str, cwd: Path, *args: str, timeout: float = 150.0) -> Any:
        return run_script(self.python, source, *args, cwd=cwd, timeout=timeout,
                          env={"MLFLOW_TRACKING_URI": self.server.url}, name=f"client_{self.major}.py")

    def store(self) -> Any:
        """fluvial's SQL store on the server's database (what the server wrote, read directly)."""
        from fluvial.store.tracking.sql.store import SqlTrackingStore

        return SqlTrackingStore(self.server.backend_store_uri, str(self.server.artifacts))


@pytest.fixture(scope="module", params=VERSIONS)
def client(request, tmp_path_factory) -> Iterator[Client]:
    version = request.param
    python = mlflow_python(version)
    if python is None:
        pytest.skip(f"MLflow {version} is not installed: .venvs/mlflow-{version}/bin/python is missing "
                    "(create it with `make mlflow-venvs`)")
    with fluvial_server(tmp_path_factory.mktemp(f"fluvial-server-{version}"), workers=2) as server:
        yield Client(version, python, server)


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---- experiments ---------------------------------------------------------------------------------
EXPERIMENTS = """
import sys
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

prefix = sys.argv[1]
c = MlflowClient()
out = {}
exp_id = c.create_experiment(prefix + "-a", tags={"team": "x", "note": "é"})
out["created"] = exp_id
mlflow.set_experiment(prefix + "-b")  # does not exist: created
out["b"] = mlflow.get_experiment_by_name(prefix + "-b").experiment_id
out["set_again"] = mlflow.set_experiment(prefix + "-b").experiment_id  # exists: reused
out["missing"] = mlflow.get_experiment_by_name(prefix + "-missing")
try:
    c.create_experiment(prefix + "-a")
    out["duplicate"] = "no error"
except MlflowException as e:
    out["duplicate"] = e.error_code
c.rename_experiment(exp_id, prefix + "-renamed")
out["renamed"] = c.get_experiment(exp_id).name
c.set_experiment_tag(exp_id, "stage", "dev")
if hasattr(c, "delete_experiment_tag"):
    c.delete_experiment_tag(exp_id, "team")
out["tags"] = {k: v for k, v in c.get_experiment(exp_id).tags.items() if not k.startswith("mlflow.")}
c.delete_experiment(exp_id)
out["deleted_stage"] = c.get_experiment(exp_id).lifecycle_stage
try:
    c.delete_experiment(exp_id)
    out["delete_twice"] = "no error"
except MlflowException as e:
    out["delete_twice"] = e.error_code
out["active_names"] = sorted(e.name for e in c.search_experiments(filter_string=f"name LIKE '{prefix}%'"))
out["deleted_names"] = sorted(e.name for e in c.search_experiments(
    view_type=2, filter_string=f"name LIKE '{prefix}%'"))
c.restore_experiment(exp_id)
out["restored_stage"] = c.get_experiment(exp_id).lifecycle_stage
try:
    c.create_experiment(prefix + "-renamed")  # name of an active experiment
    out["duplicate_renamed"] = "no error"
except MlflowException as e:
    out["duplicate_renamed"] = e.error_code
# paging through search_experiments: 7 experiments, pages of 3
for i in range(5):
    c.create_experiment(f"{prefix}-page-{i}")
pages, token = [], None
while True:
    page = c.search_experiments(max_results=3, filter_string=f"name LIKE '{prefix}%'",
                                order_by=["name ASC"], page_token=token)
    pages.append([e.name for e in page])
    token = page.token
    if not token:
        break
out["pages"] = pages
out["fluent_all"] = sorted(e.name for e in mlflow.search_experiments(filter_string=f"name LIKE '{prefix}%'"))
emit(out)
"""


def test_experiments(client: Client, tmp_path: Path) -> None:
    prefix = fresh("exp")
    out = client.run(EXPERIMENTS, tmp_path, prefix)
    assert out["b"] == out["set_again"]
    assert out["missing"] is None
    assert out["duplicate"] == "RESOURCE_ALREADY_EXISTS"
    assert out["duplicate_renamed"] == "RESOURCE_ALREADY_EXISTS"
    assert out["renamed"] == f"{prefix}-renamed"
    expected_tags = {"stage": "dev", "note": "é"} | ({} if client.major >= 3 else {"team": "x"})
    assert out["tags"] == expected_tags
    assert out["deleted_stage"] == "deleted"
    assert out["delete_twice"] == "RESOURCE_DOES_NOT_EXIST"
    assert out["active_names"] == [f"{prefix}-b"]
    assert out["deleted_names"] == [f"{prefix}-renamed"]
    assert out["restored_stage"] == "active"
    names = sorted([f"{prefix}-b", f"{prefix}-renamed"] + [f"{prefix}-page-{i}" for i in range(5)])
    assert out["pages"] == [names[0:3], names[3:6], names[6:7]]
    assert out["fluent_all"] == names

    store = client.store()
    exp = store.get_experiment(out["created"])
    assert (exp.name, exp.lifecycle_stage) == (f"{prefix}-renamed", "active")
    assert {k: v for k, v in exp.tags.items() if not k.startswith("mlflow.")} == expected_tags
    assert exp.artifact_location == f"mlflow-artifacts:/{out['created']}"
    assert store.get_experiment_by_name(f"{prefix}-b").experiment_id == out["b"]


# ---- runs, params, tags ------------------------------------------------------------------------------
RUNS = """
import sys
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

prefix = sys.argv[1]
exp_id = mlflow.set_experiment(prefix).experiment_id
c = MlflowClient()
out = {"experiment_id": exp_id}
with mlflow.start_run(run_name="parent", tags={"kind": "parent"}) as parent:
    mlflow.log_param("lr", 0.1)
    mlflow.log_param("lr", 0.1)  # same value again: fine
    try:
        mlflow.log_param("lr", 0.2)
        out["param_change"] = "no error"
    except MlflowException as e:
        out["param_change"] = e.error_code
    mlflow.log_params({"layers": 3, "name": "net"})
    mlflow.set_tags({"t1": "a", "t2": "b"})
    c.delete_tag(parent.info.run_id, "t2")
    try:
        c.delete_tag(parent.info.run_id, "never-set")
        out["delete_missing_tag"] = "no error"
    except MlflowException as e:
        out["delete_missing_tag"] = e.error_code
    with mlflow.start_run(run_name="child", nested=True) as child:
        mlflow.log_metric("child_metric", 1.0)
out["parent"] = parent.info.run_id
out["child"] = child.info.run_id
try:
    with mlflow.start_run(run_name="fails") as failing:
        raise ValueError("boom")
except ValueError:
    pass
out["failing"] = failing.info.run_id
with mlflow.start_run(run_id=parent.info.run_id):  # resume
    mlflow.log_param("resumed", "yes")
r = c.get_run(parent.info.run_id)
out["parent_view"] = {
    "status": r.info.status, "name": r.info.run_name, "params": r.data.params,
    "tags": {k: v for k, v in r.data.tags.items() if k in ("kind", "t1", "t2", "mlflow.runName")},
    "has_end": r.info.end_time is not None, "artifact_uri": r.info.artifact_uri,
}
ch = c.get_run(child.info.run_id)
out["child_parent_tag"] = ch.data.tags.get("mlflow.parentRunId")
out["failing_status"] = c.get_run(failing.info.run_id).info.status
c.delete_run(failing.info.run_id)
out["deleted_stage"] = c.get_run(failing.info.run_id).info.lifecycle_stage
out["active_after_delete"] = sorted(x.info.run_name for x in c.search_runs([exp_id]))
c.restore_run(failing.info.run_id)
out["restored_stage"] = c.get_run(failing.info.run_id).info.lifecycle_stage
c.set_terminated(child.info.run_id, status="KILLED")
out["killed"] = c.get_run(child.info.run_id).info.status
try:
    c.get_run("0" * 32)
    out["unknown_run"] = "no error"
except MlflowException as e:
    out["unknown_run"] = e.error_code
emit(out)
"""


def test_runs_params_tags(client: Client, tmp_path: Path) -> None:
    prefix = fresh("runs")
    out = client.run(RUNS, tmp_path, prefix)
    assert out["param_change"] == "INVALID_PARAMETER_VALUE"
    assert out["delete_missing_tag"] == "RESOURCE_DOES_NOT_EXIST"
    assert out["unknown_run"] == "RESOURCE_DOES_NOT_EXIST"
    view = out["parent_view"]
    assert view["status"] == "FINISHED" and view["has_end"]
    assert view["name"] == "parent"
    assert view["params"] == {"lr": "0.1", "layers": "3", "name": "net", "resumed": "yes"}
    assert view["tags"] == {"kind": "parent", "t1": "a", "mlflow.runName": "parent"}
    assert view["artifact_uri"] == f"mlflow-artifacts:/{out['experiment_id']}/{out['parent']}/artifacts"
    assert out["child_parent_tag"] == out["parent"]
    assert out["failing_status"] == "FAILED"
    assert out["deleted_stage"] == "deleted"
    assert out["active_after_delete"] == ["child", "parent"]
    assert out["restored_stage"] == "active"
    assert out["killed"] == "KILLED"

    store = client.store()
    parent = store.get_run(out["parent"])
    assert parent.info.status == "FINISHED"
    assert parent.data.params == view["params"]
    assert "t2" not in parent.data.tags and parent.data.tags["t1"] == "a"
    assert store.get_run(out["child"]).data.tags["mlflow.parentRunId"] == out["parent"]
    assert store.get_run(out["failing"]).info.lifecycle_stage == "active"
    assert store.get_run(out["child"]).info.status == "KILLED"


# ---- metrics, history, log_batch ----------------------------------------------------------------------
METRICS = """
import sys, math, time
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

prefix = sys.argv[1]
mlflow.set_experiment(prefix)
c = MlflowClient()
with mlflow.start_run() as run:
    for step, value in enumerate([0.5, 0.25, float("nan"), float("inf"), float("-inf"), 0.125]):
        mlflow.log_metric("loss", value, step=step)
    mlflow.log_metric("acc", 0.9, step=10)
    mlflow.log_metric("acc", 0.8, step=2)  # older step: not the latest
    mlflow.log_metrics({"m1": 1.0, "m2": 2.0}, step=1)
    now = int(time.time() * 1000)
    # more than 1000 metrics and 100 params/tags in one call: the client splits it
    c.log_batch(run.info.run_id,
                metrics=[Metric("batch", float(i), now, i) for i in range(1500)],
                params=[Param(f"p{i}", str(i)) for i in range(150)],
                tags=[RunTag(f"t{i}", str(i)) for i in range(150)])
    run_id = run.info.run_id
history = [(m.step, m.value) for m in c.get_metric_history(run_id, "loss")]
batch = c.get_metric_history(run_id, "batch")
r = c.get_run(run_id)
emit({
    "run_id": run_id,
    "history": history,
    "latest": r.data.metrics,
    "batch_count": len(batch), "batch_steps": sorted(m.step for m in batch)[-1],
    "params": len(r.data.params), "tags": len([k for k in r.data.tags if k.startswith("t")]),
    "missing_history": [m.value for m in c.get_metric_history(run_id, "never-logged")],
})
"""

BIG = 1.7976931348623157e308


def _num(value: Any) -> float:
    return float(value) if isinstance(value, str) else value


def test_metrics_history_and_batch(client: Client, tmp_path: Path) -> None:
    out = client.run(METRICS, tmp_path, fresh("metrics"))
    steps = [s for s, _ in out["history"]]
    values = [_num(v) for _, v in out["history"]]
    assert steps == [0, 1, 2, 3, 4, 5]
    assert values[:2] == [0.5, 0.25] and math.isnan(values[2]) and values[5] == 0.125
    assert values[3] in (math.inf, BIG) and values[4] in (-math.inf, -BIG)  # SQL stores keep +-inf as +-max double
    latest = {k: _num(v) for k, v in out["latest"].items()}
    assert latest["loss"] == 0.125 and latest["acc"] == 0.9 and latest["m1"] == 1.0 and latest["batch"] == 1499.0
    assert out["batch_count"] == 1500 and out["batch_steps"] == 1499
    assert out["params"] == 150 and out["tags"] == 150
    assert out["missing_history"] == []

    store = client.store()
    run = store.get_run(out["run_id"])
    assert len(run.data.params) == 150
    assert len(store.get_metric_history(out["run_id"], "batch")) == 1500
    stored = [m.value for m in store.get_metric_history(out["run_id"], "loss")]
    assert math.isnan(stored[2]) and stored[3] > 1e308 and stored[4] < -1e308
    assert run.data.metrics["acc"] == 0.9


# ---- search_runs with filters, order_by and pagination ------------------------------------------------
SEARCH = """
import sys, time
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

prefix = sys.argv[1]
exp_id = mlflow.set_experiment(prefix).experiment_id
c = MlflowClient()
now = int(time.time() * 1000)
for i in range(60):
    run = c.create_run(exp_id, run_name=f"r{i:02d}", tags={"parity": "even" if i % 2 == 0 else "odd"})
    c.log_batch(run.info.run_id, metrics=[Metric("i", float(i), now, 0)], params=[Param("group", str(i % 3))])
    c.set_terminated(run.info.run_id)

def pages(**kwargs):
    names, token, sizes = [], None, []
    while True:
        page = c.search_runs([exp_id], page_token=token, **kwargs)
        names += [r.info.run_name for r in page]
        sizes.append(len(page))
        token = page.token
        if not token:
            return names, sizes

even_desc, sizes = pages(filter_string="tags.parity = 'even' and metrics.i >= 10", order_by=["metrics.i DESC"],
                         max_results=7)
by_param, _ = pages(filter_string="params.group = '1'", order_by=["attributes.run_name ASC"], max_results=4)
all_runs, _ = pages(max_results=25, order_by=["metrics.i ASC"])
df = mlflow.search_runs([exp_id], filter_string="metrics.i < 5", order_by=["metrics.i ASC"])
emit({"even_desc": even_desc, "sizes": sizes, "by_param": by_param, "all": all_runs,
      "df_names": list(df["tags.mlflow.runName"]), "df_metric": [float(x) for x in df["metrics.i"]],
      "experiment_id": exp_id})
"""


def test_search_runs_pagination(client: Client, tmp_path: Path) -> None:
    out = client.run(SEARCH, tmp_path, fresh("search"))
    even_desc = [f"r{i:02d}" for i in range(58, 9, -2)]
    assert out["even_desc"] == even_desc
    assert all(size <= 7 for size in out["sizes"]) and sum(out["sizes"]) == len(even_desc)
    assert out["by_param"] == [f"r{i:02d}" for i in range(60) if i % 3 == 1]
    assert out["all"] == [f"r{i:02d}" for i in range(60)]
    assert out["df_names"] == ["r00", "r01", "r02", "r03", "r04"]
    assert out["df_metric"] == [0.0, 1.0, 2.0, 3.0, 4.0]

    store = client.store()
    found = store.search_runs([out["experiment_id"]], "tags.parity = 'even' and metrics.i >= 10",
                              max_results=1000, order_by=["metrics.i DESC"])
    assert [r.info.run_name for r in found] == even_desc


# ---- datasets (log_input) ------------------------------------------------------------------------------
INPUTS = """
import sys
import numpy as np
import pandas as pd
import mlflow

prefix = sys.argv[1]
mlflow.set_experiment(prefix)
df = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10) % 2})
dataset = mlflow.data.from_pandas(df, source="https://example.com/data/train.csv", name="train-set", targets="y")
with mlflow.start_run() as run:
    mlflow.log_input(dataset, context="training", tags={"split": "a"})
    mlflow.log_input(dataset, context="training")  # the same dataset again: no duplicate
r = mlflow.get_run(run.info.run_id)
emit({"run_id": run.info.run_id, "digest": dataset.digest, "inputs": [
    {"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type,
     "tags": {t.key: t.value for t in d.tags}, "has_schema": bool(d.dataset.schema)}
    for d in r.inputs.dataset_inputs]})
"""


def test_log_input_dataset(client: Client, tmp_path: Path) -> None:
    out = client.run(INPUTS, tmp_path, fresh("inputs"))
    assert len(out["inputs"]) == 1
    seen = out["inputs"][0]
    assert (seen["name"], seen["digest"], seen["has_schema"]) == ("train-set", out["digest"], True)
    assert seen["tags"]["mlflow.data.context"] == "training"

    stored = client.store().get_run(out["run_id"]).inputs.dataset_inputs
    assert [(d.dataset.name, d.dataset.digest) for d in stored] == [("train-set", out["digest"])]
    assert {t.key: t.value for t in stored[0].tags}["mlflow.data.context"] == "training"


# ---- proxied artifacts -----------------------------------------------------------------------------------
ARTIFACTS = """
import hashlib, os, random, sys, tempfile
import mlflow
from mlflow import MlflowClient

prefix = sys.argv[1]
mlflow.set_experiment(prefix)
c = MlflowClient()
src = tempfile.mkdtemp()
os.makedirs(os.path.join(src, "outer", "inner", "deepest"))
files = {
    "outer/a.txt": b"alpha",
    "outer/inner/b c.txt": b"with a space",
    "outer/inner/ünï cødé 文件.txt": "unicode ✓".encode(),
    "outer/inner/deepest/semi;colon+plus.bin": bytes(range(256)),
}
for rel, data in files.items():
    with open(os.path.join(src, rel), "wb") as fh:
        fh.write(data)
big = os.path.join(tempfile.mkdtemp(), "big.bin")
blob = random.Random(7).randbytes(50 * 1024 * 1024 + 123)
with open(big, "wb") as fh:
    fh.write(blob)
big_sha = hashlib.sha256(blob).hexdigest()
del blob
with mlflow.start_run() as run:
    mlflow.log_artifacts(os.path.join(src, "outer"), artifact_path="tree")
    mlflow.log_artifact(big, artifact_path="large")
    mlflow.log_text("just text", "notes/readme.md")
    mlflow.log_dict({"k": [1, 2]}, "notes/config.json")
run_id = run.info.run_id

def walk(path=None):
    out = []
    for f in c.list_artifacts(run_id, path):
        out.append([f.path, f.is_dir, f.file_size])
        if f.is_dir:
            out += walk(f.path)
    return out

listing = walk()
dst = tempfile.mkdtemp()
tree = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="tree", dst_path=dst)
downloaded = {}
for root, _, names in os.walk(tree):
    for n in names:
        p = os.path.join(root, n)
        downloaded[os.path.relpath(p, tree)] = open(p, "rb").read().hex()
big_back = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="large/big.bin", dst_path=tempfile.mkdtemp())
h = hashlib.sha256()
with open(big_back, "rb") as fh:
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
emit({"run_id": run_id, "experiment_id": run.info.experiment_id, "artifact_uri": run.info.artifact_uri,
      "listing": listing, "downloaded": downloaded, "big_sha": big_sha, "big_back_sha": h.hexdigest(),
      "text": mlflow.artifacts.load_text(f"runs:/{run_id}/notes/readme.md"),
      "dict": mlflow.artifacts.load_dict(f"runs:/{run_id}/notes/config.json"),
      "files": {k: v.hex() for k, v in files.items()}})
"""


def test_proxied_artifacts(client: Client, tmp_path: Path) -> None:
    out = client.run(ARTIFACTS, tmp_path, fresh("artifacts"), timeout=200)
    assert out["artifact_uri"] == f"mlflow-artifacts:/{out['experiment_id']}/{out['run_id']}/artifacts"
    big = 50 * 1024 * 1024 + 123
    assert out["listing"] == [
        ["large", True, None],
        ["large/big.bin", False, big],
        ["notes", True, None],
        ["notes/config.json", False, out["listing"][3][2]],
        ["notes/readme.md", False, 9],
        ["tree", True, None],
        ["tree/a.txt", False, 5],
        ["tree/inner", True, None],
        ["tree/inner/b c.txt", False, 12],
        ["tree/inner/deepest", True, None],
        ["tree/inner/deepest/semi;colon+plus.bin", False, 256],
        ["tree/inner/ünï cødé 文件.txt", False, len("unicode ✓".encode())],
    ]
    expected = {k.removeprefix("outer/"): v for k, v in out["files"].items()}
    assert out["downloaded"] == expected
    assert out["big_back_sha"] == out["big_sha"]
    assert out["text"] == "just text" and out["dict"] == {"k": [1, 2]}

    # on the server's disk, under --artifacts-destination, byte for byte
    root = client.server.artifacts / out["experiment_id"] / out["run_id"] / "artifacts"
    for rel, data in expected.items():
        assert (root / "tree" / rel).read_bytes().hex() == data
    h = hashlib.sha256()
    with open(root / "large" / "big.bin", "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    assert h.hexdigest() == out["big_sha"]
    assert not list(root.rglob(".upload-*")), "no partial uploads left behind"


# ---- models ------------------------------------------------------------------------------------------------
MODELS = """
import sys
import numpy as np
import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

prefix = sys.argv[1]
mlflow.set_experiment(prefix)
X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
y = np.array([0, 0, 0, 1, 1, 1])
model = LogisticRegression().fit(X, y)
major = int(mlflow.__version__.split(".")[0])
with mlflow.start_run() as run:
    mlflow.log_param("C", 1.0)
    mlflow.log_metric("acc", 1.0)
    if major >= 3:
        info = mlflow.sklearn.log_model(model, name="model", input_example=X[:2])
    else:
        info = mlflow.sklearn.log_model(model, artifact_path="model", input_example=X[:2])
run_id = run.info.run_id
loaded = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
out = {"run_id": run_id, "experiment_id": run.info.experiment_id, "model_uri": info.model_uri,
       "predictions": [int(v) for v in loaded.predict(X)],
       "flavors": sorted(loaded.metadata.flavors),
       "history_tag": bool(mlflow.get_run(run_id).data.tags.get("mlflow.log-model.history"))}
sk = mlflow.sklearn.load_model(info.model_uri)
out["sklearn_predictions"] = [int(v) for v in sk.predict(X)]
if major >= 3:
    c = MlflowClient()
    lm = mlflow.get_logged_model(info.model_id)
    out["logged_model"] = {"model_id": lm.model_id, "name": lm.name, "source_run_id": lm.source_run_id,
                           "status": str(lm.status), "artifact_location": lm.artifact_location,
                           "params": lm.params, "experiment_id": lm.experiment_id}
    run = c.get_run(run_id)
    out["outputs"] = [[o.model_id, o.step] for o in run.outputs.model_outputs]
    found = c.search_logged_models(experiment_ids=[run.info.experiment_id], filter_string="name = 'model'")
    out["search"] = [m.model_id for m in found]
    out["model_files"] = sorted(f.path for f in c.list_logged_model_artifacts(info.model_id))
    out["by_models_uri"] = [int(v) for v in mlflow.pyfunc.load_model(f"models:/{info.model_id}").predict(X)]
emit(out)
"""


def test_log_and_load_sklearn_model(client: Client, tmp_path: Path) -> None:
    out = client.run(MODELS, tmp_path, fresh("models"), timeout=240)
    assert out["predictions"] == [0, 0, 0, 1, 1, 1]
    assert out["sklearn_predictions"] == [0, 0, 0, 1, 1, 1]
    assert out["flavors"] == ["python_function", "sklearn"]
    assert out["history_tag"] is (client.major < 3)  # 3.x records logged models instead of the run tag
    store = client.store()
    run = store.get_run(out["run_id"])
    assert run.data.params == {"C": "1.0"}
    exp_dir = client.server.artifacts / out["experiment_id"]
    if client.major < 3:
        assert out["model_uri"] == f"runs:/{out['run_id']}/model"
        assert (exp_dir / out["run_id"] / "artifacts" / "model" / "MLmodel").is_file()
        return
    lm = out["logged_model"]
    model_id = lm["model_id"]
    assert out["model_uri"] == f"models:/{model_id}"
    assert model_id.startswith("m-") and lm["name"] == "model" and lm["source_run_id"] == out["run_id"]
    assert lm["status"] == "READY"
    assert lm["artifact_location"] == f"mlflow-artifacts:/{out['experiment_id']}/models/{model_id}/artifacts"
    assert lm["params"] == {"C": "1.0"}
    assert out["outputs"] == [[model_id, 0]]
    assert out["search"] == [model_id]
    assert "MLmodel" in out["model_files"]
    assert out["by_models_uri"] == [0, 0, 0, 1, 1, 1]
    # fluvial's side: the model row in fluvial_logged_models and the files in the artifact store
    from fluvial.store.tracking.sql import logged_models

    stored = logged_models.for_engine(store.engine).get(model_id)
    assert (stored.name, stored.source_run_id, stored.status) == ("model", out["run_id"], logged_models.STATUS_READY)
    assert (exp_dir / "models" / model_id / "artifacts" / "MLmodel").is_file()


LOGGED_MODELS_API = """
import sys
import mlflow
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

prefix = sys.argv[1]
exp_id = mlflow.set_experiment(prefix).experiment_id
c = MlflowClient()
out = {"experiment_id": exp_id}
with mlflow.start_run() as run:
    a = mlflow.initialize_logged_model(name="alpha", tags={"team": "x", "gone": "soon"}, model_type="agent",
                                       params={"k": "1"})
    b = mlflow.create_external_model(name="beta", params={"k": "2"})
    mlflow.log_metric("score", 0.7, step=1, model_id=a.model_id)
    mlflow.log_metric("score", 0.9, step=1, model_id=b.model_id)
out["a_status"] = str(mlflow.get_logged_model(a.model_id).status)
c.finalize_logged_model(a.model_id, LoggedModelStatus.READY)
c.set_logged_model_tags(a.model_id, {"team": "y", "path/like key": "v"})
c.delete_logged_model_tag(a.model_id, "gone")
c.delete_logged_model_tag(a.model_id, "path/like key")
a2 = c.get_logged_model(a.model_id)
out["a"] = {"status": str(a2.status), "tags": {k: v for k, v in a2.tags.items() if not k.startswith("mlflow.")},
            "params": a2.params, "model_type": a2.model_type,
            "metrics": [[m.key, m.value, m.step, m.run_id] for m in a2.metrics]}
out["by_metric"] = [m.name for m in mlflow.search_logged_models(
    experiment_ids=[exp_id], filter_string="metrics.score > 0.8", output_format="list")]
out["ordered"] = [m.name for m in mlflow.search_logged_models(
    experiment_ids=[exp_id], order_by=[{"field_name": "metrics.score", "ascending": False}], output_format="list")]
out["by_tag"] = [m.name for m in c.search_logged_models([exp_id], filter_string="tags.team = 'y'")]
out["by_param_name"] = [m.name for m in c.search_logged_models(
    [exp_id], filter_string="params.k = '2' AND name LIKE 'b%'")]
page = c.search_logged_models([exp_id], max_results=1)
out["paged"] = [len(page), bool(page.token)]
page2 = c.search_logged_models([exp_id], max_results=1, page_token=page.token)
out["paged2"] = [len(page2), page2.token, page[0].model_id != page2[0].model_id]
df = mlflow.search_logged_models(experiment_ids=[exp_id])
out["df_rows"] = len(df)
try:
    c.search_logged_models([exp_id], filter_string="metrics.score LIKE 'x'")
    out["bad_filter"] = "no error"
except MlflowException as e:
    out["bad_filter"] = e.error_code
c.delete_logged_model(b.model_id)
try:
    c.get_logged_model(b.model_id)
    out["deleted_get"] = "no error"
except MlflowException as e:
    out["deleted_get"] = e.error_code
out["remaining"] = [m.name for m in c.search_logged_models([exp_id])]
try:
    c.get_logged_model("m-" + "0" * 32)
    out["unknown"] = "no error"
except MlflowException as e:
    out["unknown"] = e.error_code
out["a_id"], out["b_id"], out["run_id"] = a.model_id, b.model_id, run.info.run_id
out["run_inputs"] = sorted(i.model_id for i in c.get_run(run.info.run_id).inputs.model_inputs)
emit(out)
"""


@pytest.mark.parametrize("client", ["3.17.2"], indirect=True)
def test_logged_models_api(client: Client, tmp_path: Path) -> None:
    """MLflow 3's logged-model API end to end (2.x clients have no such API)."""
    out = client.run(LOGGED_MODELS_API, tmp_path, fresh("lm"))
    assert out["a_status"] == "PENDING"
    a = out["a"]
    assert a["status"] == "READY"
    assert a["tags"] == {"team": "y"}
    assert a["params"] == {"k": "1"} and a["model_type"] == "agent"
    assert a["metrics"] == [["score", 0.7, 1, out["run_id"]]]
    assert out["by_metric"] == ["beta"]
    assert out["ordered"] == ["beta", "alpha"]
    assert out["by_tag"] == ["alpha"]
    assert out["by_param_name"] == ["beta"]
    assert out["paged"] == [1, True] and out["paged2"] == [1, None, True]
    assert out["df_rows"] == 2
    assert out["bad_filter"] == "INVALID_PARAMETER_VALUE"
    assert out["deleted_get"] == "RESOURCE_DOES_NOT_EXIST"
    assert out["remaining"] == ["alpha"]
    assert out["unknown"] == "RESOURCE_DOES_NOT_EXIST"
    assert out["run_inputs"] == sorted([out["a_id"], out["b_id"]])

    from fluvial.store.tracking.sql import logged_models

    models = logged_models.for_engine(client.store().engine)
    deleted = models.get(out["b_id"], allow_deleted=True)
    assert deleted.lifecycle_stage == "deleted"
    alpha = models.get(out["a_id"])
    assert alpha.tags["team"] == "y" and "gone" not in alpha.tags and alpha.status == logged_models.STATUS_READY
    assert [(m.key, m.value, m.run_id) for m in alpha.metrics] == [("score", 0.7, out["run_id"])]
