"""A database's schema as plain data (tables, columns, keys, indexes, checks), to compare two databases."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa


def _text(value: Any) -> str | None:
    return None if value is None else re.sub(r"\s+", " ", str(value)).strip().lower()


def describe(uri: str, tables: set[str] | None = None) -> dict[str, Any]:
    engine = sa.create_engine(uri)
    try:
        inspector = sa.inspect(engine)
        out: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            if tables is not None and table not in tables:
                continue
            pk = inspector.get_pk_constraint(table)
            out[table] = {
                "columns": [
                    (c["name"], _text(c["type"].compile(dialect=engine.dialect)), c["nullable"],
                     _text(c.get("default")))
                    for c in inspector.get_columns(table)
                ],
                "primary_key": (pk.get("name"), pk["constrained_columns"]),
                "foreign_keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
                     tuple(sorted((k, _text(v)) for k, v in (f.get("options") or {}).items())), f.get("name") or "")
                    for f in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
                ),
                "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
                "checks": sorted((c.get("name") or "", _text(c["sqltext"])) for c in inspector.get_check_constraints(table)),
            }
        return out
    finally:
        engine.dispose()


def rows(uri: str, tables: set[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (``alembic_version`` included), sorted."""
    engine = sa.create_engine(uri)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {
                t.name: sorted((tuple(r) for r in conn.execute(sa.select(t))), key=repr)
                for t in meta.sorted_tables
                if tables is None or t.name in tables
            }
    finally:
        engine.dispose()


def restricted_to(described: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """``described`` without what ``reference`` (MLflow's own database) lacks: fluvial's own tables
    (``fluvial_*``) and the extra indexes fluvial adds for its queries. Everything MLflow has is kept."""
    out: dict[str, Any] = {}
    for table, parts in described.items():
        if table not in reference:
            continue
        names = {index[0] for index in reference[table]["indexes"]}
        out[table] = {**parts, "indexes": [i for i in parts["indexes"] if i[0] in names]}
    return out
