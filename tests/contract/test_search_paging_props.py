"""Property tests: a run search read page by page (keyset tokens) returns exactly what a plain Python scan
of the same runs returns, in the same order, on random data with ties, missing values, NULL start
times, NaN metrics, deleted runs and several experiments; and paging stays exact while runs are added."""

from __future__ import annotations

import math
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluvial.entities import LifecycleStage, Metric, Param, RunTag, ViewType
from fluvial.store.tracking.sql import schema

FILTERS = {
    "": lambda r: True,
    "params.model = 'a'": lambda r: r["model"] == "a",
    "tags.team = 'x'": lambda r: r["team"] == "x",
    "metrics.acc > 0.3": lambda r: r["acc"] is not None and not math.isnan(r["acc"]) and r["acc"] > 0.3,
    "attributes.run_name LIKE 'r1%'": lambda r: r["name"].startswith("r1"),
    "params.model = 'b' AND metrics.acc <= 0.5": lambda r: r["model"] == "b" and r["acc"] is not None
    and not math.isnan(r["acc"]) and r["acc"] <= 0.5,
    "attributes.run_name = 'r1'": lambda r: r["name"] == "r1",
    "tags.team = 'y' AND params.model = 'a'": lambda r: r["team"] == "y" and r["model"] == "a",
}
ORDERS: list[list[str]] = [
    [], ["metrics.acc DESC"], ["metrics.acc ASC"], ["params.model ASC"], ["tags.team DESC"],
    ["attributes.start_time ASC"], ["attributes.start_time DESC"], ["attributes.run_name DESC"],
    ["metrics.acc DESC", "attributes.end_time ASC"], ["attributes.end_time DESC"],
]
_ORDER_FIELD = {"metrics.acc": "acc", "params.model": "model", "tags.team": "team",
                "attributes.start_time": "start_time", "attributes.run_name": "name", "attributes.end_time": "end_time"}

run_strategy = st.fixed_dictionaries({
    "exp": st.sampled_from([0, 1]),
    "start_time": st.one_of(st.none(), st.sampled_from([10, 20, 30])),
    "end_time": st.one_of(st.none(), st.sampled_from([5, 15])),
    "acc": st.one_of(st.none(), st.just(math.nan), st.sampled_from([0.1, 0.3, 0.5, 0.9])),
    "model": st.one_of(st.none(), st.sampled_from(["a", "b"])),
    "team": st.one_of(st.none(), st.sampled_from(["x", "y"])),
    "deleted": st.booleans(),
})


def _sorted(rows: list[dict[str, Any]], order_by: list[str]) -> list[dict[str, Any]]:
    """The documented order: each key with missing values (then NaN before missing, for metrics) last
    in both directions, then start_time DESC unless ordered by, then run_id ASC. Stable sort passes
    from the last term to the first."""
    terms = []
    for clause in order_by:
        field, direction = clause.rsplit(" ", 1)
        terms.append((_ORDER_FIELD[field], direction == "DESC"))
    if not any(f == "start_time" for f, _ in terms):
        terms.append(("start_time", True))
    out = sorted(rows, key=lambda r: r["run_id"])
    for field, desc in reversed(terms):
        def flag(r: dict[str, Any], field: str = field) -> int:
            v = r[field]
            return 2 if v is None else (1 if isinstance(v, float) and math.isnan(v) else 0)

        present = [r for r in out if flag(r) == 0]
        present.sort(key=lambda r, field=field: r[field], reverse=desc)
        out = present + [r for r in out if flag(r) == 1] + [r for r in out if flag(r) == 2]
    return out


def _expected(rows, exp_ids, filt, view, order_by):
    stages = LifecycleStage.view_type_to_stages(view)
    chosen = [r for r in rows if r["exp"] in exp_ids and r["stage"] in stages and FILTERS[filt](r)]
    return [r["run_id"] for r in _sorted(chosen, order_by)]


def _make(store, experiments, spec, i):
    tags = [RunTag("team", spec["team"])] if spec["team"] is not None else []
    run = store.create_run(experiments[spec["exp"]], "u", spec["start_time"] or 1, tags, f"r{i}")
    run_id = run.info.run_id
    if spec["acc"] is not None:
        store.log_metric(run_id, Metric("acc", spec["acc"], 1, 0))
    if spec["model"] is not None:
        store.log_param(run_id, Param("model", spec["model"]))
    with store.engine.begin() as conn:
        conn.execute(sa.update(schema.runs).where(schema.runs.c.run_uuid == run_id)
                     .values(start_time=spec["start_time"], end_time=spec["end_time"]))
    if spec["deleted"]:
        store.delete_run(run_id)
    return {**spec, "run_id": run_id, "name": f"r{i}", "exp": experiments[spec["exp"]],
            "stage": "deleted" if spec["deleted"] else "active"}


def _pages(store, exp_ids, filt, view, order_by, size, between=None):
    seen, token = [], None
    for n in range(1000):
        page = store.search_runs(exp_ids, filt, view, size, order_by, token)
        seen += [r.info.run_id for r in page]
        assert len(page) <= size
        token = page.token
        if between is not None and n == 0:
            between()
        if not token:
            return seen
    raise AssertionError("paging did not end")


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    path = tmp_path_factory.mktemp("props")
    return SqlTrackingStore(f"sqlite:///{path / 'props.db'}", str(path / "artifacts"))


def _fresh(store) -> list[str]:
    with store.engine.begin() as conn:
        for table in (schema.latest_metrics, schema.metrics, schema.params, schema.tags, schema.runs):
            conn.execute(sa.delete(table))
    names = [f"p{len(store.search_experiments(ViewType.ALL, 1000))}-{k}" for k in range(2)]
    return [store.create_experiment(n) for n in names]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(run_strategy, max_size=24), filt=st.sampled_from(sorted(FILTERS)),
       order_by=st.sampled_from(ORDERS), view=st.sampled_from(list(ViewType)), size=st.integers(1, 7),
       both=st.booleans())
def test_paged_search_equals_a_python_scan(sqlite_store, runs, filt, order_by, view, size, both):
    experiments = _fresh(sqlite_store)
    rows = [_make(sqlite_store, experiments, spec, i) for i, spec in enumerate(runs)]
    exp_ids = experiments if both else experiments[:1]
    want = _expected(rows, exp_ids, filt, view, order_by)
    assert _pages(sqlite_store, exp_ids, filt, view, order_by, size) == want
    assert [r.info.run_id for r in sqlite_store.search_runs(exp_ids, filt, view, 1000, order_by)] == want
    assert sqlite_store.count_runs(exp_ids, filt, view) == len(want)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(run_strategy, min_size=3, max_size=16), added=st.lists(run_strategy, min_size=1, max_size=6),
       order_by=st.sampled_from(ORDERS), size=st.integers(1, 4))
def test_paging_across_inserts_neither_repeats_nor_skips(sqlite_store, runs, added, order_by, size):
    experiments = _fresh(sqlite_store)
    rows = [_make(sqlite_store, experiments, {**spec, "exp": 0, "deleted": False}, i) for i, spec in enumerate(runs)]
    before = _expected(rows, experiments[:1], "", ViewType.ACTIVE_ONLY, order_by)

    def insert() -> None:
        for j, spec in enumerate(added):
            rows.append(_make(sqlite_store, experiments, {**spec, "exp": 0, "deleted": False}, 100 + j))

    seen = _pages(sqlite_store, experiments[:1], "", ViewType.ACTIVE_ONLY, order_by, size, between=insert)
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(before) <= set(seen)  # nothing that was there all along is skipped
    after = _expected(rows, experiments[:1], "", ViewType.ACTIVE_ONLY, order_by)
    assert seen == [r for r in after if r in seen]  # and everything in order


def test_same_pages_on_every_database(sql_store):
    """The planner's pages equal the general query's single answer on SQLite and PostgreSQL."""
    from fluvial.search.paging import encode_page_token

    experiments = [sql_store.create_experiment(n) for n in ("a", "b")]
    specs = [{"exp": i % 2, "start_time": [None, 10, 20, 30][i % 4], "end_time": [None, 5][i % 2],
              "acc": [None, math.nan, 0.1, 0.3, 0.9][i % 5], "model": [None, "a", "b"][i % 3],
              "team": [None, "x", "y"][(i // 2) % 3], "deleted": i % 7 == 0} for i in range(30)]
    rows = [_make(sql_store, experiments, spec, i) for i, spec in enumerate(specs)]
    for order_by in ORDERS:
        for filt in FILTERS:
            want = _expected(rows, experiments, filt, ViewType.ALL, order_by)
            got = _pages(sql_store, experiments, filt, ViewType.ALL, order_by, 4)
            if "params.model" in order_by[0:1] or "tags.team" in "".join(order_by) or "run_name" in "".join(order_by):
                assert sorted(got) == sorted(want)  # string order is the database's collation
            else:
                assert got == want, (order_by, filt)
    for filt in FILTERS:  # counts (counters, one index range driving, or the general query) on each database
        for view in ViewType:
            for exp_ids in (experiments, experiments[:1]):
                want = _expected(rows, exp_ids, filt, view, [])
                assert sql_store.count_runs(exp_ids, filt, view) == len(want), (filt, view, exp_ids)
    # an MLflow-style offset token still works
    page = sql_store.search_runs(experiments, "", ViewType.ALL, 5, None, encode_page_token(25))
    assert [r.info.run_id for r in page] == _expected(rows, experiments, "", ViewType.ALL, [])[25:30]
