"""One page of a run search planned so the database walks an index in the requested order and stops
after the page, at any size of experiment (SQLite and PostgreSQL; other dialects and MLflow-style
offset tokens use the general query of ``search.py``, which gives the same rows).

The order is ``<primary key>, <further attribute keys>, start_time DESC, run_uuid ASC`` with missing
values (and NaN metrics) last in both directions. Rows are read in *groups* of the primary key: 0 =
it has a value, 1 = NaN (metrics only), 2 = missing. Within a group the primary key is a plain column
(``runs.start_time``, or ``latest_metrics.value`` / ``params.value`` / ``tags.value`` of that key,
joined), so ``ORDER BY`` matches one of fluvial's indexes (``indexes.py``) and ``LIMIT`` stops the
walk. Filters stay correlated ``EXISTS`` checks on the rows walked, except that a filter matching few
runs (probed with a bounded count on its index) drives the query instead: its run ids are looked up
first and the page is sorted from those.

Page tokens are keyset tokens: the group and the sort key of the last row, so page 500 costs what
page 1 costs. Several experiments: one index walk per experiment, merged (``UNION ALL``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fluvial.exceptions import InvalidParameterValue
from fluvial.search import ATTRIBUTE, METRIC, PARAM, TAG, Comparison, OrderKey, parse_filter, parse_order_by
from fluvial.search.paging import encode_keyset_token
from fluvial.store.tracking.sql import schema
from fluvial.store.tracking.sql.indexes import PG_VALUE_PREFIX
from fluvial.store.tracking.sql.search import (
    _RUN_ATTRIBUTES,
    _int_ids,
    lifecycle_stages,
    run_filter_clause,
)

DIALECTS = ("sqlite", "postgresql")
MAX_UNION_EXPERIMENTS = 50
SELECTIVE_ROWS = 2000  # a filter matching at most this many rows (any experiment) drives the query
_KEYED = {METRIC: schema.latest_metrics, PARAM: schema.params, TAG: schema.tags}
_DEFAULT_PRIMARY = OrderKey(ATTRIBUTE, "start_time", False)


class Plan:
    """The parsed search and the order it needs, or ``None`` from :func:`plan` when the general
    query must answer it."""

    def __init__(self, experiment_ids: list[int], comparisons: list[Comparison], run_view_type: int,
                 keys: list[OrderKey], fingerprint: str) -> None:
        self.experiment_ids = experiment_ids
        self.comparisons = comparisons
        self.stages = lifecycle_stages(run_view_type)
        self.primary = keys[0] if keys else _DEFAULT_PRIMARY
        rest = keys[1:]
        if not any(k.entity == ATTRIBUTE and k.key == "start_time" for k in [self.primary, *keys]):
            rest.append(OrderKey(ATTRIBUTE, "start_time", False))
        self.rest = rest
        self.fingerprint = fingerprint
        self.groups = (0, 1, 2) if self.primary.entity == METRIC else (0, 2)
        self.dialect = "sqlite"


def plan(
    dialect: str, experiment_ids: Sequence[str], filter_string: str | None, run_view_type: int,
    order_by: Sequence[str] | None,
) -> Plan | None:
    if dialect not in DIALECTS:
        return None
    keys = parse_order_by(order_by, "runs")
    comparisons = parse_filter(filter_string, "runs")
    if any(k.entity != ATTRIBUTE for k in keys[1:]):
        return None  # a second metric/param/tag key: the general query's joins
    ids = _int_ids(experiment_ids)
    fingerprint = hashlib.sha256(
        json.dumps([sorted(ids), filter_string or "", int(run_view_type), list(order_by or [])]).encode()
    ).hexdigest()[:16]
    planned = Plan(ids, comparisons, run_view_type, keys, fingerprint)
    planned.dialect = dialect
    return planned


# ---- the query of one group ------------------------------------------------------------------------


class Term(NamedTuple):
    """One ORDER BY term; ``nulls_follow``: NULLs sort after every value without a flag term (SQLite
    DESC), so "after" includes NULL."""

    expr: ColumnElement[Any]
    desc: bool
    nulls_follow: bool = False


def _rest_terms(p: Plan, dialect: str) -> list[Term]:
    """(expression, descending) for the keys after the primary one: a NULLs-last flag and the column
    per attribute key, then run_uuid. SQLite sorts NULLs last in a DESC order by itself, so there the
    flag is left out and the index on (experiment_id, start_time DESC, ...) can give the order."""
    runs = schema.runs
    terms: list[Term] = []
    for key in p.rest:
        column = _RUN_ATTRIBUTES[key.key]
        if column.nullable and (dialect != "sqlite" or key.ascending):
            terms.append(Term(sa.case((column.is_(None), 1), else_=0), False))
            terms.append(Term(column, not key.ascending))
        else:
            terms.append(Term(column, not key.ascending, column.nullable is True))
    terms.append(Term(runs.c.run_uuid, False))
    return terms


def _opaque(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """The same value (and type) as an expression no index provides, so the planner cannot choose
    to walk an index for ORDER BY (or the experiment) instead of looking up the candidate runs."""
    return sa.func.coalesce(expr, expr, type_=expr.type)


def _after(terms: list[Term], last: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``last`` in the order of ``terms`` (NULL-safe equality on the way)."""
    disjuncts = []
    for i, (expr, desc, nulls_follow) in enumerate(terms):
        if last[i] is None:
            continue  # nothing sorts after NULL within its flag group; the flag term handles the rest
        equal = [
            terms[j][0].is_(None) if last[j] is None else terms[j][0] == sa.bindparam(None, last[j], type_=terms[j][0].type)
            for j in range(i)
        ]
        bound = sa.bindparam(None, last[i], type_=expr.type)
        after = expr < bound if desc else expr > bound
        if nulls_follow:
            after = sa.or_(after, expr.is_(None))
        disjuncts.append(sa.and_(*equal, after))
    return sa.or_(*disjuncts) if disjuncts else sa.false()


def group_query(
    p: Plan, group: int, experiment_ids: list[int], limit: int, last: list[Any] | None, candidates: list[str] | None,
) -> tuple[sa.Select[Any], list[bool]]:
    """One group's rows in order, after ``last`` (the sort key of the previous page's last row), and
    which of its sort columns (labelled ``fluvial_k<i>``) descend."""
    runs = schema.runs
    experiment = runs.c.experiment_id if candidates is None else _opaque(runs.c.experiment_id)
    where: list[ColumnElement[bool]] = [
        experiment == experiment_ids[0] if len(experiment_ids) == 1 else experiment.in_(experiment_ids)
    ]
    if len(p.stages) == 1:
        where.append(runs.c.lifecycle_stage == p.stages[0])
    where += [run_filter_clause(c) for c in p.comparisons]
    if candidates is not None:
        where.append(runs.c.run_uuid.in_(candidates))
    source: sa.FromClause = runs
    terms: list[Term] = []
    key = p.primary
    desc = not key.ascending
    if key.entity == ATTRIBUTE:
        column = _RUN_ATTRIBUTES[key.key]
        if group == 0:
            where.append(column.is_not(None))
            terms.append(Term(column, desc))
        else:
            where.append(column.is_(None))
    else:
        table = _KEYED[key.entity]
        present = [table.c.run_uuid == runs.c.run_uuid, table.c.key == key.key]
        if key.entity == METRIC:
            present.append(table.c.is_nan == (group == 1))
        else:
            present.append(table.c.value.is_not(None))
        if group == 2:
            missing = [table.c.run_uuid == runs.c.run_uuid, table.c.key == key.key]
            if key.entity != METRIC:
                missing.append(table.c.value.is_not(None))
            where.append(~sa.select(sa.literal(1)).select_from(table).where(*missing).correlate(runs).exists())
        elif group == 1:  # NaN: walk the runs in the remaining order, checking the metric on the way
            where.append(sa.select(sa.literal(1)).select_from(table).where(*present).correlate(runs).exists())
        else:
            source = runs.join(table, sa.and_(*present))
            terms.append(Term(table.c.value, desc))
    terms += _rest_terms(p, p.dialect)
    if candidates is not None:  # a few runs by primary key, then sorted: no index may steer the order
        terms = [Term(_opaque(t.expr), t.desc, t.nulls_follow) for t in terms]
    if last is not None:
        if len(last) != len(terms):
            raise InvalidParameterValue("Invalid page token for this search")
        if group == 0:  # a range the index can start from, besides the exact condition
            first, first_desc, _ = terms[0]
            bound = sa.bindparam(None, last[0], type_=first.type)
            where.append(first <= bound if first_desc else first >= bound)
        where.append(_after(terms, last))
    labels = [t.expr.label(f"fluvial_k{i}") for i, t in enumerate(terms)]
    order = [t.expr.desc() if t.desc else t.expr.asc() for t in terms]
    query = sa.select(runs, *labels).select_from(source).where(*where).order_by(*order).limit(limit)
    return query, [t.desc for t in terms]


def _merged(p: Plan, group: int, limit: int, last: list[Any] | None, candidates: list[str] | None) -> sa.Select[Any]:
    """The group's query over all experiments: one index walk per experiment (merged) when the order
    is by runs' own columns (the experiment index leads to them), else one query."""
    ids = p.experiment_ids
    walks_runs = p.primary.entity == ATTRIBUTE or group != 0  # ordered by runs' own columns
    if len(ids) == 1 or len(ids) > MAX_UNION_EXPERIMENTS or not walks_runs or candidates is not None:
        return group_query(p, group, ids, limit, last, candidates)[0]
    parts = []
    descending: list[bool] = []
    for n, e in enumerate(ids):
        query, descending = group_query(p, group, [e], limit, last, None)
        parts.append(sa.select(*query.subquery(f"e{n}").c))
    union = sa.union_all(*parts).subquery("merged")
    order = [union.c[f"fluvial_k{i}"].desc() if d else union.c[f"fluvial_k{i}"].asc() for i, d in enumerate(descending)]
    return sa.select(*union.c).order_by(*order).limit(limit)


# ---- selective filters ------------------------------------------------------------------------------


def _probe_clause(c: Comparison, dialect: str) -> tuple[sa.Table, list[ColumnElement[bool]]] | None:
    """The (table, conditions) that find the runs matching ``c`` through a key/value index, when the
    comparison can use one (equality, IN, a LIKE with a literal prefix, a metric range)."""
    from fluvial.store.tracking.sql.search import comparison_clause

    if c.entity == ATTRIBUTE and c.key == "run_name":
        table, key = schema.tags, "mlflow.runName"
    elif c.entity in (PARAM, TAG):
        table, key = _KEYED[c.entity], c.key
    elif c.entity == METRIC:
        m = schema.latest_metrics
        value = comparison_clause(m.c.value, c.comparator, float(c.value))  # type: ignore[arg-type]
        return m, [m.c.key == c.key, m.c.is_nan == sa.false(), value]
    else:
        return None
    if c.comparator not in ("=", "IN", "LIKE"):
        return None
    if c.comparator == "LIKE":
        text = str(c.value)
        if not text or text[0] in "%_\\":
            return None
    conditions = [table.c.key == key]
    if dialect == "postgresql":
        conditions.append(indexed_value_clause(table, c))
    if dialect != "postgresql" or not _prefix_decides(c):
        conditions.append(comparison_clause(table.c.value, c.comparator, c.value))
    return table, conditions


def _prefix_decides(c: Comparison) -> bool:
    """Whether the ``left(value, 200)`` condition alone is exact: equality with (or IN of) values
    shorter than the prefix. The probe then reads the index alone and stops at its LIMIT (with the
    full condition the planner expects few rows and collects every match in a bitmap first)."""
    values = c.value if c.comparator == "IN" else [c.value] if c.comparator == "=" else None
    return values is not None and all(len(str(v)) < PG_VALUE_PREFIX for v in values)  # type: ignore[union-attr]


def indexed_value_clause(table: sa.Table, c: Comparison) -> ColumnElement[bool]:
    """On PostgreSQL, the condition on ``left(value, 200) COLLATE "C"`` implied by ``c``, which the
    key/value index answers (the full condition is checked as well)."""
    prefix = sa.func.left(table.c.value, PG_VALUE_PREFIX).collate("C")
    if c.comparator == "IN":
        return prefix.in_([str(v)[:PG_VALUE_PREFIX] for v in c.value])  # type: ignore[union-attr]
    text = str(c.value)
    if c.comparator == "LIKE":
        literal = ""
        i = 0
        while i < len(text) and text[i] not in "%_":
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            literal += text[i]
            i += 1
        literal = literal[:PG_VALUE_PREFIX]
        return sa.and_(prefix >= literal, prefix < literal + "\U0010ffff")
    return prefix == text[:PG_VALUE_PREFIX]


def candidate_runs(conn: sa.Connection, p: Plan) -> list[str] | None:
    """The run ids of the most selective indexable filter when it matches at most SELECTIVE_ROWS
    rows, else None (walk the order's index and check the filters on the way)."""
    probes = [probe for c in p.comparisons if (probe := _probe_clause(c, conn.dialect.name)) is not None]
    postgres = conn.dialect.name == "postgresql"
    if postgres and probes:
        # A probe is a walk of one index range that stops at its LIMIT. The planner, which multiplies the
        # key's and the value's selectivities, expects fewer rows than the LIMIT and picks a bitmap scan
        # that reads every match of a common value first (tags.team = 'team3' at 100k runs: 11 ms as a
        # bitmap scan, 1.6 ms as an index scan). This transaction, the probes only.
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    best: list[str] | None = None
    for table, conditions in probes:
        query = sa.select(table.c.run_uuid).where(*conditions).limit(SELECTIVE_ROWS + 1)
        if postgres and table is not schema.latest_metrics:
            # in the value index's order, so the walk can stop at the LIMIT
            query = query.order_by(sa.func.left(table.c.value, PG_VALUE_PREFIX).collate("C"), table.c.run_uuid)
        found = conn.execute(query).scalars().all()
        if len(found) <= SELECTIVE_ROWS and (best is None or len(found) < len(best)):
            best = list(found)
    if postgres and probes:
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan TO DEFAULT")
    return best


# ---- a page ----------------------------------------------------------------------------------------


def page(conn: sa.Connection, p: Plan, max_results: int, state: dict[str, Any] | None) -> tuple[list[Any], str | None]:
    """Up to ``max_results`` run rows after the token's position, and the next token."""
    if not p.experiment_ids:
        return [], None
    if conn.dialect.name == "postgresql":
        # A page walks indexes for a few hundred rows; starting parallel workers costs more than the walk
        # (EXPLAIN ANALYZE at 100k runs: 24.6 ms with two workers, 5.3 ms without). This transaction only.
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    start_group, last = p.groups[0], None
    if state is not None:
        if state.get("q") != p.fingerprint or state.get("g") not in p.groups or not isinstance(state.get("k"), list):
            raise InvalidParameterValue("Invalid page token for this search (the query changed)")
        start_group, last = state["g"], state["k"]
    candidates = candidate_runs(conn, p)
    if candidates is not None and not candidates:
        return [], None
    rows: list[tuple[int, Any]] = []
    for group in p.groups[p.groups.index(start_group):]:
        want = max_results + 1 - len(rows)
        query = _merged(p, group, want, last if group == start_group else None, candidates)
        rows += [(group, r) for r in conn.execute(query).all()]
        if len(rows) > max_results:
            break
    token = None
    if len(rows) > max_results:
        group, row = rows[max_results - 1]
        keys = [row._mapping[name] for name in row._mapping if str(name).startswith("fluvial_k")]
        token = encode_keyset_token({"q": p.fingerprint, "g": group, "k": [_jsonable(k) for k in keys]})
    return [r for _, r in rows[:max_results]], token


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    return str(value)
