"""Scripts run by MLflow releases (each in its own virtualenv) and by fluvial against databases.

``FILL`` (argv: ``mlflow URI [URI...]``) writes a known set of experiments, runs and registry entries
into each URI through an old MLflow's public client API, using only what that release has; then
``READ`` (argv: ``MODULE URI``) reads the first back through the public client API of ``mlflow`` or
``fluvial``, in a form every release agrees on. So a database read by the release that wrote it, by
MLflow 2.22.5 after fluvial upgraded it, and by fluvial can be compared value by value.
``MLFLOW_UPGRADE`` (argv: ``mlflow URI [URI...]``) runs MLflow's own ``mlflow db upgrade`` on each URI,
recording the revision before and after, then reads the first like ``READ`` (``MLFLOW_UPGRADE_ONLY``
does not read).
``BASE`` (argv: ``URI [URI...]``) creates in each URI the tables MLflow had before its first revision
(MLflow 0.9, through MLflow's own snapshot of them) holding the same rows.
"""

_FILL = r"""
import sys
import mlflow
from mlflow.tracking import MlflowClient

version = tuple(int(p) for p in mlflow.__version__.split(".")[:2])
T0 = 1_700_000_000_000
for uri in sys.argv[2:]:
    fill(MlflowClient(tracking_uri=uri, registry_uri=uri))
"""

_FILL_ONE = r"""
def fill(client):
    kept = client.create_experiment("kept", artifact_location="/tmp/fluvial-migrations/kept")
    client.set_experiment_tag(kept, "team", "Data")
    gone = client.create_experiment("gone")
    runs = []
    for i in range(3):
        run = client.create_run(kept, start_time=T0 + i, tags={"mlflow.user": "alice", "kind": f"k{i}"})
        rid = run.info.run_id
        runs.append(rid)
        client.log_param(rid, "lr", str(0.1 * (i + 1)))
        client.log_param(rid, "long", "x" * 500)  # the widest value 1.30 accepts
        client.log_param(rid, "Case", "Upper")
        for step in range(4):
            client.log_metric(rid, "loss", 1.0 / (step + 1) + i, timestamp=T0 + 10 * step, step=step)
        client.log_metric(rid, "acc", 0.5 + i, timestamp=T0, step=0)
        client.log_metric(rid, "acc", 0.25 + i, timestamp=T0 + 5, step=0)  # same step, later timestamp wins
        client.log_metric(rid, "nan", float("nan"), timestamp=T0, step=0)
        client.log_metric(rid, "inf", float("inf"), timestamp=T0, step=1)
        client.set_tag(rid, "note", "n" * 5000)
    client.set_terminated(runs[0], "FINISHED", end_time=T0 + 100)
    client.set_terminated(runs[1], "FAILED", end_time=T0 + 200)
    client.delete_run(runs[2])
    other = client.create_run(gone, start_time=T0)
    client.log_param(other.info.run_id, "p", "v")
    client.delete_experiment(gone)

    client.create_registered_model("model-a", tags={"owner": "bob"}, description="the A model")
    client.create_registered_model("Model-B")
    v1 = client.create_model_version("model-a", f"runs:/{runs[0]}/model", run_id=runs[0], tags={"t": "1"})
    v2 = client.create_model_version("model-a", f"runs:/{runs[1]}/model", run_id=runs[1], description="second")
    client.transition_model_version_stage("model-a", v1.version, "Production")
    client.set_model_version_tag("model-a", v2.version, "validated", "yes")
    if version >= (2, 3):
        client.set_registered_model_alias("model-a", "champion", v1.version)
    if version >= (2, 4):
        from mlflow.entities import Dataset, DatasetInput, InputTag
        ds = Dataset(name="train", digest="abc123", source_type="local", source='{"uri": "/data/train"}',
                     schema='{"mlflow_colspec": []}', profile='{"num_rows": 3}')
        client.log_inputs(runs[0], [DatasetInput(ds, [InputTag("mlflow.data.context", "training")])])
"""


READ = r"""
import importlib, sys

module, uri = sys.argv[1], sys.argv[2]
mlflow = importlib.import_module(module)
ViewType = importlib.import_module(module + ".entities").ViewType
client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)

experiments = {}
for e in client.search_experiments(view_type=ViewType.ALL):
    experiments[e.name] = {"id": e.experiment_id, "lifecycle_stage": e.lifecycle_stage, "tags": dict(e.tags),
                           "artifact_location": e.artifact_location}
runs = {}
ids = [e["id"] for e in experiments.values()]
for listed in client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000):
    run = client.get_run(listed.info.run_id)
    i = run.info
    history = {key: sorted([m.step, m.timestamp, m.value] for m in client.get_metric_history(i.run_id, key))
               for key in run.data.metrics}
    inputs = sorted([d.dataset.name, d.dataset.digest, d.dataset.source, d.dataset.schema, d.dataset.profile,
                     sorted([t.key, t.value] for t in d.tags)]
                    for d in (run.inputs.dataset_inputs if getattr(run, "inputs", None) else []))
    runs[i.run_id] = {
        "experiment_id": i.experiment_id, "status": i.status, "start_time": i.start_time,
        "end_time": i.end_time, "lifecycle_stage": i.lifecycle_stage, "user_id": i.user_id,
        "params": dict(run.data.params), "metrics": dict(run.data.metrics), "tags": dict(run.data.tags),
        "history": history, "inputs": inputs,
    }
models = {}
for m in client.search_registered_models():
    versions = {}
    for v in client.search_model_versions(f"name='{m.name}'"):
        versions[v.version] = {"source": v.source, "run_id": v.run_id, "stage": v.current_stage,
                               "description": v.description, "tags": dict(v.tags), "status": v.status}
    models[m.name] = {"description": m.description, "tags": dict(m.tags), "versions": versions,
                      "aliases": dict(getattr(m, "aliases", {}) or {})}
emit({"experiments": experiments, "runs": runs, "models": models, **globals().get("EXTRA", {})})
"""

FILL = _FILL_ONE + _FILL + READ

_UPGRADE = r"""
import sys
import sqlalchemy as sa
from mlflow.cli import cli

def revision(uri):
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()

EXTRA = {"revisions": []}
for uri in sys.argv[2:]:
    before = revision(uri)
    cli(["db", "upgrade", uri], standalone_mode=False)
    EXTRA["revisions"].append([before, revision(uri)])
"""

MLFLOW_UPGRADE = _UPGRADE + READ
MLFLOW_UPGRADE_ONLY = _UPGRADE + "\nemit(EXTRA)\n"

BASE = r"""
import sys
import sqlalchemy as sa
from mlflow.store.tracking.dbmodels.initial_models import Base

EXPERIMENTS = [
    {"experiment_id": 0, "name": "Default", "artifact_location": "/tmp/a/0", "lifecycle_stage": "active"},
    {"experiment_id": 1, "name": "old one", "artifact_location": "/tmp/a/1", "lifecycle_stage": "deleted"},
]
RUNS = [  # run_uuid, user_id, status, experiment
    ("r1", "alice", "FINISHED", 0), ("r2", "bob", "FAILED", 0), ("r3", "", "RUNNING", 0), ("r4", None, "SCHEDULED", 1),
]
TAGS = [("r2", "mlflow.user", "carol"), ("r1", "note", "n" * 250), ("r3", "Case", "upper")]
PARAMS = [("r1", "lr", "0.1"), ("r1", "long", "p" * 250), ("r2", "lr", "0.2"), ("r2", "Rate", "Two")]
METRICS = [  # run, key, value, timestamp
    ("r1", "loss", 1.0, 10), ("r1", "loss", 0.5, 20), ("r1", "loss", 0.7, 30), ("r1", "acc", 0.9, 5),
    ("r2", "loss", 2.0, 10), ("r2", "loss", 3.0, 10.5), ("r4", "x", -1.5, 1),
]
for uri in sys.argv[1:]:
    engine = sa.create_engine(uri)
    Base.metadata.create_all(engine)
    t = Base.metadata.tables
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":  # keep experiment_id 0 rather than take the next auto-increment
            conn.exec_driver_sql("SET @@SESSION.sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        conn.execute(t["experiments"].insert(), EXPERIMENTS)
        conn.execute(t["runs"].insert(), [
            {"run_uuid": r, "name": "", "source_type": "LOCAL", "source_name": "train.py", "entry_point_name": "",
             "user_id": u, "status": s, "start_time": 1000 + i, "end_time": None, "source_version": "",
             "lifecycle_stage": "active", "artifact_uri": f"/tmp/a/{e}/{r}", "experiment_id": e}
            for i, (r, u, s, e) in enumerate(RUNS)
        ])
        conn.execute(t["tags"].insert(), [{"run_uuid": r, "key": k, "value": v} for r, k, v in TAGS])
        conn.execute(t["params"].insert(), [{"run_uuid": r, "key": k, "value": v} for r, k, v in PARAMS])
        conn.execute(t["metrics"].insert(), [
            {"run_uuid": r, "key": k, "value": v, "timestamp": int(ts * 2)} for r, k, v, ts in METRICS
        ])
    engine.dispose()
emit({"tables": sorted(Base.metadata.tables)})
"""
