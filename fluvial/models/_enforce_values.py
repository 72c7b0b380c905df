"""Value-level rules of schema enforcement: which column dtypes may be converted to a ``DataType`` (and
how), element-wise checks of array/object/map values, and the checks of inference parameter values.

The conversion rules are MLflow's ("only safe conversions"):

    declared  accepted input (converted to the declared type)
    any       the exact dtype (unchanged)
    string    object or pandas string columns (unchanged, any contents)
    binary    object, pandas string or numpy bytes columns of any item size (unchanged)
    long      int8/16/32, uint8/16/32
    integer   int8/16, uint8/16
    double    float16/32, int/uint of at most 32 bits, int64 holding only 0/1, object values
              ``pd.to_numeric`` accepts (Decimal ...)
    float     float16, int64 holding only 0/1
    datetime  datetime64 of any unit (timezone-naive), object values pandas parses as datetimes
    boolean   object columns (None kept)

Everything else is refused: ``Incompatible input types for column x. Can not safely convert int64 to
float64.`` Object columns are first narrowed with ``infer_objects()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fluvial.exceptions import MlflowException
from fluvial.models.types import AnyType, Array, DataType, Map, Object

_MISSING_VALUES_HINT = (
    " Hint: the type mismatch is likely caused by missing values. Integer columns in python can not "
    "represent missing values and are therefore encoded as floats. The best way to avoid this problem is "
    "to infer the model schema based on a realistic data sample (training dataset) that includes missing "
    "values. Alternatively, you can declare integer columns as doubles (float64) whenever these columns "
    "may have missing values. See `Handling Integers With Missing Values "
    "<https://www.mlflow.org/docs/latest/models.html#handling-integers-with-missing-values>`_ for more details."
)
_OBJECT = np.dtype(object)
_INT64 = np.dtype("int64")
_FLOAT64 = np.dtype("float64")
_NS = np.dtype("datetime64[ns]")

KEEP = "keep"  # a quick decision: the column is fine as it is


def _is_pandas_string(dtype: Any) -> bool:
    return isinstance(dtype, pd.StringDtype)


def quick_action(dtype: Any, t: DataType) -> Any:
    """What to do with a column of ``dtype`` declared as ``t``, decided from the dtype alone:
    ``KEEP``, a numpy dtype to cast to, or None when the values must be looked at (``enforce_series``)."""
    if t is DataType.string or t is DataType.binary:
        if dtype is _OBJECT or dtype == _OBJECT or _is_pandas_string(dtype):
            return KEEP
        if t is DataType.binary and isinstance(dtype, np.dtype) and dtype.kind == "S":
            return KEEP
    target = t.to_numpy()
    if not isinstance(dtype, np.dtype):
        return None
    if dtype == target:
        return KEEP
    kind = dtype.kind
    if t is DataType.datetime:
        return target if kind == "M" else None  # numpy datetimes are timezone-naive: any unit will do
    if kind == "O":
        return None
    if kind == target.kind:
        return target if dtype.itemsize <= target.itemsize else None
    if kind == "u" and target.kind == "i":
        return target if dtype.itemsize < target.itemsize else None
    if kind in "iu" and target == _FLOAT64:
        return target if dtype.itemsize <= 6 else None
    return None


def _incompatible(name: Any, dtype: Any, target: Any, hint: str = "") -> MlflowException:
    return MlflowException(f"Incompatible input types for column {name}. Can not safely convert {dtype} to {target}.{hint}")


def enforce_series(name: Any, values: pd.Series, t: DataType) -> pd.Series:
    """``values`` converted to ``t`` under the rules above, or MlflowException."""
    dtype = values.dtype
    if _is_pandas_string(dtype) and t is not DataType.string and t is not DataType.binary:
        values = values.astype(object)  # a pandas string column behaves like an object column of str
        dtype = _OBJECT
    if dtype == _OBJECT and t is not DataType.string and t is not DataType.binary:
        narrowed = values.infer_objects()
        if not _is_pandas_string(narrowed.dtype):
            values, dtype = narrowed, narrowed.dtype
    action = quick_action(dtype, t)
    if action is KEEP:
        return values
    target = t.to_numpy()
    if action is not None:
        try:
            return values.astype(action)
        except (ValueError, TypeError) as exc:
            raise MlflowException(f"Failed to convert column {name} from type {dtype} to {t}: {exc}") from exc
    if t is DataType.datetime:
        if getattr(dtype, "kind", None) == "M":
            try:
                return values.astype(_NS)
            except TypeError as exc:
                raise MlflowException(
                    "Please ensure that the input data of datetime column only contains timezone-naive "
                    f"datetime objects. Error: {exc}"
                ) from exc
        if dtype == _OBJECT:
            try:
                return values.astype(_NS)
            except (ValueError, TypeError, OverflowError) as exc:
                raise MlflowException(f"Failed to convert column {name} from type {dtype} to {t}.") from exc
    if dtype == _OBJECT:
        if t is DataType.boolean:
            return values  # converting would turn None into False
        if t is DataType.double:
            try:
                return pd.to_numeric(values, errors="raise")
            except (ValueError, TypeError) as exc:
                raise MlflowException(f"Failed to convert column {name} from type {dtype} to {t}.") from exc
    if isinstance(dtype, np.dtype) or (getattr(dtype, "kind", None) in ("b", "i", "u", "f") and hasattr(dtype, "itemsize")):
        kind = dtype.kind
        if kind == target.kind:
            if dtype.itemsize <= target.itemsize:
                return _cast(name, values, dtype, t)
        elif kind == "u" and target.kind == "i":
            if dtype.itemsize < target.itemsize:
                return _cast(name, values, dtype, t)
        elif kind in "iu" and target == _FLOAT64 and dtype.itemsize <= 6:
            return _cast(name, values, dtype, t)
    if dtype == _INT64 and target.kind == "f":
        arr = values.to_numpy()
        if bool(((arr == 0) | (arr == 1)).all()):  # MLflow lets 0/1 integer columns through as floats
            return values.astype(target)
    hint = ""
    if dtype == _FLOAT64 and target.kind in "iu" and values.hasnans:
        arr = values.to_numpy()
        finite = arr[~np.isnan(arr)]
        if bool((np.isfinite(finite) & (finite == np.floor(finite))).all()):
            hint = _MISSING_VALUES_HINT
    raise _incompatible(name, dtype, target, hint)


def _cast(name: Any, values: pd.Series, dtype: Any, t: DataType) -> pd.Series:
    try:
        return values.astype(t.to_numpy())
    except (ValueError, TypeError) as exc:
        raise MlflowException(f"Failed to convert column {name} from type {dtype} to {t}: {exc}") from exc


# --- element-wise checks of array / object / map values --------------------------------------------


def is_none_or_nan(x: Any) -> bool:
    if isinstance(x, float):
        return x != x
    return x is None or x is pd.NA or x is pd.NaT


# exact Python type -> (DataType, converter giving what a one-element Series would hold)
_SCALAR_FAST = {
    (int, DataType.long): np.int64,
    (float, DataType.double): np.float64,
    (str, DataType.string): None,
    (bool, DataType.boolean): np.bool_,
    (bytes, DataType.binary): None,
}
_PY_TYPE = {DataType.long: int, DataType.double: float, DataType.string: str, DataType.boolean: bool,
            DataType.binary: bytes}


def _enforce_datatype(data: Any, dtype: Any, required: bool = True) -> Any:
    if not required and is_none_or_nan(data):
        return None
    if not isinstance(dtype, DataType):
        raise MlflowException(f"Expected dtype to be DataType, got {type(dtype).__name__}")
    key = (type(data), dtype)
    if key in _SCALAR_FAST:
        convert = _SCALAR_FAST[key]
        return data if convert is None else convert(data)
    if not np.isscalar(data):
        raise MlflowException(f"Expected data to be scalar, got {type(data).__name__}")
    try:
        return enforce_series("", pd.Series([data]), dtype).iloc[0]
    except MlflowException:
        raise MlflowException(f"Failed to enforce schema of data `{data!s}` with dtype `{dtype.name}`") from None


def _enforce_array(data: Any, arr: Array, required: bool = True) -> Any:
    if (not required or isinstance(arr.dtype, AnyType)) and (
        data is None or (isinstance(data, (list, np.ndarray)) and len(data) == 0)
    ):
        return data
    if not isinstance(data, (list, np.ndarray)):
        raise MlflowException(f"Expected data to be list or numpy array, got {type(data).__name__}")
    item = arr.dtype
    if isinstance(item, DataType):
        if len(data) == 0:
            return data
        if isinstance(data, list):
            py_type = _PY_TYPE.get(item)
            if py_type is not None and all(type(x) is py_type for x in data):
                return list(data)
        elif data.dtype == item.to_numpy():
            return data
        enforced = enforce_series("", pd.Series(data), item).to_numpy(dtype=item.to_numpy())
        return enforced.tolist() if isinstance(data, list) else enforced
    values = [enforce_type(x, item, required=required) for x in data]
    return np.array(values) if isinstance(data, np.ndarray) else values


def _set_repr(items: list[Any]) -> str:
    """A set literal in a stable order (MLflow prints Python sets, whose order varies)."""
    return "{" + ", ".join(repr(x) for x in items) + "}"


def _enforce_object(data: Any, obj: Object, required: bool = True) -> Any:
    if hasattr(data, "asDict") and type(data).__module__.startswith("pyspark"):
        data = None if len(data) == 0 else data.asDict(True)
    if not required and (data is None or (isinstance(data, dict) and not data)):
        return data
    if not isinstance(data, dict):
        raise MlflowException(
            f"Failed to enforce schema of '{data}' with type '{obj}'. "
            f"Expected data to be dictionary, got {type(data).__name__}"
        )
    props = {p.name: p for p in obj.properties}
    missing = [name for name, p in props.items() if p.required and name not in data]
    if missing:
        raise MlflowException(f"Missing required properties: {_set_repr(missing)}")
    unknown = [k for k in data if k not in props]
    if unknown:
        raise MlflowException(f"Invalid properties not defined in the schema found: {_set_repr(unknown)}")
    out = {}
    for key, value in data.items():
        prop = props[key]
        try:
            out[key] = enforce_type(value, prop.dtype, required=prop.required)
        except MlflowException as exc:
            raise MlflowException(
                f"Failed to enforce schema for key `{key}`. Expected type {prop.to_dict()[key]['type']}, "
                f"received type {type(value).__name__}"
            ) from exc
    return out


def _enforce_map(data: Any, map_type: Map, required: bool = True) -> Any:
    if (not required or isinstance(map_type.value_type, AnyType)) and (
        data is None or (isinstance(data, dict) and not data)
    ):
        return data
    if not isinstance(data, dict):
        raise MlflowException(f"Expected data to be a dict, got {type(data).__name__}")
    if not all(isinstance(k, str) for k in data):
        raise MlflowException("Expected all keys in the map type data are string type.")
    return {k: enforce_type(v, map_type.value_type, required=required) for k, v in data.items()}


def enforce_type(data: Any, data_type: Any, required: bool = True) -> Any:
    """One value checked (and converted where MLflow converts) against a DataType or composite type."""
    if isinstance(data_type, DataType):
        return _enforce_datatype(data, data_type, required=required)
    if isinstance(data_type, Array):
        return _enforce_array(data, data_type, required=required)
    if isinstance(data_type, Object):
        return _enforce_object(data, data_type, required=required)
    if isinstance(data_type, Map):
        return _enforce_map(data, data_type, required=required)
    if isinstance(data_type, AnyType):
        return data
    raise MlflowException(f"Invalid data type: {data_type!r}")


# --- inference parameters ----------------------------------------------------------------------------

_PARAM_WIDENING = {
    DataType.long: (DataType.integer,),
    DataType.float: (DataType.integer, DataType.long),
    DataType.double: (DataType.integer, DataType.long, DataType.float),
}


def enforce_param_datatype(value: Any, dtype: Any) -> Any:
    """A parameter value as the Python type of ``dtype`` (ints widen to floats, strings parse as dates)."""
    if value is None:
        return None
    if dtype is DataType.datetime:
        try:
            converted = np.datetime64(value).item()
        except ValueError as exc:
            raise MlflowException.invalid_parameter_value(
                f"Failed to convert value `{value}` from type `{type(value)}` to `{dtype}`"
            ) from exc
        if isinstance(converted, int):
            raise MlflowException.invalid_parameter_value(
                f"Failed to convert value to `{dtype}`. It must be convertible to datetime.date/datetime, got `{value}`"
            )
        return converted
    if not np.isscalar(value):
        raise MlflowException.invalid_parameter_value(f"Value must be a scalar for type `{dtype}`, got `{value}`")
    if DataType.check_type(dtype, value) or any(DataType.check_type(t, value) for t in _PARAM_WIDENING.get(dtype, ())):
        try:
            return dtype.to_python()(value)
        except ValueError as exc:
            raise MlflowException.invalid_parameter_value(
                f"Failed to convert value `{value!s}` from type `{type(value)}` to `{dtype}`"
            ) from exc
    raise MlflowException.invalid_parameter_value(
        f"Can not safely convert `{type(value)}` to `{dtype}` for value `{value!s}`"
    )


def _ndim(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.ndim
    if isinstance(value, (list, tuple)):
        return 1 + max((_ndim(v) for v in value), default=0)
    return 0


def validate_param_value(spec: str, value: Any, value_type: Any, shape: tuple[int, ...] | None) -> Any:
    """``value`` checked against a parameter's type and shape; returns the converted value."""
    if shape == (-1,) and not (isinstance(value, (list, np.ndarray)) and _ndim(value) == 1):
        raise MlflowException.invalid_parameter_value(
            f"Value must be a 1D array with shape (-1,) for param {spec}, "
            f"received {type(value).__name__} with ndim {_ndim(value)}"
        )
    try:
        if shape is None:
            if isinstance(value_type, Object):
                _enforce_object(value, value_type)  # checked only: the caller keeps its own value and types
                return value
            return enforce_param_datatype(value, value_type)
        if shape == (-1,):
            return [enforce_param_datatype(v, value_type) for v in value]
    except Exception as exc:
        raise MlflowException.invalid_parameter_value(
            f"Failed to validate type and shape for {spec}, error: {exc}"
        ) from exc
    raise MlflowException.invalid_parameter_value(
        "Shape must be None for scalar or dictionary value, or (-1,) for 1D array value "
        f"for ParamSpec {spec}), received {shape}"
    )
