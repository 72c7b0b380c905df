"""Search over MLflow 3 logged models: MLflow 3's filter grammar (comparisons joined by ``AND`` on
attributes, ``metrics.``, ``params.``, ``tags.``) and order_by (attributes, latest metric values),
compiled to one SQLAlchemy Core SELECT with ``EXISTS`` subqueries, as for runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from fluvial.entities import LifecycleStage
from fluvial.exceptions import InvalidParameterValue
from fluvial.search.lexer import LexError, Token, tokenize
from fluvial.store.tracking.sql.logged_models_schema import (
    STATUS_NAMES,
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from fluvial.store.tracking.sql.search import comparison_clause, key_value_exists, order_terms


def build_query(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    datasets: Sequence[dict[str, Any]],
    order_by: Sequence[dict[str, Any]],
) -> Any:
    """The SELECT of ``fluvial_logged_models`` rows matching a search, in its order (no paging)."""
    lm = logged_models
    exp_ints = []
    for e in experiment_ids:
        try:
            exp_ints.append(int(e))
        except (TypeError, ValueError):
            continue  # a non-numeric id matches no SQL experiment
    where = [lm.c.lifecycle_stage != LifecycleStage.DELETED, lm.c.experiment_id.in_(exp_ints)]
    dataset_clause = _datasets_clause(datasets)
    has_metric_filter = False
    for entity, key, op, value in parse_filter(filter_string):
        if entity == "metrics":
            has_metric_filter = True
            where.append(_metric_exists(key, op, value, dataset_clause))
        elif entity in ("params", "tags"):
            table = logged_model_params if entity == "params" else logged_model_tags
            owner = [table.c.model_id == lm.c.model_id]
            where.append(key_value_exists(table, owner, key, comparison_clause(table.c.value, op, value), lm))
        else:
            where.append(comparison_clause(lm.c[key], op, value))
    if dataset_clause is not None and not has_metric_filter:
        where.append(_metric_exists(None, None, None, dataset_clause))
    query = sa.select(lm).where(*where)
    terms: list[Any] = []
    keys_used = set()
    for i, ob in enumerate(order_by):
        name = str(ob.get("field_name", ""))
        ascending = ob.get("ascending", True) is not False
        if "." not in name:
            column = _attribute(name, "order by")
            keys_used.add(column)
            terms += order_terms(lm.c[column], ascending)
            continue
        entity, metric = name.split(".", 1)
        if entity != "metrics":
            raise InvalidParameterValue(f"Invalid order by field name: {name}. Only metrics are supported.")
        latest = _latest_metric(f"order_metric_{i}", metric, ob.get("dataset_name"), ob.get("dataset_digest"))
        query = query.outerjoin(latest, latest.c.model_id == lm.c.model_id)
        terms += order_terms(latest.c.value, ascending, latest.c.is_nan)
    if "creation_timestamp_ms" not in keys_used:
        terms.append(lm.c.creation_timestamp_ms.desc())
    if "model_id" not in keys_used:
        terms.append(lm.c.model_id.asc())
    return query.order_by(*terms)


_ATTRIBUTES = {
    "model_id": "model_id",
    "name": "name",
    "model_type": "model_type",
    "status": "status",
    "source_run_id": "source_run_id",
    "experiment_id": "experiment_id",
    "creation_timestamp": "creation_timestamp_ms",
    "creation_time": "creation_timestamp_ms",
    "creation_timestamp_ms": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
    "last_updated_time": "last_updated_timestamp_ms",
    "last_updated_timestamp_ms": "last_updated_timestamp_ms",
}
_NUMERIC = {"creation_timestamp_ms", "last_updated_timestamp_ms", "status", "experiment_id"}
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")


def _attribute(name: str, what: str) -> str:
    column = _ATTRIBUTES.get(name.strip("`"))
    if column is None:
        raise InvalidParameterValue(
            f"Invalid {what} field name: {name}. Valid attributes are {sorted(set(_ATTRIBUTES) - set(_NUMERIC))}"
            " and creation/last-updated timestamps."
        )
    return column


def _status_value(value: Any) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    name = str(value).upper().removeprefix("LOGGED_MODEL_")
    if name in STATUS_NAMES:
        return STATUS_NAMES[name]
    raise InvalidParameterValue(f"Invalid logged model status {value!r}; use one of {sorted(STATUS_NAMES)}.")


def _invalid(filter_string: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Invalid filter string: {filter_string!r}. {why} Expected comparisons joined by 'AND' "
        "(e.g. \"name = 'model' AND metrics.loss < 0.1\")."
    )


def _literal(tok: Token) -> str | float | None:
    if tok.kind == "STRING":
        return tok.value
    if tok.kind == "NUMBER":
        return float(tok.text)
    return None


def parse_filter(filter_string: str | None) -> list[tuple[str, str, str, Any]]:
    """``[(entity, key, op, value)]`` for a logged-model filter; entity is "attributes" (key = column
    name), "metrics", "params" or "tags". MLflow 3's grammar: comparisons joined by AND."""
    if not filter_string or not filter_string.strip():
        return []
    try:
        tokens = tokenize(filter_string)
    except LexError as exc:
        raise _invalid(filter_string, f"Could not read {exc.text!r}.") from None
    out: list[tuple[str, str, str, Any]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.is_word("AND"):
            i += 1
            continue
        if tok.kind not in ("IDENT", "STRING") or tok.quote == "'":
            raise _invalid(filter_string, f"Expected an identifier at {tok.text!r}.")
        segments = tok.segments or (tok.text,)
        if len(segments) > 1 and segments[0] in ("metrics", "params", "tags", "attributes"):
            entity, key = segments[0], tok.text[len(segments[0]) + 1 :]
        else:
            entity, key = "attributes", tok.text
        key = key.strip("`").strip('"')
        i += 1
        if i < len(tokens) and tokens[i].is_word("NOT") and i + 1 < len(tokens) and tokens[i + 1].is_word("IN"):
            op, i = "NOT IN", i + 2
        elif i < len(tokens) and (tokens[i].kind == "OP" or tokens[i].is_word("LIKE", "ILIKE", "IN")):
            op, i = tokens[i].text.upper(), i + 1
        else:
            raise _invalid(filter_string, f"Expected a comparison operator after {tok.text!r}.")
        op = {"==": "=", "<>": "!="}.get(op, op)
        numeric = entity == "metrics" or (entity == "attributes" and _attribute(key, "filter") in _NUMERIC)
        allowed = _NUMERIC_OPS if numeric else _STRING_OPS
        if op not in allowed:
            raise InvalidParameterValue(
                f"Invalid comparison operator for {entity}.{key}: {op!r}. Expected one of {allowed}."
            )
        value: Any
        if op in ("IN", "NOT IN"):
            if i >= len(tokens) or tokens[i].kind != "LPAREN":
                raise _invalid(filter_string, f"Expected a parenthesised list after {op}.")
            items: list[str] = []
            i += 1
            while i < len(tokens) and tokens[i].kind != "RPAREN":
                if tokens[i].kind == "STRING":
                    items.append(tokens[i].value)
                elif tokens[i].kind != "COMMA":
                    raise _invalid(filter_string, f"Unexpected {tokens[i].text!r} in a list.")
                i += 1
            if i >= len(tokens) or not items:
                raise _invalid(filter_string, "Expected a non-empty list of quoted strings.")
            value, i = tuple(items), i + 1
        else:
            literal = _literal(tokens[i]) if i < len(tokens) else None
            if literal is None:
                raise _invalid(filter_string, f"Expected a quoted string or a number after {op}.")
            value, i = literal, i + 1
        if entity == "attributes":
            written, key = key, _attribute(key, "filter")
            if key == "status":
                value = tuple(_status_value(x) for x in value) if isinstance(value, tuple) else _status_value(value)
            elif key in _NUMERIC:
                try:
                    value = int(float(value))  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    raise InvalidParameterValue(f"Expected a number for {written}, got {value!r}.") from None
            elif isinstance(value, float):
                raise InvalidParameterValue(f"Expected a quoted string for {written}, got {value!r}.")
        elif entity == "metrics":
            if not isinstance(value, float):
                raise InvalidParameterValue(f"Expected a number for metrics.{key}, got {value!r}.")
        elif isinstance(value, float):
            raise InvalidParameterValue(f"Expected a quoted string for {entity}.{key}, got {value!r}.")
        out.append((entity, key, op, value))
    return out


def _datasets_clause(datasets: Sequence[dict[str, Any]]) -> Any:
    if not datasets:
        return None
    m = logged_model_metrics
    clauses = []
    for d in datasets:
        if not d.get("dataset_name"):
            raise InvalidParameterValue("`dataset_name` in the `datasets` clause must be specified.")
        clause = m.c.dataset_name == d["dataset_name"]
        if d.get("dataset_digest"):
            clause = sa.and_(clause, m.c.dataset_digest == d["dataset_digest"])
        clauses.append(clause)
    return sa.or_(*clauses)


def _metric_exists(key: str | None, op: str | None, value: Any, dataset_clause: Any) -> Any:
    m = logged_model_metrics
    where = [m.c.model_id == logged_models.c.model_id]
    if key is not None:
        where += [m.c.key == key, m.c.is_nan == sa.false(), comparison_clause(m.c.value, op, value)]  # type: ignore[arg-type]
    if dataset_clause is not None:
        where.append(dataset_clause)
    return sa.select(sa.literal(1)).select_from(m).where(*where).correlate(logged_models).exists()


def _latest_metric(name: str, key: str, dataset_name: str | None, dataset_digest: str | None) -> Any:
    """Per model, the value of ``key`` at its latest (timestamp, step), as a subquery."""
    m = logged_model_metrics
    where = [m.c.key == key]
    if dataset_name:
        where.append(m.c.dataset_name == dataset_name)
    if dataset_digest:
        where.append(m.c.dataset_digest == dataset_digest)
    ranked = sa.select(
        m.c.model_id, m.c.value, m.c.is_nan,
        sa.func.row_number().over(partition_by=m.c.model_id,
                                  order_by=[m.c.timestamp.desc(), m.c.step.desc(), m.c.run_id.asc()]).label("rn"),
    ).where(*where).subquery()
    return sa.select(ranked.c.model_id, ranked.c.value, ranked.c.is_nan).where(ranked.c.rn == 1).subquery(name)
