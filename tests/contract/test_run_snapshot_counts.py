"""Counts answered by the columnar run snapshot (``run_snapshot.py``, kept fresh from the trigger-written
change log) equal the general ``SELECT count(*)`` on randomized data: ties, NaN and missing metrics,
deleted runs, runs moved and hard-deleted, writes between counts, and a second process-like cache
(another engine) writing; on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import os

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluvial.entities import Metric, Param, RunTag, ViewType
from fluvial.exceptions import MlflowException
from fluvial.store.tracking.sql import change_log, run_count, run_snapshot
from fluvial.store.tracking.sql.search import build_count_query
from tests.conftest import NO_POSTGRES, POSTGRES_URL

FILTERS = [
    "", "metrics.acc > 0.5", "metrics.acc >= 0.5 AND params.model = 'rf'", "metrics.acc != 0.5",
    "metrics.acc < 1e400", "metrics.acc = 0.5", "params.model != 'rf'", "attributes.run_id NOT IN ('abc')",
"tags.team LIKE 't%'", "tags.team ILIKE 'T_'", "tags.team LIKE '%1'",
    "attributes.run_name LIKE 'run-1%'", "attributes.status = 'FINISHED' AND metrics.loss <= 0.25",
    "attributes.start_time > 5 AND tags.team = 't1'", "attributes.end_time <= 10", "params.model LIKE '%v%'",
    "attributes.user_id = 'u1' AND metrics.acc > 0.25 AND metrics.loss > 0.25",
]
OPS = st.lists(st.tuples(
    st.sampled_from(["create", "metric", "param", "tag", "delete", "restore", "hard", "move", "end", "count"]),
    st.integers(0, 40), st.sampled_from([0.25, 0.5, 0.75, math.nan, 1.0, -1.0])), max_size=40)


def _store(url: str, root: str):
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    return SqlTrackingStore(url, root)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stores(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("snapshot-counts")
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip(NO_POSTGRES)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{path / 'counts.db'}"
    saved = {k: os.environ.get(k) for k in ("FLUVIAL_COUNT_SNAPSHOT", "FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS")}
    os.environ["FLUVIAL_COUNT_SNAPSHOT"] = "sync"
    os.environ["FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS"] = "0"
    selective, run_count.SELECTIVE_MAX = run_count.SELECTIVE_MAX, 0  # tiny data: keep the snapshot in play
    # two stores on two engines: two independent snapshot caches, as two processes would have
    yield _store(url, str(path / "a")), _store(url, str(path / "b"))
    run_count.SELECTIVE_MAX = selective
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _plain(store, exps: list[str], filt: str, view: ViewType) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(build_count_query(exps, filt, int(view))).scalar() or 0)


def _check(store, exps: list[str]) -> None:
    for view in ViewType:
        for filt in FILTERS:
            assert store.count_runs(exps, filt, view) == _plain(store, exps, filt, view), (filt, view)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_snapshot_counts_equal_a_plain_count(stores, ops):
    from fluvial.store.tracking.sql import move

    reader, writer = stores
    with reader.engine.connect() as conn:
        assert change_log.complete(conn)
    n = len(writer.search_experiments(ViewType.ALL, 1000))
    exps = [writer.create_experiment(f"snap{n}-{k}") for k in range(2)]
    runs: list[str] = []
    _check(reader, exps)  # snapshots built before any run exists, then caught up from the log
    for op, pick, value in ops:
        run = runs[pick % len(runs)] if runs else None
        try:
            if op == "create" or run is None:
                tags = [RunTag("team", f"t{pick % 3}"), RunTag("mlflow.runName", f"run-{pick}")]
                runs.append(writer.create_run(exps[pick % 2], f"u{pick % 2}", pick, tags, None).info.run_id)
            elif op == "metric":
                writer.log_metric(run, Metric("acc" if pick % 2 else "loss", value, pick, pick % 3))
            elif op == "param":
                writer.log_param(run, Param(f"model{'' if pick % 3 else 'x'}", ["rf", "svm", "knn"][pick % 3]))
            elif op == "tag":
                writer.set_tag(run, RunTag("team", ["t1", "T2", "x1"][pick % 3]))
            elif op == "delete":
                writer.delete_run(run)
            elif op == "restore":
                writer.restore_run(run)
            elif op == "hard":
                writer.hard_delete_run(run)
                runs.remove(run)
            elif op == "move":
                move.move_runs(writer.engine, [run], exps[(pick + 1) % 2])
            elif op == "end":
                writer.update_run_info(run, "FINISHED", pick, None)
            elif op == "count":
                _check(reader, exps)
        except MlflowException:
            pass  # a param logged twice with another value, writing to a deleted run: refused
    _check(reader, exps)
    _check(reader, [exps[0]])
    _check(writer, exps)
    # a fresh cache (a process started now) builds its snapshots from the runs already there
    fresh = _store(writer.engine.url.render_as_string(hide_password=False), writer.default_artifact_root)
    filt = "attributes.status = 'FINISHED' AND attributes.end_time > 3 AND metrics.loss <= 0.25"
    assert fresh.count_runs(exps, filt) == _plain(fresh, exps, filt, ViewType.ACTIVE_ONLY)  # first use builds
    _check(fresh, exps)


def test_snapshot_is_not_used_without_its_change_log(tmp_path, monkeypatch):
    """Without every trigger of the log (a migration rebuilt a table) the snapshot is not consulted:
    counts still come out right from SQL, and ``fluvial db upgrade``'s ensure_indexes restores it."""
    from fluvial.store.tracking.sql.indexes import ensure_indexes, missing_indexes

    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT", "sync")
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS", "0")
    monkeypatch.setattr(run_count, "SELECTIVE_MAX", 0)  # tiny data: keep the snapshot in play
    store = _store(f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "a"))
    exp = store.create_experiment("e")
    run = store.create_run(exp, "u", 1, [], None).info.run_id
    store.log_metric(run, Metric("acc", 0.9, 1, 0))
    assert store.count_runs([exp], "metrics.acc > 0.5") == 1
    assert run_snapshot.cache(store.engine).snapshots  # built by that count
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER fluvial_latest_metrics_change_update")
    assert change_log.TABLE in missing_indexes(store.engine)
    store.log_metric(run, Metric("acc", 0.1, 2, 1))  # not in the log: the snapshot would miss it
    assert store.count_runs([exp], "metrics.acc > 0.5") == 0
    ensure_indexes(store.engine)
    assert change_log.TABLE not in missing_indexes(store.engine)
    store.log_metric(run, Metric("acc", 0.7, 3, 2))
    assert store.count_runs([exp], "metrics.acc > 0.5") == 1


def test_background_mode_falls_back_then_uses_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT", "background")
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS", "0")
    monkeypatch.setattr(run_count, "SELECTIVE_MAX", 0)  # tiny data: keep the snapshot in play
    store = _store(f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "a"))
    exp = store.create_experiment("e")
    for i in range(20):
        run = store.create_run(exp, "u", i, [], None).info.run_id
        store.log_metric(run, Metric("acc", i / 20, 1, 0))
    owner = run_snapshot.cache(store.engine)
    assert store.count_runs([exp], "metrics.acc > 0.5") == 9  # SQL answers while the snapshot builds
    assert owner.wait_idle(60)
    assert store.count_runs([exp], "metrics.acc > 0.5") == 9  # needs the acc column: queued, SQL answers
    assert owner.wait_idle(60)
    assert ("metric", "acc") in owner.snapshots[int(exp)].columns
    run = store.create_run(exp, "u", 99, [], None).info.run_id
    store.log_metric(run, Metric("acc", 0.99, 1, 0))
    assert store.count_runs([exp], "metrics.acc > 0.5") == 10
    with store.engine.connect() as conn:
        assert sa.inspect(conn).has_table(change_log.TABLE)


WRITER = """
import sys
import fluvial as mlflow
from fluvial.entities import Metric, Param

client = mlflow.MlflowClient(sys.argv[1])
exp = sys.argv[2]
for i in range(int(sys.argv[3])):
    run = client.create_run(exp, start_time=i, tags={"team": "t1"}).info.run_id
    client.log_batch(run, metrics=[Metric("acc", (i % 4) / 4, 0, 0)], params=[Param("model", "rf")])
    if i % 5 == 0:
        client.delete_run(run)
emit({})
"""


def test_another_process_writing_between_counts(tmp_path, monkeypatch):
    """Another fluvial process writes between this process's snapshot counts; each count is exact."""
    from tests.compat._mlflow import run_fluvial

    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT", "sync")
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS", "0")
    monkeypatch.setattr(run_count, "SELECTIVE_MAX", 0)  # tiny data: keep the snapshot in play
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    store = _store(uri, str(tmp_path / "a"))
    exp = store.create_experiment("shared")
    filters = ["metrics.acc >= 0.5 AND params.model = 'rf'", "tags.team = 't1' AND metrics.acc < 0.5"]
    for rounds in (7, 11):
        for view in ViewType:
            for filt in filters:
                assert store.count_runs([exp], filt, view) == _plain(store, [exp], filt, view)
        run_fluvial(WRITER, uri, exp, str(rounds), cwd=tmp_path)
    assert int(exp) in run_snapshot.cache(store.engine).snapshots
    for view in ViewType:
        for filt in filters:
            assert store.count_runs([exp], filt, view) == _plain(store, [exp], filt, view)
    assert store.count_runs([exp], filters[0]) == 7  # acc 0.5 or 0.75 on 8 of the 18 runs, one deleted


@pytest.fixture
def snapshot_stores(backend, tmp_path, monkeypatch, new_database):
    """``make()``: a reader and a writer store on a new database of ``backend`` (dropped afterwards), whose
    counts the run snapshot answers (sync, at any size, no selective index drive). ``make`` runs after the
    test's own settings, since the log's triggers are created with the values in force then."""
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT", "sync")
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS", "0")
    monkeypatch.setattr(run_count, "SELECTIVE_MAX", 0)  # tiny data: keep the snapshot in play

    def make():
        url = new_database("postgres") if backend == "postgres" else f"sqlite:///{tmp_path / 'snapshot.db'}"
        return _store(url, str(tmp_path / "a")), _store(url, str(tmp_path / "b"))

    return make


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_change_log_is_trimmed_and_a_snapshot_behind_it_rebuilds(snapshot_stores, monkeypatch):
    """The log keeps its newest KEEP rows (a trim every TRIM_EVERY appends, by trigger, whoever writes); a
    snapshot whose cursor is older than the trimmed rows is rebuilt rather than caught up, so its counts
    stay exact."""
    monkeypatch.setattr(change_log, "KEEP", 30)  # the triggers are created with these values
    monkeypatch.setattr(change_log, "TRIM_EVERY", 10)
    reader, writer = snapshot_stores()
    exp = reader.create_experiment("e")
    runs = [reader.create_run(exp, "u", 1, [], None).info.run_id for _ in range(3)]
    assert reader.count_runs([exp], "metrics.acc > 0.5") == 0  # the reader's snapshot, cursor now
    for step in range(60):  # far more changes than the log keeps
        writer.log_metric(runs[step % 3], Metric("acc", 0.9 if step < 59 else 0.1, step, step))
    with writer.engine.connect() as conn:
        kept = int(conn.exec_driver_sql(f"SELECT count(*) FROM {change_log.TABLE}").scalar() or 0)
        assert kept <= 30 + 10
        assert change_log.trimmed_past(conn, 0)
    # runs[2] ended at 0.1 (the last step); the others at 0.9: the stale snapshot rebuilds to see it
    assert reader.count_runs([exp], "metrics.acc > 0.5") == 2 == _plain(reader, [exp], "metrics.acc > 0.5", ViewType.ACTIVE_ONLY)
    assert reader.count_runs([exp], "metrics.acc < 0.5") == 1


def test_the_sql_store_counts_without_numpy(tmp_path):
    """numpy is not a dependency of the tracking server: without it, the store imports and counts by SQL."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f'''
        import sys
        class Block:
            tries = 0
            def find_spec(self, name, path=None, target=None):
                if name == "numpy" or name.startswith("numpy."):
                    Block.tries += 1
                    raise ImportError("numpy is hidden")
        sys.meta_path.insert(0, Block())
        import os
        os.environ["FLUVIAL_COUNT_SNAPSHOT"] = "sync"
        os.environ["FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS"] = "0"
        from fluvial.entities import Metric
        from fluvial.store.tracking.sql import run_count
        from fluvial.store.tracking.sql.store import SqlTrackingStore
        run_count.SELECTIVE_MAX = 0  # tiny data: past the index drive, to where the snapshot would count
        store = SqlTrackingStore("sqlite:///{tmp_path / 'n.db'}", "{tmp_path / 'a'}")
        exp = store.create_experiment("e")
        for v in (0.2, 0.9):
            run = store.create_run(exp, "u", 1, [], None).info.run_id
            store.log_metric(run, Metric("acc", v, 1, 0))
        print(store.count_runs([exp], "metrics.acc > 0.5 AND attributes.status = 'RUNNING'"), "numpy" in sys.modules)
        tries = Block.tries
        store.count_runs([exp], "metrics.acc < 0.5 AND attributes.status = 'RUNNING'")
        print(tries == Block.tries)  # the failed import is not tried again on every count
    ''')
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "False", "True"]


STRING_FILTERS = [
    "params.p = ''", "params.p != ''", "params.p = 'é'", "params.p != 'a'", "params.p LIKE '%é%'",
    "params.p ILIKE 'A%'", "params.p ILIKE '%B'", "params.p LIKE '%'",
    "tags.t LIKE 'a\\_%'", "tags.t = 'A_b'", "tags.t ILIKE 'a_b'", "tags.t != 'x' AND params.p LIKE 'b%'",
    "attributes.run_name LIKE '%1'", "attributes.run_name ILIKE 'RUN-%'", "attributes.status != 'RUNNING'",
    "attributes.user_id = 'ü'", "attributes.user_id ILIKE 'U%'", "attributes.artifact_uri LIKE '%/1%'",
]


@pytest.mark.parametrize("distinct_max", [4096, 2])
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_string_columns_match_sql_as_values_come_and_go(distinct_max, snapshot_stores, monkeypatch):
    """Dictionary-encoded string columns (``snapshot_columns.py``) count as SQL does: empty strings and
    runs without the value, non-ASCII text (ILIKE then falls back to SQL), LIKE wildcards, values first
    seen through the change log, renamed runs, and (``distinct_max`` 2) columns with too many distinct
    values for a dictionary, compacted after many changes."""
    from fluvial.store.tracking.sql import snapshot_columns

    monkeypatch.setattr(snapshot_columns, "DISTINCT_MAX", distinct_max)
    monkeypatch.setattr(snapshot_columns, "COMPACT_SLACK", 0)
    reader, writer = snapshot_stores()
    exp = writer.create_experiment("strings")

    def check() -> None:
        for view in ViewType:
            for filt in STRING_FILTERS:
                assert reader.count_runs([exp], filt, view) == _plain(reader, [exp], filt, view), (filt, view)

    values = ["a", "A", "é", "", "b%", None, "a_b", "A_b"]
    runs = []
    for i, value in enumerate(values):
        tags = [RunTag("mlflow.runName", f"run-{i}")] + ([RunTag("t", value)] if value is not None else [])
        run = writer.create_run(exp, f"u{i % 2}", i, tags, None).info.run_id
        if value is not None:
            writer.log_param(run, Param("p", value))
        runs.append(run)
    check()  # built from these
    assert reader.count_runs([exp], "params.p = 'é'") == 1
    owner = run_snapshot.cache(reader.engine)
    assert ("param", "p") in owner.snapshots[int(exp)].columns  # answered by the snapshot
    for i, value in enumerate(["ü", "B", "", "a_b", "é"]):  # new values and new runs, through the log
        run = writer.create_run(exp, "ü" if i % 2 else "u0", 100 + i, [RunTag("t", value)], None).info.run_id
        writer.log_param(run, Param("p", value))
        runs.append(run)
    writer.set_tag(runs[0], RunTag("mlflow.runName", "RUN-renamed1"))
    writer.update_run_info(runs[1], "FINISHED", 5, "run-x1")
    writer.delete_run(runs[2])
    check()
    for step in range(40):  # many changes of one run: entries pile up without a dictionary, then compact
        writer.set_tag(runs[3], RunTag("t", f"x{step}" if step < 39 else "A_b"))
        writer.set_tag(runs[4], RunTag("mlflow.runName", f"run-{step}"))
        if step % 8 == 0:
            check()
    check()
    tags = owner.snapshots[int(exp)].columns[("tag", "t")]
    assert tags.used <= 2 * tags.capacity + snapshot_columns.COMPACT_SLACK + 1
    assert (tags.index is None) == (distinct_max == 2)
