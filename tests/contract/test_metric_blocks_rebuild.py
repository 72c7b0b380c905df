"""Reading a series' block summary while another connection rebuilds it (``metric_blocks.build``) on
PostgreSQL: every answer counts every logged point. The rebuild first deletes the old blocks and marks
the summary as building, then writes the new blocks in several transactions; a reader sees either the
old summary whole or the marker (and reduces from the raw points), never the blocks half gone, because
its statements share one snapshot (``engine.read_connection``)."""

from __future__ import annotations

import threading

import pytest

from fluvial.entities import Metric
from fluvial.store.tracking.sql import metric_blocks as mb
from fluvial.store.tracking.sql import metric_blocks_logging as mbl
from fluvial.store.tracking.sql import metric_blocks_worker as worker
from fluvial.store.tracking.sql.store import SqlTrackingStore

POINTS = 3_000
REBUILDS = 15
READS_PER_REBUILD = 2
MAX_READS = 5_000


@pytest.mark.postgres
def test_a_reader_never_sees_a_rebuild_half_done(postgres_uri, tmp_path, monkeypatch):
    monkeypatch.setattr(mb, "SUMMARY_FROM", 1)
    monkeypatch.setattr(mb, "POINTS_PER_BLOCK", 1)  # about 2 * POINTS block rows: a rebuild takes a while
    monkeypatch.setattr(mb, "FAN", 2)
    monkeypatch.setattr(mbl, "KEEP_EVERY", 10**9)  # only this test's thread builds
    store = SqlTrackingStore(postgres_uri, str(tmp_path / "artifacts"))
    run_id = store.create_run("0", "alice", 1_700_000_000_000, [], "rebuilt").info.run_id
    for first in range(0, POINTS, 1_000):
        store.log_batch(run_id, [Metric("m", float(i % 13), 1_000 + i, i) for i in range(first, first + 1_000)], [], [])
    mb.build(store.engine, run_id, "m", "step")
    done = threading.Event()
    read = threading.Semaphore(0)  # released after each read
    failures: list[BaseException] = []

    def rebuild() -> None:
        try:
            for _ in range(REBUILDS):
                for _ in range(READS_PER_REBUILD):  # paced by the reader (a rebuild hogs the GIL)
                    assert read.acquire(timeout=60), "the reader stopped"
                mb.build(store.engine, run_id, "m", "step")
        except BaseException as exc:  # shown by the assert below
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=rebuild)
    thread.start()
    seen: list[tuple[int, int]] = []
    try:
        for i in range(MAX_READS):
            if done.is_set():
                break
            if i % 10 == 0:  # every point, read through the summary's extent
                points, was_reduced, total = store.get_metric_history_reduced(run_id, "m", max_points=POINTS)
                seen.append((len(points), total))
            else:  # a reduced read: the points counted from the blocks
                points, was_reduced, total = store.get_metric_history_reduced(run_id, "m", max_points=40)
                seen.append((POINTS if was_reduced and points else 0, total))
            read.release()
    finally:
        thread.join(120)
    assert not thread.is_alive() and failures == []
    assert worker.wait_idle(60)
    assert len(seen) >= READS_PER_REBUILD * REBUILDS and [s for s in seen if s != (POINTS, POINTS)] == []
