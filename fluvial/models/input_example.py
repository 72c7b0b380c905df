"""Input examples: ``input_example.json`` and ``serving_input_example.json`` in a model directory, in
MLflow's exact formats, and reading them back.

=====================================  ===================  ========================================
example                                ``type`` in MLmodel  ``input_example.json``
=====================================  ===================  ========================================
DataFrame (also a Series: one column)  ``dataframe``        ``{"columns": [...], "data": [[...]]}``
                                                            (no index; no columns when they are 0..n-1,
                                                            then ``pandas_orient: values``)
ndarray / dict of ndarrays             ``ndarray``          nested lists (NaN -> null) / dict of them
scipy csr / csc matrix                 ``sparse_matrix_*``  ``{"data", "indices", "indptr", "shape"}``
dict, list, str, bytes, scalar,        ``json_object``      the JSON value
datetime
``(data, params)`` tuple               + ``params: 'true'`` ``{"inputs": <data>, "params": {...}}``
=====================================  ===================  ========================================

JSON as MLflow writes it: ``json.dumps`` (NaN and Infinity kept as such), bytes as base64 with
``encodebytes`` line breaks, dates and timestamps in ISO format, numpy scalars as Python values. In
DataFrames, missing values become ``null`` except in float columns (``NaN``) and datetime columns
(``"NaT"``), whatever the pandas version. The serving example is the scoring payload (``dataframe_split``
for DataFrames, else ``inputs``; LLM chat/completions dicts unwrapped), indented by 2.

Beyond MLflow: a ``pandas.Series`` is accepted and saved as a one-column DataFrame.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.serving_input import (
    DF_SPLIT,
    INPUTS,
    SERVING_PARAMS_KEY,
    dataframe_from_parsed_json,
    decode_json_input,
    is_unified_llm_input,
    parse_csv_input,
    parse_inputs_data,
    parse_serving_input,
)

__all__ = [
    "EXAMPLE_FILENAME",
    "SERVING_INPUT_FILENAME",
    "InputExample",
    "convert_input_example_to_serving_input",
    "decode_json_input",
    "load_input_example",
    "load_input_example_params",
    "load_serving_input_example",
    "parse_csv_input",
    "parse_serving_input",
    "save_input_example",
    "split_input_example",
    "to_serving_payload",
]

INPUT_EXAMPLE_PATH = "artifact_path"
EXAMPLE_FILENAME = "input_example.json"
SERVING_INPUT_PATH = "serving_input_path"
SERVING_INPUT_FILENAME = "serving_input_example.json"
EXAMPLE_DATA_KEY = "inputs"
EXAMPLE_PARAMS_KEY = "params"
EXAMPLE_TYPES = ("dataframe", "ndarray", "sparse_matrix_csc", "sparse_matrix_csr", "json_object")

_EXPECTED_TYPES = (
    "Expected one of the following types:\n- pandas.DataFrame\n- numpy.ndarray\n"
    "- dictionary of (name -> numpy.ndarray)\n- scipy.sparse.csr_matrix\n- scipy.sparse.csc_matrix\n"
    "- dict\n- list\n- scalars\n- datetime.datetime\n- pydantic model instance\n"
)


# ---------------------------------------------------------------------------------------------------
# JSON encoding


def _b64(value: bytes | bytearray) -> str:
    return base64.encodebytes(bytes(value)).decode("ascii")


def json_default(o: Any) -> Any:
    """``default=`` for ``json.dumps``: numpy, pandas, bytes, dates, pydantic models."""
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(o, np.ndarray):
            if o.dtype == object:
                return [_try_convert(x) for x in o.tolist()]
            if o.dtype.kind == "S":
                return np.vectorize(_b64, otypes=[object])(o).tolist()
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
    if isinstance(o, (bytes, bytearray)):
        return _b64(o)
    if isinstance(o, (dt.date, dt.datetime, dt.time)) or _is_pandas(o, "Timestamp"):
        return o.isoformat()
    if _is_pydantic(o):
        return o.model_dump()
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _try_convert(x: Any) -> Any:
    try:
        return json_default(x)
    except TypeError:
        return x


def _is_pandas(o: Any, name: str) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(o, getattr(pd, name))


def _is_pydantic(o: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(o, pydantic.BaseModel)


def dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, default=json_default, indent=indent)


# ---------------------------------------------------------------------------------------------------
# conversions of example data


def _ndarray_nans_to_none(x: Any) -> Any:
    import numpy as np

    if np.issubdtype(x.dtype, np.number):
        return np.where(np.isnan(x), None, x)
    return x


def _ndarray_to_lists(x: Any) -> Any:
    if isinstance(x, dict):
        return {name: _ndarray_nans_to_none(a).tolist() for name, a in x.items()}
    return _ndarray_nans_to_none(x).tolist()


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, dict, tuple, set, str, bytes)) or getattr(value, "ndim", False):
        return False
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def dataframe_to_split_dict(df: Any) -> dict[str, Any]:
    """``{"columns": [...], "data": [[...], ...]}`` without the index; ``columns`` left out when they are
    the default 0..n-1. Missing values: ``None``, but ``NaN`` in float columns and ``"NaT"`` in datetime
    columns (what MLflow 2.x writes)."""
    import numpy as np

    columns = df.columns.tolist()
    values = []
    for i in range(df.shape[1]):
        col = df.iloc[:, i]
        dtype = col.dtype
        items = col.tolist()
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            values.append(items)
        elif dtype.kind == "M":
            values.append([v.isoformat() if not _missing(v) else "NaT" for v in items])
        else:
            values.append([None if _missing(v) else v for v in items])
    rows = [list(row) for row in zip(*values, strict=True)] if values else [[] for _ in range(len(df))]
    result: dict[str, Any] = {"columns": columns, "data": rows}
    if all(c == i for i, c in enumerate(columns)):
        del result["columns"]
    return result


def _sparse_kind(x: Any) -> str | None:
    sparse = sys.modules.get("scipy.sparse")
    if sparse is None:
        return None
    if isinstance(x, sparse.csc_matrix):
        return "sparse_matrix_csc"
    if isinstance(x, sparse.csr_matrix):
        return "sparse_matrix_csr"
    return None


def _contains_ndarray(data: Any) -> bool:
    np = sys.modules.get("numpy")
    if np is not None and isinstance(data, np.ndarray):
        return True
    if isinstance(data, list):
        return any(_contains_ndarray(x) for x in data)
    if isinstance(data, dict):
        return any(_contains_ndarray(x) for x in data.values())
    return False


def _is_scalar(x: Any) -> bool:
    if isinstance(x, (str, bytes, bool, int, float, complex, dt.datetime)):
        return True
    np = sys.modules.get("numpy")
    return np is not None and isinstance(x, np.generic)


_PARAM_SCALARS = (str, bytes, bool, int, float, dt.date, dt.datetime)


def _validate_params(params: dict[str, Any]) -> None:
    problems = []
    for name, value in params.items():
        np = sys.modules.get("numpy")
        if np is not None and isinstance(value, np.ndarray):
            ok = value.ndim == 1
        elif isinstance(value, list):
            ok = all(_is_scalar(v) or isinstance(v, _PARAM_SCALARS) for v in value)
        else:
            ok = value is None or _is_scalar(value) or isinstance(value, _PARAM_SCALARS)
        if not isinstance(name, str) or not ok:
            problems.append((name, value, "Expected parameters to be 1D array or scalar"))
    if problems:
        raise InvalidParameterValue(f"Failed to infer schema for parameters: {problems}")


def split_input_example(input_example: Any) -> tuple[Any, dict[str, Any] | None]:
    """``(data, params)``: a 2-tuple whose second item is a dict carries inference params."""
    if isinstance(input_example, tuple) and len(input_example) == 2 and isinstance(input_example[1], dict):
        data, params = input_example
        _validate_params(params)
        return data, params
    return input_example, None


class InputExample:
    """An input example converted for saving: ``info`` (for MLmodel's ``saved_input_example_info``),
    ``json_input_example``, ``json_serving_input``, ``serving_input``, and the original
    ``inference_data`` / ``inference_params`` (for signature inference)."""

    def __init__(self, input_example: Any):
        if type(input_example).__name__ == "DataFrame" and type(input_example).__module__.startswith("pyspark"):
            raise MlflowException(
                "Examples can not be provided as Spark Dataframe. Please make sure your example is of a small "
                "size and turn it into a pandas DataFrame."
            )
        self.info: dict[str, Any] = {INPUT_EXAMPLE_PATH: EXAMPLE_FILENAME}
        self.inference_data, self.inference_params = split_input_example(input_example)
        if self.inference_params is not None:
            self.info[EXAMPLE_PARAMS_KEY] = "true"
        data = self.inference_data
        if _is_pydantic(data):
            data = data.model_dump()
        np = sys.modules.get("numpy")
        llm = False
        if _is_pandas(data, "Series"):
            data = data.to_frame()
        if isinstance(data, dict):
            if np is not None and any(isinstance(v, np.ndarray) for v in data.values()):
                if not all(isinstance(v, np.ndarray) for v in data.values()):
                    raise InvalidParameterValue(
                        "Mixed types in dictionary are not supported as input examples. "
                        "Found numpy arrays and other types."
                    )
                self.info["type"] = "ndarray"
                data = _ndarray_to_lists(data)
                serving: Any = {INPUTS: data}
            else:
                self.info["type"] = "json_object"
                llm = is_unified_llm_input(data)
                serving = data if llm else {INPUTS: data}
        elif np is not None and isinstance(data, np.ndarray):
            self.info["type"] = "ndarray"
            data = _ndarray_to_lists(data)
            serving = {INPUTS: data}
        elif isinstance(data, list):
            if _contains_ndarray(data):
                raise InvalidParameterValue(
                    "Multidimensional arrays (aka tensors) are not supported. "
                    "Numpy arrays in list are not supported as input examples."
                )
            self.info["type"] = "json_object"
            serving = {INPUTS: data}
        elif _sparse_kind(data):
            self.info["type"] = _sparse_kind(data)
            serving = {INPUTS: data.toarray()}
            data = {
                "data": _ndarray_nans_to_none(data.data).tolist(),
                "indices": data.indices.tolist(),
                "indptr": data.indptr.tolist(),
                "shape": list(data.shape),
            }
        elif _is_pandas(data, "DataFrame"):
            data = dataframe_to_split_dict(data)
            serving = {DF_SPLIT: data}
            self.info["type"] = "dataframe"
            self.info["pandas_orient"] = "split" if "columns" in data else "values"
        elif _is_scalar(data):
            self.info["type"] = "json_object"
            serving = {INPUTS: data}
        else:
            raise InvalidParameterValue(_EXPECTED_TYPES + f"but got '{type(data)}'")
        if self.inference_params is not None:
            data = {EXAMPLE_DATA_KEY: data, EXAMPLE_PARAMS_KEY: self.inference_params}
            serving = {**serving, **self.inference_params} if llm else {**serving, SERVING_PARAMS_KEY: self.inference_params}
        self.serving_input = serving
        self.json_input_example = dumps(data)
        self.json_serving_input = dumps(serving, indent=2)
        self.info[SERVING_INPUT_PATH] = SERVING_INPUT_FILENAME

    def save(self, path: str) -> dict[str, Any]:
        with open(os.path.join(path, self.info[INPUT_EXAMPLE_PATH]), "w") as f:
            f.write(self.json_input_example)
        with open(os.path.join(path, self.info[SERVING_INPUT_PATH]), "w") as f:
            f.write(self.json_serving_input)
        return dict(self.info)


def save_input_example(path: str, input_example: Any) -> dict[str, Any] | None:
    """Write the example files into the model directory ``path``; the ``saved_input_example_info``
    mapping for MLmodel, or None when there is no example."""
    if input_example is None:
        return None
    return InputExample(input_example).save(path)


def to_serving_payload(input_example: Any) -> dict[str, Any]:
    """The scoring-server payload for an example (``{"dataframe_split": ...}``, ``{"inputs": ...}``,
    with ``params``), as plain JSON values."""
    return json.loads(InputExample(input_example).json_serving_input)


def convert_input_example_to_serving_input(input_example: Any) -> str | None:
    """MLflow's helper: the serving payload of an example as an indented JSON string (None for None)."""
    if input_example is None:
        return None
    return InputExample(input_example).json_serving_input


# ---------------------------------------------------------------------------------------------------
# reading back


def _read_example_json(model_dir: str, info: dict[str, Any]) -> Any:
    example_type = info.get("type")
    if example_type not in EXAMPLE_TYPES:
        raise MlflowException(f"This version of fluvial can not load example of type {example_type}")
    path = os.path.join(str(model_dir), info.get(INPUT_EXAMPLE_PATH) or EXAMPLE_FILENAME)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise MlflowException(f"The input example file {path} of this model is missing", "RESOURCE_DOES_NOT_EXIST") from exc
    except ValueError as exc:
        raise MlflowException(f"The input example file {path} is not valid JSON: {exc}") from exc


def load_input_example(model_dir: str, info: dict[str, Any] | None, schema: Any = None) -> Any:
    """The example saved with a model, as the type it was saved from: DataFrame, ndarray (or dict of
    them), scipy sparse matrix, or the JSON value. ``schema`` (the signature's inputs) casts types."""
    if not info:
        return None
    raw = _read_example_json(model_dir, info)
    if info.get(EXAMPLE_PARAMS_KEY):
        raw = raw[EXAMPLE_DATA_KEY]
    example_type = info["type"]
    if example_type == "json_object":
        return raw
    if example_type == "ndarray":
        return parse_inputs_data(raw, schema=schema)
    if example_type == "dataframe":
        return dataframe_from_parsed_json(raw, "split", schema=schema)
    from scipy.sparse import csc_matrix, csr_matrix

    cls = csc_matrix if example_type == "sparse_matrix_csc" else csr_matrix
    return cls((raw["data"], raw["indices"], raw["indptr"]), shape=tuple(raw["shape"]))


def load_input_example_params(model_dir: str, info: dict[str, Any] | None) -> dict[str, Any] | None:
    """The inference params saved with the example, or None."""
    if not info or info.get(EXAMPLE_PARAMS_KEY) is None:
        return None
    return _read_example_json(model_dir, info)[EXAMPLE_PARAMS_KEY]


def load_serving_input_example(model_dir: str, info: dict[str, Any] | None) -> str | None:
    """The text of ``serving_input_example.json``, or None when the model has none."""
    if not info or not info.get(SERVING_INPUT_PATH):
        return None
    with open(os.path.join(str(model_dir), info[SERVING_INPUT_PATH])) as f:
        return f.read()
