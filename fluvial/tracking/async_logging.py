"""Asynchronous logging (MLflow 2.x's ``synchronous=False`` / ``MLFLOW_ENABLE_ASYNC_LOGGING``).

One bounded queue and one worker thread per tracking store. Logging calls enqueue a request and
return a :class:`RunOperations`; the worker coalesces consecutive requests of one run into a single
``log_batch`` write. A batch that fails is replayed request by request, so only the requests that
are themselves invalid fail, each with its own error. A failure is never dropped: it is raised by
``RunOperations.wait()`` and, unless that was called, by the next ``flush_async_logging()`` /
``end_run()``; at interpreter exit it is logged as an error.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from fluvial._internal.environ import getenv
from fluvial.entities import Metric, Param, RunTag
from fluvial.exceptions import MlflowException

_logger = logging.getLogger(__name__)

ENV_ENABLE = "MLFLOW_ENABLE_ASYNC_LOGGING"
ENV_BUFFERING_SECONDS = "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"
QUEUE_SIZE = 10_000  # pending requests; a full queue makes the logging call wait (backpressure)
# One coalesced write holds at most this many items (MLflow's log_batch limits x 10: stores that
# accept unbounded batches chunk them themselves).
MAX_METRICS, MAX_PARAMS, MAX_TAGS = 10_000, 1_000, 1_000
_PUT_WAIT_SECONDS = 0.5
_FLUSH_POLL_SECONDS = 0.05

Writer = Callable[[str, list[Metric], list[Param], list[RunTag]], None]


_last_setting: tuple[str | None, bool] = (None, False)  # (the variable's raw value, what it meant)


def enabled() -> bool:
    """``MLFLOW_ENABLE_ASYNC_LOGGING`` as MLflow reads it ("true"/"1", case-insensitive); read on every
    call (a change takes effect at once), parsed only when it changed."""
    global _last_setting
    raw = getenv(ENV_ENABLE)
    if raw == _last_setting[0]:
        return _last_setting[1]
    result = _parse_enabled(raw or "")
    _last_setting = (raw, result)
    return result


def _parse_enabled(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise MlflowException(f"{ENV_ENABLE} must be one of 'true', 'false', '1' or '0', got {value!r}")


def resolve(synchronous: bool | None) -> bool:
    """Whether a call logs synchronously: the argument, else the environment (default: yes)."""
    return synchronous if synchronous is not None else not enabled()


class RunOperations:
    """The pending result of asynchronous logging calls; ``wait()`` blocks until they are stored and
    raises ``MlflowException`` naming every one that failed."""

    def __init__(self, operation_futures: Sequence[Future[None]] | None = None) -> None:
        self._operation_futures = list(operation_futures or [])

    def wait(self) -> None:
        failures = []
        for future in self._operation_futures:
            try:
                future.result()
            except Exception as exc:  # each failure is reported below
                failures.append(exc)
            finally:
                _mark_seen(future)
        if failures:
            raise MlflowException(
                f"The following failures occurred while performing one or more async logging operations: {failures}"
            )


class _Request:
    __slots__ = ("future", "metrics", "params", "run_id", "tags")

    def __init__(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        self.run_id, self.metrics, self.params, self.tags = run_id, metrics, params, tags
        self.future: Future[None] = Future()


_unseen_lock = threading.Lock()
_unseen: dict[Future[None], tuple[str, BaseException]] = {}  # failed futures nobody has waited on


def _mark_seen(future: Future[None]) -> None:
    with _unseen_lock:
        _unseen.pop(future, None)


class AsyncLoggingQueue:
    """The queue and worker thread of one tracking store."""

    def __init__(self, write: Writer, name: str) -> None:
        self._write = write
        self._queue: queue.Queue[_Request] = queue.Queue(maxsize=QUEUE_SIZE)
        self._idle = threading.Condition()
        self._pending = 0  # requests submitted and not yet settled
        self._flushing = threading.Event()
        self._thread = threading.Thread(target=self._work, name=f"fluvial-async-logging-{name}", daemon=True)
        self._thread.start()

    # ---- producer side ---------------------------------------------------------------------------
    def submit(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
               tags: Sequence[RunTag] = ()) -> RunOperations:
        _buffering_seconds()  # a malformed setting is the caller's error, not the worker's
        request = _Request(run_id, list(metrics), list(params), list(tags))
        with self._idle:
            self._pending += 1
        while True:  # bounded by the worker draining the queue; it only stops with the process
            if not self._thread.is_alive():
                with self._idle:
                    self._pending -= 1
                raise MlflowException("The async logging thread has stopped; log synchronously instead.")
            try:
                self._queue.put(request, timeout=_PUT_WAIT_SECONDS)
                break
            except queue.Full:
                continue
        return RunOperations([request.future])

    def flush(self) -> None:
        """Wait until every request submitted so far is stored (or has failed)."""
        self._flushing.set()
        try:
            with self._idle:
                while self._pending and self._thread.is_alive():
                    self._idle.wait(_FLUSH_POLL_SECONDS)
        finally:
            self._flushing.clear()

    # ---- worker side -----------------------------------------------------------------------------
    def _take(self) -> list[_Request]:
        taken = [self._queue.get()]
        try:
            buffering = _buffering_seconds()
        except MlflowException:  # changed since submit; submit reports it
            buffering = 0.0
        deadline = time.monotonic() + buffering
        while True:
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._flushing.is_set():
                    break
                try:
                    taken.append(self._queue.get(timeout=min(remaining, _FLUSH_POLL_SECONDS)))
                except queue.Empty:
                    continue
            if len(taken) >= QUEUE_SIZE:
                break
        return taken

    def _work(self) -> None:
        while True:
            taken = self._take()
            try:
                for batch in _coalesce(taken):
                    self._store(batch)
            finally:
                with self._idle:
                    self._pending -= len(taken)
                    self._idle.notify_all()

    def _store(self, batch: list[_Request]) -> None:
        metrics = [m for r in batch for m in r.metrics]
        params = [p for r in batch for p in r.params]
        tags = [t for r in batch for t in r.tags]
        try:
            self._write(batch[0].run_id, metrics, params, tags)
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            for request in batch:  # find the culprit(s): the others are stored as they would have been
                try:
                    self._write(request.run_id, request.metrics, request.params, request.tags)
                except Exception as single:
                    _fail(request, single)
                else:
                    request.future.set_result(None)
            return
        for request in batch:
            request.future.set_result(None)


def _fail(request: _Request, exc: BaseException) -> None:
    with _unseen_lock:
        _unseen[request.future] = (request.run_id, exc)
    request.future.set_exception(exc)


def _buffering_seconds() -> float:
    raw = os.environ.get(ENV_BUFFERING_SECONDS)
    if not raw:
        return 0.0
    try:
        return max(0.0, float(int(raw)))
    except ValueError:
        raise MlflowException(f"{ENV_BUFFERING_SECONDS} must be an integer number of seconds, got {raw!r}") from None


def _coalesce(requests: list[_Request]) -> list[list[_Request]]:
    """Consecutive requests of one run merged into batches that the store accepts in one write:
    a new batch starts when the run changes, a limit is reached, or a key would repeat (a
    duplicate param or tag inside one write is an error or ambiguous; as separate writes it is not)."""
    batches: list[list[_Request]] = []
    current: list[_Request] = []
    counts = [0, 0, 0]
    param_keys: set[str] = set()
    tag_keys: set[str] = set()
    for request in requests:
        new_params = {p.key for p in request.params}
        new_tags = {t.key for t in request.tags}
        if current and (
            request.run_id != current[0].run_id
            or counts[0] + len(request.metrics) > MAX_METRICS
            or counts[1] + len(request.params) > MAX_PARAMS
            or counts[2] + len(request.tags) > MAX_TAGS
            or param_keys & new_params
            or tag_keys & new_tags
        ):
            batches.append(current)
            current, counts, param_keys, tag_keys = [], [0, 0, 0], set(), set()
        current.append(request)
        counts[0] += len(request.metrics)
        counts[1] += len(request.params)
        counts[2] += len(request.tags)
        param_keys |= new_params
        tag_keys |= new_tags
    if current:
        batches.append(current)
    return batches


_queues_lock = threading.Lock()
_queues: dict[int, tuple[Any, AsyncLoggingQueue]] = {}
_queues_pid = os.getpid()


def queue_for(store: Any, write: Writer) -> AsyncLoggingQueue:
    """The (one) async queue of a tracking store, started on first use (again in a forked child,
    which inherits the queues but not their threads)."""
    global _queues_pid
    with _queues_lock:
        if _queues_pid != os.getpid():
            _queues.clear()
            _queues_pid = os.getpid()
        entry = _queues.get(id(store))
        if entry is None or entry[0] is not store:
            entry = (store, AsyncLoggingQueue(write, type(store).__name__))
            _queues[id(store)] = entry
        return entry[1]


def flush(store: Any | None = None) -> None:
    """Wait for the pending requests (of one store, or of all), then raise the failures nobody has
    seen through ``RunOperations.wait()``."""
    with _queues_lock:
        targets = [q for s, q in _queues.values() if store is None or s is store] if _queues_pid == os.getpid() else []
    for target in targets:
        target.flush()
    with _unseen_lock:
        failures = list(_unseen.values())
        _unseen.clear()
    if failures:
        listed = "; ".join(f"run {run_id}: {exc}" for run_id, exc in failures)
        raise MlflowException(f"{len(failures)} asynchronous logging operation(s) failed: {listed}")


def _flush_at_exit() -> None:
    try:
        flush()
    except MlflowException as exc:
        _logger.error("%s", exc)


atexit.register(_flush_at_exit)
