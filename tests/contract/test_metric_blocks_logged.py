"""Block summaries made before the first chart view (``sql/metric_blocks_logging.py``, ``fluvial db
upgrade``): a series logged through the store has its step-axis summary built and kept current in the
background as it grows, extended at the same block size instead of rebuilt; ``db upgrade`` builds the
summaries of long series written by someone else. The first reduced read then answers from the summary
(never from the raw reducer), equal to the generic reducer. Small thresholds make a few hundred points
behave as millions would; SQLite and PostgreSQL (MySQL has no summaries)."""

from __future__ import annotations

import math
import random

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from fluvial.cli import main
from fluvial.entities import Metric
from fluvial.store.tracking.base import TrackingStore
from fluvial.store.tracking.sql import metric_blocks as mb
from fluvial.store.tracking.sql import metric_blocks_logging as mbl
from fluvial.store.tracking.sql import metric_blocks_read as mbr
from fluvial.store.tracking.sql import metric_blocks_worker as worker


@pytest.fixture(autouse=True)
def small(monkeypatch, sql_store):
    if sql_store.engine.dialect.name not in mb.DIALECTS:
        pytest.skip("MySQL reduces from the raw points (no summaries)")
    monkeypatch.setattr(mb, "SUMMARY_FROM", 50)
    monkeypatch.setattr(mb, "POINTS_PER_BLOCK", 2)
    monkeypatch.setattr(mb, "FAN", 2)
    monkeypatch.setattr(mbl, "KEEP_EVERY", 25)
    yield
    assert worker.wait_idle(60)


def _points(first: int, n: int, rng: random.Random) -> list[Metric]:
    """One point a step with noise, NaN now and then and rare spikes (which a reduce must keep)."""
    out = []
    for step in range(first, first + n):
        value = math.nan if rng.random() < 0.02 else math.sin(step / 17) + rng.gauss(0, 0.1)
        if rng.random() < 0.01:
            value = rng.choice([1e6, -1e6, math.inf])
        out.append(Metric("m", value, 1_000 + 10 * step + rng.randrange(10), step))
    return out


def _key(points):
    return [(p.step, p.timestamp, "nan" if math.isnan(p.value) else p.value) for p in points]


def _summary(store, run_id):
    with store.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT base, levels, built_n, building_since FROM {mb.SETS} "
                                    "WHERE run_uuid = :r AND key = 'm' AND axis = 0"), {"r": run_id}).first()


def _first_reads_from_summary(store, run_id, monkeypatch) -> None:
    """The summary is current without any read having asked, and reads never call the raw reducer."""
    with store.engine.connect() as conn:
        assert isinstance(mbr.reduced(conn, run_id, "m", "step", None, None, 10), tuple)
    raw_calls: list[str] = []
    raw = mbr.history.reduced
    monkeypatch.setattr(mbr.history, "reduced", lambda *a: raw_calls.append(a[3]) or raw(*a))
    for kwargs in ({"max_points": 10}, {"max_points": 37}, {"start": 30, "end": 250.5, "max_points": 8},
                   {"start": 100, "max_points": 1000}):
        got = store.get_metric_history_reduced(run_id, "m", **kwargs)
        want = TrackingStore.get_metric_history_reduced(store, run_id, "m", **kwargs)
        assert (got[1], got[2]) == (want[1], want[2]) and _key(got[0]) == _key(want[0]), kwargs
    assert raw_calls == []


def test_logging_builds_and_extends_the_summary(sql_store, monkeypatch):
    rng = random.Random(12)
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "logged").info.run_id
    for first in range(0, 100, 25):
        sql_store.log_batch(run_id, _points(first, 25, rng), [], [])
    assert worker.wait_idle(60)
    built = _summary(sql_store, run_id)
    assert built is not None and built.building_since is None and built.built_n >= 50
    for first in range(100, 700, 25):  # the series grows 7x at the same density
        sql_store.log_batch(run_id, _points(first, 20, rng), [], [])
        for metric in _points(first + 20, 5, rng):
            sql_store.log_metric(run_id, metric)
    assert worker.wait_idle(60)
    grown = _summary(sql_store, run_id)
    assert (grown.base, grown.built_n) == (built.base, built.built_n)  # extended, not rebuilt
    assert grown.levels > built.levels  # more levels stacked on top
    _first_reads_from_summary(sql_store, run_id, monkeypatch)


def test_summary_once_the_series_is_long(sql_store):
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "short").info.run_id
    points = _points(0, 65, random.Random(1))
    sql_store.log_batch(run_id, points[:40], [], [])  # a keep at 40 points: too short for a summary
    assert worker.wait_idle(60)
    for metric in points[40:49]:
        sql_store.log_metric(run_id, metric)
    assert worker.wait_idle(60)
    with sql_store.engine.connect() as conn:
        assert not mb.tables_exist(conn) or _summary(sql_store, run_id) is None
    sql_store.log_batch(run_id, points[49:], [], [])  # 25 points since the last keep, 65 in all
    assert worker.wait_idle(60)
    assert _summary(sql_store, run_id).built_n == 65


def test_db_upgrade_builds_summaries_of_long_series(sql_store, db_uri, monkeypatch):
    rng = random.Random(3)
    long_run = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "long").info.run_id
    short_run = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "short").info.run_id
    rows = [{"key": p.key, "value": 0.0 if math.isnan(p.value) else p.value, "timestamp": p.timestamp,
             "step": p.step, "is_nan": math.isnan(p.value), "run_uuid": run_id}
            for run_id, n in ((long_run, 400), (short_run, 30)) for p in _points(0, n, rng)]
    with sql_store.engine.begin() as conn:  # written behind fluvial's back, as MLflow would
        conn.execute(sa.insert(sa.table("metrics", *[sa.column(c) for c in rows[0]])), rows)
    result = CliRunner().invoke(main, ["db", "upgrade", db_uri], prog_name="fluvial")
    assert result.exit_code == 0, result.output
    assert f"metric summary 1/1: run {long_run} 'm' (400 points)" in result.stderr
    assert "Metric summaries of 1 long series are up to date." in result.stdout
    assert _summary(sql_store, long_run) is not None and _summary(sql_store, short_run) is None
    _first_reads_from_summary(sql_store, long_run, monkeypatch)


def test_a_stopped_build_leaves_nothing(sql_store, monkeypatch):
    """A build given up half-way (its process exits) removes its rows and its marker."""
    monkeypatch.setattr(mbl, "KEEP_EVERY", 10**9)  # no background build competing with this one
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "stopped").info.run_id
    sql_store.log_batch(run_id, _points(0, 60, random.Random(5)), [], [])
    with pytest.raises(mb.BuildStopped):
        mb.build(sql_store.engine, run_id, "m", "step", stop=lambda: True)
    assert _summary(sql_store, run_id) is None
    with sql_store.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {mb.BLOCKS}")).scalar() == 0


def _blocks(store, run_id):
    with store.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT {', '.join(mb.BLOCK_COLUMNS)} FROM {mb.BLOCKS} WHERE run_uuid = :r "
                                    "AND key = 'm' AND axis = 0 ORDER BY level, block"), {"r": run_id}).all()


def test_an_extended_summary_equals_a_fresh_build(sql_store, monkeypatch):
    """Blocks refreshed and levels stacked as a series grows (one merge of child blocks serves both) are
    the very rows a build of the whole series from scratch writes."""
    monkeypatch.setattr(mbl, "KEEP_EVERY", 10**9)  # the test keeps the summary itself
    rng = random.Random(21)
    run_id = sql_store.create_run("0", "alice", 1_700_000_000_000, [], "extended").info.run_id
    sql_store.log_batch(run_id, _points(0, 60, rng), [], [])
    mb.build(sql_store.engine, run_id, "m", "step")
    built = _summary(sql_store, run_id)
    for first in range(60, 900, 70):  # grows 15x at the same density, kept after each batch
        sql_store.log_batch(run_id, _points(first, 70, rng), [], [])
        mb.keep(sql_store.engine, run_id, "m", "step")
    grown = _summary(sql_store, run_id)
    assert (grown.base, grown.built_n) == (built.base, built.built_n) and grown.levels > built.levels
    extended = _blocks(sql_store, run_id)
    mb.build(sql_store.engine, run_id, "m", "step")
    assert _summary(sql_store, run_id).levels == grown.levels
    assert extended == _blocks(sql_store, run_id)
