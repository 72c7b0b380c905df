"""Shared fixtures: isolated working directories, tracking URIs and stores on real databases.

PostgreSQL and MySQL tests use the servers that ``scripts/with-postgres.sh`` and
``scripts/with-mariadb.sh`` start (``make test`` and ``.ci/run`` always do); each test gets a database
of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

POSTGRES_URL = os.environ.get("FLUVIAL_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("FLUVIAL_TEST_MYSQL_URL")
NO_POSTGRES = "FLUVIAL_TEST_POSTGRES_URL is not set: run through `make test` (scripts/with-postgres.sh)"
NO_MYSQL = "FLUVIAL_TEST_MYSQL_URL is not set: run through `make test` (scripts/with-mariadb.sh)"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = os.environ.get("FLUVIAL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch) -> Iterator[None]:
    """Every test runs in its own empty working directory with no tracking state from other tests."""
    from fluvial.tracking import fluent

    monkeypatch.chdir(tmp_path)
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME",
                "MLFLOW_RUN_ID", "MLFLOW_DEFAULT_ARTIFACT_ROOT", "MLFLOW_TRACKING_USERNAME", "MLFLOW_RUN_CONTEXT"):
        monkeypatch.delenv(var, raising=False)
    fluent._reset_for_tests()
    yield
    while fluent.active_run() is not None:
        fluent.end_run()
    fluent._reset_for_tests()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright, one per test process: Playwright's sync API runs an event
    loop of its own, so a process holds one ``sync_playwright()`` at a time and every browser test
    (the web UI's, the recipe cards') shares this one."""
    if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
        pytest.fail("chromium is missing: apt-get install -y chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


_SPARK_ENV = {
    # the Python workers must run this interpreter (this virtualenv), not whatever `python3` is on PATH
    "PYSPARK_PYTHON": sys.executable,
    "PYSPARK_DRIVER_PYTHON": sys.executable,
    "SPARK_LOCAL_IP": "127.0.0.1",
    "SPARK_LOCAL_HOSTNAME": "localhost",
}


@pytest.fixture(scope="session")
def spark(tmp_path_factory) -> Iterator[Any]:
    """One local SparkSession per test process, bound to 127.0.0.1, stopped at the end of the session.

    Every in-process Spark user shares it: ``getOrCreate`` hands out the one active session, so a
    module-scoped session of its own would be this one, and stopping it at module end would leave every
    later Spark test in that worker with a dead context. Needs ``pyspark`` and a Java runtime on PATH."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (java on PATH); none is installed")
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    saved = {k: os.environ.get(k) for k in _SPARK_ENV}
    os.environ.update(_SPARK_ENV)
    base = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("fluvial-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "512m")
        .config("spark.executor.memory", "512m")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.warehouse.dir", str(base / "warehouse"))
        .config("spark.local.dir", str(base / "local"))
        .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={base}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def sqlite_uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _server_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL or MySQL server at ``server_url``, dropped afterwards."""
    import sqlalchemy as sa

    from fluvial.store.tracking.sql.engine import normalize_db_uri

    admin = sa.create_engine(normalize_db_uri(server_url), isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres = admin.dialect.name == "postgresql"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(normalize_db_uri(server_url)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from fluvial.store.tracking.sql import engine

        engine.dispose_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if postgres else ""))
        admin.dispose()


def _postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    yield from _server_database(POSTGRES_URL)


def _mysql_database() -> Iterator[str]:
    if not MYSQL_URL:
        pytest.skip(NO_MYSQL)
    yield from _server_database(MYSQL_URL)


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture
def mysql_uri() -> Iterator[str]:
    yield from _mysql_database()


@pytest.fixture
def new_database() -> Iterator[Callable[[str], str]]:
    """``new_database("postgres" | "mysql")``: the URI of one more fresh database on that server (the
    test is skipped when the server is not running), dropped after the test."""
    with contextlib.ExitStack() as stack:

        def make(backend: str) -> str:
            databases = _postgres_database() if backend == "postgres" else _mysql_database()
            uri = next(databases)
            stack.callback(next, databases, None)
            return uri

        yield make


@pytest.fixture(params=[
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
])
def db_uri(request, tmp_path) -> Iterator[str]:
    """A fresh database URI on every SQL backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    elif request.param == "postgres":
        yield from _postgres_database()
    else:
        yield from _mysql_database()


@pytest.fixture
def sql_store(db_uri, tmp_path):
    """A SQL tracking store on each database, artifacts under tmp_path/artifacts."""
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    return SqlTrackingStore(db_uri, str(tmp_path / "artifacts"))


@pytest.fixture(params=["sql", "rest"])
def store(request, db_uri, tmp_path):
    """A tracking store on each backend: SQL (SQLite, PostgreSQL, MySQL) and REST over an in-process server
    backed by the same kind of database. Artifacts under tmp_path/artifacts."""
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    sql = SqlTrackingStore(db_uri, str(tmp_path / "artifacts"))
    if request.param == "sql":
        yield sql
        return
    from fluvial.server.app import create_app
    from fluvial.server.config import ServerConfig, Stores
    from fluvial.store.tracking.rest import RestTrackingStore
    from fluvial.transport.asgi import AsgiTransport

    config = ServerConfig(backend_store_uri=db_uri, default_artifact_root=str(tmp_path / "artifacts"),
                          serve_artifacts=False, allowed_artifact_locations=("s3://bucket",))
    transport = AsgiTransport(create_app(Stores(config=config, tracking=sql)))
    try:
        yield RestTrackingStore("http://localhost", transport=transport)
    finally:
        transport.close()


@pytest.fixture
def tracking_uri(sqlite_uri) -> str:
    """The fluent API pointed at a fresh SQLite file."""
    import fluvial

    fluvial.set_tracking_uri(sqlite_uri)
    return sqlite_uri
