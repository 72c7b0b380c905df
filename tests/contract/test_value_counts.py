"""The per-value run counters (SQLite, ``fluvial_value_counts``) stay equal to a recount from the tables
after any sequence of writes through the store: runs created with tags, params, tag overwrites and
deletes, renames, run and experiment deletes and restores, hard deletes, runs moved between
experiments, and values too long to count; and ``count_runs`` equals a plain count of the search."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluvial.entities import Param, RunTag, ViewType
from fluvial.exceptions import MlflowException
from fluvial.store.tracking.sql import value_counts

OPS = st.lists(st.tuples(
    st.sampled_from(["create", "param", "tag", "untag", "rename", "delete", "restore", "hard", "move",
                     "delete_exp", "restore_exp"]),
    st.integers(0, 50), st.sampled_from(["a", "b", "x" * (value_counts.MAX_VALUE + 1)])), max_size=30)


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    path = tmp_path_factory.mktemp("value-counts")
    return SqlTrackingStore(f"sqlite:///{path / 'counts.db'}", str(path / "artifacts"))


def _recount(conn: sa.Connection) -> Counter[tuple]:
    out: Counter[tuple] = Counter()
    for table, entity in value_counts.ENTITIES.items():
        rows = conn.exec_driver_sql(
            f"SELECT c.key, c.value, r.experiment_id, r.lifecycle_stage FROM {table} c JOIN runs r "
            f"ON r.run_uuid = c.run_uuid WHERE c.value IS NOT NULL AND length(c.value) <= {value_counts.MAX_VALUE}")
        for key, value, exp, stage in rows:
            out[(entity, key, value, exp, stage)] += 1
    return out


def _counters(conn: sa.Connection) -> Counter[tuple]:
    rows = conn.exec_driver_sql(f"SELECT entity, key, value, experiment_id, lifecycle_stage, n FROM "
                                f"{value_counts.TABLE} WHERE n != 0")
    return Counter({tuple(r[:5]): r[5] for r in rows})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_counters_equal_a_recount_after_any_writes(sqlite_store, ops):
    from fluvial.store.tracking.sql import move

    store = sqlite_store
    n = len(store.search_experiments(ViewType.ALL, 1000))
    exps = [store.create_experiment(f"vc{n}-{k}") for k in range(2)]
    runs: list[str] = []
    for op, pick, value in ops:
        run = runs[pick % len(runs)] if runs else None
        try:
            if op == "create" or run is None:
                runs.append(store.create_run(exps[pick % 2], "u", pick, [RunTag("team", value)], None).info.run_id)
            elif op == "param":
                store.log_param(run, Param(f"p{pick % 3}", value))
            elif op == "tag":
                store.set_tag(run, RunTag("team", value))
            elif op == "untag":
                store.delete_tag(run, "team")
            elif op == "rename":
                store.update_run_info(run, None, None, f"name-{value[:3]}")
            elif op == "delete":
                store.delete_run(run)
            elif op == "restore":
                store.restore_run(run)
            elif op == "hard":
                store.hard_delete_run(run)
                runs.remove(run)
            elif op == "move":
                move.move_runs(store.engine, [run], exps[(pick + 1) % 2])
            elif op == "delete_exp":
                store.delete_experiment(exps[pick % 2])
            elif op == "restore_exp":
                store.restore_experiment(exps[pick % 2])
        except MlflowException:
            pass  # writing to a deleted run or experiment is refused; the counters must not move either
    with store.engine.connect() as conn:
        assert _counters(conn) == _recount(conn)
    for view in ViewType:
        for filt in ("tags.team = 'a'", "tags.team = 'b'", "params.p1 = 'a'", "attributes.run_name = 'name-b'"):
            plain = len(store.search_runs(exps, filt, view, 1000))
            assert store.count_runs(exps, filt, view) == plain, (filt, view)


def test_counters_are_built_for_an_existing_database(tmp_path):
    """A database written before the counters existed gets them, filled, from ``ensure_indexes``."""
    from fluvial.store.tracking.sql.indexes import ensure_indexes, missing_indexes
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'old.db'}", str(tmp_path / "artifacts"))
    exp = store.create_experiment("old")
    for i in range(5):
        run = store.create_run(exp, "u", i, [RunTag("team", "ab"[i % 2])], None)
        store.log_param(run.info.run_id, Param("model", "rf"))
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {value_counts.TABLE}")
        for name in [t for t in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                                                      "name LIKE 'fluvial_%value_count%'").scalars()]:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
    assert value_counts.TABLE in missing_indexes(store.engine)
    assert store.count_runs([exp], "tags.team = 'a'") == 3  # the general query answers meanwhile
    heard: list[str] = []
    ensure_indexes(store.engine, heard.append)
    assert any(value_counts.TABLE in line for line in heard)
    assert store.count_runs([exp], "tags.team = 'a'") == 3 and store.count_runs([exp], "params.model = 'rf'") == 5
    with store.engine.connect() as conn:
        assert _counters(conn) == _recount(conn)
    # a migration that rebuilds `params` by copy and rename drops the triggers on it: the counters are
    # then neither used nor reported as present, and the next upgrade rebuilds them
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER fluvial_params_value_count_insert")
    run = store.create_run(exp, "u", 9, [], None)
    store.log_param(run.info.run_id, Param("model", "rf"))
    assert store.count_runs([exp], "params.model = 'rf'") == 6
    assert value_counts.TABLE in missing_indexes(store.engine)
    ensure_indexes(store.engine)
    assert value_counts.TABLE not in missing_indexes(store.engine)
    with store.engine.connect() as conn:
        assert _counters(conn) == _recount(conn)
    assert store.count_runs([exp], "params.model = 'rf'") == 6
