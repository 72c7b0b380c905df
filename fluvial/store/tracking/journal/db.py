"""The journal file: ``<dir>/journal.db`` (SQLite, WAL, ``synchronous=FULL``) and ``<dir>/artifacts``.

Tables: ``meta`` (tracking URI the journal was written for), ``runs`` (client-generated local run id
-> server run id once created), ``entries`` (every write, in order, with its state: 0 pending,
1 acknowledged by the server, 2 rejected by the server), ``params`` (params logged per local run, to
refuse a changed value at log time like the server would), ``uploaded`` (artifact files sent).
Every append is one committed transaction in WAL mode, so a process killed at any point (kill -9)
loses nothing it was told was logged: the commit is in the operating system's cache. Against power
loss the WAL file is fsync'd in groups, by the background sender every ``GROUP_FSYNC_SECONDS`` after
appends (the last fraction of a second of logging may be lost; the database stays consistent), and on
every commit with ``FLUVIAL_JOURNAL_FSYNC=always`` (slower: one fsync per logging call).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fluvial.exceptions import InvalidParameterValue

JOURNAL_FILE = "journal.db"
PENDING, ACKED, REJECTED = 0, 1, 2
GROUP_FSYNC_SECONDS = 0.2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    local_id TEXT PRIMARY KEY, experiment_id TEXT NOT NULL, user_id TEXT, start_time INTEGER,
    run_name TEXT, server_id TEXT, server_artifact_uri TEXT, create_attempted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0, error TEXT);
CREATE INDEX IF NOT EXISTS entries_pending ON entries (state, seq);
CREATE INDEX IF NOT EXISTS entries_run ON entries (run_id, seq);
CREATE TABLE IF NOT EXISTS params (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS uploaded (run_id TEXT NOT NULL, path TEXT NOT NULL, signature TEXT NOT NULL,
    PRIMARY KEY (run_id, path));
"""


class Journal:
    """One journal directory. Thread-safe (one connection per thread)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = os.path.abspath(os.fspath(directory))
        os.makedirs(os.path.join(self.directory, "artifacts"), exist_ok=True)
        self.path = os.path.join(self.directory, JOURNAL_FILE)
        self._local = threading.local()
        mode = os.environ.get("FLUVIAL_JOURNAL_FSYNC", "group")
        if mode not in ("group", "always"):
            raise InvalidParameterValue(f"FLUVIAL_JOURNAL_FSYNC must be 'group' or 'always', not {mode!r}")
        self._synchronous = "FULL" if mode == "always" else "NORMAL"
        self.dirty = False
        self._conn().executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def sync_to_disk(self) -> None:
        """fsync the write-ahead log (and the database file): everything committed survives power loss."""
        self.dirty = False
        for path in (self.path + "-wal", self.path):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._conn().execute(sql, args).fetchall()

    def artifact_dir(self, local_id: str) -> str:
        return os.path.join(self.directory, "artifacts", local_id)

    # ---- meta ----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta_default(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ---- writes --------------------------------------------------------------------------------
    def append(self, conn: sqlite3.Connection, run_id: str, kind: str, payload: dict[str, Any]) -> int:
        cur = conn.execute("INSERT INTO entries (run_id, kind, payload) VALUES (?, ?, ?)",
                           (run_id, kind, json.dumps(payload, separators=(",", ":"))))
        self.dirty = True
        return int(cur.lastrowid or 0)

    def is_local_run(self, run_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM runs WHERE local_id = ?", (run_id,)))

    def server_id(self, local_id: str) -> str | None:
        rows = self.query("SELECT server_id FROM runs WHERE local_id = ?", (local_id,))
        return rows[0][0] if rows else None

    def pending(self, limit: int) -> list[tuple[int, str, str, dict[str, Any]]]:
        rows = self.query("SELECT seq, run_id, kind, payload FROM entries WHERE state = 0 ORDER BY seq LIMIT ?",
                          (limit,))
        return [(seq, run_id, kind, json.loads(payload)) for seq, run_id, kind, payload in rows]

    def mark(self, seqs: list[int], state: int, error: str | None = None) -> None:
        with self.transaction() as conn:
            conn.executemany("UPDATE entries SET state = ?, error = ? WHERE seq = ?",
                             [(state, error, s) for s in seqs])

    def counts(self) -> dict[str, int]:
        names = {PENDING: "pending", ACKED: "acknowledged", REJECTED: "rejected"}
        found = dict(self.query("SELECT state, COUNT(*) FROM entries GROUP BY state"))
        return {name: int(found.get(state, 0)) for state, name in names.items()}

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
