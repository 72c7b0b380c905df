"""Enforcement of tensor-based schemas (``TensorSpec``): shape and dtype checks of numpy arrays and
scipy sparse matrices, and the reshaping of DataFrame columns into tensors.

A numpy array must have the spec's rank, equal fixed dimensions (``-1`` matches anything) and exactly
the spec's dtype (string and bytes arrays of any item size match ``str``/``bytes``); arrays are never
cast. DataFrame columns are different: their values are reshaped in C order and cast to the dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fluvial.exceptions import MlflowException
from fluvial.models.schema import Schema, TensorSpec

_OBJECT = np.dtype(object)


def clean_tensor_type(dtype: Any) -> Any:
    """``dtype`` without the item size of flexible types (``<U5`` -> ``str``, ``|S3`` -> ``bytes``)."""
    if not isinstance(dtype, np.dtype):
        raise TypeError(f"Expected `type` to be instance of `{np.dtype}`, received `{dtype.__class__}`")
    if dtype.char == "U":
        return np.dtype("str")
    if dtype.char == "S":
        return np.dtype("bytes")
    return dtype


def is_sparse(x: Any) -> bool:
    module = type(x).__module__
    if not module.startswith("scipy.sparse"):
        return False
    from scipy.sparse import csc_matrix, csr_matrix

    return isinstance(x, (csr_matrix, csc_matrix))


def enforce_tensor_spec(values: Any, spec: TensorSpec) -> Any:
    """``values`` (ndarray or csr/csc matrix) checked against ``spec``; returned unchanged."""
    expected_shape, expected_type = spec.shape, spec.type
    actual_shape = values.shape
    actual_type = values.dtype if isinstance(values, np.ndarray) else values.data.dtype
    # ragged arrays: an object spec of shape (-1,) takes anything; an object array of shape (n,) fits
    # any spec with a variable inner dimension
    if expected_shape == (-1,) and expected_type == _OBJECT:
        return values
    if len(expected_shape) > 1 and -1 in expected_shape[1:] and len(actual_shape) == 1 and actual_type == _OBJECT:
        return values
    if len(expected_shape) != len(actual_shape) or any(
        e != -1 and e != a for e, a in zip(expected_shape, actual_shape, strict=False)
    ):
        raise MlflowException(f"Shape of input {actual_shape} does not match expected shape {expected_shape}.")
    if clean_tensor_type(actual_type) != expected_type:
        raise MlflowException(f"dtype of input {actual_type} does not match expected dtype {expected_type}")
    return values


def _column_to_tensor(name: Any, column: pd.Series, spec: TensorSpec) -> Any:
    """One DataFrame column as a tensor of ``spec``'s shape and dtype."""
    shape = spec.shape
    if shape[0] != -1 or -1 in shape[1:]:
        raise MlflowException(
            "For pandas dataframe input, the first dimension of shape must be a variable dimension and "
            "other dimensions must be fixed, but in model signature the shape of "
            f"{f'input {name}' if name else 'the unnamed input'} is {shape}."
        )
    if len(column) == 0:
        raise MlflowException("Input DataFrame is empty.")
    first = column.iloc[0]
    if np.isscalar(first):
        if shape in ((-1,), (-1, 1)):
            return enforce_tensor_spec(np.asarray(column, dtype=spec.type).reshape(shape), spec)
        raise MlflowException.invalid_parameter_value(
            f"The input pandas dataframe column '{name}' contains scalar values, which requires the shape "
            f"to be (-1,) or (-1, 1), but got tensor spec shape of {shape}."
        )
    if isinstance(first, list) and first and np.isscalar(first[0]):
        # lists carry no dtype: reshape and cast them to the spec
        try:
            tensor = np.vstack(column.tolist()).reshape(shape).astype(spec.type)
        except ValueError:
            tensor = None
        if tensor is None or len(tensor) != len(column):
            raise MlflowException.invalid_parameter_value(
                f"The value in the Input DataFrame column '{name}' could not be converted to the expected "
                f"shape of: '{shape}'. Ensure that each of the input list elements are of uniform length and "
                f"that the data can be coerced to the tensor type '{spec.type}'"
            )
        return tensor
    if isinstance(first, np.ndarray):
        # arrays keep their dtype (they are precise about it); only the shape is adjusted
        try:
            tensor = np.vstack(column.tolist()).reshape(shape)
        except ValueError:
            tensor = None
        if tensor is None or len(tensor) != len(column):
            raise MlflowException.invalid_parameter_value(
                f"The value in the Input DataFrame column '{name}' could not be converted to the expected "
                f"shape of: '{shape}'. Ensure that each of the input numpy array elements are of uniform "
                "length and can be reshaped to above expected shape."
            )
        return tensor
    raise MlflowException.invalid_parameter_value(
        "Because the model signature requires tensor spec input, the input pandas dataframe values should "
        "be either scalar value, python list containing scalar values or numpy array containing scalar "
        "values, other types are not supported."
    )


def enforce_tensor_schema(data: Any, schema: Schema) -> Any:
    """``data`` (ndarray, sparse matrix, dict of ndarrays or DataFrame) as the tensor(s) ``schema`` names."""
    specs: list[TensorSpec] = schema.inputs  # type: ignore[assignment]
    if schema.has_input_names():
        if isinstance(data, dict):
            out = {}
            for spec in specs:
                value = data[spec.name]
                if not isinstance(value, np.ndarray):
                    raise MlflowException.invalid_parameter_value(
                        "This model contains a tensor-based model signature with input names, which suggests "
                        "a dictionary input mapping input name to a numpy array, but a dict with value type "
                        f"{type(value)} was found."
                    )
                out[spec.name] = enforce_tensor_spec(value, spec)
            return out
        if isinstance(data, pd.DataFrame):
            return {spec.name: _column_to_tensor(spec.name, data[spec.name], spec) for spec in specs}
        raise MlflowException.invalid_parameter_value(
            "This model contains a tensor-based model signature with input names, which suggests a dictionary "
            "input mapping input name to tensor, or a pandas DataFrame input containing columns mapping input "
            f"name to flattened list value from tensor, but an input of type {type(data)} was found."
        )
    spec = specs[0]
    if isinstance(data, pd.DataFrame):
        ncols = len(data.columns)
        if data.empty:
            raise MlflowException("Input DataFrame is empty.")
        if ncols == 1:
            return _column_to_tensor(None, data.iloc[:, 0], spec)
        if spec.shape != (-1, ncols):
            raise MlflowException.invalid_parameter_value(
                "This model contains a model signature with an unnamed input. Since the input data is a pandas "
                "DataFrame containing multiple columns, the input shape must be of the structure "
                f"(-1, number_of_dataframe_columns). Instead, the input DataFrame passed had {ncols} columns "
                f"and an input shape of {spec.shape} with all values within the DataFrame of scalar type. "
                "Please adjust the passed in DataFrame to match the expected structure"
            )
        return enforce_tensor_spec(data.to_numpy(), spec)
    if isinstance(data, np.ndarray) or is_sparse(data):
        return enforce_tensor_spec(data, spec)
    raise MlflowException.invalid_parameter_value(
        "This model contains a tensor-based model signature with no input names, which suggests a numpy "
        "array input or a pandas dataframe input with proper column values, but an input of type "
        f"{type(data)} was found."
    )
