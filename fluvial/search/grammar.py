"""Parser for MLflow filter strings and order_by clauses (runs, experiments, registered models, versions).

Filter grammar (keywords case-insensitive)::

    filter      := [AND]* comparison ([AND]+ comparison)* [AND]*
    comparison  := identifier comparator value
    identifier  := [entity "."] key          -- split on the first dot; `backticks` or "quotes" allowed
    comparator  := = | != | > | >= | < | <= | LIKE | ILIKE | IN | NOT IN
    value       := 'string' | "string" | number | "(" 'string' ("," 'string')* ")"

Errors are ``InvalidParameterValue`` with MLflow's messages; ``exc.position`` is the offset of the bad
token in the input (or -1).
"""

from __future__ import annotations

from collections.abc import Sequence

from fluvial.exceptions import MlflowException
from fluvial.search.kinds import DATASET_KEYS, ENTITY_WORDS, SPECS, KindSpec, set_repr
from fluvial.search.lexer import LexError, Token, error, tokenize
from fluvial.search.nodes import (
    ATTRIBUTE,
    DATASET,
    LIST_COMPARATORS,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    OrderKey,
    Value,
)

_KEYWORDS = ("AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "TRUE", "FALSE")
_LIST_PREFIX = "While parsing a list in the query, "
_VERSION_NUMERIC = ("creation_timestamp", "last_updated_timestamp", "version_number")


def _spec(kind: str) -> KindSpec:
    try:
        return SPECS[kind]
    except KeyError:
        raise ValueError(f"Unknown search kind {kind!r}; expected one of {list(SPECS)}") from None


def _wrapped(text: str, quote: str) -> bool:
    return len(text) >= 2 and text[0] == quote and text[-1] == quote


def _unquote_key(text: str) -> str:
    if _wrapped(text, "'") or _wrapped(text, '"'):
        text = text[1:-1]
    if _wrapped(text, "`"):
        text = text[1:-1]
    return text


def _is_identifier(tok: Token) -> bool:
    if tok.kind == "STRING":
        return tok.quote == '"'
    return tok.kind == "IDENT" and not tok.is_word(*_KEYWORDS)


def _split_identifier(spec: KindSpec, tok: Token) -> tuple[str, str, str]:
    """(entity, key as written, canonical key) of an identifier token; validates the entity only."""
    segments = tok.segments or (tok.text,)
    if len(segments) == 1:
        key = _unquote_key(segments[0])
        return ATTRIBUTE, key, spec.key_aliases.get(key, key)
    raw_entity = segments[0]
    key = _unquote_key(tok.text[len(raw_entity) + 1 :])
    lookup = raw_entity[1:-1] if spec.strip_entity_backticks and _wrapped(raw_entity, "`") else raw_entity
    entity = spec.entity_aliases.get(lookup)
    if entity is None:
        raise error(spec.invalid_entity(lookup), tok.pos)
    if entity == ATTRIBUTE:
        return entity, key, spec.key_aliases.get(key, key)
    return entity, key, key


def _not_quoted(raw: str) -> str:
    return (
        "Parameter value is either not quoted or unidentified quote types used for string value "
        f"{raw}. Use either single or double quotes."
    )


class _ListValue:
    """A parenthesised group in value position."""

    def __init__(self, text: str, pos: int, items: list[Token]) -> None:
        self.text = text
        self.pos = pos
        self.items = items


def _parse_list(spec: KindSpec, key: str, group: _ListValue) -> tuple[str, ...]:
    items = group.items
    if not items:
        raise error(_LIST_PREFIX + "expected a non-empty list of string values, but got empty list", group.pos)
    ill_formed = _LIST_PREFIX + "expected a non-empty list of string values, but got ill-formed list."
    values: list[str] = []
    expect_string = True
    for tok in items:
        if tok.kind == "STRING" and tok.quote == "'":
            if not expect_string:
                raise error(ill_formed, tok.pos)
            values.append(tok.value)
        elif tok.kind == "COMMA":
            if expect_string:
                raise error(ill_formed, tok.pos)
        elif tok.kind == "STRING":
            raise error(ill_formed, tok.pos)
        else:
            raise error(
                _LIST_PREFIX + "expected string value, punctuation, or whitespace, but got different "
                f"type in list: {group.text}",
                tok.pos,
            )
        expect_string = not expect_string
    if key in spec.drop_non_lower_list_values:
        # Run ids are lower-case hex: values that are not lower case never match (MLflow drops them).
        values = [v for v in values if v.islower()]
    return tuple(values)


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _value(spec: KindSpec, entity: str, key: str, canonical: str, tok: Token | _ListValue) -> Value:
    """Check the value's type against the entity/key and convert it."""
    raw = tok.text
    pos = tok.pos
    is_list = isinstance(tok, _ListValue)
    kind = "LIST" if is_list else tok.kind  # type: ignore[union-attr]
    bare_word = kind == "IDENT" and not tok.is_word(*_KEYWORDS)  # type: ignore[union-attr]
    if entity == METRIC:
        if kind != "NUMBER":
            raise error(f"Expected numeric value type for metric. Found {raw}", pos)
        return _number(raw)
    if entity in (PARAM, TAG):
        if kind == "STRING":
            return tok.value  # type: ignore[union-attr]
        if bare_word:
            raise error(_not_quoted(raw), pos)
        raise error(
            f"Expected a quoted string value for {ENTITY_WORDS[entity]} (e.g. 'my-value'). Got value {raw}", pos
        )
    if entity == DATASET:
        if kind == "STRING":
            return tok.value  # type: ignore[union-attr]
        if is_list:
            return _parse_list(spec, canonical, tok)  # type: ignore[arg-type]
        if bare_word:
            raise error(_not_quoted(raw), pos)
        raise error(f"Expected a quoted string value for dataset attributes. Got value {raw}", pos)
    # attributes
    if canonical in spec.numeric_attributes:
        if kind == "NUMBER":
            return _number(raw)
        if spec.name == "model_versions" and kind == "STRING":
            try:
                return _number(tok.value)  # type: ignore[union-attr]
            except ValueError:
                pass
        raise error(f"Expected numeric value type for numeric attribute: {key}. Found {raw}", pos)
    if kind == "STRING":
        return tok.value  # type: ignore[union-attr]
    if is_list:
        if canonical not in spec.list_attributes:
            raise error(
                "Only the 'run_id' attribute supports comparison with a list of quoted string values.", pos
            )
        return _parse_list(spec, canonical, tok)  # type: ignore[arg-type]
    if bare_word:
        raise error(_not_quoted(raw), pos)
    if spec.name == "model_versions" and kind == "NUMBER":
        raise error(
            f"Only the '{set_repr(_VERSION_NUMERIC)}' attributes support comparison with numeric values.",
            pos,
        )
    if spec.name in ("registered_models", "model_versions"):
        raise error(
            "Expected a quoted string value or a list of quoted string values for attributes. "
            f"Got value {raw}",
            pos,
        )
    raise error(f"Expected a quoted string value for attributes. Got value {raw}", pos)


class _FilterParser:
    def __init__(self, spec: KindSpec, tokens: list[Token], source: str) -> None:
        self.spec = spec
        self.tokens = tokens
        self.source = source
        self.i = 0

    def _peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def _group_end(self, start: int) -> int:
        """Index just past the RPAREN matching the LPAREN at ``start`` (or len(tokens))."""
        depth = 0
        for j in range(start, len(self.tokens)):
            kind = self.tokens[j].kind
            depth += kind == "LPAREN"
            depth -= kind == "RPAREN"
            if depth == 0:
                return j + 1
        return len(self.tokens)

    def _token_text(self, start: int, end: int) -> str:
        first, last = self.tokens[start], self.tokens[end - 1]
        return self.source[first.pos : last.pos + len(last.text)]

    def _invalid(self, start: int, to_and: bool) -> MlflowException:
        """'Invalid clause(s)' naming the tokens from ``start`` (to the next AND when ``to_and``)."""
        parts: list[str] = []
        j = start
        while j < len(self.tokens):
            tok = self.tokens[j]
            if to_and and j > start and tok.is_word("AND"):
                break
            end = self._group_end(j) if tok.kind == "LPAREN" else j + 1
            parts.append(self._token_text(j, end))
            j = end
            if not to_and:
                break
        fmt = (lambda p: f"'{p}'") if self.spec.invalid_clause_quoted else str
        clauses = ", ".join(fmt(p) for p in parts)
        return error(f"Invalid clause(s) in filter string: {clauses}", self.tokens[start].pos)

    def parse(self) -> list[Comparison]:
        out: list[Comparison] = []
        while self.i < len(self.tokens):
            tok = self.tokens[self.i]
            if tok.is_word("AND"):
                self.i += 1
            elif _is_identifier(tok):
                out.append(self._comparison())
            else:
                raise self._invalid(self.i, to_and=False)
        return out

    def _comparator(self) -> str | None:
        tok = self._peek()
        if tok is None:
            return None
        if tok.kind == "OP":
            self.i += 1
            return tok.text
        if tok.is_word("LIKE", "ILIKE", "IN"):
            self.i += 1
            return tok.text.upper()
        nxt = self._peek(1)
        if tok.is_word("NOT") and nxt is not None and nxt.is_word("IN", "LIKE", "ILIKE"):
            self.i += 2
            return "NOT " + nxt.text.upper()
        return None

    def _comparison(self) -> Comparison:
        start = self.i
        ident = self.tokens[self.i]
        self.i += 1
        comparator = self._comparator()
        tok = self._peek()
        if comparator is None or tok is None:
            raise self._invalid(start, to_and=True)
        value_tok: Token | _ListValue
        if tok.kind == "LPAREN":
            end = self._group_end(self.i)
            if self.tokens[end - 1].kind != "RPAREN" or end - 1 == self.i:
                raise self._invalid(start, to_and=True)
            items = self.tokens[self.i + 1 : end - 1]
            value_tok = _ListValue(self._token_text(self.i, end), tok.pos, items)
            self.i = end
        elif comparator in LIST_COMPARATORS or tok.kind not in ("STRING", "NUMBER", "IDENT"):
            raise self._invalid(start, to_and=True)
        else:
            value_tok = tok
            self.i += 1
        spec = self.spec
        entity, key, canonical = _split_identifier(spec, ident)
        if entity == ATTRIBUTE and key not in spec.filter_attributes:
            raise error(
                f"Invalid attribute key '{key}' specified. Valid keys are '{set_repr(spec.filter_attributes)}'",
                ident.pos,
            )
        if entity == DATASET and key not in DATASET_KEYS:
            raise error(
                f"Invalid dataset key '{key}' specified. Valid keys are '{set_repr(DATASET_KEYS)}'", ident.pos
            )
        value = _value(spec, entity, key, canonical, value_tok)
        allowed = spec.allowed_comparators(entity, canonical)
        if comparator not in allowed:
            raise error(spec.invalid_comparator(entity, canonical, comparator, allowed), self.tokens[start + 1].pos)
        if isinstance(value, tuple) != (comparator in LIST_COMPARATORS):
            raise self._invalid(start, to_and=True)
        return Comparison(entity, canonical, comparator, value)


def parse_filter(filter_string: str | None, kind: str) -> list[Comparison]:
    """Parse a search filter of ``kind`` ("runs", "experiments", "registered_models", "model_versions")."""
    spec = _spec(kind)
    if filter_string is None or not filter_string.strip():
        return []
    try:
        tokens = tokenize(filter_string)
    except LexError as exc:
        text = f"'{exc.text}'" if spec.invalid_clause_quoted else exc.text
        raise error(f"Invalid clause(s) in filter string: {text}", exc.pos) from None
    for j, tok in enumerate(tokens):
        if tok.kind == "SEMI" and any(t.kind != "SEMI" for t in tokens[j + 1 :]):
            raise error(
                f"Search filter contained multiple expression {filter_string!r}. "
                "Provide AND-ed expression list.",
                tok.pos,
            )
    return _FilterParser(spec, tokens, filter_string).parse()


def _parse_order_clause(spec: KindSpec, clause: str) -> OrderKey:
    unparsable = f"Invalid order_by clause '{clause}'. Could not be parsed."
    if not isinstance(clause, str):
        raise error(unparsable)
    try:
        tokens = tokenize(clause)
    except LexError as exc:
        raise error(unparsable, exc.pos) from None
    if not tokens or len(tokens) > 2 or not _is_identifier(tokens[0]):
        raise error(unparsable, tokens[0].pos if tokens else -1)
    ident = tokens[0]
    ascending = True
    if len(tokens) == 2:
        direction = tokens[1]
        if direction.is_word("ASC", "DESC"):
            ascending = direction.text.upper() == "ASC"
        elif direction.kind == "IDENT":
            raise error(f"Invalid ordering key in order_by clause '{clause}'.", direction.pos)
        else:
            raise error(unparsable, direction.pos)
    if spec.name == "registered_models":
        key = _unquote_key(ident.text) if len(ident.segments) <= 1 else ident.text
        if key not in spec.order_attributes:
            raise error(
                f"Invalid order by key '{key}' specified. Valid keys are '{set_repr({'name', 'timestamp'})}'",
                ident.pos,
            )
        return OrderKey(ATTRIBUTE, "last_updated_timestamp" if key == "timestamp" else key, ascending)
    entity, key, canonical = _split_identifier(spec, ident)
    if entity not in spec.order_entities:
        if spec.name == "runs":
            raise error(f"Invalid identifier type '{ENTITY_WORDS[entity]}'", ident.pos)
        if spec.name == "model_versions":
            raise error(
                f"Invalid order by key '{key}' specified. Valid keys are {set_repr(spec.order_attributes)}",
                ident.pos,
            )
        raise error(f"Invalid order_by entity: {entity}", ident.pos)
    if entity == ATTRIBUTE:
        valid = spec.order_attributes
        if spec.name == "runs":
            valid = valid | {"created", "Created"}
        if key not in valid:
            raise error(
                f"Invalid attribute key '{key}' specified. Valid keys are '{set_repr(valid)}'", ident.pos
            )
    return OrderKey(entity, canonical, ascending)


def parse_order_by(order_by: Sequence[str] | str | None, kind: str) -> list[OrderKey]:
    """Parse order_by clauses (``<identifier> [ASC|DESC]``) of ``kind``; duplicate keys are rejected."""
    spec = _spec(kind)
    if not order_by:
        return []
    clauses = [order_by] if isinstance(order_by, str) else list(order_by)
    keys: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in clauses:
        key = _parse_order_clause(spec, clause)
        if (key.entity, key.key) in seen:
            raise error(f"`order_by` contains duplicate fields: {clauses}")
        seen.add((key.entity, key.key))
        keys.append(key)
    return keys
