"""The block summaries behind ``get_metric_history_reduced`` (``sql/metric_blocks*.py``) against the
generic reducer (pages + ``fluvial.search.downsample.reduce_points``) on hypothesis-drawn histories:
NaN, +-inf, ties, duplicate and negative steps, bounded and open ranges, both axes; then again after
points are appended (refreshing only the blocks they touch) and after rows are deleted and updated
behind the store's back (``gc``-style SQL), on SQLite and PostgreSQL. Tiny blocks (1-5 points, fan 2-4)
give many levels on a few hundred points."""

from __future__ import annotations

import math
import threading
import time

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluvial.entities import Metric
from fluvial.store.tracking.base import TrackingStore
from fluvial.store.tracking.sql import metric_blocks as mb
from fluvial.store.tracking.sql import metric_blocks_read as mbr
from fluvial.store.tracking.sql import metric_blocks_worker as worker

VALUES = st.one_of(st.sampled_from([0.0, 1.0, -1.0, math.nan, math.inf, -math.inf, 2.5]),
                   st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 1)))
POINTS = st.lists(st.tuples(st.integers(-30, 400), st.integers(0, 600), VALUES), min_size=1, max_size=250)
QUERY = st.tuples(st.sampled_from(["step", "timestamp"]),
                  st.one_of(st.none(), st.floats(-40, 700), st.sampled_from([-math.inf, -1e30])),
                  st.one_of(st.none(), st.floats(-40, 700), st.sampled_from([math.inf, 1e30])),
                  st.sampled_from([2, 3, 4, 10, 37, 64, 1000]))


def _metrics(points) -> list[Metric]:
    unique = {(step, ts, "nan" if math.isnan(v) else v): Metric("m", v, 1_000 + ts, step) for step, ts, v in points}
    return list(unique.values())


def _key(points):
    return [(p.step, p.timestamp, "nan" if math.isnan(p.value) else p.value) for p in points]


def _check(store, run_id, queries) -> None:
    for x_axis, start, end, max_points in queries:
        if start is not None and end is not None and start > end:
            start, end = end, start
        kwargs = {"x_axis": x_axis, "start": start, "end": end, "max_points": max_points}
        got, got_reduced, got_total = store.get_metric_history_reduced(run_id, "m", **kwargs)
        want, want_reduced, want_total = TrackingStore.get_metric_history_reduced(store, run_id, "m", **kwargs)
        assert (got_reduced, got_total) == (want_reduced, want_total), kwargs
        assert _key(got) == _key(want), kwargs


def _summarized(store, run_id) -> set[int]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT axis FROM {mb.SETS} WHERE run_uuid = :r"), {"r": run_id}).all()
    return {r[0] for r in rows}


def _built(store, run_id, axes: set[int]) -> None:
    """Wait (bounded) until the background builds of ``axes`` are done, polling the block sets."""
    deadline = time.monotonic() + 60
    while True:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT axis FROM {mb.SETS} WHERE run_uuid = :r AND building_since IS NULL"),
                                {"r": run_id}).all() if mb.tables_exist(conn) else []
        if axes <= {r[0] for r in rows}:
            return
        assert time.monotonic() < deadline, "the background summary build did not finish within 60 s"
        worker.wait_idle(0.2)


@pytest.fixture(autouse=True)
def _no_build_left():
    yield
    assert worker.wait_idle(60)  # no build outlives its test (and its database)


@pytest.fixture
def tiny_blocks(monkeypatch):
    def configure(per_block: int, fan: int) -> None:
        monkeypatch.setattr(mb, "SUMMARY_FROM", 1)
        monkeypatch.setattr(mb, "POINTS_PER_BLOCK", per_block)
        monkeypatch.setattr(mb, "FAN", fan)
        monkeypatch.setattr(mbr, "CHUNK", 7)  # several VALUES statements per answer
        monkeypatch.setattr(mb, "LEVEL0_CHUNK", 5)  # several aggregate statements per build
    return configure


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=POINTS, appended=POINTS, queries=st.lists(QUERY, min_size=2, max_size=6),
       per_block=st.sampled_from([1, 2, 3, 5]), fan=st.sampled_from([2, 4]))
def test_summary_matches_generic_reducer(sql_store, tiny_blocks, first, appended, queries, per_block, fan):
    if sql_store.engine.dialect.name not in mb.DIALECTS:
        pytest.skip("MySQL reduces from the raw points (no summaries)")
    tiny_blocks(per_block, fan)
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "blocks").info.run_id
    sql_store.log_batch(run_id, _metrics(first), [], [])
    queries = [("step", None, None, 2), ("timestamp", None, None, 2), *queries]
    _check(sql_store, run_id, queries)  # from the raw points while the summaries build in the background
    _built(sql_store, run_id, {0, 1})
    _check(sql_store, run_id, queries)  # from the summaries
    # appends (new steps, duplicate steps, points inside and before the range): blocks refresh
    sql_store.log_batch(run_id, _metrics(appended), [], [])
    sql_store.log_metric(run_id, Metric("m", math.nan, 1_000, 10**6))
    _check(sql_store, run_id, queries)
    assert worker.wait_idle(60)  # a rebuild (the series grew 4x) ends before the next example's settings


def test_summary_follows_deletes_and_updates(sql_store, tiny_blocks):
    """Rows deleted or rewritten by plain SQL (as MLflow's ``gc`` deletes a run's metrics) are seen."""
    if sql_store.engine.dialect.name not in mb.DIALECTS:
        pytest.skip("MySQL reduces from the raw points (no summaries)")
    tiny_blocks(2, 2)
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "blocks").info.run_id
    sql_store.log_batch(run_id, [Metric("m", float(i % 7) - (i == 50) * 100, 1_000 + i, i) for i in range(200)], [], [])
    queries = [("step", None, None, 10), ("timestamp", 20, 180, 6)]
    _check(sql_store, run_id, queries)
    _built(sql_store, run_id, {0, 1})
    with sql_store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM metrics WHERE run_uuid = :r AND step BETWEEN 40 AND 60"), {"r": run_id})
    _check(sql_store, run_id, queries)
    _built(sql_store, run_id, {0, 1})
    with sql_store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE metrics SET value = 1000 WHERE run_uuid = :r AND step = 120"), {"r": run_id})
    _check(sql_store, run_id, queries)
    _built(sql_store, run_id, {0, 1})
    _check(sql_store, run_id, queries)
    got, _, _ = sql_store.get_metric_history_reduced(run_id, "m", max_points=10)
    assert 1000.0 in [p.value for p in got] and -94.0 not in [p.value for p in got]
    with sql_store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM metrics WHERE run_uuid = :r"), {"r": run_id})
    assert sql_store.get_metric_history_reduced(run_id, "m", max_points=10) == ([], False, 0)


def test_short_series_build_no_summary(sql_store):
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "short").info.run_id
    sql_store.log_batch(run_id, [Metric("m", float(i), 1_000 + i, i) for i in range(300)], [], [])
    points, reduced, total = sql_store.get_metric_history_reduced(run_id, "m", max_points=10)
    assert reduced and total == 300 and len(points) == 10
    with sql_store.engine.connect() as conn:
        exists = sa.inspect(conn).has_table(mb.SETS)
    assert not exists or _summarized(sql_store, run_id) == set()


def test_summary_through_each_store(store, tiny_blocks):
    """The SQL store and the REST store (over ``/api/2.0/fluvial/metrics/get-history-reduced``) answer a
    summarized series as the generic reducer does, MySQL from its raw points."""
    tiny_blocks(4, 4)
    run_id = store.create_run("0", "alice", 1_700_000_000_000, [], "route").info.run_id
    points = [Metric("m", math.nan if i % 97 == 0 else math.cos(i / 9) * (i % 13), 1_000 + 3 * i, i // 2)
              for i in range(900)]
    store.log_batch(run_id, points, [], [])
    for kwargs in ({"max_points": 50}, {"x_axis": "timestamp", "start": 1_500.5, "max_points": 17},
                   {"start": 100, "end": 180, "max_points": 1000}):
        got = store.get_metric_history_reduced(run_id, "m", **kwargs)
        want = TrackingStore.get_metric_history_reduced(store, run_id, "m", **kwargs)
        assert (got[1], got[2]) == (want[1], want[2]) and _key(got[0]) == _key(want[0]), kwargs


def test_summary_being_built_elsewhere(sql_store, tiny_blocks):
    """While another request builds a series' summary, readers answer from the raw points; a build
    that died (its mark older than 15 minutes) is started over."""
    if sql_store.engine.dialect.name not in mb.DIALECTS:
        pytest.skip("MySQL reduces from the raw points (no summaries)")
    tiny_blocks(3, 4)
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "building").info.run_id
    sql_store.log_batch(run_id, [Metric("m", float(i % 11), 1_000 + i, i) for i in range(400)], [], [])
    queries = [("step", None, None, 20)]
    _check(sql_store, run_id, queries)  # starts the build
    _built(sql_store, run_id, {0})
    for since, rebuilt in ((int(time.time()), False), (int(time.time()) - 3600, True)):
        with sql_store.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {mb.SETS} SET building_since = :t WHERE run_uuid = :r"), {"t": since, "r": run_id})
        _check(sql_store, run_id, queries)
        assert worker.wait_idle(60)
        with sql_store.engine.connect() as conn:
            left = conn.execute(sa.text(f"SELECT building_since FROM {mb.SETS} WHERE run_uuid = :r AND axis = 0"),
                                {"r": run_id}).scalar()
        assert (left is None) == rebuilt


def test_first_read_answers_from_raw_points(sql_store, tiny_blocks, monkeypatch):
    """The read that finds no summary answers from the raw points and leaves the build to the
    background thread; once built, reads use the summary and no longer touch the raw reducer."""
    if sql_store.engine.dialect.name not in mb.DIALECTS:
        pytest.skip("MySQL reduces from the raw points (no summaries)")
    tiny_blocks(3, 4)
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "first").info.run_id
    sql_store.log_batch(run_id, [Metric("m", math.sin(i / 7), 1_000 + i, i) for i in range(500)], [], [])
    raw_calls: list[str] = []
    build_threads: list[str] = []
    raw, build = mbr.history.reduced, mb.build
    monkeypatch.setattr(mbr.history, "reduced", lambda *a: raw_calls.append(a[3]) or raw(*a))
    monkeypatch.setattr(mb, "build", lambda *a: build_threads.append(threading.current_thread().name) or build(*a))
    _check(sql_store, run_id, [("step", None, None, 20)])
    assert raw_calls == ["step"]  # answered from the raw points
    _built(sql_store, run_id, {0})
    assert build_threads == ["fluvial-metric-blocks"]  # never in the request's thread
    _check(sql_store, run_id, [("step", None, None, 20), ("step", 100, 300, 9)])
    assert raw_calls == ["step"]  # the summary answered
