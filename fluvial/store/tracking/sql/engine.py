"""SQLAlchemy engines for the SQL stores: SQLite in WAL mode with a busy timeout and write transactions
that take the write lock up front (BEGIN IMMEDIATE), so many processes can log to one file at once."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

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
    """Close every pooled connection and every dedicated writer connection (tests, forked workers)."""
    with _LOCK:
        for engine in _ENGINES.values():
            queue = _QUEUES.get(engine)
            if queue is not None:
                queue.close_writers()
            engine.dispose()
        _ENGINES.clear()


_INHERITED: list[Any] = []  # connections a forked child inherited: kept referenced, so never closed


class _Writer:
    """A thread's dedicated SQLite connection. Released with the thread's locals (the thread ended, or a
    new connection replaced it), it closes the connection, unless this is a forked child holding its
    parent's connection: that one is kept referenced and never closed (SQLite forbids using it here)."""

    __slots__ = ("__weakref__", "conn", "cursor", "generation", "pid")

    def __init__(self, conn: Any, generation: int) -> None:
        self.conn, self.generation, self.pid = conn, generation, os.getpid()
        self.cursor = conn.cursor()  # one per connection: the driver's statement cache does the rest

    def __del__(self) -> None:
        try:
            if self.pid != os.getpid():
                _INHERITED.append(self.conn)
            else:  # at once: left to the garbage collector (sqlite3's statement cache is a cycle), it waits
                self.conn.close()
        except Exception:
            pass  # interpreter shutdown, or already closed elsewhere


class _WriterQueue:
    """Writers to one SQLite file take turns here before BEGIN IMMEDIATE: a thread lock within the
    process and ``flock`` on a sidecar file (``<db>-lock``) across processes. Waiters wake the moment
    the lock is released, where SQLite's own busy handler would sleep and poll (1 ms, 2 ms, 5 ms, ...),
    which wastes most of the time when transactions take a tenth of a millisecond. Processes that do not
    take this lock (MLflow itself) are still kept correct by SQLite's locking and the busy timeout."""

    def __init__(self, engine: sa.Engine, db_path: str) -> None:
        self.thread_lock = threading.RLock()
        self.depth = threading.local()  # a nested write transaction in the same thread keeps its turn
        self.path = db_path + "-lock"
        self.fd: int | None = None
        self.pid = os.getpid()
        self.engine_ref = weakref.ref(engine)
        self.writers = threading.local()  # this thread's dedicated connection for the hot paths
        self.opened: weakref.WeakSet[_Writer] = weakref.WeakSet()  # the live ones (close_writers)
        self.generation = 0

    def writer(self, pid: int | None = None) -> _Writer:
        """This thread's own driver connection to the file, outside the pool: opened once (through the
        engine, so with the same connect arguments and PRAGMAs as pooled ones) and reused by every hot
        write in the thread; closed when the thread ends; a forked child (``pid``: this process's id,
        when the caller has it) or a ``dispose_engines()`` opens a new one."""
        w: _Writer | None = getattr(self.writers, "w", None)
        if w is not None and w.pid == (pid or os.getpid()) and w.generation == self.generation:
            return w
        engine = self.engine_ref()
        if engine is None:
            raise RuntimeError("the engine of this writer queue is gone")
        proxied = engine.raw_connection()
        conn = proxied.driver_connection
        proxied.detach()  # ours from now on: the pool neither resets nor reuses it
        w = self.writers.w = _Writer(conn, self.generation)  # the previous one (if any) is released
        with self.thread_lock:
            self.opened.add(w)
        return w

    def close_writers(self) -> None:
        """Close this process's dedicated connections; every thread opens a new one on its next write."""
        with self.thread_lock:
            opened = list(self.opened)
            self.generation += 1
        for w in opened:
            if w.pid != os.getpid():
                continue  # a parent's: _Writer.__del__ keeps it from being closed here
            try:
                w.conn.close()
            except Exception:
                pass  # best effort: another thread may be using it

    def _fd(self, pid: int | None = None) -> int | None:
        if self.fd is None or self.pid != (pid or os.getpid()):  # a forked worker opens its own descriptor
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                return None  # read-only directory: SQLite's busy handler alone
            self.pid = os.getpid()
        return self.fd

    def acquire(self, pid: int | None = None) -> None:
        """Take this process's turn to write (re-entrant within a thread): the thread lock, then the
        cross-process ``flock`` unless this thread already holds it."""
        self.thread_lock.acquire()
        try:
            depth = getattr(self.depth, "n", 0)
            if depth == 0:
                fd = self._fd(pid) if fcntl is not None else None
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                self.depth.locked = fd
            self.depth.n = depth + 1
        except BaseException:
            self.thread_lock.release()
            raise

    def release(self) -> None:
        try:
            n = self.depth.n = self.depth.n - 1
            if n == 0 and self.depth.locked is not None:
                fcntl.flock(self.depth.locked, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


_QUEUES: weakref.WeakKeyDictionary[sa.Engine, _WriterQueue | None] = weakref.WeakKeyDictionary()


def _writer_queue(engine: sa.Engine) -> _WriterQueue | None:
    try:  # keyed by the engine object itself: no URL rendering on the hot path
        return _QUEUES[engine]
    except KeyError:
        database = engine.url.database or ""
        usable = engine.dialect.name == "sqlite" and database not in ("", ":memory:") and os.name == "posix"
        queue = _QUEUES[engine] = _WriterQueue(engine, os.path.abspath(database)) if usable else None
        return queue


@contextlib.contextmanager
def _turn(engine: sa.Engine) -> Iterator[None]:
    queue = _writer_queue(engine)
    if queue is None:
        yield
    else:
        with queue.turn():
            yield


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that commits on success and rolls back on any error."""
    with engine.connect() as conn, _turn(engine):
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
    """A connection for reads that sees one consistent snapshot in all its statements: on SQLite a
    deferred transaction, on PostgreSQL a REPEATABLE READ one (under READ COMMITTED each statement would
    see the commits made since the one before, e.g. a summary's marker and then its blocks deleted)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        elif engine.dialect.name == "postgresql":  # for this transaction only: no session reset on return
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        try:
            yield conn
        finally:
            conn.rollback()


class _DedicatedWrite:
    """``raw_write_transaction`` on an SQLite file: the thread's dedicated connection, the writer
    queue's turn, BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error). A class rather than a generator:
    this runs once per log call."""

    __slots__ = ("queue", "writer")

    def __init__(self, queue: _WriterQueue) -> None:
        self.queue = queue

    def __enter__(self) -> Any:
        queue = self.queue
        pid = os.getpid()  # once per call: the writer and the lock file both check for a fork
        writer = self.writer = queue.writer(pid)
        queue.acquire(pid)
        try:
            writer.cursor.execute("BEGIN IMMEDIATE")
        except BaseException:
            queue.release()
            raise
        return writer.cursor

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn = self.writer.conn
        try:
            if exc_type is None:
                try:  # durable on return: the COMMIT is in the WAL before the call returns; a cached
                    # statement on the writer's cursor (Connection.commit() compiles "COMMIT" every time)
                    self.writer.cursor.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.rollback()
                    raise
            elif conn.in_transaction:
                conn.rollback()
        finally:
            self.queue.release()


def raw_write_transaction(engine: sa.Engine) -> contextlib.AbstractContextManager[Any]:
    """A DBAPI cursor inside one write transaction, for the hot paths (a log call in a training loop):
    no SQLAlchemy execution machinery. On an SQLite file, the thread's dedicated connection (no pool
    checkout, return or reset per call); elsewhere a pooled driver connection. The transaction has
    committed when the block exits normally."""
    queue = _writer_queue(engine)
    if queue is not None:
        return _DedicatedWrite(queue)
    return _pooled_write(engine)


@contextlib.contextmanager
def _pooled_write(engine: sa.Engine) -> Iterator[Any]:
    raw = engine.raw_connection()
    try:
        with _turn(engine):
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
