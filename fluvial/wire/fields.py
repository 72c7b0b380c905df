"""Field types of MLflow's protobuf messages and their JSON mapping (reference §1.2-§1.3).

Decoding accepts what MLflow's server accepts: int64 as numbers or decimal strings, enums by name or
number, doubles with "NaN"/"Infinity"/"-Infinity", query-string values (always strings, lists as
repeated keys). Errors name the field path (``metrics[0].timestamp``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from fluvial.exceptions import InvalidParameterValue


@dataclass(frozen=True)
class Field:
    kind: str  # "string" | "int64" | "int32" | "double" | "bool" | "enum" | "message"
    required: bool = False
    repeated: bool = False
    enum: type[enum.IntEnum] | None = None
    message: dict[str, Field] | None = None


def string(required: bool = False, repeated: bool = False) -> Field:
    return Field("string", required, repeated)


def int64(required: bool = False) -> Field:
    return Field("int64", required)


def int32(required: bool = False) -> Field:
    return Field("int32", required)


def double(required: bool = False) -> Field:
    return Field("double", required)


def boolean(required: bool = False) -> Field:
    return Field("bool", required)


def enum_of(cls: type[enum.IntEnum], required: bool = False) -> Field:
    return Field("enum", required, enum=cls)


def message(fields: dict[str, Field], required: bool = False, repeated: bool = False) -> Field:
    return Field("message", required, repeated, message=fields)


def missing(path: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Missing value for required parameter '{path}'. See the API docs for more information about request "
        "parameters."
    )


def _bad(path: str, value: Any, expected: str) -> InvalidParameterValue:
    # the value itself is not echoed: error bodies never reflect request content
    return InvalidParameterValue(f"Invalid value of type {type(value).__name__} for parameter '{path}' supplied: "
                                 f"expected {expected}.")


def _id_like(path: str) -> bool:
    """Fields whose numeric JSON values MLflow's parser stringifies (ids and versions); other string
    fields refuse numbers (``{"name": 123}``)."""
    name = path.rsplit(".", 1)[-1].split("[", 1)[0]
    return name.endswith(("_id", "_ids", "_uuid")) or name in ("version", "step")


_NON_FINITE = {"NaN": math.nan, "nan": math.nan, "Infinity": math.inf, "inf": math.inf, "-Infinity": -math.inf,
               "-inf": -math.inf}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _scalar(field: Field, value: Any, path: str) -> Any:
    kind = field.kind
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and _id_like(path):
            return str(value)  # MLflow's parser stringifies numeric ids
        raise _bad(path, value, "a string")
    if kind in ("int64", "int32"):
        if isinstance(value, bool):
            raise _bad(path, value, "an integer")
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise _bad(path, value, "an integer") from None
        if isinstance(value, float):
            if not value.is_integer():
                raise _bad(path, value, "an integer")
            value = int(value)
        if not isinstance(value, int):
            raise _bad(path, value, "an integer")
        low, high = (INT64_MIN, INT64_MAX) if kind == "int64" else (INT32_MIN, INT32_MAX)
        if not low <= value <= high:
            raise _bad(path, value, f"an integer in [{low}, {high}]")
        return value
    if kind == "double":
        if isinstance(value, bool):
            raise _bad(path, value, "a number")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            if value in _NON_FINITE:
                return _NON_FINITE[value]
            try:
                return float(value)
            except ValueError:
                raise _bad(path, value, "a number") from None
        raise _bad(path, value, "a number")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _bad(path, value, "true or false")
    if kind == "enum":
        assert field.enum is not None
        if isinstance(value, str):
            if value in field.enum.__members__:
                return field.enum[value]
            if value.isdigit():
                value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return field.enum(value)
            except ValueError:
                pass
        raise _bad(path, value, f"one of {list(field.enum.__members__)}")
    raise AssertionError(kind)


def _fast(field: Field, value: Any) -> bool:
    """Whether ``value`` already has the field's type (the common case, checked without calls)."""
    kind = field.kind
    t = type(value)
    if kind == "string":
        return t is str
    if kind == "double":
        return t is float
    if kind == "int64":
        return t is int and INT64_MIN <= value <= INT64_MAX
    if kind == "int32":
        return t is int and INT32_MIN <= value <= INT32_MAX
    return kind == "bool" and t is bool


def decode(fields: dict[str, Field], data: Any, path: str = "") -> dict[str, Any]:
    """Typed values for the fields present in ``data`` (unknown keys ignored; required checked)."""
    if type(data) is not dict:
        raise InvalidParameterValue(f"Expected a JSON object for '{path or 'request'}', got {type(data).__name__}.")
    out: dict[str, Any] = {}
    for name, field in fields.items():
        value = data.get(name)
        if value is None or (field.repeated and value == []) or (field.kind == "string" and value == "" and field.required):
            if field.required:
                raise missing(f"{path}.{name}" if path else name)
            continue
        if field.repeated:
            where = f"{path}.{name}" if path else name
            items = value if isinstance(value, list) else [value]
            if field.kind == "message":
                assert field.message is not None
                out[name] = [decode(field.message, item, f"{where}[{i}]") for i, item in enumerate(items)]
            else:
                out[name] = [item if _fast(field, item) else _scalar(field, item, f"{where}[{i}]")
                             for i, item in enumerate(items)]
        elif field.kind == "message":
            assert field.message is not None
            out[name] = decode(field.message, value, f"{path}.{name}" if path else name)
        elif _fast(field, value):
            out[name] = value
        else:
            if isinstance(value, list):  # (query strings keep the first of repeated keys: query_to_dict)
                raise _bad(f"{path}.{name}" if path else name, value, "a single value, not a list")
            out[name] = _scalar(field, value, f"{path}.{name}" if path else name)
    return out


def query_to_dict(pairs: list[tuple[str, str]], fields: dict[str, Field]) -> dict[str, Any]:
    """Query-string pairs as the JSON-like dict ``decode`` takes (repeated keys become lists)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        field = fields.get(key)
        if field is not None and field.repeated:
            out.setdefault(key, []).append(value)
        elif key not in out:
            out[key] = value
    return out


def encode_double(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
