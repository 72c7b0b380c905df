"""``get_metric_history_reduced`` from the block summaries of ``metric_blocks.py``: each bucket is
covered by the largest whole blocks inside it (at most ``FAN - 1`` per level on each side) plus the raw
points of the two edge pieces shorter than a level-0 block, so a 10,000,000-point series is reduced
from a few thousand rows. The answer is the one ``fluvial.search.downsample`` defines."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fluvial.entities import Metric
from fluvial.search.downsample import bucket_width, check_arguments, integer_bounds
from fluvial.store.tracking.sql import history, loading
from fluvial.store.tracking.sql import metric_blocks as mb
from fluvial.store.tracking.sql import schema as s

REFRESH = "refresh"  # the summary is missing or stale: refresh it in a write transaction, then ask again
CHUNK = 4_000  # VALUES rows per statement
STALE_ROWS = 100_000  # new rows of other series past the watermark worth a refresh (moves the watermark)
Answer = tuple[list[Metric], bool, int]


def _fresh(conn: sa.Connection, run_id: str, key: str, row: Any) -> bool:
    if conn.dialect.name == "sqlite":
        if row.generation != mb.generation(conn):
            return False
        mark = mb.rowid_mark(conn)
        if mark == row.mark:
            return True
        new = conn.exec_driver_sql("SELECT 1 FROM metrics WHERE rowid > ? AND run_uuid = ? AND key = ? LIMIT 1",
                                   (row.mark, run_id, key)).first()
        return new is None and mark - row.mark < STALE_ROWS
    dirty = conn.execute(sa.text(f"SELECT 1 FROM {mb.DIRTY} WHERE run_uuid = :r AND key = :k AND axis = :a LIMIT 1"),
                         {"r": run_id, "k": key, "a": row.axis}).first()
    return dirty is None


def cover(a: int, b: int, base: int, levels: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """``[a, b]`` as (level, first block, last block) ranges of whole blocks, largest first, and the
    raw x ranges left at its two ends."""
    pieces: list[tuple[int, int, int]] = []
    inner: tuple[int, int] | None = None
    for level in range(levels, -1, -1):
        size = base * mb.FAN ** level
        c, d = -(-a // size), (b + 1) // size - 1
        if c > d:
            continue
        if inner is None:
            pieces.append((level, c, d))
        else:
            if c <= inner[0] // size - 1:
                pieces.append((level, c, inner[0] // size - 1))
            if (inner[1] + 1) // size <= d:
                pieces.append((level, (inner[1] + 1) // size, d))
        inner = (c * size, (d + 1) * size - 1)
    if inner is None:
        return pieces, [(a, b)]
    return pieces, [r for r in ((a, inner[0] - 1), (inner[1] + 1, b)) if r[0] <= r[1]]


def _values(rows: list[tuple[int, ...]]) -> str:
    width = len(rows[0])
    template = "(" + ", ".join(["%d"] * width) + ")"
    return ", ".join([template % r for r in rows])


def _summaries(conn: sa.Connection, run_id: str, key: str, x_axis: str, row: Any, extent: tuple[int, int],
               buckets: list[tuple[int, int, int]]) -> dict[int, list[Any]]:
    """Per bucket ``(k, a, b)``: the block-shaped tuples (n, x_first, x_last, lo point, hi point) of
    its whole blocks and of each raw point at its edges."""
    block_ranges: list[tuple[int, ...]] = []
    raw_ranges: list[tuple[int, ...]] = []
    for k, a, b in buckets:
        a, b = max(a, extent[0]), min(b, extent[1])  # no point lies outside (keeps SQL integers in range)
        if a > b:
            continue
        pieces, raw = cover(a, b, row.base, row.levels)
        block_ranges += [(k, *p) for p in pieces]
        raw_ranges += [(k, *r) for r in raw]
    items: dict[int, list[Any]] = {}
    names = ", ".join(mb.BLOCK_COLUMNS[2:])
    other = "timestamp" if x_axis == "step" else "step"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for i in range(0, len(block_ranges), CHUNK):
            cursor.execute(mb.driver_sql(conn, (
                f"WITH q(k, lv, a, b) AS (VALUES {_values(block_ranges[i:i + CHUNK])}) SELECT q.k, {names} "
                f"FROM q CROSS JOIN {mb.BLOCKS} blk WHERE blk.run_uuid = ? AND blk.key = ? AND blk.axis = ? "
                "AND blk.level = q.lv AND blk.block BETWEEN q.a AND q.b")), (run_id, key, mb.AXES[x_axis]))
            for r in cursor.fetchall():
                items.setdefault(r[0], []).append(r[1:])
        for i in range(0, len(raw_ranges), CHUNK):
            cursor.execute(mb.driver_sql(conn, (
                f"WITH q(k, a, b) AS (VALUES {_values(raw_ranges[i:i + CHUNK])}) SELECT q.k, m.{x_axis}, "
                f"m.{other}, m.is_nan, m.value FROM q CROSS JOIN metrics m WHERE m.run_uuid = ? AND m.key = ? "
                f"AND m.{x_axis} BETWEEN q.a AND q.b")), (run_id, key))
            for k, x, o, nan, value in cursor.fetchall():
                point = (x, o, 1 if nan else 0, 0.0 if nan else float(value))
                items.setdefault(k, []).append((1, x, x, *point, *point))
    finally:
        cursor.close()
    return items


def _metric(key: str, x_axis: str, point: Any) -> Metric:
    x, other, nan, value = point
    step, timestamp = (x, other) if x_axis == "step" else (other, x)
    return Metric(key, loading.decode_metric_value(value, bool(nan)), int(timestamp), int(step))


def reduced(conn: sa.Connection, run_id: str, key: str, x_axis: str, start: float | None, end: float | None,
            max_points: int) -> Answer | str | None:
    """The reduced history from the summary; ``REFRESH`` when it must be built or refreshed first;
    None when this series (short) or database (MySQL) is reduced from the raw points."""
    if conn.dialect.name not in mb.DIALECTS:
        return None
    row = None
    if mb.tables_exist(conn):
        row = conn.execute(sa.text(f"SELECT axis, base, levels, built_n, mark, generation, building_since FROM {mb.SETS} "
                                   "WHERE run_uuid = :r AND key = :k AND axis = :a"),
                           {"r": run_id, "k": key, "a": mb.AXES[x_axis]}).first()
    if row is None:
        return REFRESH if mb.long_series(conn, run_id, key) else None
    if row.building_since is not None:  # being built by another request (or its build died)
        return None if mb.building(row) else REFRESH
    if not _fresh(conn, run_id, key, row):
        return REFRESH
    top = conn.execute(sa.text(f"SELECT min(x_first), max(x_last) FROM {mb.BLOCKS} WHERE run_uuid = :r AND key = :k "
                               "AND axis = :a AND level = :lv"),
                       {"r": run_id, "k": key, "a": mb.AXES[x_axis], "lv": row.levels}).one()
    if top[0] is None:
        return [], False, 0
    extent = (int(top[0]), int(top[1]))
    lo_bound, hi_bound = integer_bounds(start, end)
    lo = int(top[0]) if lo_bound is None else lo_bound
    hi = int(top[1]) if hi_bound is None else hi_bound
    if lo > hi:
        return [], False, 0
    whole = mb.merge(_summaries(conn, run_id, key, x_axis, row, extent, [(0, lo, hi)]).get(0, []))
    total = 0 if whole is None else int(whole[0])
    if total <= max_points:
        m = s.metrics
        x, other = m.c[x_axis], m.c["timestamp" if x_axis == "step" else "step"]
        points = conn.execute(sa.select(x, other, m.c.is_nan, m.c.value)
                              .where(m.c.run_uuid == run_id, m.c.key == key, x >= max(lo, extent[0]),
                                     x <= min(hi, extent[1]))
                              .order_by(x, other, m.c.is_nan, m.c.value)).all()
        return [_metric(key, x_axis, (px, po, nan, 0.0 if nan else value)) for px, po, nan, value in points], False, total
    assert whole is not None
    lo, hi = int(whole[1]) if lo_bound is None else lo, int(whole[2]) if hi_bound is None else hi
    width = bucket_width(lo, hi, max_points // 2)
    buckets = [(k, lo + k * width, min(hi, lo + (k + 1) * width - 1)) for k in range((hi - lo) // width + 1)]
    chosen: set[tuple[Any, ...]] = set()
    for items in _summaries(conn, run_id, key, x_axis, row, extent, buckets).values():
        merged = mb.merge(items)
        if merged is not None:
            chosen.add(tuple(merged[3:7]))
            chosen.add(tuple(merged[7:11]))
    ordered = sorted(chosen, key=lambda p: (p[0], p[1], p[2], p[3]))
    return [_metric(key, x_axis, p) for p in ordered], True, total


def reduce(engine: sa.Engine, run_id: str, key: str, x_axis: str, start: float | None, end: float | None,
           max_points: int) -> Answer:
    """``SqlTrackingStore.get_metric_history_reduced``: from the summary when the series is long
    (refreshing the blocks that new points fall in first), else from the raw points
    (``history.reduced``). A missing summary, or one that must be rebuilt, is built in the background
    (``metric_blocks_worker``) while this request answers from the raw points."""
    from fluvial.store.tracking.sql import metric_blocks_worker
    from fluvial.store.tracking.sql.engine import read_connection, write_transaction

    check_arguments(x_axis, start, end, max_points)
    for attempt in range(2):
        with read_connection(engine) as conn:
            answer = reduced(conn, run_id, key, x_axis, start, end, max_points)
            if answer is None or (isinstance(answer, str) and attempt):  # a writer got in between: raw
                return history.reduced(conn, run_id, key, x_axis, start, end, max_points)
            if not isinstance(answer, str):
                return answer
        with write_transaction(engine) as conn:
            done = mb.refresh(conn, run_id, key, x_axis)
        if not done:  # answer first: the build would compete with it for the GIL and the disk
            with read_connection(engine) as conn:
                raw = history.reduced(conn, run_id, key, x_axis, start, end, max_points)
            metric_blocks_worker.submit(engine, run_id, key, x_axis)
            return raw
    raise AssertionError("unreachable")
