"""The data types a model signature speaks: ``DataType`` and the composite ``Array``, ``Object``
(with ``Property``), ``Map``, ``AnyType`` and ``SparkMLVector``.

Their JSON forms are MLflow's (``{"type": "array", "items": {...}}`` and so on), so a signature written
by either tool reads in the other. numpy is imported only when a numpy dtype is asked for, so parsing
a signature out of an ``MLmodel`` file stays cheap.
"""

from __future__ import annotations

import builtins
import datetime as _dt
from enum import Enum
from typing import Any, Union

from fluvial.exceptions import MlflowException

ARRAY_TYPE = "array"
OBJECT_TYPE = "object"
MAP_TYPE = "map"
ANY_TYPE = "any"
SPARKML_VECTOR_TYPE = "sparkml_vector"

# numpy dtype names and Spark type names per DataType member name
_NUMPY_NAMES = {
    "boolean": "bool", "integer": "int32", "long": "int64", "float": "float32", "double": "float64",
    "string": "str", "binary": "bytes", "datetime": "datetime64[ns]",
}
_SPARK_NAMES = {
    "boolean": "BooleanType", "integer": "IntegerType", "long": "LongType", "float": "FloatType",
    "double": "DoubleType", "string": "StringType", "binary": "BinaryType", "datetime": "TimestampType",
}
_PYTHON_TYPES: dict[str, type] = {
    "boolean": bool, "integer": int, "long": int, "float": builtins.float, "double": builtins.float,
    "string": str, "binary": bytes, "datetime": _dt.date,
}
_numpy_cache: dict[str, Any] = {}


class DataType(Enum):
    """Scalar column types of a signature; the member name is the JSON ``type``."""

    boolean = 1
    integer = 2
    long = 3
    float = 4
    double = 5
    string = 6
    binary = 7
    datetime = 8

    def __repr__(self) -> str:
        return self.name

    def to_numpy(self) -> Any:
        """The numpy dtype (``int64`` for long, ``<U0`` for string, ``datetime64[ns]`` ...)."""
        dtype = _numpy_cache.get(self.name)
        if dtype is None:
            import numpy as np

            dtype = _numpy_cache[self.name] = np.dtype(_NUMPY_NAMES[self.name])
        return dtype

    def to_pandas(self) -> Any:
        """The pandas dtype used when casting: ``object`` for string and binary, else the numpy dtype."""
        if self.name in ("string", "binary"):
            return object
        return self.to_numpy()

    def to_python(self) -> type:
        """The Python type of one value (``datetime.date`` for datetime)."""
        return _PYTHON_TYPES[self.name]

    def to_spark(self) -> Any:
        import pyspark.sql.types

        return getattr(pyspark.sql.types, _SPARK_NAMES[self.name])()

    @classmethod
    def check_type(cls, data_type: DataType, value: Any) -> bool:
        """Whether ``value``'s exact type belongs to ``data_type`` (no subclass or widening)."""
        kind = type(value)
        if kind is data_type.to_python() or kind is data_type.to_pandas():
            return True
        if data_type is DataType.datetime:
            import numpy as np

            return kind in (np.datetime64, _dt.datetime)
        if data_type is DataType.binary:
            return kind is bytearray
        if kind.__module__ == "numpy":  # numpy scalars: np.int64 is a long, np.str_ a string ...
            return kind is data_type.to_numpy().type
        return False

    @classmethod
    def all_types(cls) -> list[DataType]:
        return list(cls)

    @classmethod
    def get_spark_types(cls) -> list[Any]:
        return [t.to_spark() for t in cls]

    @classmethod
    def from_numpy_type(cls, np_type: Any) -> DataType | None:
        return next((t for t in cls if t.to_numpy() == np_type), None)


def _as_type(value: Any, what: str = "type") -> Any:
    """A DataType from its name, or the composite type itself; MlflowException for anything else."""
    if isinstance(value, str):
        try:
            return DataType[value]
        except KeyError:
            raise MlflowException.invalid_parameter_value(
                f"Unsupported {what} '{value}', expected instance of DataType, Array, Object, Map or "
                f"one of {[t.name for t in DataType]}"
            ) from None
    if isinstance(value, (DataType, Array, Object, Map, AnyType)):
        return value
    raise MlflowException.invalid_parameter_value(
        f"Expected fluvial.models.schema.DataType, Array, Object, Map, AnyType or str for the "
        f"'{what}' argument, but got {value!r}"
    )


def _type_to_dict(t: Any) -> dict[str, Any]:
    return {"type": t.name} if isinstance(t, DataType) else t.to_dict()


def _type_from_dict(d: Any, where: str) -> Any:
    """Read a type from its JSON dict (the ``items`` of an array, the ``values`` of a map ...)."""
    if not isinstance(d, dict) or "type" not in d:
        raise MlflowException.invalid_parameter_value(f"Missing keys in {where} JSON. Expected to find key `type`")
    kind = d["type"]
    if kind == ARRAY_TYPE:
        return Array.from_json_dict(**d)
    if kind == OBJECT_TYPE:
        return Object.from_json_dict(**d)
    if kind == MAP_TYPE:
        return Map.from_json_dict(**d)
    if kind == ANY_TYPE:
        return AnyType()
    if kind == SPARKML_VECTOR_TYPE:
        return SparkMLVector()
    return _as_type(kind)


class Property:
    """One named field of an ``Object``."""

    def __init__(self, name: str, dtype: Any, required: bool = True) -> None:
        if not isinstance(name, str):
            raise MlflowException.invalid_parameter_value(
                f"Expected name to be a string, got type {type(name).__name__}"
            )
        self._name = name
        self._dtype = _as_type(dtype, "dtype")
        self._required = required

    @property
    def name(self) -> str:
        return self._name

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def required(self) -> bool:
        return self._required

    @required.setter
    def required(self, value: bool) -> None:
        self._required = value

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Property) and self.name == other.name and self.dtype == other.dtype
                and self.required == other.required)

    __hash__ = None  # type: ignore[assignment]

    def __lt__(self, other: Property) -> bool:
        return self.name < other.name

    def __repr__(self) -> str:
        return f"{self.name}: {self.dtype!r} ({'required' if self.required else 'optional'})"

    def to_dict(self) -> dict[str, Any]:
        return {self.name: {**_type_to_dict(self.dtype), "required": self.required}}

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> Property:
        """Read ``{"<name>": {"type": ..., "required": ...}}``."""
        if len(kwargs) != 1:
            raise MlflowException.invalid_parameter_value(
                f"Expected Property JSON to contain a single key as name, got {len(kwargs)} keys."
            )
        name, body = next(iter(kwargs.items()))
        if not isinstance(body, dict) or "type" not in body:
            raise MlflowException.invalid_parameter_value(
                f"Missing keys in Property `{name}`. Expected to find key `type`"
            )
        return cls(name, _type_from_dict(body, "Property"), body.get("required", True))

    def _merge(self, other: Any) -> Property:
        """The property describing values of both ``self`` and ``other`` (for inference over rows)."""
        if isinstance(other, AnyType):
            return Property(self.name, self.dtype, required=False)
        if not isinstance(other, Property):
            raise MlflowException(f"Can't merge property with non-property type: {type(other).__name__}")
        if self.name != other.name:
            raise MlflowException("Can't merge properties with different names")
        required = self.required and other.required
        if isinstance(self.dtype, DataType):
            # an undetermined value (None) is compatible with any concrete type, in either order
            if self.dtype == other.dtype or isinstance(other.dtype, AnyType):
                return Property(self.name, self.dtype, required=required)
            raise MlflowException(f"Properties are incompatible for {self.dtype} and {other.dtype}")
        return Property(self.name, self.dtype._merge(other.dtype), required=required)


class Object:
    """A JSON object with known properties (kept sorted by name)."""

    def __init__(self, properties: list[Property]) -> None:
        self._properties = self._checked(properties)

    @staticmethod
    def _checked(properties: Any) -> list[Property]:
        if not isinstance(properties, list):
            raise MlflowException.invalid_parameter_value(
                f"Expected properties to be a list, got type {type(properties).__name__}"
            )
        if not properties:
            raise MlflowException.invalid_parameter_value("Creating Object with empty properties is not allowed.")
        if not all(isinstance(p, Property) for p in properties):
            raise MlflowException.invalid_parameter_value("Expected values to be instance of Property")
        seen: set[str] = set()
        duplicates = [p.name for p in properties if p.name in seen or seen.add(p.name)]  # type: ignore[func-returns-value]
        if duplicates:
            raise MlflowException.invalid_parameter_value(f"Found duplicated property names: {set(duplicates)}")
        return sorted(properties)

    @property
    def properties(self) -> list[Property]:
        return self._properties

    @properties.setter
    def properties(self, value: list[Property]) -> None:
        self._properties = self._checked(value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Object) and self.properties == other.properties

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "{" + ", ".join(map(repr, self.properties)) + "}"

    def to_dict(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for prop in self.properties:
            props.update(prop.to_dict())
        return {"type": OBJECT_TYPE, "properties": props}

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> Object:
        if not {"properties", "type"} <= kwargs.keys():
            raise MlflowException.invalid_parameter_value(
                "Missing keys in Object JSON. Expected to find keys `properties` and `type`"
            )
        if kwargs["type"] != OBJECT_TYPE:
            raise MlflowException.invalid_parameter_value("Type mismatch, Object expects `object` as the type")
        props = kwargs["properties"]
        if not isinstance(props, dict) or not all(isinstance(p, dict) for p in props.values()):
            raise MlflowException.invalid_parameter_value("Expected properties to be a dictionary of Property JSON")
        return cls([Property.from_json_dict(**{name: body}) for name, body in props.items()])

    def _merge(self, other: Any) -> Object:
        if isinstance(other, AnyType):
            return Object([Property(p.name, p.dtype, required=False) for p in self.properties])
        if not isinstance(other, Object):
            raise MlflowException(f"Can't merge object with non-object type: {type(other).__name__}")
        if self == other:
            return Object(list(self.properties))
        mine = {p.name: p for p in self.properties}
        theirs = {p.name: p for p in other.properties}
        merged = [
            mine[name]._merge(theirs[name]) if name in mine and name in theirs
            else Property(name, (mine.get(name) or theirs[name]).dtype, required=False)
            for name in {*mine, *theirs}
        ]
        return Object(merged)


class Array:
    """A JSON list whose items all have ``dtype``."""

    def __init__(self, dtype: Any) -> None:
        self._dtype = _as_type(dtype, "dtype")

    @property
    def dtype(self) -> Any:
        return self._dtype

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Array) and not isinstance(other, SparkMLVector) and self.dtype == other.dtype

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Array({self.dtype!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"type": ARRAY_TYPE, "items": _type_to_dict(self.dtype)}

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> Array:
        if not {"items", "type"} <= kwargs.keys():
            raise MlflowException.invalid_parameter_value(
                "Missing keys in Array JSON. Expected to find keys `items` and `type`"
            )
        if kwargs["type"] != ARRAY_TYPE:
            raise MlflowException.invalid_parameter_value("Type mismatch, Array expects `array` as the type")
        return cls(_type_from_dict(kwargs["items"], "Array's items"))

    def _merge(self, other: Any) -> Array:
        if isinstance(other, AnyType) or self == other:
            return Array(self.dtype)
        if not isinstance(other, Array):
            raise MlflowException(f"Can't merge array with non-array type: {type(other).__name__}")
        if isinstance(self.dtype, DataType):
            if isinstance(other.dtype, AnyType):
                return Array(self.dtype)
            raise MlflowException(
                f"Array types are incompatible for {self} with dtype={self.dtype} and "
                f"{other} with dtype={other.dtype}"
            )
        return Array(self.dtype._merge(other.dtype))


class SparkMLVector(Array):
    """Spark ML's vector type: an array of doubles, written as ``{"type": "sparkml_vector"}``."""

    def __init__(self) -> None:
        super().__init__(DataType.double)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SparkMLVector)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "SparkML vector"

    def to_dict(self) -> dict[str, Any]:
        return {"type": SPARKML_VECTOR_TYPE}

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> SparkMLVector:
        return cls()

    def _merge(self, other: Any) -> SparkMLVector:
        if isinstance(other, SparkMLVector):
            return SparkMLVector()
        raise MlflowException("SparkML vector type can't be merged with another Array type.")


class Map:
    """A JSON object with string keys and values of ``value_type``."""

    def __init__(self, value_type: Any) -> None:
        self._value_type = _as_type(value_type, "value_type")

    @property
    def value_type(self) -> Any:
        return self._value_type

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Map) and self.value_type == other.value_type

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Map(str -> {self.value_type})"

    def to_dict(self) -> dict[str, Any]:
        return {"type": MAP_TYPE, "values": _type_to_dict(self.value_type)}

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> Map:
        if not {"values", "type"} <= kwargs.keys():
            raise MlflowException.invalid_parameter_value(
                "Missing keys in Map JSON. Expected to find keys `values` and `type`"
            )
        if kwargs["type"] != MAP_TYPE:
            raise MlflowException.invalid_parameter_value("Type mismatch, Map expects `map` as the type")
        return cls(_type_from_dict(kwargs["values"], "Map's values"))

    def _merge(self, other: Any) -> Map:
        if isinstance(other, AnyType) or self == other:
            return Map(self.value_type)
        if not isinstance(other, Map):
            raise MlflowException(f"Can't merge map with non-map type: {type(other).__name__}")
        if isinstance(self.value_type, DataType):
            if isinstance(other.value_type, AnyType):
                return Map(self.value_type)
            raise MlflowException(
                f"Map types are incompatible for {self} with value_type={self.value_type} and "
                f"{other} with value_type={other.value_type}"
            )
        return Map(self.value_type._merge(other.value_type))


class AnyType:
    """Any JSON value, None included; nothing is validated."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnyType)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Any"

    def to_dict(self) -> dict[str, Any]:
        return {"type": ANY_TYPE}

    def _merge(self, other: Any) -> Any:
        if isinstance(other, (AnyType, DataType)):
            return other
        if not isinstance(other, (Array, Object, Map)):
            raise MlflowException(f"Can't merge AnyType with {type(other).__name__}, it must be a type")
        return other._merge(self)  # merging with "undetermined" makes the other side optional


# What a ColSpec, Property, Array item or Map value may be.
ColSpecType = Union[DataType, Array, Object, Map, AnyType]
