"""Per-block min/max summaries of long metric histories, so ``get_metric_history_reduced`` on a metric
with 10,000,000 points reads a few thousand summary rows instead of every point.

For one (run, key, axis) the axis (``step`` or ``timestamp``) is cut into level-0 blocks of ``base``
consecutive x values (block ``j`` holds ``j * base <= x < (j + 1) * base``); level ``L`` blocks join
``FAN`` blocks of level ``L - 1``. Each block row keeps its point count, its first and last x, its
lowest and highest point (NaN aside; ties go to the first point in x order, as in
``fluvial.search.downsample``) or, for a block of only NaN, its first point in both slots. The reader
(``metric_blocks_read.py``) covers each bucket with the largest whole blocks inside it and reads raw
points only for the pieces at the bucket edges that no block fits in.

Summaries are built in the background (``metric_blocks_worker.py``): while a series is logged through
fluvial (every few thousand points, ``metric_blocks_logging.py``), by ``fluvial db upgrade`` for long
series already in the database, and after the first reduced read of a long series that has none (which
answers from the raw points). A series that grows at the same density is extended, never rebuilt. They
are kept right whoever writes: on SQLite every inserted row gets a rowid above the summary's watermark (the
largest rowid when it was last refreshed), so the reader finds new points with one rowid range scan and
refreshes only the blocks they fall in; deletes and updates of ``metrics`` (rare: ``gc``) bump a
generation counter by trigger, which makes every summary rebuild. On PostgreSQL statement-level
triggers record, for series that have a summary, the x range that an INSERT, UPDATE or DELETE touched,
and the reader refreshes those blocks. So MLflow's own writes keep the answers right. Every table and
trigger is ``fluvial_``-prefixed; MLflow 2.22.5 never looks at them. MySQL reduces from the raw points.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from fluvial.store.tracking.sql import schema as s

FAN = 4
POINTS_PER_BLOCK = 16
SUMMARY_FROM = 20_000  # a series with fewer points is reduced from its raw points (fast enough)
LEVEL0_CHUNK = 8_192  # level-0 blocks per aggregate statement of a build (about 130,000 points)
REBUILD_GROWTH = 4  # a series whose density changed this many times since its build is rebuilt (new block size)
AXES = {"step": 0, "timestamp": 1}
SETS, BLOCKS, DIRTY, GENERATION = (
    "fluvial_metric_block_sets", "fluvial_metric_blocks", "fluvial_metric_blocks_dirty",
    "fluvial_metric_blocks_generation")
DIALECTS = ("sqlite", "postgresql")
# a block row: level, block, n, x_first, x_last, then the low and the high point as (x, other, nan, value)
BLOCK_COLUMNS = ("level", "block", "n", "x_first", "x_last", "lo_x", "lo_other", "lo_nan", "lo_value",
                 "hi_x", "hi_other", "hi_nan", "hi_value")

_TABLES = [
    f"CREATE TABLE IF NOT EXISTS {SETS} (run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, "
    "axis SMALLINT NOT NULL, base BIGINT NOT NULL, levels INTEGER NOT NULL, built_n BIGINT NOT NULL, "
    "mark BIGINT NOT NULL, generation BIGINT NOT NULL, building_since BIGINT, PRIMARY KEY (run_uuid, key, axis))",
    f"CREATE TABLE IF NOT EXISTS {BLOCKS} (run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, "
    "axis SMALLINT NOT NULL, level SMALLINT NOT NULL, block BIGINT NOT NULL, n BIGINT NOT NULL, "
    "x_first BIGINT NOT NULL, x_last BIGINT NOT NULL, lo_x BIGINT NOT NULL, lo_other BIGINT NOT NULL, "
    "lo_nan SMALLINT NOT NULL, lo_value DOUBLE PRECISION NOT NULL, hi_x BIGINT NOT NULL, "
    "hi_other BIGINT NOT NULL, hi_nan SMALLINT NOT NULL, hi_value DOUBLE PRECISION NOT NULL, "
    "PRIMARY KEY (run_uuid, key, axis, level, block))",
]
_SQLITE_DDL = [
    f"CREATE TABLE IF NOT EXISTS {GENERATION} (id INTEGER PRIMARY KEY, g BIGINT NOT NULL)",
    f"INSERT OR IGNORE INTO {GENERATION} (id, g) VALUES (1, 0)",
    f"CREATE TRIGGER IF NOT EXISTS fluvial_metric_blocks_delete AFTER DELETE ON metrics "
    f"BEGIN UPDATE {GENERATION} SET g = g + 1 WHERE id = 1; END",
    f"CREATE TRIGGER IF NOT EXISTS fluvial_metric_blocks_update AFTER UPDATE ON metrics "
    f"BEGIN UPDATE {GENERATION} SET g = g + 1 WHERE id = 1; END",
]


def _pg_dirty(rows: str) -> str:
    x = "CASE WHEN s.axis = 0 THEN r.step ELSE r.timestamp END"
    return (f"INSERT INTO {DIRTY} (run_uuid, key, axis, x_lo, x_hi) SELECT s.run_uuid, s.key, s.axis, "
            f"min({x}), max({x}) FROM {rows} r JOIN {SETS} s ON s.run_uuid = r.run_uuid AND s.key = r.key "
            "GROUP BY s.run_uuid, s.key, s.axis")


_PG_DDL = [
    f"CREATE TABLE IF NOT EXISTS {DIRTY} (run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, "
    "axis SMALLINT NOT NULL, x_lo BIGINT NOT NULL, x_hi BIGINT NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS fluvial_metric_blocks_dirty_series ON {DIRTY} (run_uuid, key, axis)",
    f"""CREATE OR REPLACE FUNCTION fluvial_metric_blocks_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN {_pg_dirty("fluvial_new_rows")}; END IF;
  IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN {_pg_dirty("fluvial_old_rows")}; END IF;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS fluvial_metric_blocks_insert ON metrics",
    "DROP TRIGGER IF EXISTS fluvial_metric_blocks_delete ON metrics",
    "DROP TRIGGER IF EXISTS fluvial_metric_blocks_update ON metrics",
    "CREATE TRIGGER fluvial_metric_blocks_insert AFTER INSERT ON metrics REFERENCING NEW TABLE AS "
    "fluvial_new_rows FOR EACH STATEMENT EXECUTE FUNCTION fluvial_metric_blocks_dirty()",
    "CREATE TRIGGER fluvial_metric_blocks_delete AFTER DELETE ON metrics REFERENCING OLD TABLE AS "
    "fluvial_old_rows FOR EACH STATEMENT EXECUTE FUNCTION fluvial_metric_blocks_dirty()",
    "CREATE TRIGGER fluvial_metric_blocks_update AFTER UPDATE ON metrics REFERENCING OLD TABLE AS "
    "fluvial_old_rows NEW TABLE AS fluvial_new_rows FOR EACH STATEMENT EXECUTE FUNCTION fluvial_metric_blocks_dirty()",
]


def floor_div(x: Any, width: int) -> Any:
    """``floor(x / width)`` for a SQL integer expression (SQL's integer division truncates toward 0)."""
    return sa.case((x >= 0, x // width), else_=(x + 1) // width - 1)


# ---- merging block rows (also used by the reader for buckets) --------------------------------------

def merge(items: Iterable[Sequence[Any]]) -> list[Any] | None:
    """One summary (n, x_first, x_last, lo point, hi point) of several block-shaped tuples
    ``(n, x_first, x_last, lo_x, lo_other, lo_nan, lo_value, hi_x, hi_other, hi_nan, hi_value)``."""
    n = 0
    first = last = None
    lo: Any = None
    hi: Any = None
    nan_first: Any = None
    for it in items:
        n += it[0]
        first = it[1] if first is None or it[1] < first else first
        last = it[2] if last is None or it[2] > last else last
        if it[5]:  # the block holds only NaN: its first point stands in both slots
            cand = (it[3], it[4])
            if nan_first is None or cand < nan_first[0]:
                nan_first = (cand, it[3:7])
            continue
        low = (it[6], it[3], it[4])
        if lo is None or low < lo[0]:
            lo = (low, it[3:7])
        high = (-it[10], it[7], it[8])
        if hi is None or high < hi[0]:
            hi = (high, it[7:11])
    if first is None:
        return None
    if lo is None:
        assert nan_first is not None
        return [n, first, last, *nan_first[1], *nan_first[1]]
    return [n, first, last, *lo[1], *hi[1]]


# ---- building and refreshing -----------------------------------------------------------------------

def tables_exist(conn: sa.Connection) -> bool:
    if conn.dialect.name == "sqlite":
        query = f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{SETS}'"
    else:
        query = f"SELECT to_regclass('{SETS}') IS NOT NULL"
    return bool(conn.exec_driver_sql(query).scalar())


def ensure_tables(conn: sa.Connection) -> None:
    """The summary tables and their invalidation triggers, created together in one transaction."""
    if tables_exist(conn):
        return
    for ddl in _TABLES:  # on SQLite the rows live in their primary key's b-tree (one read per range)
        conn.exec_driver_sql(ddl + (" WITHOUT ROWID" if conn.dialect.name == "sqlite" else ""))
    for ddl in (_SQLITE_DDL if conn.dialect.name == "sqlite" else _PG_DDL):
        conn.exec_driver_sql(ddl)


def generation(conn: sa.Connection) -> int:
    if conn.dialect.name != "sqlite":
        return 0
    return int(conn.exec_driver_sql(f"SELECT g FROM {GENERATION} WHERE id = 1").scalar() or 0)


def rowid_mark(conn: sa.Connection) -> int:
    if conn.dialect.name != "sqlite":
        return 0
    return int(conn.exec_driver_sql("SELECT max(rowid) FROM metrics").scalar() or 0)


def driver_sql(conn: sa.Connection, sql: str) -> str:
    """``?`` placeholders in the driver's own style (sqlite3: ``?``, psycopg: ``%s``)."""
    return sql if conn.dialect.name == "sqlite" else sql.replace("?", "%s")


def _level0(conn: sa.Connection, run_id: str, key: str, x_axis: str, base: int, b_from: int,
            b_to: int) -> Iterator[list[Any]]:
    """Level-0 block rows for blocks ``b_from..b_to`` in block order, ``LEVEL0_CHUNK`` blocks per
    statement: the database groups the points by block (count, first and last x, lowest and highest
    value, NaN aside) and returns only the rows holding a block's extreme value (every row of a block of
    only NaN); of those the first in (x, other) order wins, as in ``fluvial.search.downsample``."""
    other = "timestamp" if x_axis == "step" else "step"
    sql = driver_sql(conn, (
        f"WITH e AS (SELECT ({x_axis} - ?) / ? AS b, count(*) AS n, min({x_axis}) AS xf, max({x_axis}) AS xl, "
        "min(CASE WHEN is_nan THEN NULL ELSE value END) AS vmin, max(CASE WHEN is_nan THEN NULL ELSE value END) AS vmax "
        f"FROM metrics WHERE run_uuid = ? AND key = ? AND {x_axis} BETWEEN ? AND ? GROUP BY 1) "
        f"SELECT e.b, e.n, e.xf, e.xl, e.vmin, e.vmax, m.{x_axis}, m.{other}, m.value FROM metrics m "
        f"JOIN e ON e.b = (m.{x_axis} - ?) / ? WHERE m.run_uuid = ? AND m.key = ? AND m.{x_axis} BETWEEN ? AND ? "
        "AND (e.vmin IS NULL OR (m.is_nan = ? AND (m.value = e.vmin OR m.value = e.vmax)))"))
    for c_from in range(b_from, b_to + 1, LEVEL0_CHUNK):
        c_to = min(b_to, c_from + LEVEL0_CHUNK - 1)
        x_lo, x_hi = c_from * base, (c_to + 1) * base - 1  # x - x_lo >= 0: the division is the floor
        where = (run_id, key, x_lo, x_hi)
        blocks: dict[int, list[Any]] = {}
        for b, n, xf, xl, vmin, vmax, x, o, v in conn.exec_driver_sql(
                sql, (x_lo, base, *where, x_lo, base, *where, False)):
            slot = blocks.get(b)
            if slot is None:
                slot = blocks[b] = [n, xf, xl, None, None]
            if vmin is None:  # only NaN: its first point stands in both slots
                if slot[3] is None or (x, o) < slot[3][:2]:
                    slot[3] = slot[4] = (x, o, 1, 0.0)
                continue
            if v == vmin and (slot[3] is None or (x, o) < slot[3][:2]):
                slot[3] = (x, o, 0, v)
            if v == vmax and (slot[4] is None or (x, o) < slot[4][:2]):
                slot[4] = (x, o, 0, v)
        for b in sorted(blocks):
            n, xf, xl, lo, hi = blocks[b]
            yield [0, c_from + b, n, xf, xl, *lo, *hi]


def _store_blocks(conn: sa.Connection, series: dict[str, Any], level: int, b_from: int, b_to: int,
                  rows: Iterable[list[Any]]) -> None:
    where = ("run_uuid = :run_uuid AND key = :key AND axis = :axis AND level = :level "
             "AND block BETWEEN :b_from AND :b_to")
    conn.execute(sa.text(f"DELETE FROM {BLOCKS} WHERE {where}"),
                 {**series, "level": level, "b_from": b_from, "b_to": b_to})
    _insert_blocks(conn, series, rows)


def _insert_blocks(conn: sa.Connection, series: dict[str, Any], rows: Iterable[list[Any]]) -> None:
    sql = driver_sql(conn, f"INSERT INTO {BLOCKS} (run_uuid, key, axis, {', '.join(BLOCK_COLUMNS)}) "
                           f"VALUES ({', '.join('?' * (3 + len(BLOCK_COLUMNS)))})")
    head = (series["run_uuid"], series["key"], series["axis"])
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append((*head, *row))
        if len(batch) >= 10_000:
            conn.exec_driver_sql(sql, batch)
            batch = []
    if batch:
        conn.exec_driver_sql(sql, batch)


def _refresh_range(conn: sa.Connection, series: dict[str, Any], x_axis: str, base: int, levels: int,
                   x_lo: int, x_hi: int) -> None:
    """Recompute every block that may hold a point with ``x_lo <= x <= x_hi``, level by level."""
    b_from, b_to = x_lo // base, x_hi // base
    _store_blocks(conn, series, 0, b_from, b_to,
                  _level0(conn, series["run_uuid"], series["key"], x_axis, base, b_from, b_to))
    for level in range(1, levels + 1):
        b_from, b_to = _merge_level(conn, series, level, b_from, b_to)


def _merge_level(conn: sa.Connection, series: dict[str, Any], level: int, c_from: int,
                 c_to: int) -> tuple[int, int]:
    """Recompute the blocks of ``level`` above the blocks ``c_from..c_to`` of ``level - 1`` from all their
    children (read back from the table); returns the range of blocks recomputed."""
    b_from, b_to = c_from // FAN, c_to // FAN
    children = conn.execute(sa.text(
        f"SELECT block, {', '.join(BLOCK_COLUMNS[2:])} FROM {BLOCKS} WHERE run_uuid = :run_uuid AND key = :key "
        "AND axis = :axis AND level = :level AND block BETWEEN :c_from AND :c_to ORDER BY block"),
        {**series, "level": level - 1, "c_from": b_from * FAN, "c_to": b_to * FAN + FAN - 1}).all()
    groups: dict[int, list[Any]] = {}
    for child in children:
        groups.setdefault(child[0] // FAN, []).append(child[1:])
    rows = []
    for parent in sorted(groups):
        merged = merge(groups[parent])
        if merged is not None:
            rows.append([level, parent, *merged])
    _store_blocks(conn, series, level, b_from, b_to, rows)
    return b_from, b_to


def _all_levels(level0: Iterable[list[Any]], levels: int) -> Iterator[list[Any]]:
    """Every block row of every level from the level-0 rows in block order, streaming (each level
    holds at most ``FAN`` children at a time)."""
    pending: list[Any] = [None] * (levels + 2)
    out: list[list[Any]] = []

    def push(level: int, child: list[Any]) -> None:
        if level > levels:
            return
        parent = child[1] // FAN
        if pending[level] is not None and pending[level][0] != parent:
            flush(level)
        if pending[level] is None:
            pending[level] = (parent, [])
        pending[level][1].append(child[2:])

    def flush(level: int) -> None:
        parent, children = pending[level]
        pending[level] = None
        row = [level, parent, *(merge(children) or [])]
        out.append(row)
        push(level + 1, row)

    for row in level0:
        out.append(row)
        push(1, row)
        if len(out) >= 10_000:
            yield from out
            out.clear()
    for level in range(1, levels + 1):
        if pending[level] is not None:
            flush(level)
    yield from out


def building(row: Any) -> bool:
    """Whether another request is building this summary now (a build older than 15 minutes died)."""
    return row.building_since is not None and time.time() - row.building_since < 900


class BuildStopped(Exception):
    """A build given up half-way (its process is exiting); its rows are removed again."""


def build(engine: sa.Engine, run_id: str, key: str, x_axis: str, stop: Callable[[], bool] | None = None) -> None:
    """(Re)build the whole summary of one series without holding the write lock for long: a short
    transaction marks it as building (on PostgreSQL with inserts into ``metrics`` held off meanwhile,
    so every later insert records its range); the points are read in one snapshot (whose rowid mark
    and generation it keeps) and the blocks written in transactions of 10,000 rows; the last one
    makes the summary visible. Readers meanwhile reduce from the raw points. ``stop`` is asked between
    batches; when it answers True the build is given up (``BuildStopped``) and its rows removed."""
    from fluvial.store.tracking.sql.engine import read_connection, write_transaction

    series = {"run_uuid": run_id, "key": key, "axis": AXES[x_axis]}
    with write_transaction(engine) as conn:
        ensure_tables(conn)
        row = conn.execute(sa.text(f"SELECT building_since FROM {SETS} WHERE run_uuid = :run_uuid AND key = :key "
                                   "AND axis = :axis"), series).first()
        if row is not None and building(row):
            return
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE metrics IN SHARE ROW EXCLUSIVE MODE")
        _forget(conn, series)
        conn.execute(sa.text(f"INSERT INTO {SETS} (run_uuid, key, axis, base, levels, built_n, mark, generation, "
                             "building_since) VALUES (:run_uuid, :key, :axis, 1, 0, 0, 0, 0, :now)"),
                     {**series, "now": int(time.time())})
    try:
        with read_connection(engine) as snapshot:
            mark, gen = rowid_mark(snapshot), generation(snapshot)
            m = s.metrics
            x = m.c[x_axis]
            n, x_lo, x_hi = snapshot.execute(sa.select(sa.func.count(), sa.func.min(x), sa.func.max(x))
                                              .where(m.c.run_uuid == run_id, m.c.key == key)).one()
            base, levels = shape(n, int(x_lo or 0), int(x_hi or 0))
            rows = _all_levels(_level0(snapshot, run_id, key, x_axis, base, int(x_lo or 0) // base,
                                       int(x_hi or 0) // base), levels) if n else iter(())
            while True:
                batch = list(itertools.islice(rows, 10_000))
                if not batch:
                    break
                if stop is not None and stop():
                    raise BuildStopped(f"building the summary of {run_id}/{key} ({x_axis}) stopped")
                with write_transaction(engine) as conn:
                    _insert_blocks(conn, series, batch)
        with write_transaction(engine) as conn:
            conn.execute(sa.text(f"UPDATE {SETS} SET base = :base, levels = :levels, built_n = :n, mark = :mark, "
                                 "generation = :gen, building_since = NULL WHERE run_uuid = :run_uuid AND key = :key "
                                 "AND axis = :axis"),
                         {**series, "base": base, "levels": levels, "n": n, "mark": mark, "gen": gen})
    except BaseException:
        with write_transaction(engine) as conn:
            _forget(conn, series)
        raise


def _forget(conn: sa.Connection, series: dict[str, Any]) -> None:
    for table in (BLOCKS, SETS) + ((DIRTY,) if conn.dialect.name == "postgresql" else ()):
        conn.execute(sa.text(f"DELETE FROM {table} WHERE run_uuid = :run_uuid AND key = :key AND axis = :axis"),
                     series)


def refresh(conn: sa.Connection, run_id: str, key: str, x_axis: str) -> bool:
    """Bring one series' summary up to date inside a write transaction; False when it must be
    (re)built instead (``build``), True when done or being built by someone else."""
    if not tables_exist(conn):
        return False
    series = {"run_uuid": run_id, "key": key, "axis": AXES[x_axis]}
    row = conn.execute(sa.text(f"SELECT base, levels, built_n, mark, generation, building_since FROM {SETS} "
                               "WHERE run_uuid = :run_uuid AND key = :key AND axis = :axis"), series).first()
    if row is not None and building(row):
        return True
    if row is None or row.building_since is not None or row.generation != generation(conn):
        return False
    ranges: list[tuple[int, int]] = []
    if conn.dialect.name == "sqlite":
        mark = rowid_mark(conn)
        if mark > row.mark:
            m = s.metrics
            x = m.c[x_axis]
            count, x_lo, x_hi = conn.execute(
                sa.select(sa.func.count(), sa.func.min(x), sa.func.max(x))
                .where(sa.literal_column("metrics.rowid") > row.mark, m.c.run_uuid == run_id, m.c.key == key)).one()
            if count:
                ranges.append((int(x_lo), int(x_hi)))
            conn.execute(sa.text(f"UPDATE {SETS} SET mark = :mark WHERE run_uuid = :run_uuid AND key = :key "
                                 "AND axis = :axis"), {**series, "mark": mark})
    else:
        ranges = [(int(a), int(b)) for a, b in conn.execute(sa.text(
            f"DELETE FROM {DIRTY} WHERE run_uuid = :run_uuid AND key = :key AND axis = :axis RETURNING x_lo, x_hi"),
            series)]
    if not ranges:
        return True
    lo, hi = min(a for a, _ in ranges), max(b for _, b in ranges)
    if sum(b - a for a, b in ranges) < (hi - lo) // 2:
        for a, b in ranges:
            _refresh_range(conn, series, x_axis, row.base, row.levels, a, b)
    else:
        _refresh_range(conn, series, x_axis, row.base, row.levels, lo, hi)
    n, x_first, x_last = conn.execute(sa.text(
        f"SELECT sum(n), min(x_first), max(x_last) FROM {BLOCKS} WHERE run_uuid = :run_uuid AND key = :key "
        "AND axis = :axis AND level = :level"), {**series, "level": row.levels}).one()
    if not n:
        return True
    base, levels = shape(int(n), int(x_first), int(x_last))
    if not row.base / REBUILD_GROWTH <= base <= row.base * REBUILD_GROWTH:
        return False  # the block size no longer fits the density of the points: rebuild
    if levels > row.levels:  # the series grew at the same density: stack levels on the top one
        _add_levels(conn, series, row.levels, levels)
    return True


def shape(n: int, x_lo: int, x_hi: int) -> tuple[int, int]:
    """The level-0 block size and the number of levels above it for ``n`` points over ``[x_lo, x_hi]``:
    about ``POINTS_PER_BLOCK`` points a block, levels up to one block covering the whole span."""
    span = x_hi - x_lo + 1 if n else 1
    base = max(1, round(span / max(n, 1) * POINTS_PER_BLOCK))
    return base, max(0, math.ceil(math.log(max(1.0, span / base), FAN)))


def _add_levels(conn: sa.Connection, series: dict[str, Any], top: int, levels: int) -> None:
    """Levels ``top + 1 .. levels`` merged from the blocks of level ``top`` (a few hundred rows at most
    when a series grew by a few factors of ``FAN`` since its build)."""
    c_from, c_to = conn.execute(sa.text(
        f"SELECT min(block), max(block) FROM {BLOCKS} WHERE run_uuid = :run_uuid AND key = :key "
        "AND axis = :axis AND level = :level"), {**series, "level": top}).one()
    if c_from is not None:
        for level in range(top + 1, levels + 1):
            c_from, c_to = _merge_level(conn, series, level, int(c_from), int(c_to))
    conn.execute(sa.text(f"UPDATE {SETS} SET levels = :levels WHERE run_uuid = :run_uuid AND key = :key "
                         "AND axis = :axis"), {**series, "levels": levels})


def long_series(conn: sa.Connection, run_id: str, key: str) -> bool:
    """Whether the series holds at least ``SUMMARY_FROM`` points (a bounded probe)."""
    m = s.metrics
    probe = sa.select(sa.literal(1)).where(m.c.run_uuid == run_id, m.c.key == key).limit(SUMMARY_FROM).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(probe)).scalar() or 0) >= SUMMARY_FROM


def keep(engine: sa.Engine, run_id: str, key: str, x_axis: str, stop: Callable[[], bool] | None = None) -> None:
    """Bring one series' summary up to date: refresh the blocks its new points fall in, or (re)build it
    when it has none yet and holds at least ``SUMMARY_FROM`` points, or when it must be rebuilt."""
    from fluvial.store.tracking.sql.engine import write_transaction

    with write_transaction(engine) as conn:
        if refresh(conn, run_id, key, x_axis):
            return
        row = conn.execute(sa.text(f"SELECT 1 FROM {SETS} WHERE run_uuid = :r AND key = :k AND axis = :a"),
                           {"r": run_id, "k": key, "a": AXES[x_axis]}).first() if tables_exist(conn) else None
        if row is None and not long_series(conn, run_id, key):
            return
    build(engine, run_id, key, x_axis, stop)


def keep_long_series(engine: sa.Engine, progress: Callable[[str], None] | None = None) -> int:
    """Build (or bring up to date) the step-axis summary of every series with at least ``SUMMARY_FROM``
    points, largest first, telling ``progress`` about each; returns how many series were kept. One scan of
    the metrics index finds them (minutes on a database with hundreds of millions of points)."""
    from fluvial.store.tracking.sql.engine import read_connection

    if engine.dialect.name not in DIALECTS:
        return 0
    m = s.metrics
    with read_connection(engine) as conn:
        found = conn.execute(sa.select(m.c.run_uuid, m.c.key, sa.func.count().label("n"))
                             .group_by(m.c.run_uuid, m.c.key).having(sa.func.count() >= SUMMARY_FROM)
                             .order_by(sa.desc("n"))).all()
    for i, (run_id, key, n) in enumerate(found, 1):
        started = time.monotonic()
        keep(engine, run_id, key, "step")
        if progress is not None:
            progress(f"metric summary {i}/{len(found)}: run {run_id} {key!r} ({n:,} points) "
                     f"in {time.monotonic() - started:.1f} s")
    return len(found)
