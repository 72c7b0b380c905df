"""Schema enforcement at predict time: the input checked against (and converted to) the model's input
schema, and the inference parameters against its params schema, with MLflow's rules and messages.

    enforce_schema(data, schema) -> data        raises MlflowException when data does not fit
    enforce_params(params, param_schema) -> dict
    schema_enforcement_error(data, schema, exc) -> MlflowException   (what PyFuncModel.predict raises)
    enforce_prediction_input(data, params, input_schema, params_schema) -> (data, params)

Column-based schemas take a DataFrame; a Series, scalar, list, ndarray or dict is first turned into one
the way MLflow does. Named schemas report missing required columns, drop extra ones (logging a
warning) and put the columns in schema order; unnamed schemas check the column count and types by
position. Column types follow ``_enforce_values`` (safe conversions only). Tensor-based schemas follow
``_enforce_tensor``.

The common case costs little: when the columns already are the schema's, in order, with matching
dtypes, the input comes back as a shallow copy (copy-on-write under pandas 3), and a cheap cast
touches only the columns that need it. Values are looked at only when a rule depends on them.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from fluvial.exceptions import MlflowException
from fluvial.models._enforce_tensor import enforce_tensor_schema
from fluvial.models._enforce_values import KEEP, _set_repr, enforce_series, enforce_type, quick_action
from fluvial.models.schema import ParamSchema, ParamSpec, Schema
from fluvial.models.types import AnyType, Array, DataType, Object

__all__ = [
    "enforce_params", "enforce_prediction_input", "enforce_schema", "schema_enforcement_error", "validate_schema",
]

_logger = logging.getLogger(__name__)


def schema_enforcement_error(data: Any, schema: Any, exc: BaseException) -> MlflowException:
    """The error ``PyFuncModel.predict`` raises when ``data`` does not fit ``schema``."""
    return MlflowException.invalid_parameter_value(
        f"Failed to enforce schema of data '{data}' with schema '{schema}'. Error: {exc}"
    )


def enforce_prediction_input(data: Any, params: Any, input_schema: Schema | None,
                             params_schema: ParamSchema | None) -> tuple[Any, Any]:
    """Both checks of ``PyFuncModel.predict``: the data (errors wrapped by ``schema_enforcement_error``),
    then the params."""
    if input_schema is not None:
        try:
            data = enforce_schema(data, input_schema)
        except Exception as exc:
            raise schema_enforcement_error(data, input_schema, exc) from exc
    return data, enforce_params(params, params_schema)


def validate_schema(data: Any, expected_schema: Schema) -> None:
    """Raise MlflowException when ``data`` does not fit ``expected_schema``."""
    enforce_schema(data, expected_schema)


def enforce_schema(data: Any, schema: Schema) -> Any:
    """``data`` made to fit ``schema`` (see the module docstring); MlflowException when it cannot."""
    if type(data) is pd.DataFrame and not schema.is_tensor_spec():
        df = data  # the common case, first
    else:
        if isinstance(data, pd.Series):
            data = pd.DataFrame(data)
        if schema.is_tensor_spec():
            if schema.has_input_names():
                data = _check_tensor_names(data, schema)
            return enforce_tensor_schema(data, schema)
        if _is_spark_df(data):
            return _enforce_spark(data, schema)
        df = _as_dataframe(data, schema)
    if schema.has_input_names():
        return _enforce_named(df, schema)
    return _enforce_unnamed(df, schema)


# --- input normalisation -----------------------------------------------------------------------------


def _is_scalar(x: Any) -> bool:
    return x is None or np.isscalar(x)


def _as_dataframe(data: Any, schema: Schema) -> pd.DataFrame:
    """A column-schema input as a DataFrame, converted the way MLflow converts it."""
    if isinstance(data, pd.DataFrame):
        return data
    if np.isscalar(data):
        return pd.DataFrame([data])
    if isinstance(data, dict):
        if any(isinstance(c.type, (Array, Object)) for c in schema.inputs) or all(
            _is_scalar(v) or (isinstance(v, list) and all(isinstance(i, str) for i in v)) for v in data.values()
        ):
            return pd.DataFrame([data])  # one row
        try:
            if all(isinstance(v, np.ndarray) and v.dtype.type == np.str_ and v.shape == () for v in data.values()):
                return pd.DataFrame([data])
            if any(isinstance(v, np.ndarray) and v.ndim > 1 for v in data.values()):
                # a frame cannot hold 2-D arrays: make them lists (the type check then refuses them clearly)
                data = {k: v.tolist() if isinstance(v, np.ndarray) and v.ndim > 1 else v for k, v in data.items()}
            return pd.DataFrame(data)
        except Exception as exc:
            raise MlflowException(
                "This model contains a column-based signature, which suggests a DataFrame input. There was "
                f"an error casting the input data to a DataFrame: {exc}"
            ) from exc
    if isinstance(data, list) and data and _single_unnamed_array(schema) and all(isinstance(v, (list, np.ndarray)) for v in data):
        # each inner list is one array value (MLflow splits them into columns and then refuses them)
        return pd.DataFrame({0: data})
    if isinstance(data, (list, np.ndarray)):
        return pd.DataFrame(data)
    raise MlflowException(f"Expected input to be DataFrame. Found: {type(data).__name__}")


def _single_unnamed_array(schema: Schema) -> bool:
    return len(schema.inputs) == 1 and schema.inputs[0].name is None and isinstance(schema.inputs[0].type, Array)


def _is_spark_df(x: Any) -> bool:
    cls = type(x)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pyspark.")


def _enforce_spark(data: Any, schema: Schema) -> Any:
    """Spark DataFrames: the schema is enforced on a 10-row sample; the frame comes back without the
    columns the schema does not name."""
    sample = data.limit(10).toPandas()
    if schema.has_input_names():
        _enforce_named(sample, schema)
        keep = set(schema.input_names())
    else:
        _enforce_unnamed(sample, schema)
        keep = set(sample.columns[: len(schema.inputs)])
    return data.drop(*[c for c in data.columns if c not in keep])


# --- column-based schemas ----------------------------------------------------------------------------


class _Plan:
    """What enforcement needs from a named column schema, computed once per Schema object."""

    __slots__ = ("inputs", "name_set", "names", "raw_names", "required", "specs")

    def __init__(self, schema: Schema) -> None:
        self.inputs = schema.inputs
        self.raw_names = [x.name for x in schema.inputs]
        self.names = schema.input_names()
        self.name_set = set(self.names)
        self.required = schema.required_input_names()
        self.specs = [(name, spec.type, spec.required) for name, spec in zip(self.names, schema.inputs, strict=True)]


def _plan(schema: Schema) -> _Plan:
    """The cached plan, rebuilt when the schema's inputs changed (ColSpec names can be reassigned)."""
    plan = getattr(schema, "_plan", None)
    inputs = schema.inputs
    if plan is None or plan.inputs is not inputs or plan.raw_names != [x.name for x in inputs]:
        plan = schema._plan = _Plan(schema)
    return plan


def _enforce_named(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    plan = _plan(schema)
    cols = df.columns.tolist()
    if cols == plan.names:
        positions = None
        specs = plan.specs
    else:
        present = set(cols)
        missing = [n for n in plan.required if n not in present]
        extra = [c for c in cols if c not in plan.name_set]
        if missing:
            message = f"Model is missing inputs {missing}."
            if extra:
                message += f" Note that there were extra inputs: {extra}"
            raise MlflowException(message)
        if extra:
            _logger.warning(
                "Found extra inputs in the model input that are not defined in the model signature: `%s`. "
                "These inputs will be ignored.", extra,
            )
        if len(present) != len(cols):
            duplicated = sorted({str(c) for c in cols if cols.count(c) > 1})
            raise MlflowException(f"The input has duplicated column names: {duplicated}")
        where = {c: i for i, c in enumerate(cols)}
        specs = [s for s in plan.specs if s[0] in where]  # optional columns may be absent
        positions = [where[s[0]] for s in specs]
    return _enforce_columns(df, positions, specs)


def _enforce_unnamed(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    n = len(schema.inputs)
    ncols = len(df.columns)
    if ncols < n:
        raise MlflowException(
            "Model inference is missing inputs. The model signature declares "
            f"{n} inputs  but the provided value only has {ncols} inputs. Note: the inputs were not named in "
            "the signature so we can only verify their count."
        )
    labels = df.columns[:n].tolist()
    specs = [(label, spec.type, True) for label, spec in zip(labels, schema.inputs, strict=True)]
    return _enforce_columns(df, None if ncols == n else list(range(n)), specs)


def _enforce_columns(df: pd.DataFrame, positions: list[int] | None, specs: list[tuple[Any, Any, bool]]) -> pd.DataFrame:
    """``df`` restricted to ``positions`` (None: all, in place) with each column enforced against the
    type in ``specs`` (name, type, required), in that order."""
    dtypes = _column_dtypes(df)
    changes: list[tuple[int, Any]] = []
    for out_pos, (name, t, required) in enumerate(specs):
        src = out_pos if positions is None else positions[out_pos]
        if isinstance(t, DataType):
            action = quick_action(dtypes[src], t)
            if action is KEEP:
                continue
            if action is None:
                column = df.iloc[:, src]
                new = enforce_series(name, column, t)
                if new is column:
                    continue
                changes.append((out_pos, new.array))
            else:
                changes.append((out_pos, _column_values(df, src).astype(action)))
        elif isinstance(t, AnyType):
            continue
        else:
            values = [enforce_type(v, t, required) for v in df.iloc[:, src]]
            changes.append((out_pos, pd.Series(values, index=df.index, dtype=object).array))
    out = df.copy(deep=False) if positions is None else df.take(positions, axis=1)
    if changes:
        by_label = out.columns.is_unique  # setting by label is the cheaper of the two
        for pos, values in changes:
            if by_label:
                out[specs[pos][0]] = values
            else:
                out.isetitem(pos, values)
    return out


def _column_dtypes(df: pd.DataFrame) -> list[Any]:
    """The dtypes of ``df``'s columns, in order. ``df.dtypes`` builds a Series (~12 us, most of the cost
    of checking a 1-row frame), so the block manager is asked directly when it offers ``get_dtypes``."""
    get_dtypes = getattr(getattr(df, "_mgr", None), "get_dtypes", None)
    if get_dtypes is not None:
        try:
            dtypes = list(get_dtypes())
        except Exception:
            dtypes = []
        if len(dtypes) == df.shape[1]:
            return dtypes
    return df.dtypes.tolist()


def _column_values(df: pd.DataFrame, i: int) -> Any:
    """The array behind column ``i`` (no Series built when pandas offers ``_get_column_array``)."""
    get_array = getattr(df, "_get_column_array", None)
    if get_array is not None:
        try:
            return get_array(i)
        except Exception:
            pass
    return df.iloc[:, i].array


# --- tensor-based schemas with names -----------------------------------------------------------------


def _check_tensor_names(data: Any, schema: Schema) -> Any:
    """Missing required tensors are an error, extra ones are ignored (with a warning)."""
    required = schema.required_input_names()
    if len(required) == 1 and isinstance(data, np.ndarray):
        return {required[0]: data}  # a single named tensor may be passed bare
    if isinstance(data, pd.DataFrame):
        actual = data.columns.tolist()
    elif isinstance(data, dict):
        actual = list(data)
    else:
        actual = []
    known = set(schema.input_names())
    missing = [n for n in required if n not in set(actual)]
    extra = [c for c in actual if c not in known]
    if missing:
        message = f"Model is missing inputs {missing}."
        if extra:
            message += f" Note that there were extra inputs: {extra}"
        raise MlflowException(message)
    if extra:
        _logger.warning(
            "Found extra inputs in the model input that are not defined in the model signature: `%s`. "
            "These inputs will be ignored.", extra,
        )
    return data


# --- params ------------------------------------------------------------------------------------------


def enforce_params(params: Any, param_schema: ParamSchema | None) -> Any:
    """``params`` checked against ``param_schema``: unknown keys dropped (with a warning), missing ones
    filled with their defaults, values converted to the declared types. With no params schema, params
    are not accepted: anything other than None/{} is dropped with a warning."""
    if param_schema is None:
        if params is None or (isinstance(params, dict) and not params):
            return params
        info = (f"Ignoring provided params: {list(params)}" if isinstance(params, dict)
                else "Ignoring invalid params (not a dictionary).")
        _logger.warning(
            "`params` can only be specified at inference time if the model signature defines a params "
            "schema. This model does not define a params schema. %s", info,
        )
        return {}
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise MlflowException.invalid_parameter_value(
            f"Parameters must be a dictionary. Got type '{type(params).__name__}'."
        )
    if not isinstance(param_schema, ParamSchema):
        raise MlflowException.invalid_parameter_value(
            f"Parameters schema must be an instance of ParamSchema. Got type '{type(param_schema).__name__}'."
        )
    if not all(isinstance(k, str) for k in params):
        _logger.warning(
            "Keys in parameters should be of type `str`, but received non-string keys."
            "Converting all keys to string..."
        )
        params = {str(k): v for k, v in params.items()}
    specs = param_schema.params
    allowed = {p.name for p in specs}
    ignored = [k for k in params if k not in allowed]
    if ignored:
        _logger.warning(
            "Unrecognized params %s are ignored for inference. Supported params are: %s. "
            "To enable them, please add corresponding schema in ModelSignature.",
            ignored, _set_repr([p.name for p in specs]),
        )
    result = {k: v for k, v in params.items() if k in allowed}
    invalid = []
    for spec in specs:
        if spec.name in result:
            try:
                result[spec.name] = ParamSpec.validate_param_spec(result[spec.name], spec)
            except MlflowException as exc:
                invalid.append((spec.name, exc.message))
        else:
            result[spec.name] = spec.default
    if invalid:
        raise MlflowException.invalid_parameter_value(f"Invalid parameters found: {_set_repr(invalid)}")
    return result
