"""Keeps metric block summaries (``metric_blocks.keep``: refresh, or build) in the background: the request
that finds a series without a summary answers from the raw points at once and never waits for the build,
and logging (``metric_blocks_logging``) asks for a refresh every few thousand points of a series.

One daemon thread per process takes jobs from a bounded queue, one at a time; a series already queued
is not queued twice (one being worked on is queued again, for the points it may have missed), and
``build`` itself skips a series another process is building (its
``building_since`` marker; a build older than 15 minutes counts as dead and is started over). A full
queue drops the request: the next reduced read of that series asks again. Errors are logged, never
raised into requests. The thread ends after a minute without work and starts again on demand. When the
process exits a build under way is given up between two batches and its rows removed, so no stale
"building" marker keeps other processes on the raw path."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

_logger = logging.getLogger(__name__)

MAX_PENDING = 64
IDLE_SECONDS = 60.0

_Job = tuple[Any, str, str, str]  # (engine, run_id, key, x_axis)
_cond = threading.Condition()
_pending: OrderedDict[_Job, None] = OrderedDict()
_running: list[_Job] = []
_thread: threading.Thread | None = None
_exiting = threading.Event()


def submit(engine: Any, run_id: str, key: str, x_axis: str) -> bool:
    """Queue a refresh or (re)build of one series' summary; False when the queue is full (dropped)."""
    global _thread
    job = (engine, run_id, key, x_axis)
    with _cond:
        if _exiting.is_set():
            return False
        if job in _pending:  # (one running now is queued again: it may have missed the latest points)
            return True
        if len(_pending) >= MAX_PENDING:
            _logger.warning("metric summary queue full; %s/%s (%s) stays on the raw path for now", run_id, key, x_axis)
            return False
        _pending[job] = None
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_work, name="fluvial-metric-blocks", daemon=True)
            _thread.start()
        _cond.notify_all()
    return True


def _work() -> None:
    from fluvial.store.tracking.sql import metric_blocks as mb

    while True:
        with _cond:
            deadline = time.monotonic() + IDLE_SECONDS
            while not _pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    global _thread
                    _thread = None
                    return
                _cond.wait(left)
            job, _ = _pending.popitem(last=False)
            _running.append(job)
        engine, run_id, key, x_axis = job
        try:
            mb.keep(engine, run_id, key, x_axis, stop=_exiting.is_set)
        except mb.BuildStopped:
            pass
        except Exception:  # a request must never see it; the next reduced read asks again
            _logger.warning("keeping the metric summary of %s/%s (%s) failed", run_id, key, x_axis, exc_info=True)
        finally:
            with _cond:
                _running.remove(job)
                _cond.notify_all()


def wait_idle(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds until no build is queued or running in this process."""
    deadline = time.monotonic() + timeout
    with _cond:
        while _pending or _running:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _cond.wait(left)
    return True


@atexit.register
def _stop_at_exit() -> None:
    """Give up queued work and stop a build under way (it removes its rows) before the interpreter ends."""
    _exiting.set()
    with _cond:
        _pending.clear()
    wait_idle(30.0)
