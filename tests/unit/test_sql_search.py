"""Search compiled to SQL, run against real SQLite files built from MLflow's schema."""

from __future__ import annotations

import itertools
import os
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from fluvial.exceptions import InvalidParameterValue
from fluvial.store.tracking.sql import schema
from fluvial.store.tracking.sql.search import (
    build_experiments_query,
    build_runs_query,
    like_to_glob,
    normalize_like_pattern,
    string_match,
)

INF = 1.7976931348623157e308
_ids = itertools.count(1)


POSTGRES_URL = os.environ.get("FLUVIAL_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("FLUVIAL_TEST_MYSQL_URL")


def _seed(eng):
    schema.metadata.create_all(eng)
    with eng.begin() as conn:
        if eng.dialect.name == "mysql":  # experiment 0 is 0, not the next auto-increment value
            conn.exec_driver_sql("SET @@SESSION.sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        conn.execute(sa.insert(schema.experiments), [
            {"experiment_id": 0, "name": "Default", "lifecycle_stage": "active", "creation_time": 100,
             "last_update_time": 100},
            {"experiment_id": 1, "name": "other", "lifecycle_stage": "active", "creation_time": 200,
             "last_update_time": 200},
        ])
    return eng


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                                        pytest.param("mysql", marks=pytest.mark.mysql)])
def module_engine(request, tmp_path_factory):
    """A factory of fresh, seeded databases on one backend (SQLite files; PostgreSQL and MySQL when
    configured)."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("FLUVIAL_TEST_POSTGRES_URL is not set: run through `make test` (scripts/with-postgres.sh)")
    if request.param == "mysql" and not MYSQL_URL:
        pytest.skip("FLUVIAL_TEST_MYSQL_URL is not set: run through `make test` (scripts/with-mariadb.sh)")
    made: list[sa.Engine] = []
    databases: list[str] = []
    admin = None
    if request.param == "postgres":
        url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    elif request.param == "mysql":
        admin = sa.create_engine(sa.make_url(MYSQL_URL), isolation_level="AUTOCOMMIT")

    def make():
        if admin is None:
            eng = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'search.db'}")
        else:
            name = f"search_{uuid.uuid4().hex[:12]}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
            databases.append(name)
            eng = sa.create_engine(admin.url.set(database=name))
        made.append(eng)
        return _seed(eng)

    yield make
    for eng in made:
        eng.dispose()
    if admin is not None:
        with admin.connect() as conn:
            for name in databases:
                force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


@pytest.fixture
def engine(module_engine):
    return module_engine()


def add_run(engine, run_id, *, experiment_id=0, start=None, end=None, status="FINISHED", stage="active",
            name=None, user="alice", artifact_uri=None, metrics=None, params=None, tags=None):
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.runs).values(
            run_uuid=run_id, name=name or "", source_type="UNKNOWN", source_name="", entry_point_name="",
            user_id=user, status=status, start_time=start, end_time=end, source_version="",
            lifecycle_stage=stage, artifact_uri=artifact_uri or f"file:///a/{run_id}", experiment_id=experiment_id,
        ))
        for key, value in (metrics or {}).items():
            nan = value != value
            conn.execute(sa.insert(schema.latest_metrics).values(
                key=key, value=0.0 if nan else value, timestamp=1, step=0, is_nan=nan, run_uuid=run_id))
        for key, value in (params or {}).items():
            conn.execute(sa.insert(schema.params).values(key=key, value=value, run_uuid=run_id))
        all_tags = dict(tags or {})
        if name is not None:
            all_tags.setdefault("mlflow.runName", name)
        for key, value in all_tags.items():
            conn.execute(sa.insert(schema.tags).values(key=key, value=value, run_uuid=run_id))


def add_dataset_input(engine, run_id, *, name, digest, context=None, experiment_id=0):
    n = next(_ids)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.datasets).values(
            dataset_uuid=f"ds{n}", experiment_id=experiment_id, name=name, digest=digest,
            dataset_source_type="local", dataset_source="{}"))
        conn.execute(sa.insert(schema.inputs).values(
            input_uuid=f"in{n}", source_type="DATASET", source_id=f"ds{n}", destination_type="RUN",
            destination_id=run_id))
        if context is not None:
            conn.execute(sa.insert(schema.input_tags).values(
                input_uuid=f"in{n}", name="mlflow.data.context", value=context))


def search(engine, filter_string=None, order_by=None, *, view=1, experiment_ids=("0",), max_results=1000,
           offset=0):
    stmt = build_runs_query(list(experiment_ids), filter_string, view, order_by, max_results, offset)
    with engine.connect() as conn:
        return [row.run_uuid for row in conn.execute(stmt)]


def matching(engine, filter_string):
    return sorted(search(engine, filter_string))


# ---- metrics --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def metric_runs(module_engine):
    engine = module_engine()
    add_run(engine, "r1", start=1, metrics={"acc": 0.5, "loss": 1.0})
    add_run(engine, "r2", start=2, metrics={"acc": 0.9})
    add_run(engine, "r3", start=3, metrics={"acc": float("nan")})
    add_run(engine, "r4", start=4, metrics={"loss": 2.0})  # no acc
    add_run(engine, "r5", start=5, metrics={"acc": INF})
    return engine


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc = 0.5", ["r1"]),
        ("metrics.acc != 0.5", ["r2", "r5"]),  # r4 lacks acc, r3 is NaN: neither matches
        ("metrics.acc > 0.5", ["r2", "r5"]),
        ("metrics.acc >= 0.5", ["r1", "r2", "r5"]),
        ("metrics.acc < 0.9", ["r1"]),
        ("metrics.acc <= 0.9", ["r1", "r2"]),
        ("metrics.acc > 1e300", ["r5"]),
        ("metrics.acc = 0", []),  # NaN is stored as 0 + is_nan, and must not match
        ("metrics.acc > -1", ["r1", "r2", "r5"]),
        ("metrics.acc >= 0.5 AND metrics.loss < 1.5", ["r1"]),
        ("metrics.missing != 1", []),
    ],
)
def test_metric_comparators(metric_runs, filter_string, expected):
    assert matching(metric_runs, filter_string) == expected


# ---- params, tags, string matching -----------------------------------------------------------------

STRINGS = ["Apple", "apple", "ap_le", "apXle", "a%x", "a*b", "a?c", "a[b]", "back\\slash", "ÄPFEL"]


@pytest.fixture(scope="module")
def string_runs(module_engine):
    engine = module_engine()
    for i, value in enumerate(STRINGS):
        add_run(engine, f"s{i}", start=i, params={"p": value}, tags={"t": value})
    add_run(engine, "none", start=100)  # lacks p and t
    return engine


def values_matching(engine, filter_string):
    return sorted(STRINGS[int(r[1:])] for r in search(engine, filter_string))


@pytest.mark.parametrize("entity", ["params", "tags"])
@pytest.mark.parametrize(
    ("comparator", "pattern", "expected"),
    [
        ("=", "apple", ["apple"]),
        ("=", "APPLE", []),
        ("!=", "apple", [v for v in STRINGS if v != "apple"]),
        ("LIKE", "a%", ["a%x", "a*b", "a?c", "a[b]", "ap_le", "apXle", "apple"]),
        ("LIKE", "A%", ["Apple"]),
        ("LIKE", "%pple", ["Apple", "apple"]),
        ("LIKE", "_pple", ["Apple", "apple"]),
        ("LIKE", "ap_le", ["ap_le", "apXle", "apple"]),
        ("LIKE", "ap\\_le", ["ap_le"]),
        ("LIKE", "a*b", ["a*b"]),
        ("LIKE", "a?c", ["a?c"]),
        ("LIKE", "a[b]", ["a[b]"]),
        ("LIKE", "%\\%%", ["a%x"]),
        ("LIKE", "apple", ["apple"]),
        ("LIKE", "%slash", ["back\\slash"]),
        ("LIKE", "Ä%", ["ÄPFEL"]),
        ("LIKE", "ä%", []),
        ("ILIKE", "APPLE", ["Apple", "apple"]),
        ("ILIKE", "a%", ["Apple", "a%x", "a*b", "a?c", "a[b]", "ap_le", "apXle", "apple"]),
        ("ILIKE", "AP\\_LE", ["ap_le"]),
        ("ILIKE", "%[B]", ["a[b]"]),
        ("ILIKE", "_?_", ["a?c"]),
    ],
)
def test_string_comparisons(string_runs, entity, comparator, pattern, expected):
    literal = pattern.replace("'", "''")
    assert values_matching(string_runs, f"{entity}.`{'p' if entity == 'params' else 't'}` {comparator} '{literal}'") \
        == sorted(expected)


def test_run_lacking_the_key_never_matches(string_runs):
    assert "none" not in search(string_runs, "params.p != 'zzz'")
    assert "none" not in search(string_runs, "tags.t != 'zzz'")
    assert "none" not in search(string_runs, "params.p LIKE '%'")
    assert "none" in search(string_runs)


def test_compiled_statement_cache_uses_each_querys_pattern(string_runs):
    # Same statement shape, different values: the cached compilation must bind the new pattern.
    for pattern, expected in [("a%", 7), ("A%", 1), ("%le", 4), ("zz%", 0), ("a%", 7)]:
        assert len(search(string_runs, f"params.p LIKE '{pattern}'")) == expected


# ---- attributes -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attr_runs(module_engine):
    engine = module_engine()
    add_run(engine, "aaa1", start=10, end=20, status="FINISHED", user="alice", name="Train-1")
    add_run(engine, "bbb2", start=30, end=None, status="RUNNING", user="Bob", name="train-2")
    add_run(engine, "ccc3", start=50, end=60, status="FAILED", user="carol", artifact_uri="s3://b/x")
    return engine


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("status = 'FINISHED'", ["aaa1"]),
        ("attributes.status != 'FINISHED'", ["bbb2", "ccc3"]),
        ("status LIKE 'F%'", ["aaa1", "ccc3"]),
        ("status LIKE 'f%'", []),
        ("status ILIKE 'f%'", ["aaa1", "ccc3"]),
        ("user_id = 'bob'", []),
        ("user_id ILIKE 'bob'", ["bbb2"]),
        ("artifact_uri LIKE 's3://%'", ["ccc3"]),
        ("start_time > 10", ["bbb2", "ccc3"]),
        ("created >= 30", ["bbb2", "ccc3"]),
        ("start_time = 50", ["ccc3"]),
        ("start_time != 50", ["aaa1", "bbb2"]),
        ("end_time < 100", ["aaa1", "ccc3"]),
        ("end_time != 20", ["ccc3"]),  # a running run's NULL end_time never matches
        ("run_id = 'aaa1'", ["aaa1"]),
        ("run_id LIKE 'b%'", ["bbb2"]),
        ("attributes.run_id IN ('aaa1', 'ccc3')", ["aaa1", "ccc3"]),
        ("run_id IN ('AAA1', 'ccc3')", ["ccc3"]),
        ("run_id IN ('AAA1')", []),
        ("run_id NOT IN ('aaa1')", ["bbb2", "ccc3"]),
        ("run_id NOT IN ('AAA1')", ["aaa1", "bbb2", "ccc3"]),
        ("run_name = 'Train-1'", ["aaa1"]),
        ("`Run name` LIKE 'train%'", ["bbb2"]),
        ("run_name ILIKE 'train%'", ["aaa1", "bbb2"]),
        ("run_name != 'Train-1'", ["bbb2"]),
        ("status = 'FINISHED' AND start_time < 5", []),
        ("start_time < 99999999999999999999999", ["aaa1", "bbb2", "ccc3"]),
        ("start_time > -1e400", ["aaa1", "bbb2", "ccc3"]),
    ],
)
def test_attribute_filters(attr_runs, filter_string, expected):
    assert matching(attr_runs, filter_string) == expected


# ---- datasets -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset_runs(module_engine):
    engine = module_engine()
    add_run(engine, "d1", start=1)
    add_run(engine, "d2", start=2)
    add_run(engine, "d3", start=3)
    add_dataset_input(engine, "d1", name="iris", digest="abc123", context="training")
    add_dataset_input(engine, "d1", name="Wine", digest="def456", context="eval")
    add_dataset_input(engine, "d2", name="iris", digest="ffff00")
    return engine


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("datasets.name = 'iris'", ["d1", "d2"]),
        ("datasets.name = 'wine'", []),
        ("datasets.name ILIKE 'wine'", ["d1"]),
        ("datasets.name LIKE 'W%'", ["d1"]),
        ("datasets.digest IN ('abc123', 'ffff00')", ["d1", "d2"]),
        ("datasets.digest NOT IN ('abc123')", ["d1", "d2"]),  # d1 also has another dataset
        ("datasets.name != 'iris'", ["d1"]),
        ("datasets.context = 'training'", ["d1"]),
        ("datasets.context IN ('eval', 'x')", ["d1"]),
        ("datasets.context LIKE 'tr%'", ["d1"]),
        ("datasets.context != 'training'", ["d1"]),
        ("datasets.name = 'iris' AND datasets.context = 'eval'", ["d1"]),
    ],
)
def test_dataset_filters(dataset_runs, filter_string, expected):
    assert matching(dataset_runs, filter_string) == expected


# ---- lifecycle and experiments --------------------------------------------------------------------


def test_view_types_and_experiment_ids(engine):
    add_run(engine, "act0", start=1)
    add_run(engine, "del0", start=2, stage="deleted")
    add_run(engine, "act1", start=3, experiment_id=1)
    assert search(engine) == ["act0"]
    assert search(engine, view=2) == ["del0"]
    assert search(engine, view=3) == ["del0", "act0"]
    assert search(engine, experiment_ids=["0", "1"]) == ["act1", "act0"]
    assert search(engine, experiment_ids=[]) == []
    assert search(engine, experiment_ids=["1"]) == ["act1"]
    with pytest.raises(InvalidParameterValue):
        build_runs_query(["0"], None, 7, None, 10, 0)


# ---- ordering -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def order_runs(module_engine):
    engine = module_engine()
    add_run(engine, "o1", start=5, end=9, metrics={"m": 2.0}, params={"p": "b"}, tags={"t": "y"})
    add_run(engine, "o2", start=5, end=None, metrics={"m": float("nan")}, params={"p": "a"})
    add_run(engine, "o3", start=7, end=8, metrics={"m": -1.0}, tags={"t": "x"})
    add_run(engine, "o4", start=None, end=7)
    add_run(engine, "o5", start=6, end=10, metrics={"m": 2.0}, params={"p": "c"}, tags={"t": "z"})
    return engine


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, ["o3", "o5", "o1", "o2", "o4"]),  # start_time DESC, run id ASC on ties, NULL last
        (["start_time"], ["o1", "o2", "o5", "o3", "o4"]),
        (["start_time DESC"], ["o3", "o5", "o1", "o2", "o4"]),
        (["metrics.m"], ["o3", "o5", "o1", "o2", "o4"]),  # ties on 2.0 -> start_time DESC; NaN, then missing
        (["metrics.m DESC"], ["o5", "o1", "o3", "o2", "o4"]),
        (["params.p"], ["o2", "o1", "o5", "o3", "o4"]),
        (["params.p DESC"], ["o5", "o1", "o2", "o3", "o4"]),
        (["tags.t ASC"], ["o3", "o1", "o5", "o2", "o4"]),
        (["tags.t DESC"], ["o5", "o1", "o3", "o2", "o4"]),
        (["end_time"], ["o4", "o3", "o1", "o5", "o2"]),
        (["end_time DESC"], ["o5", "o1", "o3", "o4", "o2"]),
        (["run_id DESC"], ["o5", "o4", "o3", "o2", "o1"]),
        (["metrics.m DESC", "run_id DESC"], ["o5", "o1", "o3", "o2", "o4"]),
        (["metrics.m DESC", "start_time ASC"], ["o1", "o5", "o3", "o2", "o4"]),
        (["tags.t", "params.p DESC"], ["o3", "o1", "o5", "o2", "o4"]),
    ],
)
def test_ordering(order_runs, order_by, expected):
    assert search(order_runs, order_by=order_by) == expected


def test_order_and_filter_on_the_same_key(order_runs):
    assert search(order_runs, "metrics.m >= -1", ["metrics.m DESC"]) == ["o5", "o1", "o3"]


def test_invalid_order_by_raises(order_runs):
    with pytest.raises(InvalidParameterValue, match="duplicate"):
        search(order_runs, order_by=["metrics.m", "metric.m DESC"])


def test_pagination_covers_every_run_once(engine):
    for i in range(23):
        add_run(engine, f"p{i:02d}", start=i % 4, metrics={"m": float(i % 3)} if i % 5 else None)
    full = search(engine, order_by=["metrics.m DESC"])
    assert len(full) == 23
    pages = [search(engine, order_by=["metrics.m DESC"], max_results=5, offset=o) for o in range(0, 25, 5)]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert list(itertools.chain(*pages)) == full
    assert search(engine, max_results=5, offset=23) == []


def test_invalid_filter_raises_before_sql(engine):
    with pytest.raises(InvalidParameterValue, match="Invalid clause"):
        build_runs_query(["0"], "metrics.a > 1 OR metrics.b > 1", 1, None, 10, 0)


# ---- experiments ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exp_engine(module_engine):
    engine = module_engine()
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.experiments), [
            {"experiment_id": 2, "name": "Alpha_one", "lifecycle_stage": "active", "creation_time": 300,
             "last_update_time": 900},
            {"experiment_id": 3, "name": "alphaXone", "lifecycle_stage": "active", "creation_time": 300,
             "last_update_time": 400},
            {"experiment_id": 4, "name": "gone", "lifecycle_stage": "deleted", "creation_time": 500,
             "last_update_time": 500},
            {"experiment_id": 5, "name": "undated", "lifecycle_stage": "active", "creation_time": None,
             "last_update_time": None},
        ])
        conn.execute(sa.insert(schema.experiment_tags), [
            {"key": "team", "value": "Vision", "experiment_id": 2},
            {"key": "team", "value": "nlp", "experiment_id": 3},
            {"key": "other", "value": "Vision", "experiment_id": 1},
        ])
    return engine


def experiments(engine, filter_string=None, order_by=None, *, view=1, limit=1000, offset=0):
    stmt = build_experiments_query(filter_string, view, order_by, limit, offset)
    with engine.connect() as conn:
        return [row.name for row in conn.execute(stmt)]


def test_experiment_default_order_and_view_types(exp_engine):
    # creation_time DESC (NULL last), then experiment_id ASC
    assert experiments(exp_engine) == ["Alpha_one", "alphaXone", "other", "Default", "undated"]
    assert experiments(exp_engine, view=2) == ["gone"]
    assert experiments(exp_engine, view=3) == ["gone", "Alpha_one", "alphaXone", "other", "Default", "undated"]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'Default'", ["Default"]),
        ("name = 'default'", []),
        ("name != 'Default'", ["Alpha_one", "alphaXone", "other", "undated"]),
        ("name LIKE 'alpha%'", ["alphaXone"]),
        ("name LIKE 'Alpha\\_%'", ["Alpha_one"]),
        ("name LIKE '%_one'", ["Alpha_one", "alphaXone"]),
        ("name ILIKE 'ALPHA%'", ["Alpha_one", "alphaXone"]),
        ("creation_time >= 200", ["Alpha_one", "alphaXone", "other"]),
        ("last_update_time < 500", ["alphaXone", "other", "Default"]),
        ("tags.team = 'Vision'", ["Alpha_one"]),
        ("tags.team != 'Vision'", ["alphaXone"]),
        ("tags.team ILIKE 'v%'", ["Alpha_one"]),
        ("tags.team LIKE 'v%'", []),
        ("tags.team LIKE '%' AND name ILIKE 'alpha%'", ["Alpha_one", "alphaXone"]),
    ],
)
def test_experiment_filters(exp_engine, filter_string, expected):
    assert experiments(exp_engine, filter_string) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name"], ["Alpha_one", "Default", "alphaXone", "other", "undated"]),
        (["name DESC"], ["undated", "other", "alphaXone", "Default", "Alpha_one"]),
        (["creation_time"], ["Default", "other", "alphaXone", "Alpha_one", "undated"]),  # tie -> id DESC
        (["creation_time DESC"], ["alphaXone", "Alpha_one", "other", "Default", "undated"]),
        (["last_update_time DESC", "experiment_id"], ["Alpha_one", "alphaXone", "other", "Default", "undated"]),
        (["experiment_id DESC"], ["undated", "alphaXone", "Alpha_one", "other", "Default"]),
    ],
)
def test_experiment_ordering(exp_engine, order_by, expected):
    assert experiments(exp_engine, order_by=order_by) == expected


def test_experiment_limit_and_offset(exp_engine):
    everything = experiments(exp_engine, order_by=["name"])
    assert experiments(exp_engine, order_by=["name"], limit=2) == everything[:2]
    assert experiments(exp_engine, order_by=["name"], limit=3, offset=2) == everything[2:5]
    with pytest.raises(InvalidParameterValue, match="Invalid order_by entity: tag"):
        build_experiments_query(None, 1, ["tags.team"], 10, 0)


# ---- dialects and helpers -------------------------------------------------------------------------


def test_string_match_renders_per_dialect():
    col = schema.params.c.value
    pg = postgresql.dialect()
    assert "LIKE" in str(string_match(col, "LIKE", "a%").compile(dialect=pg))
    assert "ILIKE" in str(string_match(col, "ILIKE", "a%").compile(dialect=pg))
    assert "GLOB" not in str(string_match(col, "LIKE", "a%").compile(dialect=pg))
    assert "BINARY" in str(string_match(col, "=", "a").compile(dialect=mysql.dialect()))
    runs_sql = str(build_runs_query(["0"], "params.p LIKE 'a%'", 1, ["metrics.m"], 10, 0).compile(dialect=pg))
    assert "LEFT OUTER JOIN latest_metrics" in runs_sql
    assert "EXISTS" in runs_sql
    with pytest.raises(ValueError):
        string_match(col, ">", "a")


@pytest.mark.parametrize(
    ("like", "glob"),
    [("a%", "a*"), ("_b", "?b"), ("a*b", "a[*]b"), ("a?b", "a[?]b"), ("[x]", "[[]x]"), ("\\%", "%"),
     ("\\_", "_"), ("\\\\", "\\"), ("\\*", "[*]"), ("plain", "plain")],
)
def test_like_to_glob(like, glob):
    assert like_to_glob(like) == glob


def test_trailing_backslash_is_escaped():
    assert normalize_like_pattern("a\\") == "a\\\\"
    assert normalize_like_pattern("a\\\\") == "a\\\\"
    assert normalize_like_pattern("a") == "a"
