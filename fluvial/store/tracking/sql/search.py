"""Compile a parsed search (``fluvial.search`` AST) into ONE SQLAlchemy Core SELECT for one page.

Filters become correlated ``EXISTS`` subqueries (a run lacking the key never matches, even for ``!=``);
ordering by a metric/param/tag LEFT OUTER JOINs that key. Every order term is preceded by a CASE key
that sorts missing values (and NaN metrics) last in both directions, which works on every dialect.

String matching has the same meaning on every dialect (see :class:`StringMatch`): ``=``/``!=``/``LIKE``
are case-sensitive, ``ILIKE`` is case-insensitive, ``%``/``_`` are the wildcards and a backslash escapes
the next character. The helpers :func:`comparison_clause`, :func:`string_match`, :func:`order_terms`
and :func:`key_value_exists` are meant for reuse by the registry search.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from fluvial.entities.enums import LifecycleStage
from fluvial.exceptions import InvalidParameterValue
from fluvial.search import (
    ATTRIBUTE,
    DATASET,
    LIST_COMPARATORS,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from fluvial.store.tracking.sql import schema

RUN_NAME_TAG = "mlflow.runName"
DATASET_CONTEXT_TAG = "mlflow.data.context"

_NUMERIC_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


# ---- string matching that means the same on every dialect ------------------------------------------


def normalize_like_pattern(pattern: str) -> str:
    """Escape a trailing lone backslash, which PostgreSQL rejects and SQLite would not match."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return pattern + "\\" if trailing % 2 else pattern


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (``%``, ``_``, backslash escapes) into an equivalent SQLite GLOB."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            literal = pattern[i + 1]
            i += 2
        elif ch == "%":
            out.append("*")
            i += 1
            continue
        elif ch == "_":
            out.append("?")
            i += 1
            continue
        else:
            literal = ch
            i += 1
        out.append(f"[{literal}]" if literal in "*?[" else literal)
    return "".join(out)


def like_to_regex(pattern: str) -> str:
    """The same LIKE pattern as a Python regular expression for ``re.fullmatch`` (with ``re.DOTALL``), for
    matching in memory what the databases match in SQL."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return "".join(out)


class StringMatch(ColumnElement[bool]):
    """``column <op> value`` for op in ``=``, ``!=``, ``LIKE``, ``ILIKE``, rendered per dialect."""

    __visit_name__ = "fluvial_string_match"
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("value", InternalTraversal.dp_clauseelement),
        ("glob", InternalTraversal.dp_clauseelement),
        ("match_op", InternalTraversal.dp_string),
    ]
    type = sa.Boolean()
    _is_implicitly_boolean = True  # no "= 1" suffix on dialects without a native boolean

    def __init__(self, column: ColumnElement[Any], op: str, value: str) -> None:
        if op not in ("=", "!=", "LIKE", "ILIKE"):
            raise ValueError(f"unsupported string comparator {op!r}")
        if op in ("LIKE", "ILIKE"):
            value = normalize_like_pattern(value)
        self.column = column
        self.match_op = op
        self.value = sa.bindparam(None, value, type_=sa.String())
        self.glob = sa.bindparam(None, like_to_glob(value) if op == "LIKE" else "", type_=sa.String())


def _parts(element: StringMatch, compiler: SQLCompiler, kw: dict[str, Any]) -> tuple[str, str]:
    return compiler.process(element.column, **kw), compiler.process(element.value, **kw)


@compiles(StringMatch)
def _compile_default(element: StringMatch, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL and standard SQL: = and LIKE are case-sensitive; backslash is LIKE's escape.
    if element.match_op == "ILIKE":
        col, val = _parts(element, compiler, kw)
        return f"lower({col}) LIKE lower({val})"
    col, val = _parts(element, compiler, kw)
    return f"{col} {element.match_op} {val}"


@compiles(StringMatch, "postgresql")
def _compile_postgresql(element: StringMatch, compiler: SQLCompiler, **kw: Any) -> str:
    col, val = _parts(element, compiler, kw)
    return f"{col} {element.match_op} {val}"


@compiles(StringMatch, "sqlite")
def _compile_sqlite(element: StringMatch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's LIKE ignores ASCII case: use GLOB (case-sensitive) with the translated pattern.
    if element.match_op == "LIKE":
        col = compiler.process(element.column, **kw)
        return f"{col} GLOB {compiler.process(element.glob, **kw)}"
    col, val = _parts(element, compiler, kw)
    if element.match_op == "ILIKE":
        return f"lower({col}) LIKE lower({val}) ESCAPE '\\'"
    return f"{col} {element.match_op} {val}"


@compiles(StringMatch, "mysql")
def _compile_mysql(element: StringMatch, compiler: SQLCompiler, **kw: Any) -> str:
    # MySQL's default collations ignore case: compare as binary strings.
    col, val = _parts(element, compiler, kw)
    if element.match_op == "ILIKE":
        return f"lower({col}) LIKE lower({val})"
    return f"{col} {element.match_op} BINARY {val}"


def string_match(column: ColumnElement[Any], op: str, value: str) -> ColumnElement[bool]:
    """A dialect-correct string comparison (``=``, ``!=``, ``LIKE``, ``ILIKE``)."""
    return StringMatch(column, op, value)


def comparison_clause(column: ColumnElement[Any], comparator: str, value: Any) -> ColumnElement[bool]:
    """One AST comparison on ``column``: IN/NOT IN lists, string matches, or numeric comparisons."""
    if comparator in LIST_COMPARATORS:
        values = list(value)
        return column.in_(values) if comparator == "IN" else column.not_in(values)
    if isinstance(value, str):
        return string_match(column, comparator, value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        value = float(value)  # beyond BIGINT: compare as a double instead of overflowing the driver
    if isinstance(value, float) and math.isinf(value):
        # Stored numbers are finite (infinities are kept as the largest doubles), so a comparison with
        # an infinity is decided here; MySQL could not even bind one.
        true_ops = ("<", "<=", "!=") if value > 0 else (">", ">=", "!=")
        return column.is_not(None) if comparator in true_ops else sa.false()
    bound = sa.literal(value, sa.Float()) if isinstance(value, float) else sa.literal(value, sa.BigInteger())
    return _NUMERIC_OPS[comparator](column, bound)  # type: ignore[no-any-return]


def key_value_exists(
    table: sa.Table, owner: Iterable[ColumnElement[bool]], key: str, value_clause: ColumnElement[bool],
    correlate: sa.Table,
) -> ColumnElement[bool]:
    """``EXISTS (SELECT 1 FROM table WHERE <owner> AND table.key = key AND <value_clause>)``."""
    return (
        sa.select(sa.literal(1))
        .select_from(table)
        .where(*owner, string_match(table.c.key, "=", key), value_clause)
        .correlate(correlate)
        .exists()
    )


def order_terms(
    column: ColumnElement[Any], ascending: bool, is_nan: ColumnElement[Any] | None = None
) -> list[ColumnElement[Any]]:
    """ORDER BY terms that sort NULLs (and NaN metrics, after real values) last in both directions."""
    if is_nan is not None:
        flag = sa.case((is_nan == sa.true(), 1), (column.is_(None), 2), else_=0)
    else:
        flag = sa.case((column.is_(None), 1), else_=0)
    return [flag.asc(), column.asc() if ascending else column.desc()]


def lifecycle_stages(view_type: int) -> list[str]:
    try:
        return LifecycleStage.view_type_to_stages(view_type)
    except ValueError:
        raise InvalidParameterValue(f"Invalid view type '{view_type}'") from None


def _int_ids(ids: Sequence[Any]) -> list[int]:
    out: list[int] = []
    for value in ids:
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue  # a non-numeric id matches no SQL experiment
    return out


# ---- runs -----------------------------------------------------------------------------------------

_RUN_ATTRIBUTES = {
    "run_id": schema.runs.c.run_uuid,
    "run_name": schema.runs.c.name,
    "status": schema.runs.c.status,
    "user_id": schema.runs.c.user_id,
    "artifact_uri": schema.runs.c.artifact_uri,
    "start_time": schema.runs.c.start_time,
    "end_time": schema.runs.c.end_time,
}
_RUN_KEYED = {METRIC: schema.latest_metrics, PARAM: schema.params, TAG: schema.tags}


def _dataset_filter(c: Comparison) -> ColumnElement[bool]:
    runs, inputs, datasets, input_tags = schema.runs, schema.inputs, schema.datasets, schema.input_tags
    where: list[ColumnElement[bool]] = [
        inputs.c.destination_id == runs.c.run_uuid,
        inputs.c.destination_type == "RUN",
        inputs.c.source_type == "DATASET",
        datasets.c.dataset_uuid == inputs.c.source_id,
    ]
    if c.key == "context":
        where += [
            input_tags.c.input_uuid == inputs.c.input_uuid,
            input_tags.c.name == DATASET_CONTEXT_TAG,
            comparison_clause(input_tags.c.value, c.comparator, c.value),
        ]
    else:
        where.append(comparison_clause(datasets.c[c.key], c.comparator, c.value))
    return sa.select(sa.literal(1)).where(*where).correlate(runs).exists()


def run_filter_clause(c: Comparison) -> ColumnElement[bool]:
    """The WHERE clause for one comparison of a run search."""
    runs = schema.runs
    if c.entity == ATTRIBUTE:
        if c.key == "run_name":  # like MLflow: the name lives in the mlflow.runName tag
            tags = schema.tags
            value = comparison_clause(tags.c.value, c.comparator, c.value)
            return key_value_exists(tags, [tags.c.run_uuid == runs.c.run_uuid], RUN_NAME_TAG, value, runs)
        return comparison_clause(_RUN_ATTRIBUTES[c.key], c.comparator, c.value)
    if c.entity == DATASET:
        return _dataset_filter(c)
    table = _RUN_KEYED[c.entity]
    owner: list[ColumnElement[bool]] = [table.c.run_uuid == runs.c.run_uuid]
    if c.entity == METRIC:
        owner.append(table.c.is_nan == sa.false())  # NaN never matches a numeric comparison
        value_clause = comparison_clause(table.c.value, c.comparator, float(c.value))  # type: ignore[arg-type]
    else:
        value_clause = comparison_clause(table.c.value, c.comparator, c.value)
    return key_value_exists(table, owner, c.key, value_clause, runs)


def runs_where(
    experiment_ids: Sequence[str], filter_string: str | None, run_view_type: int
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a run search (experiments, lifecycle stages, the filter's comparisons)."""
    runs = schema.runs
    stages = lifecycle_stages(run_view_type)
    where: list[ColumnElement[bool]] = [runs.c.experiment_id.in_(_int_ids(experiment_ids))]
    if len(stages) < 2:  # run_view_type=ALL: no condition at all, so the index serves the order alone
        where.append(runs.c.lifecycle_stage.in_(stages))
    return where + [run_filter_clause(c) for c in parse_filter(filter_string, "runs")]


def build_count_query(
    experiment_ids: Sequence[str], filter_string: str | None, run_view_type: int
) -> sa.Select[Any]:
    """``SELECT count(*)`` of the runs a search with these arguments would return."""
    return sa.select(sa.func.count()).select_from(schema.runs).where(
        *runs_where(experiment_ids, filter_string, run_view_type)
    )


def build_runs_query(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    run_view_type: int,
    order_by: Sequence[str] | None,
    max_results: int | None,
    offset: int,
) -> sa.Select[Any]:
    """One page of a run search: all columns of ``runs``, filtered, ordered, LIMIT/OFFSET applied."""
    runs = schema.runs
    where = runs_where(experiment_ids, filter_string, run_view_type)
    keys = parse_order_by(order_by, "runs")

    source: sa.FromClause = runs
    ordering: list[ColumnElement[Any]] = []
    for n, key in enumerate(keys):
        if key.entity == ATTRIBUTE:
            ordering += order_terms(_RUN_ATTRIBUTES[key.key], key.ascending)
            continue
        joined = _RUN_KEYED[key.entity].alias(f"order_{n}")
        source = source.outerjoin(
            joined, sa.and_(joined.c.run_uuid == runs.c.run_uuid, string_match(joined.c.key, "=", key.key))
        )
        is_nan = joined.c.is_nan if key.entity == METRIC else None
        ordering += order_terms(joined.c.value, key.ascending, is_nan)
    if not any(k.entity == ATTRIBUTE and k.key == "start_time" for k in keys):
        ordering += order_terms(runs.c.start_time, ascending=False)
    ordering.append(runs.c.run_uuid.asc())

    stmt = sa.select(runs).select_from(source).where(*where).order_by(*ordering)
    if max_results is not None:
        stmt = stmt.limit(max_results)
    return stmt.offset(offset) if offset else stmt


# ---- experiments ----------------------------------------------------------------------------------

_DEFAULT_EXPERIMENT_ORDER = [OrderKey(ATTRIBUTE, "creation_time", False), OrderKey(ATTRIBUTE, "experiment_id", True)]


def experiment_filter_clause(c: Comparison) -> ColumnElement[bool]:
    """The WHERE clause for one comparison of an experiment search."""
    experiments, tags = schema.experiments, schema.experiment_tags
    if c.entity == ATTRIBUTE:
        return comparison_clause(experiments.c[c.key], c.comparator, c.value)
    value = comparison_clause(tags.c.value, c.comparator, c.value)
    owner = [tags.c.experiment_id == experiments.c.experiment_id]
    return key_value_exists(tags, owner, c.key, value, experiments)


def build_experiments_query(
    filter_string: str | None,
    view_type: int,
    order_by: Sequence[str] | None,
    max_results: int | None,
    offset: int,
) -> sa.Select[Any]:
    """Experiments matching the filter, ordered (default ``creation_time DESC, experiment_id ASC``).

    The caller picks the limit (e.g. ``max_results + 1`` to learn whether another page exists).
    """
    experiments = schema.experiments
    comparisons = parse_filter(filter_string, "experiments")
    keys = parse_order_by(order_by, "experiments") or _DEFAULT_EXPERIMENT_ORDER
    where: list[ColumnElement[bool]] = [experiments.c.lifecycle_stage.in_(lifecycle_stages(view_type))]
    where += [experiment_filter_clause(c) for c in comparisons]
    ordering: list[ColumnElement[Any]] = []
    for key in keys:
        ordering += order_terms(experiments.c[key.key], key.ascending)
    if not any(k.key == "experiment_id" for k in keys):
        ordering.append(experiments.c.experiment_id.desc())
    stmt = sa.select(experiments).where(*where).order_by(*ordering)
    if max_results is not None:
        stmt = stmt.limit(max_results)
    return stmt.offset(offset) if offset else stmt
