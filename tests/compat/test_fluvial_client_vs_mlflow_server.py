"""fluvial's client (REST tracking store + HTTP artifact repository) against a real ``mlflow server``
2.22.5 (SQLite backend, proxied artifacts, 1 worker): the fluent flow, and what the MLflow server
stored (read back from its database, read-only, and from its artifacts directory).
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.compat._mlflow import MLFLOW_VERSION, mlflow_python
from tests.compat._servers import RunningServer, mlflow_server

pytestmark = pytest.mark.compat

BIG = 1.7976931348623157e308  # MLflow's SQL store keeps +-inf as +-max double


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    python = mlflow_python(MLFLOW_VERSION)
    if python is None:
        pytest.skip(f"MLflow {MLFLOW_VERSION} is not installed: .venvs/mlflow-{MLFLOW_VERSION}/bin/python is "
                    "missing (create it with `make mlflow-venvs`)")
    with mlflow_server(python, tmp_path_factory.mktemp("mlflow-server"), workers=1) as running:
        yield running


@pytest.fixture
def mlflow(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``import fluvial as mlflow``, pointed at the MLflow server."""
    import fluvial

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)  # set_tracking_uri sets it too; restored after
    fluvial.set_tracking_uri(server.url)
    return fluvial


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def query(server: RunningServer, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the MLflow server's database directly, read-only (what MLflow itself stored)."""
    with closing(sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql, args).fetchall()


def test_experiments(mlflow: Any, server: RunningServer) -> None:
    from fluvial import MlflowClient
    from fluvial.exceptions import MlflowException

    prefix = fresh("fx")
    client = MlflowClient()
    exp_id = client.create_experiment(f"{prefix}-a", tags={"team": "x"})
    assert mlflow.get_experiment_by_name(f"{prefix}-missing") is None
    created = mlflow.set_experiment(f"{prefix}-b")
    assert mlflow.set_experiment(f"{prefix}-b").experiment_id == created.experiment_id
    with pytest.raises(MlflowException) as err:
        client.create_experiment(f"{prefix}-a")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.rename_experiment(exp_id, f"{prefix}-renamed")
    client.set_experiment_tag(exp_id, "stage", "dev")
    exp = client.get_experiment(exp_id)
    assert exp.name == f"{prefix}-renamed" and exp.tags["team"] == "x" and exp.tags["stage"] == "dev"
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    with pytest.raises(MlflowException) as err:
        client.delete_experiment(exp_id)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.restore_experiment(exp_id)
    for i in range(5):
        client.create_experiment(f"{prefix}-page-{i}")
    names, token, pages = [], None, 0
    while True:
        page = client.search_experiments(max_results=3, filter_string=f"name LIKE '{prefix}%'",
                                         order_by=["name ASC"], page_token=token)
        names += [e.name for e in page]
        pages += 1
        token = page.token
        if not token:
            break
    expected = sorted([f"{prefix}-b", f"{prefix}-renamed"] + [f"{prefix}-page-{i}" for i in range(5)])
    assert names == expected and pages == 3
    assert sorted(e.name for e in mlflow.search_experiments(filter_string=f"name LIKE '{prefix}%'")) == expected

    stored = query(server, "SELECT name, lifecycle_stage FROM experiments WHERE experiment_id = ?", int(exp_id))
    assert stored == [(f"{prefix}-renamed", "active")]
    tags = dict(query(server, "SELECT key, value FROM experiment_tags WHERE experiment_id = ?", int(exp_id)))
    assert tags == {"team": "x", "stage": "dev"}


def test_runs_params_metrics_tags(mlflow: Any, server: RunningServer) -> None:
    from fluvial import MlflowClient
    from fluvial.exceptions import MlflowException

    exp_id = mlflow.set_experiment(fresh("fruns")).experiment_id
    client = MlflowClient()
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.1)
        mlflow.log_param("lr", 0.1)
        with pytest.raises(MlflowException) as err:
            mlflow.log_param("lr", 0.2)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        mlflow.set_tags({"t1": "a", "t2": "b"})
        mlflow.delete_tag("t2")
        for step, value in enumerate([0.5, float("nan"), float("inf"), float("-inf"), 0.25]):
            mlflow.log_metric("loss", value, step=step)
        mlflow.log_metrics({"m1": 1.0, "m2": 2.0}, step=3)
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("c", 1.0)
    with pytest.raises(ValueError), mlflow.start_run(run_name="fails") as failing:
        raise ValueError("boom")
    with mlflow.start_run(run_id=parent.info.run_id):
        mlflow.log_param("resumed", "yes")

    run = client.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{parent.info.run_id}/artifacts"
    assert run.data.params == {"lr": "0.1", "resumed": "yes"}
    assert run.data.tags["t1"] == "a" and "t2" not in run.data.tags
    assert run.data.metrics["loss"] == 0.25 and run.data.metrics["m2"] == 2.0
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    values = [m.value for m in history]
    assert values[0] == 0.5 and math.isnan(values[1]) and values[4] == 0.25
    assert values[2] in (math.inf, BIG) and values[3] in (-math.inf, -BIG)
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert client.get_run(failing.info.run_id).info.status == "FAILED"
    client.delete_run(failing.info.run_id)
    assert client.get_run(failing.info.run_id).info.lifecycle_stage == "deleted"
    assert sorted(r.info.run_name for r in client.search_runs([exp_id])) == ["child", "parent"]
    client.restore_run(failing.info.run_id)
    with pytest.raises(MlflowException) as err:
        client.get_run("0" * 32)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    rows = query(server, "SELECT step, value, is_nan FROM metrics WHERE run_uuid = ? AND key = 'loss' ORDER BY step",
                 parent.info.run_id)
    assert [r[0] for r in rows] == [0, 1, 2, 3, 4] and rows[1][2] == 1
    params = dict(query(server, "SELECT key, value FROM params WHERE run_uuid = ?", parent.info.run_id))
    assert params == {"lr": "0.1", "resumed": "yes"}


def test_log_batch_over_the_server_limits(mlflow: Any, server: RunningServer) -> None:
    """1500 metrics, 150 params and 150 tags in one call: fluvial's REST store checks everything,
    then splits the batch into requests within MLflow's limits (1000 items, 100 params/tags)."""
    from fluvial import MlflowClient
    from fluvial.entities import Metric, Param, RunTag
    from fluvial.exceptions import MlflowException

    mlflow.set_experiment(fresh("fbatch"))
    client = MlflowClient()
    with mlflow.start_run() as run:
        run_id = run.info.run_id
        client.log_batch(run_id, metrics=[Metric("batch", float(i), 1_700_000_000_000 + i, i) for i in range(1500)],
                         params=[Param(f"p{i}", str(i)) for i in range(150)],
                         tags=[RunTag(f"t{i}", str(i)) for i in range(150)])
        # a changed param value anywhere in a big batch: refused before anything is sent
        with pytest.raises(MlflowException) as err:
            client.log_batch(run_id, metrics=[Metric("never", 1.0, 1, i) for i in range(1200)],
                             params=[Param("p7", "changed")])
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    got = client.get_run(run_id)
    assert len(got.data.params) == 150 and len([k for k in got.data.tags if k.startswith("t")]) == 150
    assert got.data.metrics["batch"] == 1499.0 and "never" not in got.data.metrics
    history = client.get_metric_history(run_id, "batch")
    assert len(history) == 1500 and history[-1].step == 1499
    assert query(server, "SELECT count(*) FROM metrics WHERE run_uuid = ?", run_id) == [(1500,)]
    assert query(server, "SELECT count(*) FROM params WHERE run_uuid = ?", run_id) == [(150,)]


def test_search_runs_with_pagination(mlflow: Any, server: RunningServer) -> None:
    from fluvial import MlflowClient
    from fluvial.entities import Metric, Param

    exp_id = mlflow.set_experiment(fresh("fsearch")).experiment_id
    client = MlflowClient()
    for i in range(40):
        run = client.create_run(exp_id, run_name=f"r{i:02d}", tags={"parity": "even" if i % 2 == 0 else "odd"})
        client.log_batch(run.info.run_id, metrics=[Metric("i", float(i), 1_700_000_000_000, 0)],
                         params=[Param("group", str(i % 3))])
        client.set_terminated(run.info.run_id)
    names, token, sizes = [], None, []
    while True:
        page = client.search_runs([exp_id], "tags.parity = 'even' and metrics.i >= 10", order_by=["metrics.i DESC"],
                                  max_results=4, page_token=token)
        names += [r.info.run_name for r in page]
        sizes.append(len(page))
        token = page.token
        if not token:
            break
    assert names == [f"r{i:02d}" for i in range(38, 9, -2)]
    assert max(sizes) <= 4
    by_param = client.search_runs([exp_id], "params.group = '1'", order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in by_param] == [f"r{i:02d}" for i in range(40) if i % 3 == 1]
    df = mlflow.search_runs([exp_id], filter_string="metrics.i < 3", order_by=["metrics.i ASC"])
    assert list(df["tags.mlflow.runName"]) == ["r00", "r01", "r02"]
    assert list(df["metrics.i"]) == [0.0, 1.0, 2.0]


def test_artifacts_through_mlflow_artifacts(mlflow: Any, server: RunningServer, tmp_path: Path) -> None:
    """Up and down through the MLflow server's proxied artifact service (``mlflow-artifacts:`` URIs),
    including a name MLflow's own client mangles (``?``): fluvial percent-encodes it.

    MLflow 2.22.5 server limits shape the names used: it refuses any path with ``#`` (400 "Invalid
    path"); it percent-decodes paths a second time (``a%41`` is stored as ``aA``); and it cannot send a
    file whose name is not Latin-1 (gunicorn rejects its ``Content-Disposition`` header and drops the
    connection), so the CJK name is uploaded and listed only.
    """
    from fluvial import MlflowClient
    from fluvial.artifacts import download_artifacts, load_text

    exp_id = mlflow.set_experiment(fresh("fart")).experiment_id
    src = tmp_path / "src"
    files = {
        "a.txt": b"alpha",
        "inner/b c.txt": b"with a space",
        "inner/ünï cødé.txt": "unicode ✓".encode(),
        "inner/deep/odd ?y;z+w=v.bin": bytes(range(256)),
    }
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024 + 7))
    big_sha = hashlib.sha256(big.read_bytes()).hexdigest()
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src), artifact_path="tree")
        mlflow.log_artifact(str(big), artifact_path="large")
        mlflow.log_text("just text", "notes/readme.md")
        mlflow.log_text("漢字", "cjk/文件 名.txt")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"

    client = MlflowClient()
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
        ("cjk", True), ("large", True), ("notes", True), ("tree", True)]
    inner = client.list_artifacts(run_id, "tree/inner")
    assert [(f.path, f.is_dir, f.file_size) for f in inner] == [
        ("tree/inner/b c.txt", False, 12),
        ("tree/inner/deep", True, None),
        ("tree/inner/ünï cødé.txt", False, len("unicode ✓".encode())),
    ]
    assert [(f.path, f.file_size) for f in client.list_artifacts(run_id, "cjk")] == [("cjk/文件 名.txt", 6)]
    dst = tmp_path / "down"
    dst.mkdir()
    tree = Path(download_artifacts(run_id=run_id, artifact_path="tree", dst_path=str(dst)))
    downloaded = {p.relative_to(tree).as_posix(): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    assert downloaded == files
    back = Path(client.download_artifacts(run_id, "large/big.bin", str(tmp_path)))
    assert hashlib.sha256(back.read_bytes()).hexdigest() == big_sha
    assert load_text(f"runs:/{run_id}/notes/readme.md") == "just text"

    # what the MLflow server wrote under its --artifacts-destination
    root = server.artifacts / exp_id / run_id / "artifacts"
    for rel, data in files.items():
        assert (root / "tree" / rel).read_bytes() == data
    assert (root / "cjk" / "文件 名.txt").read_text() == "漢字"
    assert hashlib.sha256((root / "large" / "big.bin").read_bytes()).hexdigest() == big_sha
