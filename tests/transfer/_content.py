"""Fill a tracking URI with the content the export/import tests move, and read any tracking URI back as a
comparable snapshot (ids replaced by run names, so a source and an import compare field by field)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fluvial.entities import Dataset, DatasetInput, InputTag, Metric, Param, ViewType
from fluvial.tracking.client import MlflowClient
from fluvial.tracking.transfer.format import SOURCE_RUN_TAG
from tests.server._serve import REPO

STEPS = 2000


def populate(client: MlflowClient) -> dict[str, str]:
    """Two experiments; a parent run with 3 metrics x 2,000 steps, params, a dataset and artifacts; two
    child runs (one deleted); a registered model with 2 versions, a stage and an alias. Returns name -> id."""
    exp = client.create_experiment("transfer-main", tags={"team": "rivers"})
    client.create_experiment("transfer-empty")
    ids = {}
    parent = client.create_run(exp, start_time=1_700_000_000_000, tags={"mlflow.user": "alice", "kind": "parent"},
                               run_name="parent")
    pid = ids["parent"] = parent.info.run_id
    client.log_batch(pid, params=[Param("lr", "0.01"), Param("layers", "3")])
    for key in ("loss", "acc", "lr_now"):
        points = [Metric(key, step * 0.5 + len(key), 1_700_000_000_000 + step, step) for step in range(STEPS)]
        for i in range(0, STEPS, 1000):
            client.log_batch(pid, metrics=points[i:i + 1000])
    client.log_inputs(pid, [DatasetInput(Dataset("train", "abc123", "local", '{"uri": "/data/train.csv"}',
                                                 '{"mlflow_colspec": []}', '{"num_rows": 10}'),
                                         (InputTag("mlflow.data.context", "training"),))])
    client.log_text(pid, "hello\n", "notes/readme.txt")
    client.set_terminated(pid, "FINISHED", 1_700_000_100_000)
    for name, status in (("child-a", "FAILED"), ("child-b", "KILLED")):
        child = client.create_run(exp, start_time=1_700_000_001_000,
                                  tags={"mlflow.parentRunId": pid, "mlflow.user": "bob"}, run_name=name)
        cid = ids[name] = child.info.run_id
        client.log_metric(cid, "score", 0.75, timestamp=1_700_000_002_000, step=1)
        client.log_param(cid, "seed", "7")
        client.log_text(cid, "flavors: {}\n", "model/MLmodel")
        client.set_terminated(cid, status, 1_700_000_003_000)
    client.delete_run(ids["child-b"])
    client.create_registered_model("river-model", tags={"owner": "alice"}, description="a model")
    a_uri = client.get_run(ids["child-a"]).info.artifact_uri
    client.create_model_version("river-model", f"{a_uri}/model", ids["child-a"], tags={"v": "1"},
                                description="first")
    client.create_model_version("river-model", f"runs:/{ids['child-a']}/model", ids["child-a"])
    client.transition_model_version_stage("river-model", "2", "Production")
    client.set_registered_model_alias("river-model", "champion", "1")
    return ids


def _artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            found.update(_artifacts(client, run_id, info.path))
        else:
            local = client.download_artifacts(run_id, info.path, None)
            found[info.path] = Path(local).read_bytes()
    return found


def snapshot(client: MlflowClient, prefix: str = "") -> dict[str, Any]:
    """Everything the tests move, from the experiments named ``prefix + transfer-*``, ids replaced by names."""
    exps = [e for e in client.search_experiments(view_type=ViewType.ALL)
            if e.name.startswith(prefix + "transfer-")]
    runs = [r for e in exps for r in client.search_runs([e.experiment_id], run_view_type=ViewType.ALL)]
    name_of = {r.info.run_id: r.info.run_name for r in runs}
    out: dict[str, Any] = {"experiments": {e.name[len(prefix):]: {"tags": {k: v for k, v in e.tags.items()
                                                                         if not k.startswith("mlflow.")},
                                                                "stage": e.lifecycle_stage} for e in exps}}
    for r in runs:
        tags = {k: v for k, v in r.data.tags.items() if k != SOURCE_RUN_TAG}
        if "mlflow.parentRunId" in tags:
            tags["mlflow.parentRunId"] = name_of[tags["mlflow.parentRunId"]]
        i = r.info
        out[r.info.run_name] = {
            "info": (i.status, i.start_time, i.end_time, i.lifecycle_stage, i.user_id,
                     [e.name[len(prefix):] for e in exps if e.experiment_id == i.experiment_id]),
            "params": r.data.params, "tags": tags,
            "metrics": {k: [(m.step, m.timestamp, m.value) for m in client.get_metric_history(i.run_id, k)]
                        for k in r.data.metrics},
            "inputs": sorted((d.dataset, tuple(d.tags)) for d in r.inputs.dataset_inputs),
            "artifacts": _artifacts(client, i.run_id),
        }
    versions = client.search_model_versions("name = 'river-model'")
    by_run = {r.info.run_id: r.info.artifact_uri for r in runs}
    out["model"] = (client.get_registered_model("river-model").description,
                    dict(client.get_registered_model("river-model").tags),
                    sorted((int(v.version), v.current_stage, sorted(v.aliases), dict(v.tags), v.description,
                            name_of[v.run_id], (v.source or "").replace(by_run[v.run_id], "<run>")
                            .replace(f"runs:/{v.run_id}", "<run>")) for v in versions))
    return out


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH"))}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, "-m", "fluvial", *args], env=env, capture_output=True, text=True,
                            timeout=300, cwd=REPO)
    if check:
        assert result.returncode == 0, result.stderr
    return result
