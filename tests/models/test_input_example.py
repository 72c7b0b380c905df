"""Input example files (exact bytes, as MLflow 2.22.5 writes them), reading them back, and scoring
payload parsing with every format and every error."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fluvial.exceptions import BadRequest, InvalidParameterValue, MlflowException
from fluvial.models import input_example as ie
from fluvial.models import serving_input as si
from fluvial.models.schema import ColSpec, Schema, TensorSpec
from fluvial.models.types import DataType

INFO = {"artifact_path": "input_example.json", "serving_input_path": "serving_input_example.json"}


def saved(tmp_path: Path, example: Any) -> tuple[dict, str, str]:
    info = ie.save_input_example(str(tmp_path), example)
    assert info is not None
    return info, (tmp_path / "input_example.json").read_text(), (tmp_path / "serving_input_example.json").read_text()


# ---------------------------------------------------------------------------------------------------
# writing: the exact files (strings observed from MLflow 2.22.5)


def test_dataframe_with_missing_values(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1.0, np.nan, np.inf], "b": [1, 2, 3], "s": ["x", None, "z"]}, index=[7, 8, 9])
    info, text, serving = saved(tmp_path, df)
    assert info == {**INFO, "type": "dataframe", "pandas_orient": "split"}
    assert text == '{"columns": ["a", "b", "s"], "data": [[1.0, 1, "x"], [NaN, 2, null], [Infinity, 3, "z"]]}'
    assert serving == json.dumps({"dataframe_split": {"columns": ["a", "b", "s"], "data": [
        [1.0, 1, "x"], [float("nan"), 2, None], [float("inf"), 3, "z"]]}}, indent=2)


def test_dataframe_column_kinds(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "t": pd.to_datetime(["2020-01-01 00:00:00", None]),
        "by": [b"ab", b"\x00\xff"],
        "i": pd.array([1, None], dtype="Int64"),
        "st": pd.array(["a", None], dtype="string"),
        "f32": np.array([1.5, np.nan], dtype=np.float32),
        "b": [True, False],
        "d": [dt.date(2020, 1, 1), None],
        "c": pd.Categorical(["a", "b"]),
        "l": [[1, 2], [3]],
    })
    _, text, _ = saved(tmp_path, df)
    assert text == (
        '{"columns": ["t", "by", "i", "st", "f32", "b", "d", "c", "l"], "data": ['
        '["2020-01-01T00:00:00", "YWI=\\n", 1, "a", 1.5, true, "2020-01-01", "a", [1, 2]], '
        '["NaT", "AP8=\\n", null, null, NaN, false, null, "b", [3]]]}'
    )


def test_dataframe_with_default_columns_has_values_orient(tmp_path: Path) -> None:
    info, text, serving = saved(tmp_path, pd.DataFrame([[1, 2], [3, 4]]))
    assert info["pandas_orient"] == "values" and text == '{"data": [[1, 2], [3, 4]]}'
    assert json.loads(serving) == {"dataframe_split": {"data": [[1, 2], [3, 4]]}}
    _, text, _ = saved(tmp_path, pd.DataFrame([[1, 2]], columns=[1, 0]))
    assert text == '{"columns": [1, 0], "data": [[1, 2]]}'


def test_series_is_saved_as_a_one_column_frame(tmp_path: Path) -> None:
    info, text, _ = saved(tmp_path, pd.Series([1, 2], name="x"))
    assert info["type"] == "dataframe" and text == '{"columns": ["x"], "data": [[1], [2]]}'
    loaded = ie.load_input_example(str(tmp_path), info)
    pd.testing.assert_frame_equal(loaded, pd.DataFrame({"x": [1, 2]}))


@pytest.mark.parametrize("example, text, serving_inputs", [
    (np.array([[1.0, np.nan], [np.inf, -np.inf]]), "[[1.0, null], [Infinity, -Infinity]]", [[1.0, None], [float("inf"), float("-inf")]]),
    (np.arange(6).reshape(2, 3), "[[0, 1, 2], [3, 4, 5]]", [[0, 1, 2], [3, 4, 5]]),
    (np.array(["a", "b"]), '["a", "b"]', ["a", "b"]),
    (np.array([b"ab", b"cd"]), '["YWI=\\n", "Y2Q=\\n"]', ["YWI=\n", "Y2Q=\n"]),
    (np.array([1, "a", None], dtype=object), '[1, "a", null]', [1, "a", None]),
    (np.array(["2020-01-01T01:02:03", "NaT"], dtype="datetime64[s]"), '["2020-01-01T01:02:03", null]', ["2020-01-01T01:02:03", None]),
    ({"x": np.array([1, 2]), "y": np.array([[1.5], [2.5]])}, '{"x": [1, 2], "y": [[1.5], [2.5]]}', {"x": [1, 2], "y": [[1.5], [2.5]]}),
])
def test_ndarray_examples(tmp_path: Path, example: Any, text: str, serving_inputs: Any) -> None:
    info, written, serving = saved(tmp_path, example)
    assert info == {**INFO, "type": "ndarray"} and written == text
    assert json.loads(serving) == {"inputs": serving_inputs}


@pytest.mark.parametrize("example, text", [
    ({"a": 1, "b": [1, 2], "c": "s", "d": None}, '{"a": 1, "b": [1, 2], "c": "s", "d": null}'),
    ({"a": float("nan"), "b": [1.0, float("nan")], "c": np.int64(3)}, '{"a": NaN, "b": [1.0, NaN], "c": 3}'),
    ([1, 2, 3], "[1, 2, 3]"),
    ([{"a": 1}, {"a": 2, "b": "x"}], '[{"a": 1}, {"a": 2, "b": "x"}]'),
    ("hello", '"hello"'),
    (5, "5"),
    (1.5, "1.5"),
    (True, "true"),
    (np.float32(1.5), "1.5"),
    (b"abc", '"YWJj\\n"'),
    (dt.datetime(2020, 1, 2, 3, 4, 5), '"2020-01-02T03:04:05"'),
])
def test_json_object_examples(tmp_path: Path, example: Any, text: str) -> None:
    info, written, serving = saved(tmp_path, example)
    assert info == {**INFO, "type": "json_object"} and written == text
    assert serving == json.dumps({"inputs": json.loads(text)}, indent=2)


def test_unified_llm_example_is_not_wrapped(tmp_path: Path) -> None:
    messages = {"messages": [{"role": "user", "content": "hi"}]}
    _, _, serving = saved(tmp_path, messages)
    assert json.loads(serving) == messages
    info, text, serving = saved(tmp_path, (messages, {"temperature": 0.5}))
    assert info["params"] == "true"
    assert json.loads(text) == {"inputs": messages, "params": {"temperature": 0.5}}
    assert json.loads(serving) == {**messages, "temperature": 0.5}


def test_sparse_examples(tmp_path: Path) -> None:
    sparse = pytest.importorskip("scipy.sparse")
    info, text, serving = saved(tmp_path, sparse.csr_matrix(np.array([[0, 1.0], [2.0, 0]])))
    assert info["type"] == "sparse_matrix_csr"
    assert text == '{"data": [1.0, 2.0], "indices": [1, 0], "indptr": [0, 1, 2], "shape": [2, 2]}'
    assert json.loads(serving) == {"inputs": [[0.0, 1.0], [2.0, 0.0]]}
    loaded = ie.load_input_example(str(tmp_path), info)
    assert isinstance(loaded, sparse.csr_matrix) and loaded.toarray().tolist() == [[0, 1.0], [2.0, 0]]
    info, text, serving = saved(tmp_path, sparse.csc_matrix(np.array([[0, 1.0], [np.nan, 0]])))
    assert info["type"] == "sparse_matrix_csc"
    assert text == '{"data": [null, 1.0], "indices": [1, 0], "indptr": [0, 1, 2], "shape": [2, 2]}'
    assert serving == '{\n  "inputs": [\n    [\n      0.0,\n      1.0\n    ],\n    [\n      NaN,\n      0.0\n    ]\n  ]\n}'
    assert isinstance(ie.load_input_example(str(tmp_path), info), sparse.csc_matrix)


def test_params_tuples(tmp_path: Path) -> None:
    info, text, serving = saved(tmp_path, (pd.DataFrame({"a": [1.0]}), {"p": 1, "q": "s"}))
    assert info == {**INFO, "params": "true", "type": "dataframe", "pandas_orient": "split"}
    assert text == '{"inputs": {"columns": ["a"], "data": [[1.0]]}, "params": {"p": 1, "q": "s"}}'
    assert json.loads(serving) == {"dataframe_split": {"columns": ["a"], "data": [[1.0]]}, "params": {"p": 1, "q": "s"}}
    pd.testing.assert_frame_equal(ie.load_input_example(str(tmp_path), info), pd.DataFrame({"a": [1.0]}))
    assert ie.load_input_example_params(str(tmp_path), info) == {"p": 1, "q": "s"}
    info, text, serving = saved(tmp_path, (np.array([1, 2]), {"p": [1, 2]}))
    assert text == '{"inputs": [1, 2], "params": {"p": [1, 2]}}'
    assert json.loads(serving) == {"inputs": [1, 2], "params": {"p": [1, 2]}}


@pytest.mark.parametrize("example, message", [
    (None, None),
    ((1, 2, 3), "Expected one of the following types:\n- pandas.DataFrame"),
    ({1, 2}, "but got '<class 'set'>'"),
    ([np.array([1])], "Numpy arrays in list are not supported as input examples."),
    ({"a": np.array([1]), "b": 1}, "Mixed types in dictionary are not supported as input examples."),
    (([1], {"p": object()}), "Failed to infer schema for parameters"),
    (([1], {"p": np.zeros((2, 2))}), "Failed to infer schema for parameters"),
])
def test_bad_examples(tmp_path: Path, example: Any, message: str | None) -> None:
    if message is None:
        assert ie.save_input_example(str(tmp_path), example) is None
        return
    with pytest.raises(InvalidParameterValue, match=message.replace("(", r"\(").replace("[", r"\[")):
        ie.save_input_example(str(tmp_path), example)
    assert not (tmp_path / "input_example.json").exists()


def test_serving_payload_helpers() -> None:
    assert ie.to_serving_payload(pd.DataFrame({"a": [1]})) == {"dataframe_split": {"columns": ["a"], "data": [[1]]}}
    assert ie.to_serving_payload((np.array([1.5]), {"k": "v"})) == {"inputs": [1.5], "params": {"k": "v"}}
    assert ie.convert_input_example_to_serving_input(None) is None
    assert ie.convert_input_example_to_serving_input([1]) == '{\n  "inputs": [\n    1\n  ]\n}'


# ---------------------------------------------------------------------------------------------------
# reading back


def test_round_trips(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    info = ie.save_input_example(str(tmp_path), df)
    pd.testing.assert_frame_equal(ie.load_input_example(str(tmp_path), info), df)
    assert ie.load_input_example_params(str(tmp_path), info) is None
    assert ie.load_serving_input_example(str(tmp_path), info) == (tmp_path / "serving_input_example.json").read_text()

    info = ie.save_input_example(str(tmp_path), np.array([[1.0, 2.0]]))
    loaded = ie.load_input_example(str(tmp_path), info)
    assert isinstance(loaded, np.ndarray) and loaded.tolist() == [[1.0, 2.0]]

    info = ie.save_input_example(str(tmp_path), {"x": np.array([1, 2]), "y": np.array(["a", "b"])})
    loaded = ie.load_input_example(str(tmp_path), info)
    assert set(loaded) == {"x", "y"} and loaded["y"].tolist() == ["a", "b"] and isinstance(loaded["x"], np.ndarray)

    info = ie.save_input_example(str(tmp_path), {"a": 1, "b": [1, 2]})
    assert ie.load_input_example(str(tmp_path), info) == {"a": 1, "b": [1, 2]}
    assert ie.load_input_example(str(tmp_path), None) is None


def test_round_trip_with_schema_casts(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2], "bin": [b"x", b"y"]})
    info = ie.save_input_example(str(tmp_path), df)
    schema = Schema([ColSpec(DataType.float, "a"), ColSpec(DataType.integer, "b"), ColSpec(DataType.binary, "bin")])
    loaded = ie.load_input_example(str(tmp_path), info, schema=schema)
    assert loaded["a"].dtype == np.float32 and loaded["b"].dtype == np.int32
    assert loaded["bin"].tolist() == [b"x", b"y"]


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(MlflowException, match="This version of fluvial can not load example of type parquet"):
        ie.load_input_example(str(tmp_path), {"artifact_path": "input_example.json", "type": "parquet"})
    with pytest.raises(MlflowException, match=r"input example file .* is missing") as info:
        ie.load_input_example(str(tmp_path), {"artifact_path": "input_example.json", "type": "json_object"})
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    (tmp_path / "input_example.json").write_text("{not json")
    with pytest.raises(MlflowException, match="not valid JSON"):
        ie.load_input_example(str(tmp_path), {"artifact_path": "input_example.json", "type": "json_object"})
    assert ie.load_serving_input_example(str(tmp_path), {"artifact_path": "input_example.json"}) is None


# ---------------------------------------------------------------------------------------------------
# serving payloads


def test_dataframe_split_and_records() -> None:
    data, params = si.parse_serving_input('{"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 1], [3.0, 4]], "index": [5, 6]}}')
    assert params is None
    pd.testing.assert_frame_equal(data, pd.DataFrame({"a": [1.0, 3.0], "b": [1, 4]}, index=[5, 6]))
    data, params = si.parse_serving_input({"dataframe_records": [{"a": 1.0}, {"a": 2.0}], "params": {"k": 1}})
    pd.testing.assert_frame_equal(data, pd.DataFrame({"a": [1.0, 2.0]}))
    assert params == {"k": 1}


def test_dataframe_cast_to_schema() -> None:
    schema = Schema([ColSpec(DataType.double, "a"), ColSpec(DataType.long, "b"), ColSpec(DataType.binary, "c")])
    data, _ = si.parse_serving_input({"dataframe_records": [{"a": 1, "b": 1, "c": "eHk=\n"}]}, schema)
    assert data["a"].dtype == np.float64 and data["b"].dtype == np.int64 and data["c"][0] == b"xy"
    with pytest.raises(BadRequest, match=re.escape("Invalid input. Data is not compatible with model signature. "
                                         "Failed to convert column b to type 'int64'")):
        si.parse_serving_input({"dataframe_records": [{"a": 1, "b": "x", "c": "eHk="}]}, schema)


def test_instances() -> None:
    data, _ = si.parse_serving_input({"instances": [{"a": 1, "b": "s"}, {"a": 2, "b": "t"}]})
    assert data["a"].tolist() == [1, 2] and data["b"].tolist() == ["s", "t"]
    data, _ = si.parse_serving_input({"instances": [[1, 2], [3, 4]]})
    assert isinstance(data, np.ndarray) and data.shape == (2, 2)
    data, _ = si.parse_serving_input({"instances": {"a": [1, 2], "b": [3, 4]}})
    assert data["a"].tolist() == [1, 2]
    with pytest.raises(BadRequest, match="The length of values for each input/column name are not the same"):
        si.parse_serving_input({"instances": {"a": [1, 2], "b": [3]}})


def test_inputs() -> None:
    data, _ = si.parse_serving_input({"inputs": {"a": [1, 2], "b": 3}})
    assert data["a"].tolist() == [1, 2] and data["b"].shape == () and data["b"] == 3
    data, _ = si.parse_serving_input({"inputs": [[1.5, 2.5]]})
    assert data.dtype == np.float64 and data.shape == (1, 2)
    data, _ = si.parse_serving_input({"inputs": "text"})
    assert data.dtype.kind == "U" and data.shape == ()
    with pytest.raises(BadRequest, match=re.escape("Invalid input. setting an array element with a sequence")):
        si.parse_serving_input({"inputs": [[1, 2], [3]]})


def test_inputs_with_schemas() -> None:
    named = Schema([ColSpec(DataType.double, "x")])
    data, _ = si.parse_serving_input({"inputs": [1, 2]}, named)  # a single named column wraps a plain list
    assert list(data) == ["x"] and data["x"].dtype == np.float64
    data, _ = si.parse_serving_input({"inputs": {"x": 1}}, named)
    assert isinstance(data["x"], np.float64)
    tensor = Schema([TensorSpec(np.dtype("float32"), (-1, 2))])
    data, _ = si.parse_serving_input({"inputs": [[1, 2]]}, tensor)
    assert data.dtype == np.float32
    with pytest.raises(BadRequest, match="un-named  model signature which expects a single n-dimensional array"):
        si.parse_serving_input({"inputs": {"a": 1}}, tensor)
    data, _ = si.parse_serving_input({"instances": [{"x": 1}, {"x": 2}]}, named)
    assert data["x"].tolist() == [1.0, 2.0]


def test_type_hint_models_take_inputs_unparsed() -> None:
    assert si.parse_serving_input({"inputs": [{"a": 1}]}, signature_from_type_hint=True) == ([{"a": 1}], None)
    with pytest.raises(InvalidParameterValue, match="Request payload must be a dictionary with 'inputs' key"):
        si.parse_serving_input({"dataframe_records": []}, signature_from_type_hint=True)


def test_unified_llm_payloads() -> None:
    class _Params:
        class _P:
            def __init__(self, name: str) -> None:
                self.name = name

        params = [_P("temperature")]

    data, params = si.parse_serving_input({"messages": [{"role": "user"}], "temperature": 0.1}, params_schema=_Params())
    assert data == {"messages": [{"role": "user"}]} and params == {"temperature": 0.1}
    assert si.is_unified_llm_input({"prompt": "x"}) and not si.is_unified_llm_input({"inputs": 1})


@pytest.mark.parametrize("payload, error, message", [
    ("{not json", BadRequest, "Invalid input. Ensure that input is a valid JSON formatted string. Error: 'JSONDecodeError"),
    ("[1, 2]", BadRequest, "Invalid input. The input must be a JSON dictionary with exactly one of the input fields "
                           "{'dataframe_records', 'dataframe_split', 'instances', 'inputs'}. Received a list."),
    ("5", BadRequest, "Received unexpected input type '<class 'int'>."),
    ({"columns": ["a"], "data": [[1]]}, BadRequest, "Received dictionary with input fields: []. IMPORTANT: The MLflow Model scoring protocol"),
    ({"inputs": [1], "instances": [1]}, BadRequest, "Received dictionary with input fields: ['inputs', 'instances']"),
    ({"inputs": [1], "params": [1]}, InvalidParameterValue, "Parameters must be a dictionary. Got type 'list'."),
    ({"dataframe_split": [[1]]}, BadRequest, "Invalid input. Dataframe split format must be a dictionary. Got list."),
    ({"dataframe_split": 5}, BadRequest, "Dataframe split format must be a dictionary. Got type <class 'int'>."),
    ({"dataframe_split": {"columns": ["a"]}}, BadRequest, "Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields."),
    ({"dataframe_split": {"data": [[1]], "extra": 1}}, BadRequest, "Dataframe split format must have 'data' field"),
    ({"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}, BadRequest,
     "Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error:"),
    ({"dataframe_records": {"a": 1}}, BadRequest, "Invalid input. Dataframe records format must be a list of records. Got dictionary."),
    ({"dataframe_records": 5}, BadRequest, "Dataframe records format must be a list of records. Got type <class 'int'>."),
    ({"dataframe_records": [{"a": 1}, 5]}, BadRequest, "Provided dataframe_records field is not a valid dataframe representation in 'records' format."),
])
def test_payload_errors(payload: Any, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        si.parse_serving_input(payload)
    assert message in info.value.message
    assert info.value.http_status == 400


def test_csv_input() -> None:
    df = si.parse_csv_input("a,b\n1.0,1\n3.0,4\n")
    assert df["b"].dtype == np.int64
    schema = Schema([ColSpec(DataType.double, "a"), ColSpec(DataType.double, "b")])
    assert si.parse_csv_input(b"a,b\n1.0,1\n", schema)["b"].dtype == np.float64
    with pytest.raises(BadRequest, match="Failed to parse input as a Pandas DataFrame"):
        si.parse_csv_input("a,b\nx,1\n", Schema([ColSpec(DataType.long, "a"), ColSpec(DataType.long, "b")]))


def test_tf_serving_errors() -> None:
    with pytest.raises(BadRequest, match='"signature_name" parameter is currently not supported'):
        si.parse_tf_serving_input({"signature_name": "x", "inputs": 1})
    with pytest.raises(BadRequest, match='One of "instances" and "inputs" must be specified'):
        si.parse_tf_serving_input({"inputs": 1, "other": 2})
    with pytest.raises(BadRequest, match=re.escape("Expecting data to have `instances` as key.")):
        si.parse_instances_data({"inputs": 1})
