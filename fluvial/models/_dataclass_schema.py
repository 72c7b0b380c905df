"""Dataclasses as schemas: ``ModelSignature(inputs=SomeDataclass)`` and ``infer_signature`` of a dataclass.

Fields of bool/int/float/str/bytes/date type become columns of that type (int -> long, float -> float,
as MLflow maps them), nested dataclasses ``Object``s, ``list[...]`` fields ``Array``s and
``Optional[...]`` fields optional columns.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Union

from fluvial.exceptions import MlflowException
from fluvial.models.schema import ColSpec, Schema, TensorSpec
from fluvial.models.types import Array, Object, Property, _as_type

_FIELD_TYPES = {bool: "boolean", int: "long", float: "float", str: "string", bytes: "binary"}


def _scalar_field_type(tp: Any) -> str | None:
    import datetime

    if tp is datetime.date or tp is datetime.datetime:
        return "datetime"
    return _FIELD_TYPES.get(tp)


def _unwrap_optional(tp: Any, owner: str) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or type(tp).__name__ == "UnionType":
        if type(None) in args and len(args) == 2:
            return next(a for a in args if a is not type(None)), True
        raise MlflowException("Only Optional[...] is supported as a Union type in dataclass fields")
    return tp, False


def _field_dtype(tp: Any, owner: str) -> Any:
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp) or (None,)
        if dataclasses.is_dataclass(item):
            return Array(_dataclass_object(item))
        name = _scalar_field_type(item)
        if name is None:
            raise MlflowException(f"List field type {item} is not supported in dataclass {owner}")
        return Array(name)
    if dataclasses.is_dataclass(tp):
        return _dataclass_object(tp)
    name = _scalar_field_type(tp)
    if name is None:
        raise MlflowException(f"Unsupported field type {tp} in dataclass {owner}")
    return _as_type(name)


def _dataclass_hints(cls: Any) -> dict[str, Any]:
    """Field name -> resolved type hint (string annotations evaluated when possible)."""
    cls = cls if isinstance(cls, type) else type(cls)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    return {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(cls)}


def _dataclass_object(cls: Any) -> Object:
    props = []
    for name, tp in _dataclass_hints(cls).items():
        inner, optional = _unwrap_optional(tp, cls.__name__)
        props.append(Property(name, _field_dtype(inner, cls.__name__), required=not optional))
    return Object(props)


def dataclass_to_schema(dataclass: Any) -> Schema:
    if not dataclasses.is_dataclass(dataclass):
        raise TypeError(f"{getattr(dataclass, '__name__', dataclass)} is not a dataclass.")
    owner = getattr(dataclass, "__name__", type(dataclass).__name__)
    cols: list[ColSpec | TensorSpec] = []
    for name, tp in _dataclass_hints(dataclass).items():
        inner, optional = _unwrap_optional(tp, owner)
        cols.append(ColSpec(_field_dtype(inner, owner), name=name, required=not optional))
    return Schema(cols)
