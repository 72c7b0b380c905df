"""Dialect-aware statements the stores share: insert-or-ignore and upsert (ON CONFLICT on SQLite and
PostgreSQL, ON DUPLICATE KEY UPDATE on MySQL/MariaDB)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa


def _dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    elif name == "mysql":
        from sqlalchemy.dialects.mysql import insert  # type: ignore[assignment]
    else:
        return None
    return insert(table)


def insert_ignore(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, skipping those whose primary key already exists."""
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    if stmt is None:
        for row in rows:
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(table), row)
            except sa.exc.IntegrityError:
                pass
        return
    if conn.dialect.name == "mysql":
        # A no-op update on a duplicate key; INSERT IGNORE would also turn errors such as a value too
        # long for its column into warnings (and truncate the value).
        first = next(iter(table.primary_key.columns)).name
        stmt = stmt.on_duplicate_key_update({first: table.c[first]})
    else:
        stmt = stmt.on_conflict_do_nothing()
    conn.execute(stmt, list(rows))


def _greater(new: list[Any], old: list[Any]) -> Any:
    """SQL for the lexicographic comparison ``tuple(new) > tuple(old)``."""
    clause = new[-1] > old[-1]
    for n, o in zip(reversed(new[:-1]), reversed(old[:-1]), strict=False):
        clause = sa.or_(n > o, sa.and_(n == o, clause))
    return clause


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str],
    newer_by: Sequence[str] = (),
) -> None:
    """Insert rows or update the ``update`` columns of the row with the same ``keys``.

    With ``newer_by``, an existing row is only replaced when the incoming row is greater, comparing
    those columns lexicographically (the latest-metric rule); the database decides, in one statement.
    """
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    if stmt is not None and conn.dialect.name in ("sqlite", "postgresql"):
        excluded = stmt.excluded
        where = None
        if newer_by:
            where = _greater([excluded[c] for c in newer_by], [table.c[c] for c in newer_by])
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: excluded[c] for c in update}, where=where
        )
        conn.execute(stmt, list(rows))
        return
    if stmt is not None:  # MySQL
        conn.execute(_on_duplicate_key_update(stmt, table, update, newer_by), list(rows))
        return
    # Portable path (MSSQL): read-then-write inside the caller's transaction.
    for row in rows:
        cond = sa.and_(*[table.c[k] == row[k] for k in keys])
        existing = conn.execute(sa.select(table).where(cond)).mappings().first()
        if existing is None:
            conn.execute(sa.insert(table), row)
        elif not newer_by or tuple(row[c] for c in newer_by) > tuple(existing[c] for c in newer_by):
            conn.execute(sa.update(table).where(cond).values({c: row[c] for c in update}))


def _on_duplicate_key_update(stmt: Any, table: sa.Table, update: Sequence[str], newer_by: Sequence[str]) -> Any:
    """MySQL's upsert. Its assignments run left to right and each sees the columns assigned before it,
    so with ``newer_by`` every assignment repeats the whole comparison and they are ordered to keep it
    true: the other columns first, then the ``newer_by`` columns from the last to the first (once the
    later ones hold the new values, the comparison rests on the earlier ones, as it did at the start)."""
    new = stmt.inserted  # VALUES(column): the row that was to be inserted
    if not update:
        first = next(iter(table.primary_key.columns)).name
        return stmt.on_duplicate_key_update({first: table.c[first]})
    if not newer_by:
        return stmt.on_duplicate_key_update({c: new[c] for c in update})
    newer = _greater([new[c] for c in newer_by], [table.c[c] for c in newer_by])
    order = [c for c in update if c not in newer_by] + [c for c in reversed(newer_by) if c in update]
    return stmt.on_duplicate_key_update([(c, sa.case((newer, new[c]), else_=table.c[c])) for c in order])


class Prepared:
    """A Core statement compiled once per dialect and run on a DBAPI cursor with named parameters.

    Used on the hot paths only; everything else executes Core statements through a Connection.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}
        self._getters: dict[tuple[str, tuple[str, ...]], tuple[str, Callable[[tuple[Any, ...]], Any]]] = {}

    def _for(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup) if dialect.positional else None  # type: ignore[arg-type]
            found = self._compiled[dialect.name] = (compiled.string, order)
        return found

    def run_row(self, cursor: Any, dialect: sa.Dialect, row: tuple[Any, ...], columns: tuple[str, ...]) -> int:
        """Run with ``row``, a tuple of ``columns``' values, turned into the driver's parameters by a
        getter made once per dialect and column order (an ``itemgetter`` for positional drivers)."""
        sql, args = self.bound(dialect, columns)
        cursor.execute(sql, args(row))
        return cursor.rowcount

    def bound(self, dialect: sa.Dialect, columns: tuple[str, ...]) -> tuple[str, Callable[[tuple[Any, ...]], Any]]:
        """(the SQL, a function from a row of ``columns``' values to the driver's parameters), made once
        per dialect and column order: what a hot path keeps to run the statement without lookups."""
        key = (dialect.name, columns)
        found = self._getters.get(key)
        if found is None:
            sql, order = self._for(dialect)
            if order is None:
                found = (sql, lambda r: dict(zip(columns, r, strict=True)))
            else:
                indexes = [columns.index(name) for name in order]
                pick = itemgetter(*indexes)
                found = (sql, (lambda r: (pick(r),)) if len(indexes) == 1 else pick)
            self._getters[key] = found
        return found

    def executemany(
        self, cursor: Any, dialect: sa.Dialect, rows: Sequence[tuple[Any, ...]], columns: Sequence[str]
    ) -> None:
        """Run for each row, rows being tuples of ``columns``' values."""
        if not rows:
            return
        sql, order = self._for(dialect)
        if order is None:  # named parameters
            cursor.executemany(sql, [dict(zip(columns, row, strict=False)) for row in rows])
        elif tuple(order) == tuple(columns):
            cursor.executemany(sql, rows)
        else:  # reorder each row to the statement's parameter order, in C
            pick = itemgetter(*[list(columns).index(name) for name in order])
            cursor.executemany(sql, [pick(row) for row in rows])
