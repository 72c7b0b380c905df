"""The database's own query plans (EXPLAIN) for the searches a runs page makes: every statement a search
sends finds its rows through an index (no scan of ``runs``, no full sort), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from fluvial.entities import Metric, Param, RunTag, ViewType

QUERIES = [
    ("newest page", [], "", None),
    ("params", [], "params.model = 'rf'", None),
    ("tags", [], "tags.team = 'team3'", None),
    ("run name", [], "attributes.run_name LIKE 'run-1%'", None),
    ("metric order", [], "metrics.acc > 0.5 AND params.model = 'rf'", ["metrics.acc DESC"]),
    ("start_time ascending", [], "", ["attributes.start_time ASC"]),
]


@pytest.fixture
def populated(sql_store):
    if sql_store.engine.dialect.name == "mysql":
        pytest.skip("fluvial's search indexes and index-walking pages exist on SQLite and PostgreSQL only; "
                    "MySQL runs the general query (docs/architecture.md)")
    exp = sql_store.create_experiment("plans")
    other = sql_store.create_experiment("plans-2")
    for i in range(12):
        run = sql_store.create_run(exp if i % 3 else other, "u", 1_000 + i, [RunTag("team", f"team{i % 4}")],
                                   f"run-{i}")
        sql_store.log_batch(run.info.run_id, [Metric("acc", i / 12, 1, 0)], [Param("model", ["rf", "lr"][i % 2])], [])
    return sql_store, exp, other


def _statements(store, call):
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    return seen


def _plan(store, statement, parameters) -> str:
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return "\n".join(r[3] for r in rows)
        conn.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: ask whether an index CAN serve
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        return "\n".join(r[0] for r in rows)


def _check(store, plan: str, statement: str) -> None:
    if store.engine.dialect.name == "sqlite":
        assert not re.search(r"^SCAN (runs|params|tags|latest_metrics)\b", plan, re.M), f"{statement}\n{plan}"
        # a full sort of runs is a scan in disguise; sorting the merged per-experiment pages (SCAN eN,
        # at most a page each) or a few candidate runs (run_uuid IN ...) is not
        merged = re.sub(r"SCAN e\d+\nUSE TEMP B-TREE FOR ORDER BY", "", plan)
        if "FROM runs" in statement and "count(" not in statement and "run_uuid IN" not in statement:
            assert "USE TEMP B-TREE FOR ORDER BY" not in merged, f"{statement}\n{plan}"
        if "FROM runs" in statement and "runs.run_uuid IN" in statement:  # a few candidates: by primary key
            assert re.search(r"SEARCH runs USING INDEX sqlite_autoindex_runs_1 \(run_uuid=\?\)", plan), \
                f"{statement}\n{plan}"
    else:
        assert not re.search(r"Seq Scan on (runs|params|tags|latest_metrics)\b", plan), f"{statement}\n{plan}"


@pytest.mark.parametrize("name,_ids,filter_string,order_by", QUERIES, ids=[q[0] for q in QUERIES])
@pytest.mark.parametrize("view", [ViewType.ACTIVE_ONLY, ViewType.ALL])
@pytest.mark.parametrize("drive", ["walk", "candidates"])
def test_search_pages_use_indexes(populated, name, _ids, filter_string, order_by, view, drive, monkeypatch):
    """Both ways a filtered page is read: walking the order's index with the filters checked on the
    way, and (a selective filter) looking its few runs up by primary key."""
    from fluvial.store.tracking.sql import runs_page

    if drive == "walk":
        monkeypatch.setattr(runs_page, "SELECTIVE_ROWS", 0)  # every filter counts as unselective
    store, exp, other = populated
    for exp_ids in ([exp], [exp, other]):
        first = store.search_runs(exp_ids, filter_string, view, 1, order_by)
        assert len(first) == 1 and first.token

        def both_pages(exp_ids=exp_ids, first=first):
            store.search_runs(exp_ids, filter_string, view, 1, order_by)
            store.search_runs(exp_ids, filter_string, view, 1, order_by, first.token)

        statements = _statements(store, both_pages)
        assert any("FROM runs" in s for s, _ in statements)
        for statement, parameters in statements:
            _check(store, _plan(store, statement, parameters), statement)


COUNTS = ["", "params.model = 'rf'", "tags.team = 'team3'", "attributes.run_name = 'run-1'",
          "attributes.run_name LIKE 'run-1%'", "metrics.acc > 0.5 AND params.model = 'rf'"]


@pytest.mark.parametrize("view", [ViewType.ACTIVE_ONLY, ViewType.ALL])
def test_counts_use_indexes(populated, view):
    """A count reads the trigger-kept counters (no filter, or one param/tag/run-name equality on SQLite)
    or is driven from one comparison's index range with each run looked up by primary key; it never
    walks the experiment."""
    store, exp, other = populated
    for filter_string in COUNTS:
        statements = _statements(store, lambda f=filter_string: store.count_runs([exp, other], f, view))
        assert statements
        for statement, parameters in statements:
            plan = _plan(store, statement, parameters)
            _check(store, plan, statement)
            if store.engine.dialect.name == "sqlite":
                assert not re.search(r"^SCAN (fluvial_\w+)\b", plan, re.M), f"{statement}\n{plan}"
                if "JOIN runs" in statement:  # driven: the index range first, then each run by its key
                    assert re.search(r"SEARCH fluvial_drive USING COVERING INDEX fluvial_", plan), plan
                    assert "SEARCH runs USING INDEX sqlite_autoindex_runs_1 (run_uuid=?)" in plan, plan
        counters = [s for s, _ in statements if "fluvial_value_counts" in s]
        single_equality = filter_string.count("=") == 1 and " AND " not in filter_string and "LIKE" not in filter_string
        if store.engine.dialect.name == "sqlite" and single_equality:
            rest = [s for s, _ in statements if "sqlite_master" not in s]  # besides the check that the triggers exist
            assert counters and len(rest) == 1, statements
        else:
            assert not counters
        if filter_string and not single_equality:
            assert any("fluvial_drive" in s for s, _ in statements), statements


def test_metric_history_uses_the_run_key_step_index(populated):
    store, exp, _ = populated
    run_id = store.search_runs([exp], max_results=1)[0].info.run_id
    store.log_batch(run_id, [Metric("loss", float(i), i, i) for i in range(50)], [], [])

    def reads():
        page = store.get_metric_history(run_id, "loss", max_results=10)
        store.get_metric_history(run_id, "loss", max_results=10, page_token=page.token)
        store.get_metric_history_reduced(run_id, "loss", max_points=10)

    for statement, parameters in _statements(store, reads):
        plan = _plan(store, statement, parameters)
        if "FROM metrics" in statement:
            assert "fluvial_metrics_run_key_step" in plan, f"{statement}\n{plan}"


def test_snapshot_counts_read_the_change_log_by_index(populated, monkeypatch):
    """A count answered by the run snapshot reads the change log from its cursor through an index (the
    id on SQLite, the transaction id on PostgreSQL) and reloads the changed runs by key, never a scan."""
    from fluvial.store.tracking.sql import run_count

    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT", "sync")
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS", "0")
    monkeypatch.setattr(run_count, "SELECTIVE_MAX", 0)  # tiny data: keep the snapshot in play
    store, exp, other = populated
    filter_string = "metrics.acc > 0.5 AND params.model = 'rf' AND tags.team LIKE 'team%'"
    expected = len(store.search_runs([exp, other], filter_string, max_results=100))
    assert store.count_runs([exp, other], filter_string) == expected  # builds the snapshots and their columns
    run_id = store.search_runs([exp], "", ViewType.ALL, 1)[0].info.run_id
    store.set_tag(run_id, RunTag("team", "team0"))  # one change for the next count to reload
    statements = _statements(store, lambda: store.count_runs([exp, other], filter_string))
    log_reads = [(s, p) for s, p in statements if "fluvial_run_changes WHERE" in s]
    assert log_reads, statements
    assert any("run_uuid IN" in s for s, _ in statements), statements  # the changed run was reloaded
    for statement, parameters in statements:
        plan = _plan(store, statement, parameters)
        _check(store, plan, statement)
        if store.engine.dialect.name == "sqlite":
            assert not re.search(r"^SCAN (?!sqlite_master|CONSTANT ROW|anon_)", plan, re.M), f"{statement}\n{plan}"
            if "fluvial_run_changes WHERE" in statement:
                assert "SEARCH fluvial_run_changes USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
        else:
            assert "Seq Scan" not in plan, f"{statement}\n{plan}"
            if "fluvial_run_changes WHERE" in statement:
                assert "fluvial_run_changes_xid" in plan, plan


def _estimated_rows(conn, value: str) -> int:
    """The planner's row estimate for one param value through the ``left(value, 200)`` index."""
    plan = conn.exec_driver_sql(
        "EXPLAIN SELECT run_uuid FROM params WHERE key = 'model' "
        f"AND left(value, 200) COLLATE \"C\" = '{value}'").all()
    return int(re.search(r"rows=(\d+)", plan[0][0]).group(1))


@pytest.mark.postgres
def test_postgres_value_indexes_get_planner_statistics(postgres_uri, tmp_path):
    """PostgreSQL keeps no statistics for an expression index until its table is analyzed: without them
    a value held by most runs is estimated at 0.5% of the rows (and searched by bitmap scans).
    ``ensure_indexes`` analyzes the tables whose value index it built or whose statistics are missing."""
    from fluvial.store.tracking.sql.indexes import ensure_indexes
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(postgres_uri, str(tmp_path / "artifacts"))  # indexes built on the empty tables
    exp = store.create_experiment("stats")
    for i in range(300):
        run = store.create_run(exp, "u", i, [RunTag("team", "team3" if i % 10 else "team1")], f"run-{i}")
        store.log_batch(run.info.run_id, [], [Param("model", "rf" if i % 10 else "lr")], [])

    def stats(conn) -> set[str]:
        return {str(t) for t in conn.exec_driver_sql(
            "SELECT DISTINCT tablename FROM pg_stats WHERE tablename LIKE 'fluvial_%%'").scalars()}

    with store.engine.connect() as conn:
        assert "fluvial_params_key_value" not in stats(conn)
    heard: list[str] = []
    ensure_indexes(store.engine, heard.append)  # nothing to build, but the statistics are missing
    assert any("analyzing params" in line for line in heard) and any("analyzing tags" in line for line in heard)
    with store.engine.connect() as conn:
        assert {"fluvial_params_key_value", "fluvial_tags_key_value"} <= stats(conn)
        assert _estimated_rows(conn, "rf") > 200  # 270 runs hold it
    heard.clear()
    ensure_indexes(store.engine, heard.append)  # statistics present, nothing built: no ANALYZE
    assert not heard
    # an index built on a table with rows is analyzed with it
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX fluvial_params_key_value")
    ensure_indexes(store.engine, heard.append)
    assert "analyzing params (planner statistics for the new indexes)..." in heard
    assert not any("analyzing tags" in line for line in heard)
    with store.engine.connect() as conn:
        assert "fluvial_params_key_value" in stats(conn) and _estimated_rows(conn, "rf") > 200


@pytest.mark.parametrize("selective", [True, False])
def test_values_sharing_the_indexed_prefix_are_told_apart(sql_store, selective, monkeypatch):
    """PostgreSQL indexes ``left(value, 200)``: values equal in their first 200 characters differ in the
    full comparison, whether a search is driven from the value's index entries or walks the runs."""
    from fluvial.store.tracking.sql import runs_page

    if not selective:
        monkeypatch.setattr(runs_page, "SELECTIVE_ROWS", 0)
    exp = sql_store.create_experiment("long values")
    base = "v" * 200
    ids = {}
    for value in (base, base + "a", base + "b", "short"):
        run = sql_store.create_run(exp, "u", 1, [RunTag("note", value)], None)
        sql_store.log_param(run.info.run_id, Param("p", value))
        ids[value] = run.info.run_id
    for value in (base, base + "a", "short"):
        for entity in ("params.p", "tags.note"):
            found = sql_store.search_runs([exp], f"{entity} = '{value}'", max_results=10)
            assert [r.info.run_id for r in found] == [ids[value]], (entity, value)
            assert sql_store.count_runs([exp], f"{entity} = '{value}'") == 1


def test_postgres_pages_run_without_parallel_workers_and_probe_without_bitmap_scans(populated):
    """A page's statements (the probe and the index walk) run with parallel workers off on PostgreSQL, the
    selectivity probe also without bitmap scans (an index walk that stops at its LIMIT), for that
    transaction only: the walk has bitmap scans back and the pooled connection's next reader has the
    server's settings back."""
    store, exp, _ = populated
    if store.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    seen: list[tuple[str, str, str]] = []

    def show(conn, cursor, statement, parameters, context, executemany):
        kind = "walk" if statement.lstrip().upper().startswith("SELECT RUNS.") else \
            "probe" if re.search(r"\bFROM params\b", statement) else None
        if kind:
            workers, bitmap = (cursor.connection.execute(f"SHOW {name}").fetchone()[0]
                               for name in ("max_parallel_workers_per_gather", "enable_bitmapscan"))
            seen.append((kind, workers, bitmap))

    sa.event.listen(store.engine, "before_cursor_execute", show)
    try:
        found = store.search_runs([exp], "params.model = 'rf'", ViewType.ACTIVE_ONLY, max_results=3)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", show)
    assert len(found) == 3
    assert {kind for kind, _, _ in seen} == {"probe", "walk"}, seen
    assert all(workers == "0" for _, workers, _ in seen), seen
    assert {bitmap for kind, _, bitmap in seen if kind == "probe"} == {"off"}, seen
    assert {bitmap for kind, _, bitmap in seen if kind == "walk"} == {"on"}, seen
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar() != "0"
        assert conn.exec_driver_sql("SHOW enable_bitmapscan").scalar() == "on"
