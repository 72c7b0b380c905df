"""SQLAlchemy engines for the SQL stores: SQLite in WAL mode with a busy timeout and write transactions
that take the write lock up front (BEGIN IMMEDIATE), so many processes can log to one file at once."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

_ENGINES: dict[str, sa.Engine] = {}
_LOCK = threading.Lock()
SQLITE_BUSY_TIMEOUT_S = 60.0


def normalize_db_uri(db_uri: str) -> str:
    """Make relative SQLite paths absolute (the engine outlives a change of working directory);
    ``postgresql://`` means psycopg 3 (fluvial's chosen driver) unless psycopg2 is installed."""
    if db_uri.startswith("sqlite:///") and not db_uri.startswith("sqlite:////"):
        path = db_uri[len("sqlite:///"):]
        if path and path != ":memory:" and not path.startswith("file:"):
            return "sqlite:///" + os.path.abspath(path)
    if db_uri.startswith("postgresql://") or db_uri.startswith("postgres://"):
        try:
            import psycopg2  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            return "postgresql+psycopg://" + db_uri.split("://", 1)[1]
    if db_uri.startswith("mysql://"):
        try:
            import MySQLdb  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            return "mysql+pymysql://" + db_uri.split("://", 1)[1]
    return db_uri


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let us issue BEGIN ourselves (see write_transaction); pysqlite's implicit BEGIN is deferred,
    # and a deferred transaction that later writes fails with "database is locked" instead of waiting.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        cur.execute("PRAGMA journal_mode = WAL")
    # WAL + NORMAL: a committed transaction survives a killed process; fsync happens at checkpoints.
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def get_engine(db_uri: str) -> sa.Engine:
    """One engine (and connection pool) per database URI per process."""
    db_uri = normalize_db_uri(db_uri)
    with _LOCK:
        engine = _ENGINES.get(db_uri)
        if engine is not None:
            return engine
        kwargs: dict[str, Any] = {}
        if db_uri.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
            path = db_uri.split("///", 1)[-1] if "///" in db_uri else ""
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
            if os.environ.get("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"):
                kwargs["pool_size"] = int(os.environ["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"])
            if os.environ.get("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"):
                kwargs["max_overflow"] = int(os.environ["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"])
        if os.environ.get("MLFLOW_SQLALCHEMYSTORE_ECHO", "").lower() == "true":
            kwargs["echo"] = True
        engine = sa.create_engine(db_uri, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_on_connect)
        _ENGINES[db_uri] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, forked workers)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that commits on success and rolls back on any error."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


@contextlib.contextmanager
def read_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for reads; on SQLite one consistent snapshot for all its statements."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


@contextlib.contextmanager
def raw_write_transaction(engine: sa.Engine) -> Iterator[Any]:
    """A DBAPI cursor inside one write transaction, for the hot paths (a log call in a training loop):
    no SQLAlchemy execution machinery, just the pooled driver connection."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            raw.rollback()
            raise
        raw.commit()
        cursor.close()
    finally:
        raw.close()
