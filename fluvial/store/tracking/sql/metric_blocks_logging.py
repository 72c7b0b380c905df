"""Keeps the block summaries of long metric series current while they are logged, so the first chart view
of a 10,000,000-point metric reads a summary instead of every point (``metric_blocks.py``).

Logging through this process counts points per (run, key); every ``KEEP_EVERY`` points of a series the
background worker (``metric_blocks_worker``) is asked to keep its step-axis summary: refresh the blocks
the new points fall in (cost proportional to those points), or build it once the series reaches
``metric_blocks.SUMMARY_FROM`` points. A series that keeps its density (one point per step, say) is never
rebuilt as it grows: levels are stacked on the top one. The logging call itself only adds to a counter.
Points logged by other processes (MLflow, a client without this module) are still covered by the
reader, which refreshes or builds on demand."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import sqlalchemy as sa

from fluvial.store.tracking.sql import metric_blocks as mb
from fluvial.store.tracking.sql import metric_blocks_worker

KEEP_EVERY = 5_000  # points of one series between two refreshes
AXIS = "step"  # the charts' default x axis; the timestamp axis is summarised on its first reduced read
MAX_SERIES = 10_000  # counters kept; beyond it they start over (a refresh then comes a little later)

_lock = threading.Lock()
_counts: dict[tuple[sa.Engine, str, str], int] = {}


def logged(engine: sa.Engine, run_id: str, keys: Iterable[str]) -> None:
    """Note points logged to ``run_id`` (one key per point) and queue a refresh for each series that
    reached ``KEEP_EVERY`` new points (a few dict operations per point)."""
    if engine.dialect.name not in mb.DIALECTS:
        return
    due: set[str] = set()
    with _lock:
        if len(_counts) > MAX_SERIES:
            _counts.clear()
        for key in keys:
            slot = (engine, run_id, key)
            total = _counts.get(slot, 0) + 1
            if total >= KEEP_EVERY:
                due.add(key)
                total = 0
            _counts[slot] = total
    for key in due:
        metric_blocks_worker.submit(engine, run_id, key, AXIS)
