"""``spark_udf``: any pyfunc model as a Spark pandas UDF for batch scoring.

The driver downloads the model once, zips the directory and ships it with ``SparkContext.addFile``.
Each Python worker unzips the archive once and keeps the loaded ``PyFuncModel`` in a module-level cache
keyed by the archive's path, so a reused worker loads the model only once whatever the number of tasks
and batches. Batches arrive through an iterator-of-series pandas UDF (Arrow); each one becomes a pandas
DataFrame for ``predict`` and the prediction is shaped into the UDF's result type.

Only ``env_manager="local"`` is supported: the workers score in the Python environment Spark starts
them in, which must have the model's requirements installed.

pyspark, pandas and numpy are imported when a UDF is built or run, never at import.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

from fluvial.exceptions import MlflowException

_logger = logging.getLogger(__name__)

ENV_MANAGERS = ("local", "conda", "virtualenv", "uv")
_PRIMITIVES = ("IntegerType", "LongType", "FloatType", "DoubleType", "StringType", "BooleanType")

# worker side: (archive path, model_config key) -> loaded PyFuncModel, the most recently loaded last
_MODELS: dict[tuple[str, str], Any] = {}
_MAX_MODELS = 8
_MODELS_LOCK = threading.Lock()


def spark_udf(
    spark: Any,
    model_uri: str,
    result_type: Any = None,
    env_manager: str | None = None,
    params: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    prebuilt_env_uri: str | None = None,
    model_config: Any = None,
) -> Any:
    """A Spark UDF that scores the pyfunc model at ``model_uri`` on the columns it is called with.

    Called with columns, those become the model's input DataFrame: by position onto the signature's
    input names when the model has a signature, else named ``"0"``, ``"1"``, ...; a single
    ``struct(...)`` argument keeps its field names. Called with no arguments, the signature's input
    names pick the columns. ``result_type`` is a Spark DataType or DDL string (default: inferred from
    the output schema, else ``double``).
    """
    from fluvial._internal.lazy import require

    require("pyspark", "spark")
    try:
        import pyarrow  # noqa: F401 - pandas UDFs move batches as Arrow
    except ImportError:
        raise MlflowException(
            "spark_udf runs the model in a pandas UDF, which needs pyarrow: pip install pyarrow "
            '(or "pyspark[sql]").'
        ) from None
    _check_env_manager(env_manager, prebuilt_env_uri)

    from fluvial.models.uri import download_model

    staging = tempfile.mkdtemp(prefix="fluvial-spark-model-")
    try:
        return _build_udf(spark, model_uri, download_model(model_uri, dst_path=staging), result_type, params,
                          extra_env, model_config)
    finally:  # a downloaded model is in staging; once zipped and shipped the workers need only the archive
        shutil.rmtree(staging, ignore_errors=True)


def _build_udf(spark: Any, model_uri: str, local: str, result_type: Any, params: dict[str, Any] | None,
               extra_env: dict[str, str] | None, model_config: Any) -> Any:
    from fluvial.models.enforcement import enforce_params
    from fluvial.models.model import MLMODEL_FILE_NAME, Model
    from fluvial.pyfunc.loading import FLAVOR_NAME, _model_config

    if not os.path.isfile(os.path.join(local, MLMODEL_FILE_NAME)):
        raise MlflowException(f'Could not find an "{MLMODEL_FILE_NAME}" configuration file at "{model_uri}"')
    meta = Model.load(local)
    if FLAVOR_NAME not in meta.flavors:
        raise MlflowException(
            f'The model at {model_uri!r} has no "{FLAVOR_NAME}" flavor (its flavors: {sorted(meta.flavors)}), '
            "so spark_udf cannot score it."
        )
    _warn_local_environment(local)
    rtype = _result_type(result_type, meta.get_output_schema())
    params = enforce_params(params, meta.get_params_schema())
    config = _model_config(model_config)
    archive = _ship_model(spark, local)
    udf = _pandas_udf(archive, rtype, params or None, config, dict(extra_env or {}))

    input_schema = meta.get_input_schema()

    @functools.wraps(udf)
    def call(*columns: Any) -> Any:
        return udf(*(columns or _signature_columns(input_schema)))

    call.metadata = meta  # type: ignore[attr-defined]
    return call


# ---------------------------------------------------------------------------------------------- driver


def _check_env_manager(env_manager: str | None, prebuilt_env_uri: str | None) -> None:
    if prebuilt_env_uri is not None:
        raise MlflowException.invalid_parameter_value(
            "prebuilt_env_uri is for prebuilt environments on Databricks, which fluvial's spark_udf does not "
            "support. Leave it unset and install the model's requirements on the Spark workers."
        )
    manager = env_manager or "local"
    if manager not in ENV_MANAGERS:
        raise MlflowException.invalid_parameter_value(
            f"Invalid value for `env_manager`: {env_manager}. Must be one of {list(ENV_MANAGERS)}"
        )
    if manager != "local":
        raise MlflowException.invalid_parameter_value(
            f"fluvial's spark_udf supports only env_manager='local' for now, not {manager!r}. Install the "
            "model's requirements (fluvial.pyfunc.get_model_dependencies(model_uri)) into the Python "
            "environment of the Spark workers and pass env_manager='local' (or nothing)."
        )


def _warn_local_environment(model_dir: str) -> None:
    from fluvial.models.environment import requirements_for_environment
    from fluvial.models.requirements import warn_requirement_mismatches

    try:
        warn_requirement_mismatches(requirements_for_environment(model_dir))
    except Exception:  # a malformed requirements file must not stop scoring
        _logger.debug("Could not compare the model's requirements with this environment", exc_info=True)
    _logger.info(
        "spark_udf scores with env_manager='local': the Spark workers' Python environment is used as it is, "
        "which may differ from the one the model was trained in."
    )


def _ship_model(spark: Any, model_dir: str) -> str:
    """Zip ``model_dir`` and add it to the Spark job's files; the archive's file name."""
    try:
        context = spark.sparkContext
    except Exception as exc:
        raise MlflowException(
            "spark_udf needs a classic SparkSession with a SparkContext (Spark Connect sessions are not "
            f"supported): {exc}"
        ) from None
    folder = tempfile.mkdtemp(prefix="fluvial-spark-udf-")
    atexit.register(shutil.rmtree, folder, True)
    name = f"fluvial-model-{uuid.uuid4().hex}.zip"
    path = os.path.join(folder, name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _dirs, files in os.walk(model_dir):
            for file in files:
                full = os.path.join(root, file)
                zf.write(full, os.path.relpath(full, model_dir))
    context.addFile(path)
    return name


def _signature_columns(schema: Any) -> list[Any]:
    """The columns a UDF called with no arguments reads: the signature's input names."""
    from pyspark.sql.functions import col

    if schema is None:
        raise MlflowException.invalid_parameter_value(
            "The UDF was called with no columns and the model has no signature to name them: pass the "
            "input columns, e.g. udf('a', 'b') or udf(struct('a', 'b')), or log the model with a signature."
        )
    if not schema.has_input_names():
        raise MlflowException.invalid_parameter_value(
            f"The UDF was called with no columns and the model's signature does not name its {len(schema)} "
            f"inputs ({schema.inputs}): pass the input columns explicitly."
        )
    if schema.optional_input_names():
        raise MlflowException.invalid_parameter_value(
            "The UDF was called with no columns and the model's signature has optional inputs "
            f"{schema.optional_input_names()}: pass the columns to use explicitly."
        )
    return [col("`" + str(name).replace("`", "``") + "`") for name in schema.input_names()]


def _result_type(result_type: Any, output_schema: Any) -> Any:
    from pyspark.sql.types import DataType, DoubleType

    if result_type is None:
        if output_schema is None:
            _logger.warning("No result_type given and the model has no output schema: the UDF returns double.")
            return DoubleType()
        return _infer_result_type(output_schema)
    if isinstance(result_type, str):
        from pyspark.sql.types import _parse_datatype_string

        text = "boolean" if result_type.strip().lower() == "bool" else result_type
        try:
            parsed = _parse_datatype_string(text)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MlflowException.invalid_parameter_value(
                f"Invalid spark_udf result_type {result_type!r}: not a Spark DDL type ({reason})."
            ) from None
    elif isinstance(result_type, DataType):
        parsed = result_type
    else:
        raise MlflowException.invalid_parameter_value(
            "spark_udf result_type must be a pyspark.sql.types.DataType or a DDL string such as 'double' or "
            f"'a long, b string', not {type(result_type).__name__}."
        )
    if not _supported(parsed):
        raise MlflowException.invalid_parameter_value(
            f"Invalid spark_udf result_type {parsed.simpleString()!r}. Supported: int, long, float, double, "
            "string, boolean; arrays of these (nested arrays too); structs whose fields are any of these; "
            "maps from string to any of these."
        )
    return parsed


def _supported(dt: Any) -> bool:
    from pyspark.sql.types import ArrayType, MapType, StringType, StructType

    if type(dt).__name__ in _PRIMITIVES:
        return True
    if isinstance(dt, ArrayType):
        return _supported(dt.elementType)
    if isinstance(dt, StructType):
        return all(_supported(f.dataType) for f in dt.fields)
    if isinstance(dt, MapType):
        return isinstance(dt.keyType, StringType) and _supported(dt.valueType)
    return False


def _infer_result_type(schema: Any) -> Any:
    """The Spark type of a model's output schema: one output's own type, several outputs as a struct."""
    from pyspark.sql.types import StructField, StructType

    specs = schema.inputs
    if len(specs) == 1:
        return _spec_type(specs[0])
    return StructType([StructField(str(s.name) if s.name is not None else str(i), _spec_type(s))
                       for i, s in enumerate(specs)])


def _spec_type(spec: Any) -> Any:
    from pyspark.sql.types import ArrayType

    from fluvial.models.schema import TensorSpec
    from fluvial.models.types import DataType

    if not isinstance(spec, TensorSpec):
        return _colspec_type(spec.type)
    dtype = DataType.from_numpy_type(spec.type)
    if dtype is None:
        raise MlflowException.invalid_parameter_value(
            f"The model's output tensor type {spec.type} has no Spark equivalent: pass result_type."
        )
    # MLflow's rule, kept for compatibility: a 1-D output tensor is an array per row, 2-D an array of arrays
    if len(spec.shape) == 1:
        return ArrayType(dtype.to_spark())
    if len(spec.shape) == 2:
        return ArrayType(ArrayType(dtype.to_spark()))
    raise MlflowException.invalid_parameter_value(
        f"Only 1-D or 2-D output tensors can be inferred as a spark_udf result type, but output "
        f"{spec.name or 0!r} has shape {spec.shape}: pass result_type."
    )


def _colspec_type(t: Any) -> Any:
    from pyspark.sql.types import ArrayType, MapType, StringType, StructField, StructType

    from fluvial.models.types import AnyType, Array, DataType, Map, Object

    if isinstance(t, DataType):
        return t.to_spark()
    if isinstance(t, Array):
        return ArrayType(_colspec_type(t.dtype))
    if isinstance(t, Object):
        return StructType([StructField(p.name, _colspec_type(p.dtype), True) for p in t.properties])
    if isinstance(t, Map):
        return MapType(StringType(), _colspec_type(t.value_type))
    if isinstance(t, AnyType):
        try:
            from pyspark.sql.types import VariantType  # type: ignore[attr-defined]
        except ImportError:
            raise MlflowException.invalid_parameter_value(
                "An output of type Any needs pyspark >= 4.0 (VariantType), or pass result_type."
            ) from None
        return VariantType()
    raise MlflowException.invalid_parameter_value(f"The output type {t!r} has no Spark equivalent: pass result_type.")


def _pandas_udf(archive: str, rtype: Any, params: dict[str, Any] | None, config: dict[str, Any] | None,
                extra_env: dict[str, str]) -> Any:
    import typing

    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import StructType

    config_key = repr(sorted(config.items())) if config else ""

    def predict(batches: Any) -> Any:
        return _score_batches(batches, archive, config_key, config, rtype, params, extra_env)

    # real annotation objects (not strings): pandas_udf reads them to pick the iterator-of-series form
    predict.__annotations__ = {
        "batches": Iterator[typing.Tuple[typing.Union[pd.Series, pd.DataFrame], ...]],  # noqa: UP006
        "return": Iterator[pd.DataFrame] if isinstance(rtype, StructType) else Iterator[pd.Series],
    }
    return pandas_udf(predict, rtype)  # type: ignore[call-overload]


# ---------------------------------------------------------------------------------------------- worker


def _score_batches(batches: Any, archive: str, config_key: str, config: dict[str, Any] | None, rtype: Any,
                   params: dict[str, Any] | None, extra_env: dict[str, str]) -> Iterator[Any]:
    import pandas as pd

    model = _cached_model(archive, config_key, config)
    schema = model.metadata.get_input_schema()
    saved = {k: os.environ.get(k) for k in extra_env}
    os.environ.update(extra_env)
    try:
        for batch in batches:
            args = (batch,) if isinstance(batch, (pd.Series, pd.DataFrame)) else tuple(batch)
            if len(args[0]) == 0:
                continue
            frame = _input_frame(args, schema)
            result = model.predict(frame, params) if params else model.predict(frame)
            yield _shape_result(result, rtype, len(frame))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _cached_model(archive: str, config_key: str, config: dict[str, Any] | None) -> Any:
    from pyspark import SparkFiles

    path = SparkFiles.get(archive)
    key = (path, config_key)
    model = _MODELS.get(key)
    if model is None:
        with _MODELS_LOCK:
            model = _MODELS.get(key)
            if model is None:
                from fluvial.pyfunc.loading import load_model

                model = _MODELS[key] = load_model(_unpacked(path), model_config=config)
                while len(_MODELS) > _MAX_MODELS:  # UDFs of earlier spark_udf calls, least recent first
                    _MODELS.pop(next(iter(_MODELS)))
    return model


def _unpacked(archive_path: str) -> str:
    """The directory ``archive_path`` unzips to, unzipped once per machine (safe across processes)."""
    target = archive_path[:-len(".zip")] if archive_path.endswith(".zip") else archive_path + ".d"
    if os.path.isdir(target):
        return target
    staging = tempfile.mkdtemp(prefix=".unzip-", dir=os.path.dirname(target))
    with zipfile.ZipFile(archive_path) as zf:
        zf.extractall(staging)
    try:
        os.rename(staging, target)
    except OSError:  # another worker got there first
        shutil.rmtree(staging, ignore_errors=True)
        if not os.path.isdir(target):
            raise
    return target


def _input_frame(args: tuple[Any, ...], schema: Any) -> Any:
    """The model input for one batch of UDF arguments (pandas Series, or DataFrames for structs)."""
    import pandas as pd

    if len(args) == 1 and isinstance(args[0], pd.DataFrame) and not _single_object_input(args[0], schema):
        frame = args[0]
    else:
        if schema is None:
            names: list[Any] = [str(i) for i in range(len(args))]
        else:
            names = schema.input_names()
            required = schema.required_input_names()
            if len(args) < len(required):
                raise MlflowException.invalid_parameter_value(
                    f"Model input is missing required columns: the model expects {len(required)} required "
                    f"input columns {required} but the UDF was called with {len(args)}. Columns passed "
                    "without a struct are matched to the signature's inputs by position."
                )
            args = args[:len(names)]
        frame = pd.DataFrame({
            names[i]: arg if isinstance(arg, pd.Series) else pd.Series(arg.to_dict("records"), index=arg.index)
            for i, arg in enumerate(args)
        })
    if schema is not None and schema.is_tensor_spec():
        frame = _cast_tensor_columns(frame, schema)
    return frame


def _single_object_input(frame: Any, schema: Any) -> bool:
    """Whether a lone struct argument is the value of the model's single object-typed input rather than
    the input columns themselves."""
    from fluvial.models.schema import ColSpec
    from fluvial.models.types import Object

    if schema is None or len(schema) != 1 or not schema.has_input_names():
        return False
    spec = schema.inputs[0]
    return isinstance(spec, ColSpec) and isinstance(spec.type, Object) and spec.name not in frame.columns


def _cast_tensor_columns(frame: Any, schema: Any) -> Any:
    """Array columns cast to their tensor spec's dtype (Spark's array<double> for a float32 tensor ...);
    the C-order reshape to the spec's shape is schema enforcement's."""
    import numpy as np

    specs = schema.inputs
    by_column = ({spec.name: spec for spec in specs} if schema.has_input_names()
                 else {frame.columns[0]: specs[0]} if len(frame.columns) == 1 else {})
    out = frame
    for column, spec in by_column.items():
        if column not in frame.columns or len(frame) == 0:
            continue
        first = frame[column].iloc[0]
        if isinstance(first, (np.ndarray, list)) and spec.type != np.dtype(object):
            if out is frame:
                out = frame.copy()
            out[column] = [None if v is None else np.asarray(v, dtype=spec.type) for v in frame[column]]
    return out


# ---------------------------------------------------------------------------------- predictions -> Spark


def _shape_result(result: Any, rtype: Any, n_rows: int) -> Any:
    """One batch's prediction as the pandas Series (or DataFrame, for a struct) of ``rtype``."""
    import pandas as pd
    from pyspark.sql.types import ArrayType, StructType

    if isinstance(rtype, StructType):
        frame = _as_frame(result)
        out: Any = pd.DataFrame({f.name: _convert_column(_field(frame, f.name), f.dataType).reset_index(drop=True)
                                 for f in rtype.fields})
    elif isinstance(rtype, ArrayType) and isinstance(result, pd.DataFrame) and not _holds_sequences(result):
        out = _arrays_from_columns(result, rtype)
    elif type(rtype).__name__ in _PRIMITIVES:
        frame = _as_frame(result)
        out = _cast_column(_leftmost(frame, rtype), rtype)
    else:  # arrays, maps and other types: one value per row
        out = pd.Series([_convert_value(v, rtype) for v in _row_values(result)], dtype=object)
    if len(out) != n_rows:
        raise MlflowException(
            f"The model returned {len(out)} predictions for a batch of {n_rows} rows; spark_udf needs one "
            "prediction per input row."
        )
    return out.reset_index(drop=True)


def _as_frame(result: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, pd.Series):
        return result.to_frame(name=result.name if result.name is not None else 0)
    if isinstance(result, dict):
        if all(np.isscalar(v) for v in result.values()):
            return pd.DataFrame([result])
        return pd.DataFrame({k: list(v) for k, v in result.items()})
    if isinstance(result, np.ndarray):
        if result.ndim == 0:
            return pd.DataFrame({0: [result.item()]})
        if result.ndim == 1:
            return pd.DataFrame({0: result})
        if result.ndim == 2:
            return pd.DataFrame(result)
        return pd.DataFrame({0: list(result)})
    if isinstance(result, (list, tuple)):
        if result and all(isinstance(v, dict) for v in result):
            return pd.DataFrame(list(result))
        return pd.DataFrame({0: list(result)})
    return pd.DataFrame({0: [result]})


def _row_values(result: Any) -> list[Any]:
    """The per-row values of a prediction whose every row is one value (an array, a map ...)."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result.iloc[:, 0].tolist()
    if isinstance(result, (pd.Series, list, tuple)):
        return list(result)
    if isinstance(result, np.ndarray) and result.ndim > 0:
        return list(result)
    return list(_as_frame(result).iloc[:, 0])


def _holds_sequences(frame: Any) -> bool:
    """Whether the leftmost column of ``frame`` holds arrays or lists (one array per row)."""
    import numpy as np

    if len(frame.columns) == 0 or len(frame) == 0 or frame.dtypes.iloc[0] != np.dtype(object):
        return False
    return isinstance(frame.iloc[0, 0], (list, tuple, np.ndarray))


def _field(frame: Any, name: str) -> Any:
    if name in frame.columns:
        return frame[name]
    if name.isdigit() and int(name) in frame.columns:
        return frame[int(name)]
    raise MlflowException(
        f"The model's prediction has no column {name!r} for the struct result field of that name; its columns "
        f"are {list(frame.columns)}. Name the struct's fields after the prediction's columns."
    )


def _compatible(series: Any, dt: Any) -> bool:
    import numpy as np
    from pandas.api import types as ptypes

    kind = type(dt).__name__
    if kind == "StringType":
        return True
    if kind == "BooleanType":
        return bool(ptypes.is_bool_dtype(series.dtype))
    if kind in ("DoubleType", "FloatType"):
        return bool(ptypes.is_numeric_dtype(series.dtype)) and not ptypes.is_bool_dtype(series.dtype)
    if kind in ("IntegerType", "LongType"):
        if not ptypes.is_integer_dtype(series.dtype):
            return False
        values = series.dropna()
        if len(values) == 0:
            return True
        info = np.iinfo(np.int32 if kind == "IntegerType" else np.int64)
        return bool(info.min <= int(values.min()) and int(values.max()) <= info.max)
    return False


def _no_compatible_column(frame: Any, dt: Any) -> MlflowException:
    columns = {str(c): str(t) for c, t in frame.dtypes.items()}
    return MlflowException.invalid_parameter_value(
        f"The model did not produce any values compatible with the requested type '{dt.simpleString()}' "
        f"(prediction columns and types: {columns}). Request 'string' or 'array<string>', or a type that "
        "matches the prediction."
    )


def _leftmost(frame: Any, dt: Any) -> Any:
    for name in frame.columns:
        if _compatible(frame[name], dt):
            return frame[name]
    raise _no_compatible_column(frame, dt)


def _arrays_from_columns(frame: Any, rtype: Any) -> Any:
    """array<primitive> from a DataFrame prediction: every compatible column, one array per row."""
    import pandas as pd

    elem = rtype.elementType
    if type(elem).__name__ not in _PRIMITIVES:
        return pd.Series([_convert_value(v, rtype) for v in _row_values(frame)], dtype=object)
    columns = [_cast_column(frame[c], elem) for c in frame.columns if _compatible(frame[c], elem)]
    if not columns:
        raise _no_compatible_column(frame, elem)
    rows = pd.concat(columns, axis=1, ignore_index=True).to_numpy(dtype=object).tolist()
    return pd.Series(rows, dtype=object)


def _is_null(value: Any) -> bool:
    import pandas as pd

    if value is None:
        return True
    try:
        return bool(pd.isna(value)) if not hasattr(value, "__len__") or isinstance(value, str) else False
    except (TypeError, ValueError):
        return False


def _cast_column(series: Any, dt: Any) -> Any:
    """``series`` as the pandas column of Spark primitive ``dt``; MlflowException when it cannot be."""
    import numpy as np
    from pandas.api import types as ptypes

    kind = type(dt).__name__
    try:
        if kind == "StringType":
            # None/NA stay null; a float NaN becomes "nan", as MLflow returns it
            return series.map(lambda v: None if _is_null(v) and not isinstance(v, (float, np.floating))
                              else str(v)).astype(object)
        if kind in ("DoubleType", "FloatType"):
            return series.astype(np.float64 if kind == "DoubleType" else np.float32)
        has_na = bool(series.isna().any())
        if kind == "BooleanType":
            return series.astype("boolean" if has_na else bool)
        if kind in ("IntegerType", "LongType"):
            if ptypes.is_float_dtype(series.dtype) or series.dtype == np.dtype(object):
                values = series.dropna().astype(np.float64)
                if not np.all(np.mod(values, 1) == 0):
                    raise ValueError("the values are not whole numbers")
            if not _compatible(series.dropna().astype(np.int64), dt):
                raise ValueError("the values do not fit")
            return series.astype(("Int32" if has_na else np.int32) if kind == "IntegerType"
                                 else ("Int64" if has_na else np.int64))
    except (TypeError, ValueError, OverflowError) as exc:
        raise MlflowException.invalid_parameter_value(
            f"The model's prediction column {series.name!r} ({series.dtype}) cannot be returned as "
            f"'{dt.simpleString()}': {exc}"
        ) from None
    return series


def _convert_column(series: Any, dt: Any) -> Any:
    import pandas as pd

    if type(dt).__name__ in _PRIMITIVES:
        return _cast_column(series, dt)
    return pd.Series([_convert_value(v, dt) for v in series], index=series.index, dtype=object)


_PY_TYPES = {"IntegerType": int, "LongType": int, "FloatType": float, "DoubleType": float,
             "StringType": str, "BooleanType": bool}


def _convert_value(value: Any, dt: Any) -> Any:
    """One value (a scalar, sequence, mapping ...) as a Python value of Spark type ``dt``."""
    import numpy as np
    from pyspark.sql.types import ArrayType, MapType, StructType

    if _is_null(value):
        return None
    kind = type(dt).__name__
    if kind in _PY_TYPES:
        if isinstance(value, np.generic):
            value = value.item()
        if kind in ("IntegerType", "LongType") and isinstance(value, float) and not value.is_integer():
            raise MlflowException.invalid_parameter_value(
                f"The prediction value {value!r} cannot be returned as '{dt.simpleString()}'."
            )
        return _PY_TYPES[kind](value)
    if isinstance(dt, ArrayType):
        # a value shallower than the type is wrapped at the outside (MLflow's shape for tensor outputs):
        # a number for array<double> -> [x], a row [x, y] for array<array<double>> -> [[x, y]]
        for _ in range(_array_depth(dt) - _value_depth(value)):
            value = [value]
        return [_convert_value(v, dt.elementType) for v in value]
    if isinstance(dt, StructType):
        if hasattr(value, "asDict"):
            value = value.asDict()
        get = value.get if hasattr(value, "get") else (lambda k: getattr(value, k, None))
        return {f.name: _convert_value(get(f.name), f.dataType) for f in dt.fields}
    if isinstance(dt, MapType):
        return {str(k): _convert_value(v, dt.valueType) for k, v in dict(value).items()}
    return value


def _array_depth(dt: Any) -> int:
    from pyspark.sql.types import ArrayType

    depth = 0
    while isinstance(dt, ArrayType):
        depth, dt = depth + 1, dt.elementType
    return depth


def _value_depth(value: Any) -> int:
    """How many sequence levels ``value`` has, following first elements (ragged values are fine)."""
    import numpy as np

    depth = 0
    while True:
        if isinstance(value, np.ndarray) and value.dtype != np.dtype(object):
            return depth + value.ndim
        if not isinstance(value, (list, tuple, np.ndarray)):
            return depth
        depth += 1
        if len(value) == 0:
            return depth
        value = value[0]
