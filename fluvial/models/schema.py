"""Schemas of model inputs, outputs and inference parameters.

A ``Schema`` is a list of ``ColSpec`` (columns with a ``DataType`` or a composite type) or of
``TensorSpec`` (numpy dtype + shape), never both; all named or all unnamed. ``ParamSchema`` lists the
``ParamSpec`` of the parameters ``predict`` accepts. The JSON forms, key order included, are MLflow's:

    ColSpec     {"type": "double", "name": "a", "required": true}
                {"type": "array", "items": {"type": "long"}, "name": "b", "required": true}
    TensorSpec  {"name": "t", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}
    ParamSpec   {"name": "p", "default": 1.0, "shape": null, "type": "double"}

numpy is imported only when a TensorSpec is built or a parameter value is checked.
"""

from __future__ import annotations

import json
import string
import typing
from typing import Any, Union

from fluvial.exceptions import MlflowException
from fluvial.models.types import (
    ANY_TYPE,
    ARRAY_TYPE,
    MAP_TYPE,
    OBJECT_TYPE,
    SPARKML_VECTOR_TYPE,
    AnyType,
    Array,
    ColSpecType,
    DataType,
    Map,
    Object,
    Property,
    SparkMLVector,
    _as_type,
    _type_from_dict,
    _type_to_dict,
)

__all__ = [
    "AnyType", "Array", "ColSpec", "DataType", "Map", "Object", "ParamSchema", "ParamSpec", "Property",
    "Schema", "SparkMLVector", "TensorInfo", "TensorSpec", "convert_dataclass_to_schema",
]

_COMPOSITE = (ARRAY_TYPE, OBJECT_TYPE, MAP_TYPE, ANY_TYPE, SPARKML_VECTOR_TYPE)


class ColSpec:
    """One column: its type, optional name (a string, or an int for integer-labelled frames), requiredness."""

    def __init__(self, type: Any, name: Any = None, required: bool = True) -> None:
        self._name = name
        self._required = required
        if isinstance(type, str):
            self._type = _as_type(type)
        elif isinstance(type, (DataType, Array, Object, Map, AnyType)):
            self._type = type
        else:
            raise TypeError(
                "Expected fluvial.models.schema.DataType, Array, Object, Map, AnyType or str for the "
                f"'type' argument, but got {type!r}"
            )

    @property
    def type(self) -> ColSpecType:
        return self._type

    @property
    def name(self) -> Any:
        return self._name

    @name.setter
    def name(self, value: Any) -> None:
        self._name = value

    @property
    def required(self) -> bool:
        return self._required

    def to_dict(self) -> dict[str, Any]:
        d = _type_to_dict(self._type)
        if self._name is not None:
            d["name"] = self._name
        d["required"] = self._required
        return d

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ColSpec) and self.name == other.name and self.type == other.type
                and self.required == other.required)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        required = "required" if self.required else "optional"
        if self.name is None:
            return f"{self.type!r} ({required})"
        return f"{self.name!r}: {self.type!r} ({required})"

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> ColSpec:
        """Read one ColSpec JSON object; ``required`` defaults to true when absent (older models)."""
        if "type" not in kwargs:
            raise MlflowException.invalid_parameter_value("Missing keys in ColSpec JSON. Expected to find key `type`")
        name = kwargs.get("name")
        required = kwargs.get("required", True)
        if kwargs["type"] in _COMPOSITE:
            body = {k: v for k, v in kwargs.items() if k not in ("name", "required")}
            return cls(_type_from_dict(body, "ColSpec"), name, required)
        return cls(kwargs["type"], name, required)


class TensorInfo:
    """The dtype and shape of a tensor (``-1`` marks a variable dimension)."""

    def __init__(self, dtype: Any, shape: tuple[Any, ...] | list[Any]) -> None:
        import numpy as np

        if not isinstance(dtype, np.dtype):
            raise TypeError(f"Expected `dtype` to be instance of `{np.dtype}`, received `{dtype.__class__}`")
        if dtype.char in ("U", "S") and not dtype.name.isalpha():
            raise MlflowException.invalid_parameter_value(
                "MLflow does not support size information in flexible numpy data types. Use"
                f' np.dtype("{dtype.name.rstrip(string.digits)}") instead'
            )
        if not isinstance(shape, (tuple, list)):
            raise TypeError(f"Expected `shape` to be instance of `{tuple}` or `{list}`, received `{shape.__class__}`")
        self._dtype = dtype
        self._shape = tuple(shape)

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def shape(self) -> tuple[Any, ...]:
        return self._shape

    def to_dict(self) -> dict[str, Any]:
        return {"dtype": self._dtype.name, "shape": self._shape}

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> TensorInfo:
        if not {"dtype", "shape"} <= kwargs.keys():
            raise MlflowException.invalid_parameter_value(
                "Missing keys in TensorSpec JSON. Expected to find keys `dtype` and `shape`"
            )
        import numpy as np

        return cls(np.dtype(kwargs["dtype"]), tuple(kwargs["shape"]))

    def __repr__(self) -> str:
        return f"Tensor({self.dtype.name!r}, {self.shape!r})"


class TensorSpec:
    """A tensor input or output: numpy dtype, shape and an optional name."""

    def __init__(self, type: Any, shape: tuple[Any, ...] | list[Any], name: str | None = None) -> None:
        self._name = name
        self._info = TensorInfo(type, shape)

    @property
    def type(self) -> Any:
        """The numpy dtype."""
        return self._info.dtype

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def shape(self) -> tuple[Any, ...]:
        return self._info.shape

    @property
    def required(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        spec = {"type": "tensor", "tensor-spec": self._info.to_dict()}
        return spec if self._name is None else {"name": self._name, **spec}

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> TensorSpec:
        if not {"tensor-spec", "type"} <= kwargs.keys():
            raise MlflowException.invalid_parameter_value(
                "Missing keys in TensorSpec JSON. Expected to find keys `tensor-spec` and `type`"
            )
        if kwargs["type"] != "tensor":
            raise MlflowException.invalid_parameter_value("Type mismatch, TensorSpec expects `tensor` as the type")
        info = TensorInfo.from_json_dict(**kwargs["tensor-spec"])
        return cls(info.dtype, info.shape, kwargs.get("name"))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TensorSpec) and self.name == other.name and self.type == other.type
                and self.shape == other.shape)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._info) if self.name is None else f"{self.name!r}: {self._info!r}"


class Schema:
    """The specification of a dataset: all ``ColSpec`` or all ``TensorSpec``, all named or all unnamed."""

    def __init__(self, inputs: list[Union[ColSpec, TensorSpec]]) -> None:
        if not isinstance(inputs, list):
            raise MlflowException.invalid_parameter_value(
                f"Inputs of Schema must be a list, got type {type(inputs).__name__}"
            )
        if not inputs:
            raise MlflowException.invalid_parameter_value("Creating Schema with empty inputs is not allowed.")
        named = [x.name is not None for x in inputs]
        if any(named) and not all(named):
            raise MlflowException.invalid_parameter_value(
                "Creating Schema with a combination of named and unnamed inputs is not allowed. "
                f"Got input names {[x.name for x in inputs]}"
            )
        tensors = [isinstance(x, TensorSpec) for x in inputs]
        if (any(tensors) and not all(tensors)) or not all(isinstance(x, (ColSpec, TensorSpec)) for x in inputs):
            raise MlflowException.invalid_parameter_value(
                "Creating Schema with a combination of ColSpec and TensorSpec is not supported. "
                "Please choose one of ColSpec or TensorSpec"
            )
        if tensors[0] and len(inputs) > 1 and not named[0]:
            raise MlflowException.invalid_parameter_value(
                "Creating Schema with multiple unnamed TensorSpecs is not supported. "
                "Please provide names for each TensorSpec."
            )
        if not named[0] and any(x.required is False for x in inputs):
            raise MlflowException.invalid_parameter_value(
                "Creating Schema with unnamed optional inputs is not supported. "
                "Please name all inputs or make all inputs required."
            )
        self._inputs = inputs
        self._plan: Any = None  # enforcement's cached column plan (see enforcement.py)

    def __len__(self) -> int:
        return len(self._inputs)

    def __iter__(self) -> typing.Iterator[Union[ColSpec, TensorSpec]]:
        return iter(self._inputs)

    @property
    def inputs(self) -> list[Union[ColSpec, TensorSpec]]:
        return self._inputs

    def is_tensor_spec(self) -> bool:
        return isinstance(self._inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        return self._inputs[0].name is not None

    # As in MLflow, a falsy name (0, "") is reported by its position.
    def input_names(self) -> list[Any]:
        return [x.name or i for i, x in enumerate(self._inputs)]

    def required_input_names(self) -> list[Any]:
        return [x.name or i for i, x in enumerate(self._inputs) if x.required]

    def optional_input_names(self) -> list[Any]:
        return [x.name or i for i, x in enumerate(self._inputs) if not x.required]

    def input_types(self) -> list[Any]:
        return [x.type for x in self._inputs]

    def input_types_dict(self) -> dict[Any, Any]:
        if not self.has_input_names():
            raise MlflowException("Cannot get input types as a dict for schema without names.")
        return {x.name: x.type for x in self._inputs}

    def input_dict(self) -> dict[Any, Union[ColSpec, TensorSpec]]:
        if not self.has_input_names():
            raise MlflowException("Cannot get input dict for schema without names.")
        return {x.name: x for x in self._inputs}

    def numpy_types(self) -> list[Any]:
        if self.is_tensor_spec():
            return [x.type for x in self._inputs]
        if all(isinstance(x.type, DataType) for x in self._inputs):
            return [x.type.to_numpy() for x in self._inputs]  # type: ignore[union-attr]
        raise MlflowException("Failed to get numpy types as some of the inputs types are not DataType.")

    def pandas_types(self) -> list[Any]:
        if self.is_tensor_spec():
            raise MlflowException("TensorSpec only supports numpy types, use numpy_types() instead")
        if all(isinstance(x.type, DataType) for x in self._inputs):
            return [x.type.to_pandas() for x in self._inputs]  # type: ignore[union-attr]
        raise MlflowException("Failed to get pandas types as some of the inputs types are not DataType.")

    def as_spark_schema(self) -> Any:
        if self.is_tensor_spec():
            raise MlflowException("TensorSpec cannot be converted to spark dataframe")
        if len(self._inputs) == 1 and self._inputs[0].name is None:
            return self._inputs[0].type.to_spark()  # type: ignore[union-attr]
        from pyspark.sql.types import StructField, StructType

        return StructType([
            StructField(col.name or str(i), col.type.to_spark(), nullable=not col.required)  # type: ignore[union-attr]
            for i, col in enumerate(self._inputs)
        ])

    def to_dict(self) -> list[dict[str, Any]]:
        return [x.to_dict() for x in self._inputs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, json_str: str) -> Schema:
        items = json.loads(json_str)
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise MlflowException.invalid_parameter_value(f"A schema must be a JSON list of objects, got: {json_str!r}")
        return cls([
            TensorSpec.from_json_dict(**x) if x.get("type") == "tensor" else ColSpec.from_json_dict(**x)
            for x in items
        ])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self._inputs == other._inputs

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._inputs)


class ParamSpec:
    """One inference parameter: name, type (a DataType other than binary, or an Object), default, shape
    (``None`` for a scalar, ``(-1,)`` for a 1-D list)."""

    def __init__(self, name: str, dtype: Any, default: Any, shape: tuple[int, ...] | None = None) -> None:
        self._name = str(name)
        self._shape = tuple(shape) if shape is not None else None
        if isinstance(dtype, str):
            try:
                dtype = DataType[dtype]
            except KeyError:
                supported = [t.name for t in DataType if t is not DataType.binary]
                raise MlflowException.invalid_parameter_value(
                    f"Unsupported type '{dtype}', expected instance of DataType or one of {supported}"
                ) from None
        if not isinstance(dtype, (DataType, Object)):
            raise TypeError(f"'dtype' must be DataType, Object or str, got {dtype}")
        if dtype is DataType.binary:
            raise MlflowException.invalid_parameter_value(
                f"Binary type is not supported for parameters, ParamSpec '{self._name}'has dtype 'binary'"
            )
        self._dtype = dtype
        self._default = default  # set first so that repr(self) works in the error message
        self._default = self.validate_type_and_shape(repr(self), default, dtype, self._shape)

    @classmethod
    def validate_param_spec(cls, value: Any, param_spec: ParamSpec) -> Any:
        return cls.validate_type_and_shape(repr(param_spec), value, param_spec.dtype, param_spec.shape)

    @classmethod
    def validate_type_and_shape(cls, spec: str, value: Any, value_type: Any, shape: tuple[int, ...] | None) -> Any:
        """``value`` converted to the parameter's Python type; MlflowException when it does not fit."""
        from fluvial.models._enforce_values import validate_param_value

        return validate_param_value(spec, value, value_type, shape)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def default(self) -> Any:
        return self._default

    @property
    def shape(self) -> tuple[int, ...] | None:
        return self._shape

    def to_dict(self) -> dict[str, Any]:
        default = self._default
        if self._dtype is DataType.datetime and default is not None:
            default = [v.isoformat() for v in default] if self._shape == (-1,) else default.isoformat()
        return {"name": self._name, "default": default, "shape": self._shape, **_type_to_dict(self._dtype)}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ParamSpec) and self.name == other.name and self.dtype == other.dtype
                and self.default == other.default and self.shape == other.shape)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shape = f" (shape: {self.shape})" if self.shape is not None else ""
        return f"{self.name!r}: {self.dtype!r} (default: {self.default}){shape}"

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> ParamSpec:
        """Read a ParamSpec; the type may be under ``type`` or (older models) ``dtype``."""
        if not ({"name", "default"} <= kwargs.keys() and ("type" in kwargs or "dtype" in kwargs)):
            raise MlflowException.invalid_parameter_value(
                "Missing keys in ParamSpec JSON. Expected to find keys `name`, `type`(or `dtype`) and "
                f"`default`. Received keys: {kwargs.keys()}"
            )
        dtype = kwargs.get("type") or kwargs.get("dtype")
        if dtype == OBJECT_TYPE:
            dtype = Object.from_json_dict(type=OBJECT_TYPE, properties=kwargs.get("properties"))
        return cls(str(kwargs["name"]), dtype, kwargs["default"], kwargs.get("shape"))


class ParamSchema:
    """The parameters a model's ``predict`` accepts."""

    def __init__(self, params: list[ParamSpec]) -> None:
        if not all(isinstance(x, ParamSpec) for x in params):
            raise MlflowException.invalid_parameter_value("ParamSchema inputs only accept ParamSpec")
        seen: set[str] = set()
        duplicates = [p.name for p in params if p.name in seen or seen.add(p.name)]  # type: ignore[func-returns-value]
        if duplicates:
            raise MlflowException.invalid_parameter_value(f"Duplicated parameters found in schema: {duplicates}")
        self._params = params

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> typing.Iterator[ParamSpec]:
        return iter(self._params)

    @property
    def params(self) -> list[ParamSpec]:
        return self._params

    def to_dict(self) -> list[dict[str, Any]]:
        return [x.to_dict() for x in self._params]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, json_str: str) -> ParamSchema:
        items = json.loads(json_str)
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise MlflowException.invalid_parameter_value(f"A params schema must be a JSON list, got: {json_str!r}")
        return cls([ParamSpec.from_json_dict(**x) for x in items])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSchema) and self._params == other._params

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._params)


def convert_dataclass_to_schema(dataclass: Any) -> Schema:
    """A Schema with one ColSpec per field of ``dataclass`` (a class or an instance); nested dataclasses
    become ``Object``s, ``list[...]`` fields ``Array``s, ``Optional[...]`` fields optional columns."""
    from fluvial.models._dataclass_schema import dataclass_to_schema

    return dataclass_to_schema(dataclass)
