"""Counting the runs a filter matches from an in-process columnar snapshot of an experiment's runs
(SQLite and PostgreSQL): one numpy array per column a filter touched (lifecycle stage, times, status,
each param/tag/metric key, loaded on first use), kept fresh from the trigger-written change log
(``change_log.py``). A count costs one read of the log since the snapshot's cursor, a reload of the
runs that changed, and a vector operation per comparison: exact, whoever wrote (other fluvial
processes, MLflow), because every write to ``runs``, ``params``, ``tags`` or ``latest_metrics`` lands in
the log in the writer's own transaction.

Used for experiments holding at least ``FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS`` runs (default 20,000;
smaller ones are counted by SQL quickly). Columns and the comparisons on them are
``snapshot_columns.py`` (strings dictionary-encoded: a comparison runs once per distinct value). ``FLUVIAL_COUNT_SNAPSHOT``: ``background`` (default: a
missing snapshot or column is built by one background thread per process while the count falls back
to SQL), ``sync`` (built on the spot), ``off``. Memory is bounded by
``FLUVIAL_COUNT_SNAPSHOT_MAX_CELLS`` (runs x columns over all snapshots, default 30,000,000, about
a few hundred MB); least recently used experiments are dropped first. Comparisons the vector evaluator does not
cover (dataset filters, ILIKE over non-ASCII text, integers beyond 2**53) fall back to SQL.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np
import sqlalchemy as sa

from fluvial.search import ATTRIBUTE, LIST_COMPARATORS, METRIC, PARAM, TAG, Comparison
from fluvial.store.tracking.sql import change_log
from fluvial.store.tracking.sql.search import RUN_NAME_TAG
from fluvial.store.tracking.sql.snapshot_columns import Numbers, Strings

# the columns built with a snapshot; the others of _RUN_COLUMNS (artifact_uri: long, one per run, rarely
# filtered on) are loaded when a filter first needs them, as keyed columns are
_BUILT = ("experiment_id", "lifecycle_stage", "start_time", "end_time", "status", "user_id")
_RUN_COLUMNS = ("experiment_id", "lifecycle_stage", "start_time", "end_time", "status", "user_id",
                "artifact_uri")
_NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
_STRING_ATTRIBUTES = {"status", "user_id", "artifact_uri", "run_id"}
_KEYED = {PARAM: ("params", "p"), TAG: ("tags", "t"), METRIC: ("latest_metrics", "m")}
_CHUNK = 500


def _mode() -> str:
    return os.environ.get("FLUVIAL_COUNT_SNAPSHOT", "background")


def min_runs() -> int:
    return int(os.environ.get("FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS", "20000"))


def _max_cells() -> int:
    return int(os.environ.get("FLUVIAL_COUNT_SNAPSHOT_MAX_CELLS", "30000000"))


Column = Numbers | Strings


class _Snapshot:
    """One experiment's runs: row positions by run_uuid, base columns, keyed columns on demand."""

    def __init__(self, experiment_id: int) -> None:
        self.experiment_id = experiment_id
        self.cursor = 0
        self.size = 0
        # the ASCII run_uuids loaded at build, in order, as bytes (numpy 2.4's searchsorted is wrong on
        # StringDType arrays); rows 0..len-1 are these runs, any other run is in ``extra``
        self.sorted_uuids = np.array([], dtype="S32")
        self.extra: dict[str, int] = {}  # runs added since
        self.capacity = 0  # rows every column has room for
        self.columns: dict[tuple[str, str], Column] = {}
        self.used = time.monotonic()

    def cells(self) -> int:
        return self.capacity * (len(self.columns) + 1)

    def row(self, run_uuid: str) -> int | None:
        found = self.extra.get(run_uuid)
        if found is not None:
            return found
        if not run_uuid.isascii() or len(run_uuid) > 32:
            return None
        key = run_uuid.encode()
        at = int(np.searchsorted(self.sorted_uuids, key))
        if at < len(self.sorted_uuids) and self.sorted_uuids[at] == key:
            return at
        return None

    def rows(self, run_uuids: list[str]) -> Any:
        """Row positions of these runs (-1 for runs not in the snapshot), looked up in one vector
        operation for the runs loaded at build."""
        keys, fits = _uuid_keys(run_uuids)
        positions = np.full(len(run_uuids), -1, dtype=np.int64)
        if len(self.sorted_uuids):
            at = np.minimum(np.searchsorted(self.sorted_uuids, keys), len(self.sorted_uuids) - 1)
            hit = (self.sorted_uuids[at] == keys) & fits
            positions[hit] = at[hit]
        if self.extra:
            for i in np.flatnonzero(positions < 0):
                positions[i] = self.extra.get(run_uuids[i], -1)
        return positions

    def append(self, run_uuid: str) -> int:
        if self.size == self.capacity:
            self.capacity = max(16, 2 * self.size)
            for column in self.columns.values():
                column.grow(self.capacity)
        row = self.size
        self.columns[(ATTRIBUTE, "run_id")].set(row, run_uuid)
        self.extra[run_uuid] = row
        self.size += 1
        return row


def _uuid_keys(run_uuids: list[str]) -> tuple[Any, Any]:
    """(run_uuids as 32-byte keys, which of them are keys: ASCII, 1 to 32 characters)."""
    try:
        wide = np.array(run_uuids, dtype="S33")
    except UnicodeEncodeError:
        wide = np.array([u.encode() if u.isascii() else b"" for u in run_uuids], dtype="S33")
    fits = (np.strings.str_len(wide) <= 32) & (wide != b"")
    return wide.astype("S32"), fits


def _fetch(conn: sa.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """All rows of ``sql`` (``?`` placeholders) through the driver's own cursor, in the connection's
    transaction: at a million rows SQLAlchemy's row objects cost more than the query."""
    if conn.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _keyed_sql(entity: str, runs: int | None) -> str:
    """One key's values (parameters: the key, then): of every run (``runs`` None), of an experiment's
    runs (``runs`` 0; then the experiment id), or of ``runs`` given run_uuids (then those)."""
    table = _KEYED[entity][0]
    value = "CASE WHEN c.is_nan THEN NULL ELSE c.value END" if entity == METRIC else "c.value"
    sql = f"SELECT c.run_uuid, {value} FROM {table} c WHERE c.key = ?"
    if runs is None:
        return sql
    if runs == 0:
        return f"{sql} AND c.run_uuid IN (SELECT run_uuid FROM runs WHERE experiment_id = ?)"
    return f"{sql} AND c.run_uuid IN ({', '.join('?' * runs)})"


def _run_values(row: Any) -> dict[tuple[str, str], Any]:
    return {(ATTRIBUTE, name): row[i + 1] for i, name in enumerate(_RUN_COLUMNS)}


class _Stale(Exception):
    """A snapshot fell further behind than the change log keeps (or the log was remade): drop it and
    build anew."""


class _NoLog(Exception):
    """The change log or one of its triggers is missing: snapshots cannot be kept exact, SQL counts."""


class _Cache:
    """This process's snapshots of one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.lock = threading.RLock()
        self.snapshots: dict[int, _Snapshot] = {}
        self.pending: set[tuple[int, tuple[str, str] | None]] = set()
        self.worker: threading.Thread | None = None
        self.log_stamp: Any = None  # change_log.stamp() when change_log.complete() was last asked
        self.log_complete = False

    # ---- reading the database ---------------------------------------------------------------
    def _read(self) -> Any:
        conn = self.engine.connect()
        if self.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        if self.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("SELECT 1")  # deferred BEGIN: take the read snapshot now
        return conn

    def _check_log(self, conn: sa.Connection) -> bool:
        """_NoLog unless the change log is complete; True when its table or triggers changed since
        last asked (then every snapshot is dropped: it may have missed changes meanwhile). Asking
        ``complete`` (catalog queries) only when the cheap stamp moved keeps it off each count."""
        stamp = change_log.stamp(conn)
        with self.lock:
            changed = stamp != self.log_stamp
            if changed:
                self.snapshots.clear()
                self.log_complete = change_log.complete(conn)
                self.log_stamp = stamp
            if not self.log_complete:
                raise _NoLog()
        return changed

    def build(self, experiment_id: int) -> _Snapshot:
        snap = _Snapshot(experiment_id)
        with self._read() as conn:
            self._check_log(conn)
            snap.cursor = change_log.head(conn)
            rows = _fetch(conn, f"SELECT run_uuid, {', '.join(_BUILT)} FROM runs WHERE experiment_id = ?",
                          (experiment_id,))
            conn.rollback()
        n = len(rows)
        names = ("run_id", *_BUILT)
        by_column = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        del rows
        uuids = [str(u) for u in by_column[0]]
        # rows in order: the ASCII run_uuids sorted by bytes (the databases may order others differently)
        keys, fits = _uuid_keys(uuids)
        base = np.flatnonzero(fits)
        base = base[np.argsort(keys[base], kind="stable")]
        order = np.concatenate([base, np.flatnonzero(~fits)])
        snap.sorted_uuids = keys[base]
        snap.extra = {uuids[i]: row for row, i in enumerate(order[len(base):].tolist(), start=len(base))}
        snap.size = snap.capacity = n
        for name, values in zip(names, by_column, strict=True):
            numeric = name in _NUMERIC_ATTRIBUTES or name == "experiment_id"
            column = Numbers.of(list(values), n) if numeric else Strings.of(list(values), n)
            column.reorder(order)
            snap.columns[(ATTRIBUTE, name)] = column
        return snap

    def load_column(self, snap: _Snapshot, entity: str, key: str) -> tuple[Column, int]:
        with self._read() as conn:
            cursor = change_log.head(conn)
            # the experiment holding most runs: read the key's whole index range (runs of other
            # experiments find no row and are dropped below) rather than test each run's experiment,
            # which cost SQLite 4.6 s of 5.2 s for a key of 1M runs
            everything = int(conn.exec_driver_sql("SELECT count(*) FROM runs").scalar() or 0)
            if entity == ATTRIBUTE:
                assert key in _RUN_COLUMNS  # a column name, not a value
                rows = _fetch(conn, f"SELECT run_uuid, {key} FROM runs WHERE experiment_id = ?", (snap.experiment_id,))
            elif 2 * snap.size >= everything:
                rows = _fetch(conn, _keyed_sql(entity, None), (key,))
            else:
                rows = _fetch(conn, _keyed_sql(entity, 0), (key, snap.experiment_id))
            conn.rollback()
        uuids, values = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [])
        del rows
        positions = snap.rows([str(u) for u in uuids])
        found = positions >= 0
        capacity = max(snap.capacity, int(positions.max(initial=-1)) + 1)  # rows appended meanwhile
        if entity == METRIC:
            numbers = Numbers(capacity)
            numbers.values[positions[found]] = Numbers.of(values, len(values)).values[found]
            return numbers, cursor
        strings = Strings.of(values, len(values))  # in the rows' order: their codes go to the runs' rows
        codes = np.full(capacity, -1, dtype=np.int32)
        codes[positions[found]] = strings.codes[found]
        strings.codes = codes
        return strings, cursor

    def refresh(self, snap: _Snapshot) -> None:
        """Bring ``snap`` up to the database's present state (under ``self.lock``); _Stale when the log
        no longer holds every change since its cursor."""
        with self._read() as conn:
            if self._check_log(conn):
                raise _Stale(snap.experiment_id)
            head = change_log.head(conn)
            if change_log.trimmed_past(conn, snap.cursor):
                conn.rollback()
                raise _Stale(snap.experiment_id)
            changed = list(change_log.changed_since(conn, snap.cursor))
            for start in range(0, len(changed), _CHUNK):
                self._reload(conn, snap, changed[start:start + _CHUNK])
            conn.rollback()
        snap.cursor = head

    def _reload(self, conn: sa.Connection, snap: _Snapshot, uuids: list[str]) -> None:
        query = sa.text(f"SELECT run_uuid, {', '.join(_RUN_COLUMNS)} FROM runs WHERE run_uuid IN :uuids")
        query = query.bindparams(sa.bindparam("uuids", expanding=True))
        found = {str(r[0]): r for r in conn.execute(query, {"uuids": uuids})}
        rows: dict[str, int] = {}
        for run_uuid in uuids:
            row = snap.row(run_uuid)
            record = found.get(run_uuid)
            if row is None:
                if record is None or record[1] != snap.experiment_id:
                    continue  # not ours, before or after
                row = snap.append(run_uuid)
            rows[run_uuid] = row
            values = _run_values(record) if record is not None else {}
            for name in _RUN_COLUMNS:
                column = snap.columns.get((ATTRIBUTE, name))
                if column is not None:  # else not loaded yet
                    column.set(row, values.get((ATTRIBUTE, name)))
            if record is None:  # hard-deleted: out of every count
                snap.columns[(ATTRIBUTE, "experiment_id")].set(row, -1)
        if not rows:
            return
        for (entity, key), column in snap.columns.items():
            if entity == ATTRIBUTE:
                continue
            now: dict[int, Any] = dict.fromkeys(rows.values())  # None: the run has none now
            for run_uuid, value in _fetch(conn, _keyed_sql(entity, len(rows)), (key, *rows)):
                now[rows[str(run_uuid)]] = value
            for row, value in now.items():  # once per row: an unchanged value keeps its code
                column.set(row, value)

    # ---- keeping snapshots ------------------------------------------------------------------
    def ensure(self, experiment_id: int, needed: list[tuple[str, str]], wait: bool) -> _Snapshot | None:
        """The experiment's snapshot with these columns, fresh; None when it is not built yet (then
        it is being built in the background unless ``wait``)."""
        with self.lock:
            snap = self.snapshots.get(experiment_id)
            missing = [k for k in needed if snap is None or k not in snap.columns]
            if snap is not None and not missing:
                try:
                    self.refresh(snap)
                except _Stale:
                    self.snapshots.pop(experiment_id, None)
                    return self.ensure(experiment_id, needed, wait)
                snap.used = time.monotonic()
                return snap
            if not wait:
                missing = [k for k in missing if k[0] != ATTRIBUTE or k[1] not in _BUILT]  # those come with the build
                self._queue(experiment_id, [None] if snap is None else [], missing)
                return None
            if snap is None:
                snap = self._install(self.build(experiment_id))
                if snap is None:
                    return None
            for entity, key in [k for k in needed if k not in snap.columns]:
                self._add_column(snap, entity, key)
            try:
                self.refresh(snap)
            except _Stale:
                self.snapshots.pop(experiment_id, None)
                return self.ensure(experiment_id, needed, wait)
            snap.used = time.monotonic()
            return snap

    def _add_column(self, snap: _Snapshot, entity: str, key: str) -> None:
        column, cursor = self.load_column(snap, entity, key)
        if column.capacity < snap.capacity:
            column.grow(snap.capacity)
        snap.columns[(entity, key)] = column
        # the column is as of ``cursor``, the rest as of snap.cursor: catch both up from the older one
        snap.cursor = min(snap.cursor, cursor)

    def _install(self, snap: _Snapshot) -> _Snapshot | None:
        budget = _max_cells()
        others = sorted((s for e, s in self.snapshots.items() if e != snap.experiment_id), key=lambda s: s.used)
        while others and sum(s.cells() for s in self.snapshots.values()) + snap.cells() > budget:
            del self.snapshots[others.pop(0).experiment_id]
        if snap.cells() > budget:
            return None
        self.snapshots[snap.experiment_id] = snap
        return snap

    def _queue(self, experiment_id: int, build: list[None], columns: list[tuple[str, str]]) -> None:
        tasks: list[tuple[int, tuple[str, str] | None]] = [(experiment_id, None)] if build else []
        tasks += [(experiment_id, c) for c in columns]
        fresh = [t for t in tasks if t not in self.pending]
        if not fresh:
            return
        self.pending.update(fresh)
        if self.worker is None or not self.worker.is_alive():
            self.worker = threading.Thread(target=self._work, name="fluvial-count-snapshot", daemon=True)
            self.worker.start()

    def _work(self) -> None:
        while True:
            with self.lock:
                if not self.pending:
                    self.worker = None
                    return
                experiment_id, column = min(self.pending, key=lambda t: t[1] is not None)
            try:
                if column is None:
                    built = self.build(experiment_id)  # outside the lock: counts go on meanwhile
                    with self.lock:
                        self._install(built)
                else:
                    with self.lock:
                        snap = self.snapshots.get(experiment_id)
                    if snap is not None and column not in snap.columns:
                        loaded, cursor = self.load_column(snap, *column)
                        with self.lock:
                            if loaded.capacity < snap.capacity:
                                loaded.grow(snap.capacity)
                            snap.columns[column] = loaded
                            snap.cursor = min(snap.cursor, cursor)
                            self.refresh(snap)
            except _Stale:
                with self.lock:
                    self.snapshots.pop(experiment_id, None)  # the next count queues a new build
            except Exception:  # a failed build leaves counting to SQL
                pass
            finally:
                with self.lock:
                    self.pending.discard((experiment_id, column))

    def wait_idle(self, timeout: float) -> bool:
        """Wait for the background builder to finish its queue (tests and benchmarks)."""
        worker = self.worker
        if worker is not None:
            worker.join(timeout)
        return not self.pending


_CACHES: weakref.WeakKeyDictionary[sa.Engine, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache(engine: sa.Engine) -> _Cache:
    with _CACHES_LOCK:
        found = _CACHES.get(engine)
        if found is None:
            found = _CACHES[engine] = _Cache(engine)
        return found


# ---- evaluating comparisons ----------------------------------------------------------------------

def _column_key(c: Comparison) -> tuple[str, str] | None:
    if c.entity == ATTRIBUTE:
        if c.key == "run_name":
            return (TAG, RUN_NAME_TAG)
        if c.key in _NUMERIC_ATTRIBUTES or c.key in _STRING_ATTRIBUTES:
            return (ATTRIBUTE, c.key)
        return None
    if c.entity in _KEYED:
        return (c.entity, c.key)
    return None


def _mask(snap: _Snapshot, c: Comparison) -> Any:
    key = _column_key(c)
    if key is None:
        return None
    column = snap.columns[key]
    if column.numeric:
        if c.comparator in LIST_COMPARATORS or isinstance(c.value, str):
            return None
    elif not isinstance(c.value, (str, tuple, list, frozenset, set)):
        return None
    return column.mask(snap.size, c.comparator, c.value)


def supported(comparisons: Iterable[Comparison]) -> list[tuple[str, str]] | None:
    """The columns these comparisons need, or None when one of them is not covered here."""
    needed: list[tuple[str, str]] = []
    for c in comparisons:
        key = _column_key(c)
        if key is None:
            return None
        if key not in needed:
            needed.append(key)
    return needed


def ready(engine: sa.Engine, experiment_ids: list[int], comparisons: list[Comparison]) -> bool:
    """Whether these experiments' snapshots are built with every column these comparisons need, each
    numeric or dictionary-encoded: then a count costs a catch-up and a pass of integer and float
    comparisons, less than probing an index range first (``run_count.py``). A hint, read unlocked."""
    needed = supported(comparisons)
    if _mode() == "off" or needed is None:
        return False
    with _CACHES_LOCK:
        owner = _CACHES.get(engine)
    if owner is None:
        return False
    for experiment_id in experiment_ids:
        snap = owner.snapshots.get(experiment_id)
        if snap is None:
            return False
        for key in needed:
            column = snap.columns.get(key)
            if column is None or (isinstance(column, Strings) and column.index is None):
                return False
    return True


def count(engine: sa.Engine, experiment_ids: list[int], stages: list[str], comparisons: list[Comparison]) -> int | None:
    """The number of matching runs from the snapshots, or None (not built yet, not covered, off)."""
    mode = _mode()
    needed = supported(comparisons)
    if mode == "off" or needed is None or engine.dialect.name not in ("sqlite", "postgresql"):
        return None
    owner = cache(engine)
    total = 0
    with owner.lock:
        snaps = []
        for experiment_id in dict.fromkeys(experiment_ids):
            try:
                snap = owner.ensure(experiment_id, needed, wait=mode == "sync")
            except _NoLog:
                return None
            if snap is None:
                return None
            snaps.append(snap)
        if any(owner.snapshots.get(s.experiment_id) is not s for s in snaps):
            return None  # the log was remade while these were gathered: rebuilt at the next count
        for snap in snaps:
            size = snap.size
            mask = snap.columns[(ATTRIBUTE, "experiment_id")].mask(size, "=", snap.experiment_id)
            if len(stages) < 2:  # run_view_type=ALL: any stage, as in the general query
                mask &= snap.columns[(ATTRIBUTE, "lifecycle_stage")].mask(size, "IN", stages)
            for c in comparisons:
                part = _mask(snap, c)
                if part is None:
                    return None
                mask &= part
            total += int(np.count_nonzero(mask))
    return total
