"""SQL for the registry: searches compiled from the shared grammar (``fluvial.search``) into one SELECT
per page, and rows loaded into entities with their tags, aliases and latest versions in bulk.

Filters reuse the tracking search's helpers (``comparison_clause``, ``key_value_exists``,
``order_terms``), so string matching means the same on every dialect. A model lacking a tag never
matches a comparison on that tag, except ``mlflow.prompt.is_prompt``, which counts as ``'false'`` when
absent (MLflow 2.22 stores prompts as registered models, and its clients filter them out with
``tags.`mlflow.prompt.is_prompt` != 'true'``). Prompts are left out unless the filter names that tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fluvial.entities import ModelVersion, RegisteredModel
from fluvial.entities.registry import STAGE_DELETED_INTERNAL, STAGE_NONE
from fluvial.search import ATTRIBUTE, TAG, Comparison, OrderKey, parse_filter, parse_order_by
from fluvial.store.registry.base import IS_PROMPT_TAG
from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.search import comparison_clause, key_value_exists, like_to_regex, order_terms

CHUNK = 300

_MODEL_COLUMNS = {"name": s.registered_models.c.name,
                  "last_updated_timestamp": s.registered_models.c.last_updated_time}
_VERSION_COLUMNS = {
    "name": s.model_versions.c.name,
    "run_id": s.model_versions.c.run_id,
    "source_path": s.model_versions.c.source,
    "version_number": s.model_versions.c.version,
    "creation_timestamp": s.model_versions.c.creation_time,
    "last_updated_timestamp": s.model_versions.c.last_updated_time,
}
_DEFAULT_VERSION_ORDER = [OrderKey(ATTRIBUTE, "last_updated_timestamp", False), OrderKey(ATTRIBUTE, "name", True),
                          OrderKey(ATTRIBUTE, "version_number", False)]


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ---- filters --------------------------------------------------------------------------------------
def text_matches(text: str, comparator: str, value: Any) -> bool:
    """Whether a literal string satisfies ``comparator value`` (the grammar's string semantics)."""
    if comparator == "=":
        return text == value
    if comparator == "!=":
        return text != value
    if comparator in ("LIKE", "ILIKE"):
        flags = re.IGNORECASE if comparator == "ILIKE" else 0
        return re.fullmatch(like_to_regex(str(value)), text, flags | re.DOTALL) is not None
    if comparator == "IN":
        return text in value
    return False


def _tag_clause(table: sa.Table, owner: list[ColumnElement[bool]], c: Comparison,
                correlate: sa.Table) -> ColumnElement[bool]:
    found = key_value_exists(table, owner, c.key, comparison_clause(table.c.value, c.comparator, c.value), correlate)
    if c.key == IS_PROMPT_TAG and text_matches("false", c.comparator, c.value):
        return sa.or_(found, ~key_value_exists(table, owner, c.key, sa.true(), correlate))
    return found


def _not_a_prompt(table: sa.Table, owner: list[ColumnElement[bool]], correlate: sa.Table) -> ColumnElement[bool]:
    return ~key_value_exists(table, owner, IS_PROMPT_TAG, table.c.value == "true", correlate)


def _names_prompt(comparisons: list[Comparison]) -> bool:
    return any(c.entity == TAG and c.key == IS_PROMPT_TAG for c in comparisons)


def _page(stmt: sa.Select[Any], ordering: list[ColumnElement[Any]], limit: int, offset: int) -> sa.Select[Any]:
    stmt = stmt.order_by(*ordering).limit(limit)
    return stmt.offset(offset) if offset else stmt


def registered_models_query(filter_string: str | None, order_by: Sequence[str] | None, limit: int,
                            offset: int) -> sa.Select[Any]:
    rm, tags = s.registered_models, s.registered_model_tags
    comparisons = parse_filter(filter_string, "registered_models")
    keys = parse_order_by(order_by, "registered_models")
    owner = [tags.c.name == rm.c.name]
    where: list[ColumnElement[bool]] = []
    for c in comparisons:
        if c.entity == ATTRIBUTE:
            where.append(comparison_clause(_MODEL_COLUMNS[c.key], c.comparator, c.value))
        else:
            where.append(_tag_clause(tags, owner, c, rm))
    if not _names_prompt(comparisons):
        where.append(_not_a_prompt(tags, owner, rm))
    ordering: list[ColumnElement[Any]] = []
    for key in keys:
        ordering += order_terms(_MODEL_COLUMNS[key.key], key.ascending)
    if not any(k.key == "name" for k in keys):
        ordering.append(rm.c.name.asc())
    return _page(sa.select(rm).where(*where), ordering, limit, offset)


def model_versions_query(filter_string: str | None, order_by: Sequence[str] | None, limit: int,
                         offset: int) -> sa.Select[Any]:
    mv, tags = s.model_versions, s.model_version_tags
    comparisons = parse_filter(filter_string, "model_versions")
    keys = parse_order_by(order_by, "model_versions") or _DEFAULT_VERSION_ORDER
    owner = [tags.c.name == mv.c.name, tags.c.version == mv.c.version]
    where: list[ColumnElement[bool]] = [mv.c.current_stage != STAGE_DELETED_INTERNAL]
    for c in comparisons:
        if c.entity == ATTRIBUTE:
            where.append(comparison_clause(_VERSION_COLUMNS[c.key], c.comparator, c.value))
        else:
            where.append(_tag_clause(tags, owner, c, mv))
    if not _names_prompt(comparisons):
        where.append(_not_a_prompt(tags, [tags.c.name == mv.c.name], mv))
    ordering: list[ColumnElement[Any]] = []
    for key in keys:
        ordering += order_terms(_VERSION_COLUMNS[key.key], key.ascending)
    names = {k.key for k in keys}
    if "name" not in names:
        ordering.append(mv.c.name.asc())
    if "version_number" not in names:
        ordering.append(mv.c.version.desc())
    return _page(sa.select(mv).where(*where), ordering, limit, offset)


# ---- loading --------------------------------------------------------------------------------------
def version_entity(row: Any, tags: dict[str, str] | None = None, aliases: list[str] | None = None) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=int(row.version),
        creation_timestamp=row.creation_time,
        last_updated_timestamp=row.last_updated_time,
        description=row.description,
        user_id=row.user_id,
        current_stage=row.current_stage or STAGE_NONE,
        source=row.source,
        run_id=row.run_id,
        status=row.status or "READY",
        status_message=row.status_message,
        tags=tags or {},
        run_link=row.run_link,
        aliases=aliases or [],
    )


def load_versions(conn: sa.Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    """Entities for model_versions rows, with their tags and aliases (a few queries per 300 rows)."""
    if not rows:
        return []
    t, a = s.model_version_tags, s.registered_model_aliases
    pairs = sorted({(r.name, int(r.version)) for r in rows})
    tags: dict[tuple[str, int], dict[str, str]] = {}
    for chunk in chunks(pairs):
        query = sa.select(t.c.name, t.c.version, t.c.key, t.c.value).where(
            sa.tuple_(t.c.name, t.c.version).in_(list(chunk))).order_by(t.c.key)
        for name, version, key, value in conn.execute(query):
            tags.setdefault((name, int(version)), {})[key] = value if value is not None else ""
    aliases: dict[tuple[str, int], list[str]] = {}
    names = sorted({p[0] for p in pairs})
    for chunk in chunks(names):
        query = sa.select(a.c.name, a.c.version, a.c.alias).where(a.c.name.in_(list(chunk))).order_by(a.c.alias)
        for row in conn.execute(query):
            aliases.setdefault((row[0], int(row[1])), []).append(str(row[2]))
    return [version_entity(r, tags.get((r.name, int(r.version))), aliases.get((r.name, int(r.version))))
            for r in rows]


def latest_version_rows(conn: sa.Connection, names: Sequence[str]) -> list[Any]:
    """The highest non-deleted version in each stage of each model in ``names``."""
    mv = s.model_versions
    out: list[Any] = []
    for chunk in chunks(list(names)):
        top = (
            sa.select(mv.c.name, mv.c.current_stage, sa.func.max(mv.c.version).label("top"))
            .where(mv.c.name.in_(list(chunk)), mv.c.current_stage != STAGE_DELETED_INTERNAL)
            .group_by(mv.c.name, mv.c.current_stage)
            .subquery()
        )
        query = (
            sa.select(mv)
            .join(top, sa.and_(mv.c.name == top.c.name, mv.c.version == top.c.top))
            .order_by(mv.c.name, mv.c.version)
        )
        out += conn.execute(query).all()
    return out


def load_models(conn: sa.Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    """Entities for registered_models rows with tags, aliases and latest versions per stage."""
    if not rows:
        return []
    t, a = s.registered_model_tags, s.registered_model_aliases
    names = [r.name for r in rows]
    tags: dict[str, dict[str, str]] = {}
    aliases: dict[str, dict[str, int]] = {}
    for chunk in chunks(names):
        for name, key, value in conn.execute(
            sa.select(t.c.name, t.c.key, t.c.value).where(t.c.name.in_(list(chunk))).order_by(t.c.key)
        ):
            tags.setdefault(name, {})[key] = value if value is not None else ""
        for name, alias, version in conn.execute(
            sa.select(a.c.name, a.c.alias, a.c.version).where(a.c.name.in_(list(chunk))).order_by(a.c.alias)
        ):
            aliases.setdefault(name, {})[alias] = int(version)
    latest: dict[str, list[ModelVersion]] = {}
    for version in load_versions(conn, latest_version_rows(conn, names)):
        latest.setdefault(version.name, []).append(version)
    return [
        RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            description=r.description,
            latest_versions=latest.get(r.name, []),
            tags=tags.get(r.name, {}),
            aliases=aliases.get(r.name, {}),
        )
        for r in rows
    ]
