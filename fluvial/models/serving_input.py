"""Scoring payloads -> model inputs, with MLflow's formats, conversions and error messages.

A JSON payload holds exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``
(plus optional ``params``); ``text/csv`` bodies are read with pandas. With a model's input schema the
values are cast to its types (binary columns base64-decoded). Errors are ``BadRequest`` (HTTP 400,
``BAD_REQUEST``) unless noted.

The schema is used through the methods MLflow's ``Schema`` has (``has_input_names``, ``input_names``,
``input_types``, ``input_dict``, ``required_input_names``, ``is_tensor_spec``, ``inputs``) and column
types through ``to_numpy``/``to_pandas``; composite column types (array, object, map) are left to schema
enforcement at predict time, which casts them (``fluvial.models.enforcement``, when it offers
``_enforce_array``/``_enforce_object``/``_enforce_map``, is used here too).
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from typing import Any

from fluvial.exceptions import BadRequest, InvalidParameterValue, MlflowException

DF_SPLIT = "dataframe_split"
DF_RECORDS = "dataframe_records"
INSTANCES = "instances"
INPUTS = "inputs"
SUPPORTED_FORMATS = (DF_RECORDS, DF_SPLIT, INSTANCES, INPUTS)
SERVING_PARAMS_KEY = "params"
LLM_KEYS = ("messages", "prompt", "input")

REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{" + ", ".join(repr(k) for k in SUPPORTED_FORMATS) + "}"
)
SCORING_PROTOCOL_CHANGE_INFO = (
    "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are seeing this "
    "error, you are likely using an outdated scoring request format. To resolve the error, either update "
    "your request format or adjust your MLflow Model's requirements file to specify an older version of "
    "MLflow (for example, change the 'mlflow' requirement specifier to 'mlflow==1.30.0'). If you are making "
    "a request using the MLflow client (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to "
    "a version >= 2.0 in order to use the new request format. For more information about the updated MLflow "
    "Model scoring protocol in MLflow 2.0, see https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
)


class InvalidInput(BadRequest):
    """A payload that cannot be turned into model input (message prefixed "Invalid input.")."""

    def __init__(self, message: Any = "", error_code: Any = None, **kwargs: Any) -> None:
        super().__init__(f"Invalid input. {message}", error_code or "BAD_REQUEST", **kwargs)


def _type_name(value: Any) -> str:
    return type(value).__name__


def is_unified_llm_input(payload: Any) -> bool:
    """True for an unwrapped LLM payload (``messages``, ``prompt`` or ``input`` key)."""
    return isinstance(payload, dict) and any(k in payload for k in LLM_KEYS)


def decode_json_input(payload: Any) -> dict[str, Any]:
    """A request body (str, bytes or an already-decoded dict) as a dict."""
    if isinstance(payload, dict):
        return payload
    if isinstance(payload, (bytes, bytearray)):
        payload = payload.decode("utf-8")
    try:
        decoded = json.loads(payload)
    except (ValueError, TypeError) as ex:
        raise InvalidInput(
            f"Ensure that input is a valid JSON formatted string. Error: '{ex!r}'\nInput: \n{payload}\n"
        ) from ex
    if isinstance(decoded, dict):
        return decoded
    if isinstance(decoded, list):
        raise InvalidInput(f"{REQUIRED_INPUT_FORMAT}. Received a list.")
    raise InvalidInput(f"{REQUIRED_INPUT_FORMAT}. Received unexpected input type '{type(decoded)}.")


def parse_serving_input(
    payload: Any,
    schema: Any = None,
    *,
    params_schema: Any = None,
    signature_from_type_hint: bool = False,
) -> tuple[Any, dict[str, Any] | None]:
    """``(data, params)`` from a JSON scoring payload.

    Unified LLM payloads (``messages``/``prompt``/``input``) are split instead: keys named in
    ``params_schema`` become params, the rest the data dict. With ``signature_from_type_hint`` only
    ``inputs`` is accepted and passed on unparsed."""
    decoded = decode_json_input(payload)
    if is_unified_llm_input(decoded):
        names = {p.name for p in getattr(params_schema, "params", None) or []}
        data = {k: v for k, v in decoded.items() if k not in names}
        return data, {k: v for k, v in decoded.items() if k in names}
    params = decoded.get(SERVING_PARAMS_KEY)
    if params is not None and not isinstance(params, dict):
        raise InvalidParameterValue(f"Parameters must be a dictionary. Got type '{_type_name(params)}'.")
    fields = {k: v for k, v in decoded.items() if k in SUPPORTED_FORMATS}
    if signature_from_type_hint:
        if INPUTS not in fields:
            raise InvalidParameterValue(
                "Request payload must be a dictionary with 'inputs' key when the model contains a valid "
                f"type hint. Found keys in payload: {fields.keys()}."
            )
        return fields[INPUTS], params
    return parse_data_fields(fields, schema), params


def parse_data_fields(fields: dict[str, Any], schema: Any = None) -> Any:
    """Model input from a dict holding exactly one of the supported format keys."""
    if len(fields) != 1:
        raise BadRequest(
            f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {list(fields)}. "
            f"{SCORING_PROTOCOL_CHANGE_INFO}"
        )
    (key, value), = fields.items()
    if key in (INSTANCES, INPUTS):
        return parse_tf_serving_input({key: value}, schema)
    return dataframe_from_parsed_json(value, key[len("dataframe_"):], schema)


def parse_csv_input(csv_input: Any, schema: Any = None) -> Any:
    """A DataFrame from CSV text (or a text stream), column dtypes forced from the schema."""
    import io

    import pandas as pd

    if isinstance(csv_input, (bytes, bytearray)):
        csv_input = csv_input.decode("utf-8")
    if isinstance(csv_input, str):
        csv_input = io.StringIO(csv_input)
    try:
        if schema is None or not schema.has_input_names():
            return pd.read_csv(csv_input)
        dtypes = {n: t.to_pandas() for n, t in zip(schema.input_names(), schema.input_types(), strict=False) if _is_datatype(t)}
        return pd.read_csv(csv_input, dtype=dtypes)
    except Exception as e:
        raise BadRequest(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted "
            f"Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '{e}'"
        ) from e


# ---------------------------------------------------------------------------------------------------
# DataFrames


def dataframe_from_parsed_json(decoded: Any, pandas_orient: str, schema: Any = None) -> Any:
    """A DataFrame from ``split`` (``{"columns", "data", "index"}``) or ``records`` (list of dicts) JSON."""
    import pandas as pd

    if pandas_orient == "records":
        if not isinstance(decoded, list):
            kind = "dictionary" if isinstance(decoded, dict) else f"type {type(decoded)}"
            raise InvalidInput(f"Dataframe records format must be a list of records. Got {kind}.")
        try:
            pdf = pd.DataFrame(data=decoded)
        except Exception as ex:
            raise InvalidInput(
                "Provided dataframe_records field is not a valid dataframe representation in 'records' "
                f"format. Error: '{ex}'"
            ) from ex
    elif pandas_orient == "split":
        if not isinstance(decoded, dict):
            kind = "list" if isinstance(decoded, list) else f"type {type(decoded)}"
            raise InvalidInput(f"Dataframe split format must be a dictionary. Got {kind}.")
        keys = set(decoded)
        if "data" not in keys or keys - {"columns", "data", "index"}:
            raise InvalidInput(
                "Dataframe split format must have 'data' field and optionally 'columns' and 'index' "
                f"fields. Got {keys}.'"
            )
        try:
            pdf = pd.DataFrame(index=decoded.get("index"), columns=decoded.get("columns"), data=decoded["data"])
        except Exception as ex:
            raise InvalidInput(
                "Provided dataframe_split field is not a valid dataframe representation in 'split' "
                f"format. Error: '{ex}'"
            ) from ex
    else:
        raise InvalidParameterValue(f"Unsupported pandas orient {pandas_orient!r}; expected 'split' or 'records'")
    return pdf if schema is None else cast_df_types_according_to_schema(pdf, schema)


def _is_datatype(t: Any) -> bool:
    return type(t).__name__ == "DataType" and hasattr(t, "to_pandas")


def _enforcer(type_spec: Any) -> Any:
    name = {"Array": "_enforce_array", "Object": "_enforce_object", "Map": "_enforce_map"}.get(type(type_spec).__name__)
    if name is None:
        return None
    try:
        from fluvial.models import enforcement
    except ImportError:
        return None
    return getattr(enforcement, name, None)


def cast_df_types_according_to_schema(pdf: Any, schema: Any) -> Any:
    """Cast DataFrame columns to the schema's types (base64-decoding binary columns)."""
    import numpy as np

    actual = set(pdf.columns)
    if schema.has_input_names():
        pairs = list(zip(schema.input_names(), schema.input_types(), strict=False))
    elif schema.is_tensor_spec() and len(schema.input_types()) == 1:
        pairs = [(c, schema.input_types()[0]) for c in pdf.columns]
    else:
        n = min(len(schema.input_types()), len(pdf.columns))
        pairs = list(zip(pdf.columns[:n], schema.input_types()[:n], strict=True))
    required = set(schema.required_input_names()) if hasattr(schema, "required_input_names") else set()
    for col, spec in pairs:
        if col not in actual:
            continue
        col_type = spec.to_pandas() if _is_datatype(spec) else spec
        try:
            if _is_datatype(spec) and spec.name == "binary":
                pdf[col] = pdf[col].map(lambda x: base64.decodebytes(bytes(x, "utf8")))
            elif isinstance(col_type, np.dtype) and col_type == np.dtype(bytes):
                pdf[col] = pdf[col].map(lambda x: bytes(x, "utf8"))
            elif schema.is_tensor_spec() and len(pdf) and isinstance(pdf[col].iloc[0], list):
                pass  # multidimensional column: enforcement reshapes it at predict time
            elif _is_datatype(spec) or isinstance(col_type, np.dtype):
                pdf[col] = pdf[col].astype(col_type)
            else:
                enforce = _enforcer(spec)
                if enforce is not None:
                    is_required = col in required
                    pdf[col] = pdf[col].map(lambda x, f=enforce, s=spec, r=is_required: f(x, s, required=r))
        except Exception as ex:
            raise InvalidInput(
                f"Data is not compatible with model signature. Failed to convert column {col} to type "
                f"'{col_type}'. Error: '{ex!r}'"
            ) from ex
    return pdf


# ---------------------------------------------------------------------------------------------------
# instances / inputs (TF-serving style)


def parse_tf_serving_input(inp_dict: dict[str, Any], schema: Any = None) -> Any:
    """Model input from ``{"instances": ...}`` (row format) or ``{"inputs": ...}`` (column format)."""
    if "signature_name" in inp_dict:
        raise InvalidInput('"signature_name" parameter is currently not supported')
    if list(inp_dict) not in (["instances"], ["inputs"]):
        raise InvalidInput(
            'One of "instances" and "inputs" must be specified (not both or any other keys).'
            f"Received: {list(inp_dict)}"
        )
    try:
        if INSTANCES in inp_dict:
            return parse_instances_data(inp_dict, schema)
        return cast_schema_type(inp_dict[INPUTS], schema)
    except MlflowException:
        raise
    except Exception as e:
        raise InvalidInput(f"Ensure that the input is a valid JSON-formatted string.\nError: {e!r}") from e


def parse_inputs_data(inputs_data: Any, schema: Any = None) -> Any:
    """``inputs`` data cast to the schema: dict -> dict of arrays, list -> array, scalar -> 0-d array."""
    return cast_schema_type(inputs_data, schema)


def convert_data_type(data: Any, spec: Any) -> Any:
    """One column or tensor as a numpy array of the spec's type (scalars stay scalars for a ColSpec)."""
    import numpy as np

    try:
        if spec is None:
            return np.array(data)
        if type(spec).__name__ == "TensorSpec":
            return np.array(data, dtype=spec.type)
        type_spec: Any = getattr(spec, "type", None)
        if _is_datatype(type_spec):
            dtype = type_spec.to_numpy()
            return np.array(data, dtype) if isinstance(data, (list, np.ndarray)) else np.array([data], dtype)[0]
        if type(type_spec).__name__ == "AnyType":
            return data
        enforce = _enforcer(type_spec)
        if enforce is not None:
            value = enforce(data, type_spec, required=getattr(spec, "required", True))
            return np.array(value) if type(type_spec).__name__ == "Array" else value
        return data
    except MlflowException as e:
        raise InvalidInput(e.message) from e
    except Exception as ex:
        raise InvalidInput(f"{ex}") from ex


def cast_schema_type(input_data: Any, schema: Any = None) -> Any:
    import numpy as np

    types_dict = schema.input_dict() if schema is not None and schema.has_input_names() else {}
    if schema is not None:
        if len(types_dict) == 1 and isinstance(input_data, list) and not any(isinstance(x, dict) for x in input_data):
            input_data = {next(iter(types_dict)): input_data}
        elif not schema.has_input_names() and not (isinstance(input_data, list) or np.isscalar(input_data)):
            raise InvalidInput(
                "Failed to parse input data. This model contains an un-named  model signature which expects "
                "a single n-dimensional array or a single value as input, however, an input of type "
                f"{type(input_data)} was found."
            )
    if isinstance(input_data, dict):
        return {col: convert_data_type(value, types_dict.get(col)) for col, value in input_data.items()}
    first = schema.inputs[0] if schema is not None and schema.inputs else None
    if isinstance(input_data, list):
        if input_data and all(isinstance(x, dict) for x in input_data):
            return [{c: convert_data_type(v, types_dict.get(c)) for c, v in row.items()} for row in input_data]
        return convert_data_type(input_data, first)
    try:
        return convert_data_type(input_data, first)
    except MlflowException as e:
        raise InvalidInput(
            f"Failed to convert data `{input_data}` to type `{first}` defined in the model signature."
        ) from e


def parse_instances_data(data: dict[str, Any], schema: Any = None) -> Any:
    import numpy as np

    if INSTANCES not in data:
        raise InvalidInput("Expecting data to have `instances` as key.")
    rows = data[INSTANCES]
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        columns: dict[str, list[Any]] = defaultdict(list)
        types_dict = schema.input_dict() if schema is not None and schema.has_input_names() else {}
        for item in rows:
            if not isinstance(item, dict):
                raise InvalidInput("Every item of `instances` must be an object when the first one is.")
            for col, v in item.items():
                columns[col].append(convert_data_type(v, types_dict.get(col)))
        result: Any = {col: np.array(v) for col, v in columns.items()}
    else:
        result = cast_schema_type(rows, schema)
    if isinstance(result, dict):
        sized = {k: v for k, v in result.items() if isinstance(v, (list, np.ndarray))}
        if schema is not None and schema.has_input_names():
            not_arrays = {c for c, s in schema.input_dict().items() if type(getattr(s, "type", None)).__name__ != "Array"}
            check = [c for c in sized if c in set(schema.required_input_names()) & not_arrays]
        else:
            check = list(sized)
        if check and any(len(sized[c]) != len(sized[check[0]]) for c in check[1:]):
            raise InvalidInput("The length of values for each input/column name are not the same")
    return result
