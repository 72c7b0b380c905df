"""Schema inference from example data (what ``infer_signature`` runs), with MLflow's results:

    DataFrame / Series        one ColSpec per column, typed from the dtype (object columns from their
                              values: lists -> array, dicts -> object); ``required`` false when a value
                              is missing; integer column labels stay ints
    ndarray, csr/csc matrix   one unnamed TensorSpec, first dimension -1
    dict of ndarrays          named TensorSpecs
    dict of values            named ColSpecs (list -> array, dict -> object, None -> optional any)
    list of dicts             named ColSpecs; keys missing from some records -> optional
    list / scalar             one unnamed ColSpec (an empty list is a string column: MLflow's quirk)

A warning reminds that integer columns cannot hold missing values.
"""

from __future__ import annotations

import datetime as _dt
import sys
import warnings
from collections import defaultdict
from copy import deepcopy
from typing import Any

import numpy as np
import pandas as pd

from fluvial.exceptions import MlflowException
from fluvial.models._enforce_tensor import clean_tensor_type, is_sparse
from fluvial.models._enforce_values import is_none_or_nan
from fluvial.models.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec
from fluvial.models.types import AnyType, Array, DataType, Map, Object, Property, SparkMLVector

MULTIPLE_TYPES_ERROR_MSG = (
    "Expected all values in the list to be of the same type. To specify a model signature with a list "
    "containing elements of multiple types, define the signature manually using the Array(AnyType()) type "
    "from fluvial.models.schema."
)
_INTEGER_HINT = (
    "Hint: Inferred schema contains integer column(s). Integer columns in Python cannot represent missing "
    "values. If your input data contains missing values at inference time, it will be encoded as floats and "
    "will cause a schema enforcement error. The best way to avoid this problem is to infer the model schema "
    "based on a realistic data sample (training dataset) that includes missing values. Alternatively, you "
    "can declare integer columns as doubles (float64) whenever these columns may have missing values. See "
    "`Handling Integers With Missing Values <https://www.mlflow.org/docs/latest/models.html#"
    "handling-integers-with-missing-values>`_ for more details."
)


class InvalidDataForSignatureInferenceError(MlflowException):
    """Data no signature can be inferred from (raised through ``infer_signature``, never turned into any)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code="INVALID_PARAMETER_VALUE")


# exact Python/numpy scalar type -> DataType (datetimes are checked separately)
_SCALAR_TYPES: dict[type, DataType] = {
    bool: DataType.boolean, np.bool_: DataType.boolean,
    int: DataType.long, np.int64: DataType.long, np.int32: DataType.integer,
    float: DataType.double, np.float64: DataType.double, np.float32: DataType.float,
    str: DataType.string, np.str_: DataType.string, object: DataType.string,
    bytes: DataType.binary, np.bytes_: DataType.binary, bytearray: DataType.binary,
}
_DATETIME_TYPES = (_dt.date, _dt.datetime, np.datetime64)


def _infer_scalar(data: Any) -> DataType:
    found = _SCALAR_TYPES.get(type(data))
    if found is not None:
        return found
    if type(data) in _DATETIME_TYPES:  # exact types: pd.Timestamp is not one (as in MLflow)
        return DataType.datetime
    raise MlflowException.invalid_parameter_value(f"Data {data} is not one of the supported DataType")


def _check_not_pydantic(data: Any) -> None:
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(data, pydantic.BaseModel):
        raise InvalidDataForSignatureInferenceError(
            "Signatures cannot be inferred from input examples holding Pydantic objects. Use a Pydantic type "
            "hint on your PythonModel's `predict` instead, e.g. `def predict(self, model_input: list[PydanticType])`."
        )


def infer_datatype(data: Any) -> Any:
    """The type of one value: dict -> Object, list/ndarray -> Array, None/NaN/empty -> AnyType, scalar ->
    DataType. None for an empty numpy array (undetermined)."""
    _check_not_pydantic(data)
    if is_none_or_nan(data) or (isinstance(data, (list, dict)) and not data):
        return AnyType()
    if isinstance(data, dict):
        props = []
        for key, value in data.items():
            dtype = infer_datatype(value)
            if dtype is None:
                raise MlflowException("Dictionary value must not be an empty numpy array.")
            props.append(Property(key, dtype, required=not isinstance(dtype, AnyType)))
        return Object(props)
    if isinstance(data, (list, np.ndarray)):
        return _infer_array_datatype(data)
    return _infer_scalar(data)


def _infer_array_datatype(data: Any) -> Array | None:
    """The Array type of a list/ndarray's items, assuming they share one type (None values fit any)."""
    result: Array | None = None
    for item in data:
        dtype = infer_datatype(item)
        if dtype is None:
            continue
        if result is None:
            result = Array(dtype)
        elif isinstance(result.dtype, (Array, Object, Map, AnyType)):
            try:
                result = Array(result.dtype._merge(dtype))
            except MlflowException as exc:
                raise MlflowException.invalid_parameter_value(MULTIPLE_TYPES_ERROR_MSG) from exc
        elif not isinstance(dtype, AnyType) and dtype != result.dtype:
            raise MlflowException.invalid_parameter_value(MULTIPLE_TYPES_ERROR_MSG)
    return result


def _infer_colspec_type(data: Any) -> Any:
    dtype = infer_datatype(data)
    if dtype is None:
        raise MlflowException(f"Numpy array must include at least one non-empty item. Invalid input `{data}`.")
    return dtype


def infer_numpy_dtype(dtype: Any) -> DataType:
    """The DataType of a numpy or pandas extension dtype (not object: that needs the values)."""
    from pandas.api.extensions import ExtensionDtype

    if not isinstance(dtype, (np.dtype, ExtensionDtype)):
        raise TypeError(f"Expected numpy.dtype or pandas.ExtensionDtype, got '{type(dtype)}'.")
    kind, size = dtype.kind, getattr(dtype, "itemsize", 0)
    if kind == "b":
        return DataType.boolean
    if kind in "iu":
        if size < 4 or (kind == "i" and size == 4):
            return DataType.integer
        if size < 8 or (kind == "i" and size == 8):
            return DataType.long
    elif kind == "f":
        if size <= 4:
            return DataType.float
        if size <= 8:
            return DataType.double
    elif kind == "U":
        return DataType.string
    elif kind == "S":
        return DataType.binary
    elif kind == "O":
        raise MlflowException("Can not infer object without looking at the values.")
    elif kind == "M":
        return DataType.datetime
    raise MlflowException(f"Unsupported numpy data type '{dtype}', kind '{kind}'")


_NULL_TYPES = (type(None), type(pd.NA), type(pd.NaT))


def _infer_object_values(values: list[Any]) -> Any:
    """The column type of an object column's values; strings with missing values are the fast case."""
    kinds = set(map(type, values))
    kinds.difference_update(_NULL_TYPES)
    if kinds == {str} or (kinds == {str, float} and all(v != v for v in values if type(v) is float)):
        return DataType.string
    inferred = _infer_colspec_type(values)
    if not isinstance(inferred, Array):
        raise MlflowException(f"Could not infer a column type from {values!r}")
    return inferred.dtype


def infer_pandas_column(col: pd.Series) -> Any:
    if not isinstance(col, pd.Series):
        raise TypeError(f"Expected pandas.Series, got '{type(col)}'.")
    if isinstance(col.dtype, pd.StringDtype):
        return AnyType() if len(col) and bool(col.isna().all()) else DataType.string
    if col.dtype.kind == "O":
        col = col.infer_objects()
    if col.dtype.kind != "O":
        return infer_numpy_dtype(col.dtype)
    if isinstance(col.dtype, pd.StringDtype):
        return AnyType() if len(col) and bool(col.isna().all()) else DataType.string
    try:
        return _infer_object_values(col.to_list())
    except Exception as exc:
        if pd.api.types.is_string_dtype(col):
            return DataType.string  # e.g. an empty object column
        raise MlflowException(f"Failed to infer schema for pandas.Series {col}. Error: {exc}") from exc


def _infer_required(value: Any) -> bool:
    if isinstance(value, pd.Series):
        return not bool(value.isna().any())
    if isinstance(value, list):
        return not any(is_none_or_nan(x) for x in value)
    return not is_none_or_nan(value)


def _tensor_shape(data: Any) -> tuple[int, ...]:
    if data.ndim == 0:
        raise MlflowException(
            "The specified variable_dimension 0 is out of bounds with respect to the number of dimensions 0 "
            "in the input dataset"
        )
    return (-1, *data.shape[1:])


def _plain_label(label: Any) -> Any:
    """A column label JSON can hold: numpy scalars (np.int64 labels ...) become Python ones."""
    return label.item() if isinstance(label, np.generic) else label


def _is_spark_df(x: Any) -> bool:
    cls = type(x)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pyspark.")


def infer_schema(data: Any) -> Schema:
    """The Schema of ``data`` (see the module docstring); MlflowException when it has none."""
    if isinstance(data, list) and not data:
        return Schema([ColSpec(DataType.string)])  # MLflow's historical answer for []
    if isinstance(data, list) and all(isinstance(v, dict) for v in data):
        columns: dict[Any, list[Any]] = defaultdict(list)
        for record in data:
            for key, value in record.items():
                columns[key].append(value)
        schema = Schema([
            ColSpec(_infer_colspec_type(values).dtype, name=key,
                    required=all(record.get(key) is not None for record in data))
            for key, values in columns.items()
        ])
    elif isinstance(data, dict):
        if all(isinstance(v, np.ndarray) for v in data.values()):
            schema = Schema([
                TensorSpec(clean_tensor_type(v.dtype), _tensor_shape(v), name=k) for k, v in data.items()
            ])
        else:
            if not all(isinstance(k, str) for k in data):
                raise MlflowException("The dictionary keys are not all strings.")
            schema = Schema([
                ColSpec(_infer_colspec_type(v), name=k, required=_infer_required(v)) for k, v in data.items()
            ])
    elif isinstance(data, pd.Series):
        schema = Schema([ColSpec(infer_pandas_column(data), name=data.name, required=_infer_required(data))])
    elif isinstance(data, pd.DataFrame):
        schema = Schema([
            ColSpec(infer_pandas_column(data.iloc[:, i]), name=_plain_label(label),
                    required=_infer_required(data.iloc[:, i]))
            for i, label in enumerate(data.columns)
        ])
    elif isinstance(data, np.ndarray):
        schema = Schema([TensorSpec(clean_tensor_type(data.dtype), _tensor_shape(data))])
    elif is_sparse(data):
        schema = Schema([TensorSpec(clean_tensor_type(data.data.dtype), _tensor_shape(data))])
    elif _is_spark_df(data):
        schema = Schema([ColSpec(_infer_spark_type(f.dataType), name=f.name) for f in data.schema.fields])
    elif isinstance(data, list):
        schema = Schema([ColSpec(_infer_colspec_type(data).dtype)])
    else:
        try:
            schema = Schema([ColSpec(_infer_colspec_type(data))])
        except MlflowException as exc:
            raise MlflowException.invalid_parameter_value(
                "Failed to infer schema. Expected one of the following types:\n- pandas.DataFrame\n"
                "- pandas.Series\n- numpy.ndarray\n- dictionary of (name -> numpy.ndarray)\n"
                "- pyspark.sql.DataFrame\n- scipy.sparse.csr_matrix\n- scipy.sparse.csc_matrix\n- DataType\n"
                "- List[DataType]\n- Dict[str, Union[DataType, List, Dict]]\n"
                f"- List[Dict[str, Union[DataType, List, Dict]]]\nbut got '{data}'.\nError: {exc}"
            ) from exc
    if not schema.is_tensor_spec() and any(t in (DataType.integer, DataType.long) for t in schema.input_types()):
        warnings.warn(_INTEGER_HINT, UserWarning, stacklevel=2)
    return schema


def _infer_spark_type(t: Any) -> Any:
    import pyspark.sql.types as st

    simple: list[tuple[Any, DataType]] = [(st.LongType, DataType.long), (st.IntegralType, DataType.integer), (st.FloatType, DataType.float),
              (st.DoubleType, DataType.double), (st.BooleanType, DataType.boolean), (st.StringType, DataType.string),
              (st.BinaryType, DataType.binary), ((st.DateType, st.TimestampType), DataType.datetime)]
    for cls, dtype in simple:
        if isinstance(t, cls):
            return dtype
    if isinstance(t, st.ArrayType):
        return Array(_infer_spark_type(t.elementType))
    if type(t).__name__ == "VectorUDT" and type(t).__module__.startswith("pyspark.ml"):
        return SparkMLVector()
    if isinstance(t, st.StructType):
        return Object([Property(f.name, _infer_spark_type(f.dataType), required=not f.nullable) for f in t.fields])
    raise MlflowException.invalid_parameter_value(f"Unsupported Spark Type '{type(t)}' for MLflow schema.")


# --- params -----------------------------------------------------------------------------------------


def _depth(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.ndim
    if isinstance(value, list):
        return 1 + max(map(_depth, value)) if value else 1
    return 0


def _infer_param_type_and_shape(value: Any) -> tuple[Any, tuple[int, ...] | None]:
    if isinstance(value, (list, np.ndarray)):
        ndim = _depth(value)
        if ndim != 1:
            raise MlflowException.invalid_parameter_value(
                f"Expected parameters to be 1D array or scalar, got {ndim}D array"
            )
        if all(DataType.check_type(DataType.datetime, v) for v in value):
            return DataType.datetime, (-1,)  # (also for [], as MLflow does)
        return infer_numpy_dtype(np.array(value).dtype), (-1,)
    if DataType.check_type(DataType.datetime, value):
        return DataType.datetime, None
    if np.isscalar(value):
        try:
            return infer_numpy_dtype(np.array(value).dtype), None
        except Exception as exc:
            raise MlflowException.invalid_parameter_value(
                f"Failed to infer schema for parameter {value!s}: {exc!r}"
            ) from exc
    if isinstance(value, dict):
        return infer_schema({"value": value}).inputs[0].type, None
    raise MlflowException.invalid_parameter_value(
        f"Expected parameters to be 1D array or scalar, got {type(value).__name__}"
    )


def _exc_repr(exc: Exception) -> str:
    if isinstance(exc, MlflowException):
        return f"MlflowException({exc.message!r})"
    return repr(exc)


def infer_param_schema(parameters: Any) -> ParamSchema:
    if not isinstance(parameters, dict):
        raise MlflowException.invalid_parameter_value(
            f"Expected parameters to be dict, got {type(parameters).__name__}"
        )
    specs, invalid = [], []
    for name, value in parameters.items():
        try:
            dtype, shape = _infer_param_type_and_shape(value)
            specs.append(ParamSpec(name, dtype, deepcopy(value), shape))
        except Exception as exc:
            invalid.append(f"({name!r}, {value!r}, {_exc_repr(exc)})")
    if invalid:
        raise MlflowException.invalid_parameter_value(
            f"Failed to infer schema for parameters: [{', '.join(invalid)}]"
        )
    return ParamSchema(specs)
