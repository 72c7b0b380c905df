"""MLflow 2.22.5 logging into a series that fluvial has summarized (``fluvial_metric_blocks``): MLflow
opens the database with fluvial's summary tables and triggers, its points (appended, inserted in the
middle, on duplicate steps, NaN and +-inf, which MLflow clamps to +-float max) reach fluvial's reduced history, which still equals the
generic reducer's answer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.compat._mlflow import run_mlflow

WRITE = """
import math
import sys
import mlflow
from mlflow.entities import Metric

client = mlflow.MlflowClient(sys.argv[1])
run_id = sys.argv[2]
points = [Metric("loss", 0.25, 10_000 + s, s) for s in range(3000, 3400)]  # appended
points += [Metric("loss", -50.0, 5, 1234)]  # a dip on a step that already exists
points += [Metric("loss", float(v), 7, s) for s, v in ((10, math.nan), (2999, math.inf), (-5, -math.inf))]
for i in range(0, len(points), 1000):
    client.log_batch(run_id, metrics=points[i:i + 1000])
client.log_metric(run_id, "loss", 99.0, timestamp=20, step=1700)
emit({"logged": len(points) + 1})
"""


def _key(points):
    return [(p.step, p.timestamp, "nan" if math.isnan(p.value) else p.value) for p in points]


@pytest.mark.compat
@pytest.mark.slow
def test_mlflow_points_reach_the_summary(tmp_path: Path, monkeypatch) -> None:
    from fluvial.entities import Metric
    from fluvial.store.tracking.base import TrackingStore
    from fluvial.store.tracking.sql import metric_blocks as mb
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    monkeypatch.setattr(mb, "SUMMARY_FROM", 1_000)
    uri = f"sqlite:///{tmp_path / 'blocks.db'}"
    store = SqlTrackingStore(uri, str(tmp_path / "artifacts"))
    run_id = store.create_run("0", "alice", 1_700_000_000_000, [], "long").info.run_id
    for first in range(0, 3000, 1000):
        store.log_batch(run_id, [Metric("loss", math.sin(s / 50), 1_000 + s, s) for s in range(first, first + 1000)],
                        [], [])
    cases = [{"max_points": 40}, {"x_axis": "timestamp", "max_points": 64}, {"start": 1000, "end": 1800, "max_points": 30}]

    def check() -> list[Metric]:
        for kwargs in cases:
            got = store.get_metric_history_reduced(run_id, "loss", **kwargs)
            want = TrackingStore.get_metric_history_reduced(store, run_id, "loss", **kwargs)
            assert (got[1], got[2]) == (want[1], want[2]) and _key(got[0]) == _key(want[0]), kwargs
        return store.get_metric_history_reduced(run_id, "loss", max_points=40)[0]

    check()  # from the raw points; the summaries build in the background
    from fluvial.store.tracking.sql import metric_blocks_worker

    assert metric_blocks_worker.wait_idle(60)
    check()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {mb.SETS}").scalar() == 2  # step and timestamp
    out = run_mlflow(WRITE, uri, run_id, cwd=tmp_path)
    assert out["logged"] == 405
    values = [p.value for p in check()]
    assert metric_blocks_worker.wait_idle(60)
    # (MLflow stores +-inf as +-sys.float_info.max)
    assert {99.0, -50.0} <= set(values) and min(values) < -1e308 and max(values) > 1e308
    assert store.get_metric_history_reduced(run_id, "loss", max_points=40)[2] == 3000 + 405
