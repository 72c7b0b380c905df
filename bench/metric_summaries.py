"""``python -m bench.metric_summaries``: the first chart view of a long metric when its block summary was
made before anyone looked (issue 12): kept while the points are logged through fluvial, or built by
``fluvial db upgrade`` (``metric_blocks.keep_long_series``) for points written by someone else.

``--logged N``: a fresh SQLite database, one run, N points logged through ``SqlTrackingStore.log_batch``
in batches of 1,000 (one point per step), first with the log-time summaries switched off, then on; prints
the logging wall and CPU time of both, the wait for the background work left at the end, and the first
whole-range reduce (1,000 points). ``--upgrade N``: ``bench.metric_history``'s cached N-point database
with its summaries dropped, ``keep_long_series`` timed, then the first reduce. Prints one line per
measurement (copied into ``docs/benchmarks.md``); load average at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

from bench._harness import log
from bench._scale_seed import T0
from bench.metric_history import KEY, RUN, _drop_summaries, _seed
from bench.scale import CACHE


def _first_reduce(store, run_id: str) -> float:
    from fluvial.store.tracking.sql import metric_blocks_read

    with store.engine.connect() as conn:  # what the first view finds: a current summary or none
        source = "summary" if isinstance(metric_blocks_read.reduced(conn, run_id, KEY, "step", None, None, 1000),
                                          tuple) else "raw points"
    started = time.perf_counter()
    points, _reduced, total = store.get_metric_history_reduced(run_id, KEY, max_points=1000)
    seconds = time.perf_counter() - started
    print(f"  first whole-range reduce: {seconds * 1000:,.1f} ms ({len(points)} of {total:,} points, from the "
          f"{source})")
    return seconds


def logged(n: int, keep_every: int | None = None, baseline: bool = True) -> None:
    from fluvial.entities import Metric
    from fluvial.store.tracking.sql import metric_blocks_logging, metric_blocks_worker
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    default = metric_blocks_logging.KEEP_EVERY
    chosen = keep_every or default
    passes = [("log-time summaries off", 10**12)] if baseline else []
    for label, every in (*passes, (f"log-time summaries on (every {chosen:,} points)", chosen)):
        metric_blocks_logging.KEEP_EVERY = every
        folder = Path(tempfile.mkdtemp(dir=CACHE))
        store = SqlTrackingStore(f"sqlite:///{folder / 'logged.db'}", str(folder / "artifacts"))
        run_id = store.create_run("0", "bench", T0, [], "logged").info.run_id
        wall, cpu = time.perf_counter(), time.process_time()
        for first in range(0, n, 1000):
            store.log_batch(run_id, [Metric(KEY, math.exp(-s / n * 5) + (s % 7) / 100, T0 + s * 10, s)
                                     for s in range(first, min(n, first + 1000))], [], [])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{n:,} points, {label}: log_batch x {n // 1000:,} {wall:,.1f} s wall, {cpu:,.1f} s CPU "
              "(process, background thread included)")
        tail = time.perf_counter()
        metric_blocks_worker.wait_idle(3600)
        print(f"  background work left after the last log_batch: {time.perf_counter() - tail:,.2f} s")
        _first_reduce(store, run_id)
        metric_blocks_worker.wait_idle(3600)
        store.engine.dispose()
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()
    metric_blocks_logging.KEEP_EVERY = default


def upgrade(n: int) -> None:
    from fluvial.store.tracking.sql import metric_blocks
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    db = CACHE / f"metric-history-{n}.db"
    if not db.exists():
        log(f"seeding {n:,} points into {db} (once; cached, shared with bench.metric_history)")
        _seed(db, n)
    _drop_summaries(db)
    store = SqlTrackingStore(f"sqlite:///{db}", tempfile.mkdtemp())
    wall, cpu = time.perf_counter(), time.process_time()
    kept = metric_blocks.keep_long_series(store.engine, progress=log)
    print(f"{n:,} points: db upgrade's summaries of {kept} series {time.perf_counter() - wall:,.1f} s wall, "
          f"{time.process_time() - cpu:,.1f} s CPU")
    _first_reduce(store, RUN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logged", type=int, default=0, help="points to log through log_batch")
    parser.add_argument("--keep-every", type=int, default=0, help="points between two refreshes (default: fluvial's)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pass with log-time summaries off")
    parser.add_argument("--upgrade", type=int, default=0, help="points of the cached seeded database")
    args = parser.parse_args(argv)
    CACHE.mkdir(exist_ok=True)
    if args.logged:
        logged(args.logged, args.keep_every or None, not args.no_baseline)
    if args.upgrade:
        upgrade(args.upgrade)
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
