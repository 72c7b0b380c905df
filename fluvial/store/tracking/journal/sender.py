"""Replaying a journal to its tracking server, in order, exactly once.

Every request is idempotent or guarded: params and tags are set to the same value again, a metric
point that is already stored is skipped by the server (MLflow's metric primary key is
``(key, timestamp, step, run, value)``; fluvial's server keeps that behaviour), ``create_run`` is
sent with the tag ``fluvial.journal.id=<local id>`` and, when a previous attempt may have reached the
server, first looked up by that tag. An entry is marked acknowledged only after the server answered
it, so a crash between the two resends that entry, never skips it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from fluvial._internal import registry
from fluvial._internal import validation as v
from fluvial._internal.uri import scheme_of
from fluvial.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from fluvial.exceptions import MlflowException, ResourceDoesNotExist
from fluvial.store.tracking.base import TrackingStore
from fluvial.store.tracking.journal.db import ACKED, GROUP_FSYNC_SECONDS, REJECTED, Journal

_logger = logging.getLogger(__name__)

JOURNAL_ID_TAG = "fluvial.journal.id"
READ_AHEAD = 2000


class ServerUnavailable(MlflowException):
    """The server could not be reached or answered 5xx/429; the entry stays pending."""


class JournalBusy(MlflowException):
    """Another process is sending this journal right now (one sender per journal at a time)."""


@contextlib.contextmanager
def sender_lock(journal: Journal) -> Iterator[None]:
    """An exclusive lock on ``<dir>/sender.lock`` while sending: two senders (the training program's and a
    ``fluvial sync``) could otherwise both create a run no attempt of which had been recorded yet."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(os.path.join(journal.directory, "sender.lock"), "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise JournalBusy(f"another process is sending the journal in {journal.directory}") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _permanent(exc: MlflowException) -> bool:
    status = exc.get_http_status_code()
    return 400 <= status < 500 and status != 429 and not isinstance(exc, ServerUnavailable)


def _dataset(d: dict[str, Any]) -> DatasetInput:
    return DatasetInput(Dataset(**d["dataset"]), tuple(InputTag(**t) for t in d["tags"]))


class Replayer:
    """Sends pending entries of ``journal`` through ``store`` (the server's REST store)."""

    def __init__(self, journal: Journal, store: TrackingStore, tracking_uri: str | None = None) -> None:
        self.journal = journal
        self.store = store
        self.tracking_uri = tracking_uri or getattr(store, "store_uri", "")
        self.sent = 0
        self.rejected = 0

    # ---- runs ----------------------------------------------------------------------------------
    def _server_run(self, local_id: str, body: dict[str, Any] | None) -> str | None:
        rows = self.journal.query(
            "SELECT server_id, create_attempted, experiment_id FROM runs WHERE local_id = ?", (local_id,))
        if not rows:
            return None
        server_id, attempted, experiment_id = rows[0]
        if server_id:
            return str(server_id)
        if attempted:
            found = self.store.search_runs([experiment_id], f"tags.`{JOURNAL_ID_TAG}` = '{local_id}'",
                                           ViewType.ALL, 1)
            if len(found):
                self._record(local_id, found[0].info.run_id, found[0].info.artifact_uri)
                return found[0].info.run_id
        if body is None:
            return None
        with self.journal.transaction() as conn:
            conn.execute("UPDATE runs SET create_attempted = 1 WHERE local_id = ?", (local_id,))
        tags = [RunTag(k, val) for k, val in body["tags"]] + [RunTag(JOURNAL_ID_TAG, local_id)]
        run = self.store.create_run(body["experiment_id"], body["user_id"], body["start_time"], tags,
                                    body["run_name"])
        self._record(local_id, run.info.run_id, run.info.artifact_uri)
        return run.info.run_id

    def _record(self, local_id: str, server_id: str, artifact_uri: str) -> None:
        with self.journal.transaction() as conn:
            conn.execute("UPDATE runs SET server_id = ?, server_artifact_uri = ? WHERE local_id = ?",
                         (server_id, artifact_uri, local_id))

    # ---- artifacts -----------------------------------------------------------------------------
    def upload_artifacts(self, local_id: str) -> int:
        """Send the run's journaled artifact files not sent yet (or changed since); how many."""
        rows = self.journal.query("SELECT server_artifact_uri FROM runs WHERE local_id = ? AND server_id IS NOT NULL",
                                  (local_id,))
        root = self.journal.artifact_dir(local_id)
        if not rows or not os.path.isdir(root):
            return 0
        done = dict(self.journal.query("SELECT path, signature FROM uploaded WHERE run_id = ?", (local_id,)))
        repo: Any = None
        count = 0
        for folder, _dirs, files in os.walk(root):
            for name in sorted(files):
                full = os.path.join(folder, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                st = os.stat(full)
                signature = f"{st.st_size}:{st.st_mtime_ns}"
                if done.get(rel) == signature:
                    continue
                if repo is None:
                    uri = rows[0][0]
                    factory = registry.lookup("artifact_repository", scheme_of(uri))
                    repo = (factory(uri, tracking_uri=self.tracking_uri) if scheme_of(uri) == "mlflow-artifacts"
                            else factory(uri))
                parent = os.path.dirname(rel)
                repo.log_artifact(full, parent or None)
                with self.journal.transaction() as conn:
                    conn.execute("INSERT OR REPLACE INTO uploaded (run_id, path, signature) VALUES (?, ?, ?)",
                                 (local_id, rel, signature))
                count += 1
        return count

    # ---- entries -------------------------------------------------------------------------------
    def _send(self, run_id: str, kind: str, body: dict[str, Any]) -> None:
        server_id = self._server_run(run_id, body if kind == "create_run" else None)
        if kind == "create_run":
            return
        if server_id is None:  # create_run entry was rejected: nothing of the run can go
            raise MlflowException(f"run {run_id} was never created on the server", error_code="RESOURCE_DOES_NOT_EXIST")
        if kind == "log_batch":
            self.store.log_batch(server_id, [Metric(*m) for m in body["metrics"]],
                                 [Param(k, val) for k, val in body["params"]], [RunTag(k, val) for k, val in body["tags"]])
        elif kind == "delete_tag":
            try:
                self.store.delete_tag(server_id, body["key"])
            except ResourceDoesNotExist:
                pass  # already deleted by an earlier attempt
        elif kind == "update_run_info":
            if body["status"] in ("FINISHED", "FAILED", "KILLED"):
                self.upload_artifacts(run_id)
            self.store.update_run_info(server_id, body["status"], body["end_time"], body["run_name"])
        elif kind == "log_inputs":
            self.store.log_inputs(server_id, [_dataset(d) for d in body["datasets"]])
        elif kind == "record_logged_model":
            self.store.record_logged_model(server_id, body["model"])
        else:
            raise MlflowException(f"unknown journal entry kind {kind!r}")

    def _groups(self, entries: list[tuple[int, str, str, dict[str, Any]]]) -> list[tuple[list[int], str, str, dict]]:
        """Consecutive log_batch entries of one run merged into requests within the server's limits."""
        groups: list[tuple[list[int], str, str, dict]] = []
        for seq, run_id, kind, body in entries:
            last = groups[-1] if groups else None
            if (last is not None and kind == "log_batch" and last[2] == "log_batch" and last[1] == run_id
                    and self._fits(last[3], body)):
                last[0].append(seq)
                for part in ("metrics", "params", "tags"):
                    last[3][part].extend(body[part])
            else:
                groups.append(([seq], run_id, kind, {k: (list(val) if isinstance(val, list) else val)
                                                     for k, val in body.items()}))
        return groups

    @staticmethod
    def _fits(acc: dict[str, Any], body: dict[str, Any]) -> bool:
        m = len(acc["metrics"]) + len(body["metrics"])
        p = len(acc["params"]) + len(body["params"])
        t = len(acc["tags"]) + len(body["tags"])
        if m > v.MAX_METRICS_PER_BATCH or p > v.MAX_PARAMS_TAGS_PER_BATCH or t > v.MAX_PARAMS_TAGS_PER_BATCH:
            return False
        if m + p + t > v.MAX_ENTITIES_PER_BATCH:
            return False
        keys = {k for k, _ in acc["params"]} | {k for k, _ in acc["tags"]}
        return not any(k in keys for k, _ in body["params"]) and not any(k in keys for k, _ in body["tags"])

    def _deliver(self, seqs: list[int], run_id: str, kind: str, body: dict[str, Any]) -> None:
        try:
            self._send(run_id, kind, body)
        except MlflowException as exc:
            if not _permanent(exc):
                raise ServerUnavailable(str(exc)) from exc
            if len(seqs) > 1:  # find the entry the server refuses; send the others
                for seq, r, k, b in self.journal_entries(seqs):
                    self._deliver([seq], r, k, b)
                return
            _logger.warning("The tracking server rejected journal entry %s (%s of run %s): %s", seqs[0], kind,
                            run_id, exc)
            self.journal.mark(seqs, REJECTED, str(exc)[:1000])
            self.rejected += 1
            return
        self.journal.mark(seqs, ACKED)
        self.sent += len(seqs)

    def journal_entries(self, seqs: list[int]) -> list[tuple[int, str, str, dict[str, Any]]]:
        import json

        rows = self.journal.query(f"SELECT seq, run_id, kind, payload FROM entries WHERE seq IN "
                                  f"({','.join('?' * len(seqs))}) ORDER BY seq", tuple(seqs))
        return [(s, r, k, json.loads(p)) for s, r, k, p in rows]

    def drain(self, progress: Callable[[int], None] | None = None, stop: threading.Event | None = None) -> None:
        """Send everything pending; raises :class:`ServerUnavailable` (entries stay pending) or
        :class:`JournalBusy`."""
        with sender_lock(self.journal):
            while stop is None or not stop.is_set():
                entries = self.journal.pending(READ_AHEAD)
                if not entries:
                    return
                for seqs, run_id, kind, body in self._groups(entries):
                    self._deliver(seqs, run_id, kind, body)
                    if progress is not None:
                        progress(self.sent)

    def upload_all(self) -> int:
        with sender_lock(self.journal):
            return sum(self.upload_artifacts(local_id) for (local_id,) in
                       self.journal.query("SELECT local_id FROM runs WHERE server_id IS NOT NULL"))


def flush_timeout() -> float:
    try:
        return float(os.environ.get("FLUVIAL_JOURNAL_FLUSH_TIMEOUT", "30"))
    except ValueError:
        return 30.0


class BackgroundSender:
    """A daemon thread draining the journal while the program runs; retries with backoff while the
    server is unreachable. ``flush`` (called when a run ends, and at interpreter exit) waits up to
    ``FLUVIAL_JOURNAL_FLUSH_TIMEOUT`` seconds (default 30) for the rest, or until an attempt finds the
    server unreachable; what is left waits for ``fluvial sync``."""

    def __init__(self, journal: Journal, store: TrackingStore) -> None:
        self.replayer = Replayer(journal, store)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self.failures = 0
        self.offline = False
        self._thread = threading.Thread(target=self._loop, name="fluvial-journal-sender", daemon=True)
        self._thread.start()
        self._fsync_thread = threading.Thread(target=self._fsync_loop, name="fluvial-journal-fsync", daemon=True)
        self._fsync_thread.start()
        import atexit

        atexit.register(self._at_exit)

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    def _loop(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            if self.offline:  # back off: logging goes on into the journal meanwhile
                self._stop.wait(delay)
            else:
                self._wake.wait(timeout=delay)
            self._wake.clear()
            try:
                self.replayer.drain(stop=self._stop)
                delay, self.offline = 0.5, False
                if not self._wake.is_set():
                    self._idle.set()
            except (ServerUnavailable, JournalBusy) as exc:
                self.failures += 1
                self.offline = True
                delay = min(delay * 2, 30.0)
                _logger.debug("journal sender: server unavailable, retrying in %.1fs: %s", delay, exc)
            except Exception:  # keep the training program running; the journal keeps the data
                self.failures += 1
                self.offline = True
                delay = min(delay * 2, 30.0)
                _logger.exception("journal sender failed; the journal keeps the entries for `fluvial sync`")

    def _fsync_loop(self) -> None:
        """Group commit: appends within GROUP_FSYNC_SECONDS share one fsync of the journal."""
        journal = self.replayer.journal
        while not self._stop.wait(GROUP_FSYNC_SECONDS):
            if journal.dirty:
                journal.sync_to_disk()

    def flush(self, timeout: float) -> bool:
        """True when everything is sent; False at once while the server is unreachable, else after
        ``timeout`` or a failed attempt."""
        failures = self.failures
        self.wake()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.failures == failures and not self.offline:
            if self._idle.wait(timeout=0.1) and not self.replayer.journal.pending(1):
                return True
            self._wake.set()
        return not self.replayer.journal.pending(1)

    def _at_exit(self) -> None:
        done = self.flush(flush_timeout())
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.replayer.journal.sync_to_disk()
        if not done:
            _logger.warning("%d journal entries are not on the tracking server yet; send them with: fluvial sync %s",
                            self.replayer.journal.counts()["pending"], self.replayer.journal.directory)
