"""MLflow 2.22.5 writing into a database that carries fluvial's search indexes: MLflow opens it, its
writes (runs, params, tags, metrics, deletes, renames) keep the indexes right, and fluvial's indexed
search, keyset paging and counts find exactly what MLflow wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat._mlflow import run_mlflow

WRITE = """
import sys
import mlflow
from mlflow.entities import Metric, Param, RunTag

client = mlflow.MlflowClient(sys.argv[1])
exp = client.get_experiment_by_name("indexed").experiment_id
ids = []
for i in range(23):
    run = client.create_run(exp, start_time=1_000 + i // 2, run_name=f"ml-{i}", tags={"team": f"t{i % 3}"})
    client.log_batch(run.info.run_id, metrics=[Metric("acc", (i * 7 % 10) / 10, 5, 0)],
                     params=[Param("model", ["rf", "lr"][i % 2])], tags=[RunTag("env", "prod")])
    ids.append(run.info.run_id)
client.delete_run(ids[0])
client.set_tag(ids[1], "mlflow.runName", "renamed-by-mlflow")
client.log_metric(ids[2], "acc", 0.99, step=3)
found = client.search_runs([exp], "params.model = 'rf'", max_results=1000, order_by=["metrics.acc DESC"])
emit({"ids": ids, "rf_by_acc": [r.info.run_id for r in found]})
"""


@pytest.mark.compat
def test_mlflow_writes_keep_fluvial_indexes_right(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from fluvial.entities import ViewType
    from fluvial.store.tracking.sql.indexes import NAMES
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    uri = f"sqlite:///{tmp_path / 'indexed.db'}"
    store = SqlTrackingStore(uri, str(tmp_path / "artifacts"))
    with store.engine.connect() as conn:
        have = {i["name"] for t in ("runs", "params", "tags", "latest_metrics", "metrics")
                for i in sa.inspect(conn).get_indexes(t)}
    assert set(NAMES) <= have
    exp = store.create_experiment("indexed")
    out = run_mlflow(WRITE, uri, cwd=tmp_path)
    ids = out["ids"]

    # what MLflow itself answers, fluvial answers from its indexes, page by page
    seen, token = [], None
    for _ in range(50):
        page = store.search_runs([exp], "params.model = 'rf'", max_results=4, order_by=["metrics.acc DESC"],
                                 page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert seen == out["rf_by_acc"]
    newest = store.search_runs([exp], max_results=3)
    assert newest[0].info.run_name == "ml-22" and {r.info.run_name for r in newest[1:]} == {"ml-20", "ml-21"}
    assert store.count_runs([exp]) == 22 and store.count_runs([exp], "", ViewType.ALL) == 23
    assert store.count_runs([exp], "tags.team = 't1'") == len([i for i in range(1, 23) if i % 3 == 1])
    # the per-value counters (triggers) followed MLflow's inserts, its delete and its rename
    assert store.count_runs([exp], "params.model = 'rf'") == len([i for i in range(1, 23) if i % 2 == 0])
    assert store.count_runs([exp], "params.model = 'rf'", ViewType.DELETED_ONLY) == 1  # ids[0]
    assert store.count_runs([exp], "params.model = 'lr'", ViewType.DELETED_ONLY) == 0
    assert store.count_runs([exp], "attributes.run_name = 'renamed-by-mlflow'") == 1
    assert store.count_runs([exp], "attributes.run_name = 'ml-1'") == 0
    assert store.count_runs([exp], "metrics.acc > 0.5 AND params.model = 'rf'") == len(
        [r for r in store.search_runs([exp], "metrics.acc > 0.5 AND params.model = 'rf'", max_results=100)])
    assert [r.info.run_id for r in store.search_runs([exp], "attributes.run_name LIKE 'renamed%'")] == [ids[1]]
    assert [r.info.run_id for r in store.search_runs([exp], "metrics.acc > 0.95")] == [ids[2]]
    assert ids[0] not in [r.info.run_id for r in store.search_runs([exp], max_results=100)]
    # the newest-first order over what MLflow wrote (start times tie in pairs; run_id breaks ties)
    everything = store.search_runs([exp], "", ViewType.ALL, max_results=100)
    by_hand = sorted(everything, key=lambda r: r.info.run_id)
    by_hand.sort(key=lambda r: r.info.start_time, reverse=True)
    assert [r.info.run_id for r in everything] == [r.info.run_id for r in by_hand]


@pytest.mark.compat
def test_mlflow_writes_reach_fluvial_run_snapshots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fluvial process whose run snapshot was built before MLflow 2.22.5 wrote (runs, batches, a
    delete, a rename, a later metric) counts exactly what a plain SQL count finds afterwards: MLflow's
    writes reach the change log through the triggers."""
    from fluvial.entities import ViewType
    from fluvial.store.tracking.sql import run_count, run_snapshot
    from fluvial.store.tracking.sql.search import build_count_query
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT", "sync")
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS", "0")
    monkeypatch.setattr(run_count, "SELECTIVE_MAX", 0)  # tiny data: keep the snapshot in play
    uri = f"sqlite:///{tmp_path / 'indexed.db'}"
    store = SqlTrackingStore(uri, str(tmp_path / "artifacts"))
    exp = store.create_experiment("indexed")
    filters = ["metrics.acc > 0.5 AND params.model = 'rf'", "metrics.acc <= 0.5", "tags.team LIKE 't%'",
               "attributes.run_name LIKE 'renamed%'", "tags.env = 'prod' AND attributes.start_time >= 1005",
               "params.model != 'rf' AND metrics.acc > 0.95"]
    for filt in filters:
        assert store.count_runs([exp], filt) == 0  # builds the snapshot and its columns
    assert int(exp) in run_snapshot.cache(store.engine).snapshots
    run_mlflow(WRITE, uri, cwd=tmp_path)
    for view in ViewType:
        for filt in filters:
            with store.engine.connect() as conn:
                plain = conn.execute(build_count_query([exp], filt, int(view))).scalar()
            assert store.count_runs([exp], filt, view) == plain, (filt, view)
    assert store.count_runs([exp], "metrics.acc > 0.95") == 1  # MLflow's later log_metric on ids[2]
