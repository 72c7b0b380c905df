"""Schema enforcement at predict time: MLflow's conversion table, column rules, input shapes, composite
types, tensors and params, with MLflow's messages (observed by running MLflow 2.22.5 on the same data)."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fluvial.exceptions import MlflowException
from fluvial.models.enforcement import (
    _column_dtypes,
    enforce_params,
    enforce_prediction_input,
    enforce_schema,
    schema_enforcement_error,
    validate_schema,
)
from fluvial.models.schema import (
    AnyType,
    Array,
    ColSpec,
    Map,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
    TensorSpec,
)


def one(t: Any, name: str = "x", required: bool = True) -> Schema:
    return Schema([ColSpec(t, name, required)])


def incompatible(src: str, dst: str) -> str:
    return f"Incompatible input types for column x. Can not safely convert {src} to {dst}."


# --- the conversion table ----------------------------------------------------------------------------

# (id, declared type, column values, accepted: result dtype | rejected: the message)
ACCEPTED = [
    ("double<-float64", "double", [1.5, 2.0], "float64"),
    ("double<-float32", "double", np.array([1.5], dtype="float32"), "float64"),
    ("double<-float16", "double", np.array([1.5], dtype="float16"), "float64"),
    ("double<-int32", "double", np.array([1, 2], dtype="int32"), "float64"),
    ("double<-int8", "double", np.array([1], dtype="int8"), "float64"),
    ("double<-uint32", "double", np.array([1], dtype="uint32"), "float64"),
    ("double<-int64 0/1", "double", [0, 1], "float64"),
    ("double<-object floats", "double", pd.Series([1.5, None], dtype=object), "float64"),
    ("double<-Decimal", "double", [decimal.Decimal("1.5")], "float64"),
    ("double<-numeric strings", "double", pd.Series(["1.5"], dtype=object), "float64"),
    ("double<-nullable Float64", "double", pd.array([1.5, None], dtype="Float64"), "float64"),
    ("float<-float16", "float", np.array([1.5], dtype="float16"), "float32"),
    ("float<-int64 0/1", "float", [0, 1], "float32"),
    ("long<-int64", "long", [1], "int64"),
    ("long<-int32", "long", np.array([1], dtype="int32"), "int64"),
    ("long<-uint32", "long", np.array([1], dtype="uint32"), "int64"),
    ("long<-Int64 without NA", "long", pd.array([1, 2], dtype="Int64"), "int64"),
    ("long<-object ints", "long", pd.Series([1, 2], dtype=object), "int64"),
    ("integer<-int16", "integer", np.array([1], dtype="int16"), "int32"),
    ("integer<-uint16", "integer", np.array([1], dtype="uint16"), "int32"),
    ("integer<-int32", "integer", np.array([1], dtype="int32"), "int32"),
    ("string<-object", "string", pd.Series(["a", 1], dtype=object), "object"),
    ("string<-str", "string", ["a", None], "str"),
    ("string<-StringDtype", "string", pd.array(["a", None], dtype="string"), "string"),
    ("boolean<-bool", "boolean", [True], "bool"),
    ("boolean<-object with None", "boolean", [True, None], "object"),
    ("binary<-bytes objects", "binary", [b"a"], "object"),
    ("binary<-numpy bytes", "binary", np.array([b"ab", b"c"]), "object"),
    ("binary<-str", "binary", ["a"], "str"),
    ("datetime<-ns", "datetime", pd.to_datetime(["2020-01-01"]), "datetime64[ns]"),
    ("datetime<-s", "datetime", np.array(["2020-01-01"], dtype="datetime64[s]"), "datetime64[ns]"),
    ("datetime<-object strings", "datetime", pd.Series(["2020-01-01"], dtype=object), "datetime64[ns]"),
    ("datetime<-str", "datetime", ["2020-01-01"], "datetime64[ns]"),
    ("datetime<-dates", "datetime", [dt.date(2020, 1, 1)], "datetime64[ns]"),
]

REJECTED = [
    ("double<-int64", "double", [1, 2], incompatible("int64", "float64")),
    ("double<-uint64", "double", np.array([1], dtype="uint64"), incompatible("uint64", "float64")),
    ("double<-bool", "double", [True], incompatible("bool", "float64")),
    ("double<-strings", "double", ["a"], "Failed to convert column x from type object to DataType.double."),
    ("double<-object ints", "double", pd.Series([1, 2], dtype=object), incompatible("int64", "float64")),
    ("double<-Int64", "double", pd.array([1, None], dtype="Int64"), incompatible("Int64", "float64")),
    ("float<-float64", "float", [1.5], incompatible("float64", "float32")),
    ("float<-int64", "float", [0, 2], incompatible("int64", "float32")),
    ("float<-int16", "float", np.array([1], dtype="int16"), incompatible("int16", "float32")),
    ("long<-uint64", "long", np.array([1], dtype="uint64"), incompatible("uint64", "int64")),
    ("long<-float64", "long", [1.0], incompatible("float64", "int64")),
    ("long<-floats with NaN", "long", [1.0, np.nan], incompatible("float64", "int64") + " Hint: the type mismatch"),
    ("long<-fractions with NaN", "long", [1.5, np.nan], incompatible("float64", "int64")),
    ("long<-bool", "long", [True], incompatible("bool", "int64")),
    ("long<-object strings", "long", pd.Series(["1"], dtype=object), incompatible("object", "int64")),
    ("long<-str", "long", ["1"], incompatible("object", "int64")),
    ("long<-Int64 with NA", "long", pd.array([1, None], dtype="Int64"), "Failed to convert column x from type Int64"),
    ("integer<-int64", "integer", [1], incompatible("int64", "int32")),
    ("integer<-uint32", "integer", np.array([1], dtype="uint32"), incompatible("uint32", "int32")),
    ("string<-int64", "string", [1], incompatible("int64", "<U0")),
    ("string<-bool", "string", [True], incompatible("bool", "<U0")),
    ("string<-category", "string", pd.Categorical(["a"]), incompatible("category", "<U0")),
    ("boolean<-int64", "boolean", [1], incompatible("int64", "bool")),
    ("boolean<-nullable with NA", "boolean", pd.array([True, None], dtype="boolean"), "Failed to convert column x"),
    ("binary<-int64", "binary", [1], incompatible("int64", "|S0")),
    ("datetime<-int64", "datetime", [1], incompatible("int64", "datetime64[ns]")),
    ("datetime<-unparseable", "datetime", pd.Series(["nope"], dtype=object),
     "Failed to convert column x from type object to DataType.datetime."),
    ("datetime<-timezone-aware", "datetime", pd.to_datetime(["2020-01-01"]).tz_localize("UTC"),
     "only contains timezone-naive datetime objects"),
]


@pytest.mark.parametrize(("t", "values", "dtype"), [r[1:] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED])
def test_accepted_conversions(t, values, dtype):
    frame = pd.DataFrame({"x": values})
    out = enforce_schema(frame, one(t))
    assert str(out["x"].dtype) == dtype
    assert out is not frame
    pd.testing.assert_series_equal(out["x"].astype(object), frame["x"].astype(out["x"].dtype).astype(object),
                                   check_dtype=False)


@pytest.mark.parametrize(("t", "values", "message"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_rejected_conversions(t, values, message):
    with pytest.raises(MlflowException) as info:
        enforce_schema(pd.DataFrame({"x": values}), one(t))
    assert message in info.value.message


def test_hint_only_when_floats_are_whole_numbers():
    with pytest.raises(MlflowException) as info:
        enforce_schema(pd.DataFrame({"x": [1.5, np.nan]}), one("long"))
    assert "Hint" not in info.value.message


def test_int64_0_1_quirk_values():
    out = enforce_schema(pd.DataFrame({"x": [0, 1, 1]}), one("double"))
    assert out["x"].tolist() == [0.0, 1.0, 1.0]


# --- columns -----------------------------------------------------------------------------------------

XY = Schema([ColSpec("double", "x"), ColSpec("double", "y")])


def test_missing_columns():
    with pytest.raises(MlflowException, match=r"^Model is missing inputs \['y'\]\.$"):
        enforce_schema(pd.DataFrame({"x": [1.0]}), XY)
    with pytest.raises(MlflowException, match=r"^Model is missing inputs \['y'\]\. Note that there were extra inputs: \['z'\]$"):
        enforce_schema(pd.DataFrame({"x": [1.0], "z": [2.0]}), XY)


def test_missing_optional_column_is_skipped():
    schema = Schema([ColSpec("double", "x"), ColSpec("double", "y", required=False)])
    out = enforce_schema(pd.DataFrame({"x": [1.0]}), schema)
    assert out.columns.tolist() == ["x"]
    out = enforce_schema(pd.DataFrame({"y": [2.0], "x": [1.0]}), schema)
    assert out.columns.tolist() == ["x", "y"]


def test_extra_columns_are_dropped_with_a_logged_warning(caplog):
    caplog.set_level(logging.WARNING, logger="fluvial")
    frame = pd.DataFrame({"x": [1.0], "z": [2.0], "w": ["a"]})
    out = enforce_schema(frame, one("double"))
    assert out.columns.tolist() == ["x"]
    assert "Found extra inputs in the model input that are not defined in the model signature: `['z', 'w']`. " \
           "These inputs will be ignored." in caplog.text
    assert frame.columns.tolist() == ["x", "z", "w"]  # the caller's frame is untouched


def test_columns_are_reordered_and_cast():
    schema = Schema([ColSpec("double", "x"), ColSpec("long", "y"), ColSpec("string", "s")])
    frame = pd.DataFrame({"s": ["a"], "y": np.array([1], dtype="int32"), "x": [1.5]}, index=[7])
    out = enforce_schema(frame, schema)
    assert out.columns.tolist() == ["x", "y", "s"]
    assert out.dtypes.astype(str).tolist()[:2] == ["float64", "int64"]
    assert out.index.tolist() == [7]
    assert frame["y"].dtype == np.dtype("int32")  # not modified in place


def test_unnamed_schema_checks_count_and_position():
    schema = Schema([ColSpec("double"), ColSpec("long")])
    out = enforce_schema(pd.DataFrame({"p": [1.0], "q": [1], "r": ["z"]}), schema)
    assert out.columns.tolist() == ["p", "q"]
    with pytest.raises(MlflowException, match="The model signature declares 2 inputs  but the provided value only has 1"):
        enforce_schema(pd.DataFrame({"p": [1.0]}), schema)
    with pytest.raises(MlflowException, match=r"column p\. Can not safely convert float64 to int64"):
        enforce_schema(pd.DataFrame({"p": [1.0], "q": [1]}), Schema([ColSpec("long"), ColSpec("long")]))


def test_integer_column_names():
    schema = Schema([ColSpec("double", 0), ColSpec("double", 1)])
    assert enforce_schema(pd.DataFrame(np.array([[1.0, 2.0]])), schema).columns.tolist() == [0, 1]
    with pytest.raises(MlflowException, match=r"Model is missing inputs \[5\]. Note that there were extra inputs: \[1\]"):
        enforce_schema(pd.DataFrame(np.array([[1.0, 2.0]])), Schema([ColSpec("double", 0), ColSpec("double", 5)]))


def test_duplicate_index_and_column_labels():
    frame = pd.DataFrame({"x": np.array([1, 2], dtype="int32")}, index=[0, 0])
    out = enforce_schema(frame, one("long"))
    assert out["x"].tolist() == [1, 2] and out.index.tolist() == [0, 0]
    dup = pd.DataFrame([[1.0, 2.0, 3]], columns=["x", "x", "y"])
    with pytest.raises(MlflowException, match="duplicated column names"):
        enforce_schema(dup, Schema([ColSpec("double", "x"), ColSpec("long", "z", required=False)]))


def test_fast_path_returns_a_shallow_copy():
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    out = enforce_schema(frame, one("double"))
    assert out is not frame
    out["new"] = 1
    out.loc[0, "x"] = 99.0
    assert frame.columns.tolist() == ["x"] and frame["x"].tolist() == [1.0, 2.0]


def test_column_dtypes_match_pandas():
    frame = pd.DataFrame({
        "a": [1.0], "b": ["x"], "c": pd.array([1], dtype="Int64"), "d": pd.Categorical(["q"]),
        "e": pd.to_datetime(["2020"]).tz_localize("UTC"), "f": [1.5], "g": [[1]],
    })
    assert _column_dtypes(frame) == frame.dtypes.tolist()


# --- input shapes ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("schema", "data", "columns", "values"),
    [
        (one("double"), pd.Series([1.0], name="x"), ["x"], [[1.0]]),
        (Schema([ColSpec("double")]), pd.Series([1.0, 2.0]), [0], [[1.0], [2.0]]),
        (Schema([ColSpec("string")]), "hello", [0], [["hello"]]),
        (Schema([ColSpec("long")]), 5, [0], [[5]]),
        (Schema([ColSpec("string")]), ["a", "b"], [0], [["a"], ["b"]]),
        (Schema([ColSpec("double")]), [1.0, 2.0], [0], [[1.0], [2.0]]),
        (Schema([ColSpec("double", "x"), ColSpec("string", "y")]), [{"x": 1.0, "y": "a"}, {"x": 2.0, "y": "b"}],
         ["x", "y"], [[1.0, "a"], [2.0, "b"]]),
        (Schema([ColSpec("double", "x"), ColSpec("string", "y")]), {"x": 1.0, "y": "a"}, ["x", "y"], [[1.0, "a"]]),
        (one("string"), {"x": ["a", "b"]}, ["x"], [[["a", "b"]]]),  # lists of strings: one row
        (one("double"), {"x": [1.0, 2.0]}, ["x"], [[1.0], [2.0]]),  # other lists: one row per item
        (Schema([ColSpec("double", "x"), ColSpec("long", "y")]), {"x": np.array([1.0, 2.0]), "y": np.array([1, 2])},
         ["x", "y"], [[1.0, 1], [2.0, 2]]),
        (Schema([ColSpec("double", 0), ColSpec("double", 1)]), np.array([[1.0, 2.0]]), [0, 1], [[1.0, 2.0]]),
        (Schema([ColSpec("double"), ColSpec("double")]), np.array([[1.0, 2.0]]), [0, 1], [[1.0, 2.0]]),
        (Schema([ColSpec(Array("long"))]), [[1, 2], [3]], [0], [[[1, 2]], [[3]]]),
    ],
)
def test_inputs_become_dataframes(schema, data, columns, values):
    out = enforce_schema(data, schema)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == columns
    assert [[v.tolist() if isinstance(v, np.ndarray) else v for v in row] for row in out.values.tolist()] == values


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (object(), "Expected input to be DataFrame. Found: object"),
        ({1.0}, "Expected input to be DataFrame. Found: set"),
        (None, "Expected input to be DataFrame. Found: NoneType"),
        ((1.0, 2.0), "Expected input to be DataFrame. Found: tuple"),
        (sp.csr_matrix(np.eye(2)), "Expected input to be DataFrame. Found: csr_matrix"),
        ({"x": [1.0, 2.0], "y": [1.0]}, "There was an error casting the input data to a DataFrame"),
        (np.array([[1.0, 2.0]]), r"Model is missing inputs ['x']. Note that there were extra inputs: [0, 1]"),
    ],
)
def test_inputs_that_are_not_frames(data, message):
    with pytest.raises(MlflowException) as info:
        enforce_schema(data, one("double"))
    assert message in info.value.message


def test_two_dimensional_dict_values_are_refused():
    with pytest.raises(MlflowException, match=r"Failed to convert column x from type object to DataType\.double"):
        enforce_schema({"x": np.zeros((2, 2))}, one("double"))


# --- composite types ---------------------------------------------------------------------------------

OBJ = Object([Property("a", "long"), Property("b", "string", required=False)])


@pytest.mark.parametrize(
    ("t", "required", "values", "expected"),
    [
        (Array("long"), True, [[1, 2], [3]], [[1, 2], [3]]),
        (Array("double"), True, [np.array([1.0, 2.0])], [[1.0, 2.0]]),
        (Array("long"), True, [[]], [[]]),
        (Array("long"), False, [None, [1]], [None, [1]]),
        (Array("string"), True, [["a", "b"]], [["a", "b"]]),
        (Array(Array("long")), True, [[[1], [2, 3]]], [[[1], [2, 3]]]),
        (Array(AnyType()), True, [[1, "a", None]], [[1, "a", None]]),
        (Array("double"), True, [[np.float32(1.5)]], [[1.5]]),
        (OBJ, True, [{"a": 1}, {"a": 2, "b": "s"}], [{"a": 1}, {"a": 2, "b": "s"}]),
        (Map("double"), True, [{"a": 1.0, "b": 2.0}], [{"a": 1.0, "b": 2.0}]),
        (Map(Array("long")), True, [{"k": [1]}], [{"k": [1]}]),
        (AnyType(), True, [1, "a", None], [1, "a", None]),
    ],
)
def test_composite_values_accepted(t, required, values, expected):
    out = enforce_schema(pd.DataFrame({"x": values}), one(t, required=required))
    got = [v.tolist() if isinstance(v, np.ndarray) else v for v in out["x"]]
    assert got == expected


@pytest.mark.parametrize(
    ("t", "values", "message"),
    [
        (Array("long"), [[1.5]], "Incompatible input types for column . Can not safely convert float64 to int64."),
        (Array("double"), [[1, 2]], "Can not safely convert int64 to float64."),
        (Array("long"), [1], "Expected data to be list or numpy array, got int"),
        (Array("long"), [None, [1]], "Expected data to be list or numpy array, got NoneType"),
        (Object([Property("a", "long")]), [{"b": 1}], "Missing required properties: {'a'}"),
        (Object([Property("a", "long")]), [{"a": 1, "c": 2}], "Invalid properties not defined in the schema found: {'c'}"),
        (Object([Property("a", "long")]), [{"a": "no"}], "Failed to enforce schema for key `a`. Expected type long, received type str"),
        (Object([Property("a", "long")]), [5], "Failed to enforce schema of '5' with type '{a: long (required)}'. "
                                               "Expected data to be dictionary, got int"),
        (Map("double"), [{1: 1.0}], "Expected all keys in the map type data are string type."),
        (Map("double"), [{"a": "z"}], "Failed to enforce schema of data `z` with dtype `double`"),
        (Map("double"), [[1.0]], "Expected data to be a dict, got list"),
    ],
)
def test_composite_values_rejected(t, values, message):
    with pytest.raises(MlflowException) as info:
        enforce_schema(pd.DataFrame({"x": values}), one(t))
    assert message in info.value.message


def test_composite_values_are_not_mutated():
    record = {"a": np.int32(1)}
    enforce_schema(pd.DataFrame({"x": [record]}), one(Object([Property("a", "long")])))
    assert type(record["a"]) is np.int32


def test_dict_input_with_composite_columns_is_one_row():
    schema = Schema([ColSpec(Object([Property("a", "double")]), "x"), ColSpec(Array("long"), "y")])
    out = enforce_schema({"x": {"a": 1.5}, "y": [1, 2]}, schema)
    assert out.shape == (1, 2) and out["x"][0] == {"a": 1.5} and out["y"][0] == [1, 2]


# --- tensors -----------------------------------------------------------------------------------------

def tensor(dtype: str, *shape: int, name: str | None = None) -> TensorSpec:
    return TensorSpec(np.dtype(dtype), shape, name)


F64x2 = Schema([tensor("float64", -1, 2)])


@pytest.mark.parametrize(
    ("schema", "data", "dtype", "shape"),
    [
        (F64x2, np.zeros((3, 2)), "float64", (3, 2)),
        (Schema([tensor("str", -1)]), np.array(["a", "bcd"]), "<U3", (2,)),
        (Schema([tensor("object", -1)]), np.array([1, "a"], dtype=object), "object", (2,)),
        (Schema([tensor("float64", -1, -1)]), np.array([np.zeros(2), np.zeros(3)], dtype=object), "object", (2,)),
        (F64x2, sp.csr_matrix(np.eye(2)), "float64", (2, 2)),
        (F64x2, pd.DataFrame({"a": [1.0], "b": [2.0]}), "float64", (1, 2)),
        (Schema([tensor("float32", -1)]), pd.DataFrame({"a": [1.0, 2.0]}), "float32", (2,)),
        (Schema([tensor("int64", -1, 1)]), pd.DataFrame({"a": [1, 2]}), "int64", (2, 1)),
        (Schema([tensor("float32", -1, 2)]), pd.DataFrame({"a": [[1, 2], [3, 4]]}), "float32", (2, 2)),
        (F64x2, pd.DataFrame({"a": [np.array([1.0, 2.0]), np.array([3.0, 4.0])]}), "float64", (2, 2)),
        (Schema([tensor("float64", -1)]), pd.Series([1.0, 2.0]), "float64", (2,)),
    ],
)
def test_tensors_accepted(schema, data, dtype, shape):
    out = enforce_schema(data, schema)
    assert str(out.dtype) == dtype and out.shape == shape


@pytest.mark.parametrize(
    ("schema", "data", "message"),
    [
        (F64x2, np.zeros((3, 2), dtype="float32"), "dtype of input float32 does not match expected dtype float64"),
        (F64x2, np.zeros((3, 3)), "Shape of input (3, 3) does not match expected shape (-1, 2)."),
        (F64x2, np.zeros(3), "Shape of input (3,) does not match expected shape (-1, 2)."),
        (Schema([tensor("float64", -1)]), np.array([1, 2]), "dtype of input int64 does not match expected dtype float64"),
        (Schema([tensor("float32", -1, 2)]), sp.csc_matrix(np.eye(2)), "dtype of input float64 does not match"),
        (Schema([tensor("float32", -1, 2)]), pd.DataFrame({"a": [1.0], "b": [2.0]}), "dtype of input float64"),
        (Schema([tensor("float64", -1, 3)]), pd.DataFrame({"a": [1.0], "b": [2.0]}),
         "the input DataFrame passed had 2 columns and an input shape of (-1, 3)"),
        (Schema([tensor("float32", -1, 3)]), pd.DataFrame({"a": [1.0, 2.0]}),
         "The input pandas dataframe column 'None' contains scalar values, which requires the shape to be (-1,) or (-1, 1)"),
        (Schema([tensor("float32", -1, 2)]), pd.DataFrame({"a": [[1, 2], [3, 4, 5]]}),
         "The value in the Input DataFrame column 'None' could not be converted to the expected shape of: '(-1, 2)'"),
        (F64x2, pd.DataFrame({"a": []}), "Input DataFrame is empty."),
        (Schema([tensor("float64", 2)]), pd.DataFrame({"a": [1.0, 2.0]}),
         "the first dimension of shape must be a variable dimension"),
        (Schema([tensor("float64", -1)]), [1.0, 2.0], "but an input of type <class 'list'> was found."),
    ],
)
def test_tensors_rejected(schema, data, message):
    with pytest.raises(MlflowException) as info:
        enforce_schema(data, schema)
    assert message in info.value.message


NAMED = Schema([tensor("float64", -1, name="a"), tensor("int32", -1, 2, name="b")])


def test_named_tensors(caplog):
    caplog.set_level(logging.WARNING, logger="fluvial")
    data = {"a": np.zeros(2), "b": np.zeros((2, 2), dtype="int32"), "z": np.zeros(1)}
    out = enforce_schema(data, NAMED)
    assert list(out) == ["a", "b"] and out["b"].dtype == np.dtype("int32")
    assert "`['z']`. These inputs will be ignored." in caplog.text
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [[1, 2], [3, 4]]})
    out = enforce_schema(frame, NAMED)
    assert out["a"].shape == (2,) and out["b"].dtype == np.dtype("int32") and out["b"].shape == (2, 2)
    single = Schema([tensor("float64", -1, name="a")])
    assert list(enforce_schema(np.zeros(3), single)) == ["a"]
    assert enforce_schema(pd.Series([1.0], name="a"), single)["a"].shape == (1,)
    with pytest.raises(MlflowException, match=r"Model is missing inputs \['b'\]\."):
        enforce_schema({"a": np.zeros(2)}, NAMED)
    with pytest.raises(MlflowException, match=r"Model is missing inputs \['a'\]\."):
        enforce_schema([1.0], single)
    with pytest.raises(MlflowException, match="but a dict with value type <class 'list'> was found"):
        enforce_schema({"a": [1.0]}, single)


# --- params ------------------------------------------------------------------------------------------

PARAMS = ParamSchema([
    ParamSpec("f", "double", 1.5), ParamSpec("fl", "float", 1.5), ParamSpec("i", "long", 3),
    ParamSpec("i32", "integer", 3), ParamSpec("s", "string", "x"), ParamSpec("b", "boolean", True),
    ParamSpec("l", "long", [1, 2], (-1,)), ParamSpec("d", "datetime", "2020-01-01T00:00:00"),
    ParamSpec("o", Object([Property("a", "long")]), {"a": 1}),
])
DEFAULTS = {"f": 1.5, "fl": 1.5, "i": 3, "i32": 3, "s": "x", "b": True, "l": [1, 2],
            "d": dt.datetime(2020, 1, 1), "o": {"a": 1}}


@pytest.mark.parametrize(
    ("given", "changed"),
    [
        (None, {}),
        ({}, {}),
        ({"f": 2.5, "i": 4, "s": "y", "b": False, "l": [5], "fl": 2.5, "i32": 7},
         {"f": 2.5, "i": 4, "s": "y", "b": False, "l": [5], "fl": 2.5, "i32": 7}),
        ({"f": 2}, {"f": 2.0}),
        ({"fl": 2}, {"fl": 2.0}),
        ({"f": np.float32(2.5)}, {"f": 2.5}),
        ({"i": np.int32(2)}, {"i": 2}),
        ({"fl": 2.5}, {"fl": 2.5}),
        ({"i32": 2}, {"i32": 2}),
        ({"l": np.array([1, 2])}, {"l": [1, 2]}),
        ({"d": "2021-02-03"}, {"d": dt.date(2021, 2, 3)}),
        ({"d": dt.datetime(2021, 2, 3, 4, 5)}, {"d": dt.datetime(2021, 2, 3, 4, 5)}),
        ({"o": {"a": 5}}, {"o": {"a": 5}}),
        ({"f": None}, {"f": None}),
    ],
)
def test_params_accepted(given, changed):
    result = enforce_params(given, PARAMS)
    assert result == {**DEFAULTS, **changed}
    for key, value in changed.items():
        assert type(result[key]) is type(value)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"i": 2.5}, "Invalid parameters found: {('i', \"Failed to validate type and shape for 'i': long (default: 3), "
                     "error: Can not safely convert `<class 'float'>` to `DataType.long` for value `2.5`\")}"),
        ({"i": "2"}, "Can not safely convert `<class 'str'>` to `DataType.long` for value `2`"),
        ({"i": True}, "Can not safely convert `<class 'bool'>` to `DataType.long`"),
        ({"b": 1}, "Can not safely convert `<class 'int'>` to `DataType.boolean`"),
        ({"s": 1}, "Can not safely convert `<class 'int'>` to `DataType.string`"),
        ({"i": [1]}, "Value must be a scalar for type `DataType.long`, got `[1]`"),
        ({"l": 1}, "Value must be a 1D array with shape (-1,) for param 'l': long (default: [1, 2]) (shape: (-1,)), "
                   "received int with ndim 0"),
        ({"l": [[1]]}, "received list with ndim 2"),
        ({"l": [1, "a"]}, "Can not safely convert `<class 'str'>` to `DataType.long` for value `a`"),
        ({"d": "nope"}, "Failed to convert value `nope` from type `<class 'str'>` to `DataType.datetime`"),
        ({"d": 5}, "Failed to convert value `5` from type `<class 'int'>` to `DataType.datetime`"),
        ({"o": {"a": "x"}}, "Failed to enforce schema for key `a`. Expected type long, received type str"),
        ({"f": "a", "i": "b"}, "{('f', \"Failed to validate type and shape for 'f': double (default: 1.5), error: "
                               "Can not safely convert `<class 'str'>` to `DataType.double` for value `a`\"), ('i', "),
        ([1], "Parameters must be a dictionary. Got type 'list'."),
    ],
)
def test_params_rejected(given, message):
    with pytest.raises(MlflowException) as info:
        enforce_params(given, PARAMS)
    assert message in info.value.message
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_unknown_and_non_string_param_keys(caplog):
    caplog.set_level(logging.WARNING, logger="fluvial")
    assert enforce_params({"zz": 1, "f": 2.0}, PARAMS) == {**DEFAULTS, "f": 2.0}
    assert "Unrecognized params ['zz'] are ignored for inference. Supported params are: " \
           "{'f', 'fl', 'i', 'i32', 's', 'b', 'l', 'd', 'o'}." in caplog.text
    caplog.clear()
    assert enforce_params({1: 2}, PARAMS) == DEFAULTS
    assert "received non-string keys" in caplog.text and "Unrecognized params ['1']" in caplog.text


def test_params_without_a_params_schema(caplog):
    caplog.set_level(logging.WARNING, logger="fluvial")
    assert enforce_params(None, None) is None
    assert enforce_params({}, None) == {}
    assert caplog.text == ""
    assert enforce_params({"a": 1}, None) == {}
    assert "This model does not define a params schema. Ignoring provided params: ['a']" in caplog.text
    assert enforce_params([1], None) == {}
    assert "Ignoring invalid params (not a dictionary)." in caplog.text


# --- the errors predict raises -------------------------------------------------------------------------

def test_schema_enforcement_error_format():
    schema = Schema([ColSpec("double", "x")])
    frame = pd.DataFrame({"x": [1, 2]})
    with pytest.raises(MlflowException) as info:
        enforce_prediction_input(frame, None, schema, None)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.message == (
        f"Failed to enforce schema of data '{frame}' with schema '['x': double (required)]'. "
        "Error: Incompatible input types for column x. Can not safely convert int64 to float64."
    )
    error = schema_enforcement_error([1], schema, KeyError("k"))
    assert error.message == "Failed to enforce schema of data '[1]' with schema '['x': double (required)]'. Error: 'k'"


def test_enforce_prediction_input_and_validate_schema():
    schema = Schema([ColSpec("long", "x")])
    data, params = enforce_prediction_input(pd.DataFrame({"x": np.array([1], dtype="int32")}), {"k": 2}, schema,
                                            ParamSchema([ParamSpec("k", "long", 1)]))
    assert data["x"].dtype == np.dtype("int64") and params == {"k": 2}
    data, params = enforce_prediction_input("raw", None, None, None)
    assert data == "raw" and params is None
    validate_schema(pd.DataFrame({"x": [1]}), schema)
    with pytest.raises(MlflowException, match="Model is missing inputs"):
        validate_schema(pd.DataFrame({"y": [1]}), schema)


# --- properties --------------------------------------------------------------------------------------

_numeric = st.sampled_from(["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "float16", "float32",
                            "float64", "bool"])


@settings(max_examples=60, deadline=None)
@given(st.lists(_numeric, min_size=1, max_size=5), st.integers(1, 5), st.data())
def test_a_frame_fits_the_schema_inferred_from_it(dtypes, rows, data):
    from fluvial.models.signature import _infer_schema

    columns = {f"c{i}": data.draw(hnp.arrays(np.dtype(d), rows)) for i, d in enumerate(dtypes)}
    frame = pd.DataFrame(columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        schema = _infer_schema(frame)
    out = enforce_schema(frame, schema)
    assert out.columns.tolist() == frame.columns.tolist()
    # every declared type is the column's own or a safe widening of it; values survive
    for name, spec in zip(out.columns, schema.inputs, strict=True):
        assert out[name].dtype == spec.type.to_numpy()
        np.testing.assert_array_equal(out[name].to_numpy(), frame[name].to_numpy().astype(out[name].dtype))


def test_renamed_columns_are_seen():
    schema = Schema([ColSpec("double", "x")])
    enforce_schema(pd.DataFrame({"x": [1.0]}), schema)
    schema.inputs[0].name = "y"
    with pytest.raises(MlflowException, match=r"Model is missing inputs \['y'\]"):
        enforce_schema(pd.DataFrame({"x": [1.0]}), schema)
    schema.inputs.append(ColSpec("long", "z", required=False))
    assert enforce_schema(pd.DataFrame({"z": [1], "y": [1.0]}), schema).columns.tolist() == ["y", "z"]
