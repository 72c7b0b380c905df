"""ModelSignature and infer_signature: every row of MLflow's inference table, as MLflow 2.22.5 answers it
(the expected JSON below was produced by running MLflow on the same data)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from fluvial.exceptions import MlflowException
from fluvial.models._inference import InvalidDataForSignatureInferenceError
from fluvial.models.schema import AnyType, ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec
from fluvial.models.signature import ModelSignature, _infer_param_schema, _infer_schema, infer_signature

INT_HINT = "Hint: Inferred schema contains integer column"
FALLBACK = "Failed to infer schema for inputs"


def col(t: Any, name: Any = None, required: bool = True) -> dict[str, Any]:
    d = {"type": t} if isinstance(t, str) else dict(t)
    if name is not None:
        d["name"] = name
    d["required"] = required
    return d


def arr(items: Any) -> dict[str, Any]:
    return {"type": "array", "items": {"type": items} if isinstance(items, str) else items}


def obj(**props: tuple[str, bool]) -> dict[str, Any]:
    return {"type": "object", "properties": {k: {"type": t, "required": r} for k, (t, r) in sorted(props.items())}}


def tensor(dtype: str, *shape: int, name: str | None = None) -> dict[str, Any]:
    spec = {"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": list(shape)}}
    return spec if name is None else {"name": name, **spec}


ANY = [col("any")]

# (id, data factory, expected "inputs" JSON, integer hint warned, fell back to any)
INFER_TABLE: list[tuple[str, Any, list[dict[str, Any]], bool, bool]] = [
    ("df_int32", lambda: pd.DataFrame({"a": np.array([1, 2], dtype="int32")}), [col("integer", "a")], True, False),
    ("df_int64", lambda: pd.DataFrame({"a": [1, 2]}), [col("long", "a")], True, False),
    ("df_float32", lambda: pd.DataFrame({"a": np.array([1.5], dtype="float32")}), [col("float", "a")], False, False),
    ("df_float64", lambda: pd.DataFrame({"a": [1.5]}), [col("double", "a")], False, False),
    ("df_float16", lambda: pd.DataFrame({"a": np.array([1.5], dtype="float16")}), [col("float", "a")], False, False),
    ("df_bool", lambda: pd.DataFrame({"a": [True]}), [col("boolean", "a")], False, False),
    ("df_str", lambda: pd.DataFrame({"a": ["x", "y"]}), [col("string", "a")], False, False),
    ("df_str_object", lambda: pd.DataFrame({"a": pd.Series(["x"], dtype=object)}), [col("string", "a")], False, False),
    ("df_string_dtype_na", lambda: pd.DataFrame({"a": pd.array(["x", None], dtype="string")}),
     [col("string", "a", False)], False, False),
    ("df_bytes", lambda: pd.DataFrame({"a": [b"x"]}), [col("binary", "a")], False, False),
    ("df_datetime", lambda: pd.DataFrame({"a": pd.to_datetime(["2020-01-01"])}), [col("datetime", "a")], False, False),
    ("df_datetime_s", lambda: pd.DataFrame({"a": np.array(["2020-01-01"], dtype="datetime64[s]")}),
     [col("datetime", "a")], False, False),
    ("df_datetime_tz", lambda: pd.DataFrame({"a": pd.to_datetime(["2020-01-01"]).tz_localize("UTC")}),
     [col("datetime", "a")], False, False),
    ("df_datetime_nat", lambda: pd.DataFrame({"a": pd.to_datetime(["2020-01-01", None])}),
     [col("datetime", "a", False)], False, False),
    ("df_date_objects", lambda: pd.DataFrame({"a": [dt.date(2020, 1, 1)]}), [col("datetime", "a")], False, False),
    ("df_uint8", lambda: pd.DataFrame({"a": np.array([1], dtype="uint8")}), [col("integer", "a")], True, False),
    ("df_int16", lambda: pd.DataFrame({"a": np.array([1], dtype="int16")}), [col("integer", "a")], True, False),
    ("df_uint16", lambda: pd.DataFrame({"a": np.array([1], dtype="uint16")}), [col("integer", "a")], True, False),
    ("df_uint32", lambda: pd.DataFrame({"a": np.array([1], dtype="uint32")}), [col("long", "a")], True, False),
    ("df_uint64", lambda: pd.DataFrame({"a": np.array([1], dtype="uint64")}), ANY, False, True),
    ("df_nullable_int", lambda: pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}),
     [col("long", "a", False)], True, False),
    ("df_nullable_bool", lambda: pd.DataFrame({"a": pd.array([True, None], dtype="boolean")}),
     [col("boolean", "a", False)], False, False),
    ("df_category", lambda: pd.DataFrame({"a": pd.Categorical(["x", "y"])}), [col("string", "a")], False, False),
    ("df_category_int", lambda: pd.DataFrame({"a": pd.Categorical([1, 2])}), [col("long", "a")], True, False),
    ("df_str_none", lambda: pd.DataFrame({"a": ["x", None]}), [col("string", "a", False)], False, False),
    ("df_float_nan", lambda: pd.DataFrame({"a": [1.0, np.nan]}), [col("double", "a", False)], False, False),
    ("df_float32_nan", lambda: pd.DataFrame({"a": np.array([1, np.nan], dtype="float32")}),
     [col("float", "a", False)], False, False),
    ("df_all_nan", lambda: pd.DataFrame({"a": [np.nan, np.nan]}), [col("double", "a", False)], False, False),
    ("df_object_floats_none", lambda: pd.DataFrame({"a": pd.Series([1.5, None], dtype=object)}),
     [col("double", "a", False)], False, False),
    ("df_all_none", lambda: pd.DataFrame({"a": [None, None]}), [col("any", "a", False)], False, False),
    ("df_empty_object", lambda: pd.DataFrame({"a": pd.Series([], dtype=object)}), [col("string", "a")], False, False),
    ("df_empty_float", lambda: pd.DataFrame({"a": pd.Series([], dtype="float64")}), [col("double", "a")], False, False),
    ("df_list_ints", lambda: pd.DataFrame({"a": [[1, 2], [3]]}), [col(arr("long"), "a")], False, False),
    ("df_list_strs", lambda: pd.DataFrame({"a": [["x"], ["y", "z"]]}), [col(arr("string"), "a")], False, False),
    ("df_list_of_lists", lambda: pd.DataFrame({"a": [[[1.0]], [[2.0]]]}), [col(arr(arr("double")), "a")], False, False),
    ("df_ndarray_cells", lambda: pd.DataFrame({"a": [np.array([1, 2]), np.array([3])]}),
     [col(arr("long"), "a")], False, False),
    ("df_empty_list_cells", lambda: pd.DataFrame({"a": [[], [1]]}), [col(arr("long"), "a")], False, False),
    ("df_dicts", lambda: pd.DataFrame({"a": [{"x": 1}, {"x": 2, "y": "s"}]}),
     [col(obj(x=("long", True), y=("string", False)), "a")], False, False),
    ("df_dicts_none_first", lambda: pd.DataFrame({"a": [{"x": None}, {"x": 1}]}),
     [col(obj(x=("long", False)), "a")], False, False),
    ("df_mixed", lambda: pd.DataFrame({"a": [1, "x"]}), ANY, False, True),
    ("df_decimal", lambda: pd.DataFrame({"a": [decimal.Decimal("1.5")]}), ANY, False, True),
    ("df_timedelta", lambda: pd.DataFrame({"a": pd.to_timedelta([1], unit="s")}), ANY, False, True),
    ("df_complex", lambda: pd.DataFrame({"a": np.array([1 + 2j])}), ANY, False, True),
    ("df_int_labels", lambda: pd.DataFrame(np.array([[1.0, 2.0]])), [col("double", 0), col("double", 1)], False, False),
    ("df_multi", lambda: pd.DataFrame({"a": [1.0], "b": [1], "c": ["x"], "d": [True]}),
     [col("double", "a"), col("long", "b"), col("string", "c"), col("boolean", "d")], True, False),
    ("series_unnamed", lambda: pd.Series([1.0, 2.0]), [col("double")], False, False),
    ("series_named", lambda: pd.Series([1, 2], name="x"), [col("long", "x")], True, False),
    ("series_int_name", lambda: pd.Series([1.0], name=0), [col("double", 0)], False, False),
    ("np_float32_2d", lambda: np.zeros((3, 4), dtype="float32"), [tensor("float32", -1, 4)], False, False),
    ("np_int8_3d", lambda: np.zeros((3, 4, 5), dtype="int8"), [tensor("int8", -1, 4, 5)], False, False),
    ("np_1d", lambda: np.array([1.0]), [tensor("float64", -1)], False, False),
    ("np_str", lambda: np.array(["a", "bcd"]), [tensor("str", -1)], False, False),
    ("np_bytes", lambda: np.array([b"a"]), [tensor("bytes", -1)], False, False),
    ("np_object", lambda: np.array([1, "a"], dtype=object), [tensor("object", -1)], False, False),
    ("np_datetime", lambda: np.array(["2020-01-01"], dtype="datetime64[D]"), [tensor("datetime64[D]", -1)], False, False),
    ("np_empty", lambda: np.array([]), [tensor("float64", -1)], False, False),
    ("np_0d", lambda: np.array(1.5), ANY, False, True),
    ("dict_of_arrays", lambda: {"a": np.zeros((2, 3)), "b": np.array(["x", "y"])},
     [tensor("float64", -1, 3, name="a"), tensor("str", -1, name="b")], False, False),
    ("csr", lambda: sp.csr_matrix(np.eye(3, 5, dtype="float32")), [tensor("float32", -1, 5)], False, False),
    ("csc", lambda: sp.csc_matrix(np.eye(4, 2)), [tensor("float64", -1, 2)], False, False),
    ("list_str", lambda: ["a", "b"], [col("string")], False, False),
    ("str", lambda: "hello", [col("string")], False, False),
    ("int", lambda: 5, [col("long")], True, False),
    ("float", lambda: 5.5, [col("double")], False, False),
    ("bool", lambda: True, [col("boolean")], False, False),
    ("bytes", lambda: b"xy", [col("binary")], False, False),
    ("bytearray", lambda: bytearray(b"xy"), [col("binary")], False, False),
    ("datetime", lambda: dt.datetime(2020, 1, 1), [col("datetime")], False, False),
    ("date", lambda: dt.date(2020, 1, 1), [col("datetime")], False, False),
    ("np_datetime64", lambda: np.datetime64("2020-01-01"), [col("datetime")], False, False),
    ("pd_timestamp", lambda: pd.Timestamp("2020-01-01"), ANY, False, True),
    ("np_int64", lambda: np.int64(3), [col("long")], True, False),
    ("np_float32", lambda: np.float32(3), [col("float")], False, False),
    ("np_str_", lambda: np.str_("x"), [col("string")], False, False),
    ("decimal", lambda: decimal.Decimal("1.5"), ANY, False, True),
    ("list_datetime", lambda: [dt.datetime(2020, 1, 1)], [col("datetime")], False, False),
    ("list_int", lambda: [1, 2], [col("long")], True, False),
    ("list_np_int32", lambda: [np.int32(1)], [col("integer")], True, False),
    ("list_int_float", lambda: [1, 2.5], ANY, False, True),
    ("list_none_str", lambda: [None, "a"], [col("string")], False, False),
    ("list_all_none", lambda: [None, None], [col("any")], False, False),
    ("list_dicts", lambda: [{"a": 1, "b": "x"}, {"a": 2}], [col("long", "a"), col("string", "b", False)], True, False),
    ("list_dicts_none_value", lambda: [{"a": 1.0, "b": None}, {"a": 2.0, "b": "y"}],
     [col("double", "a"), col("string", "b", False)], False, False),
    ("list_dicts_nan_value", lambda: [{"a": 1.0}, {"a": float("nan")}], [col("double", "a")], False, False),
    ("list_dicts_nested", lambda: [{"a": [1, 2], "b": {"c": "x"}}, {"a": [3], "b": {"c": "y", "d": 1.5}}],
     [col(arr("long"), "a"), col(obj(c=("string", True), d=("double", False)), "b")], False, False),
    ("list_dicts_mixed", lambda: [{"a": 1}, {"a": "x"}], ANY, False, True),
    ("list_dicts_int_keys", lambda: [{1: "a"}], [col("string", 1)], False, False),
    ("list_of_empty_dicts", lambda: [{}, {}], ANY, False, True),
    ("dict_scalars", lambda: {"a": 1, "b": "x", "c": 2.5, "d": True},
     [col("long", "a"), col("string", "b"), col("double", "c"), col("boolean", "d")], True, False),
    ("dict_lists", lambda: {"a": [1, 2], "b": ["x"]}, [col(arr("long"), "a"), col(arr("string"), "b")], False, False),
    ("dict_nested", lambda: {"a": {"x": 1, "y": [1.0]}, "b": "z"},
     [col({"type": "object", "properties": {"x": {"type": "long", "required": True},
                                             "y": {**arr("double"), "required": True}}}, "a"), col("string", "b")],
     False, False),
    ("dict_none_value", lambda: {"a": None, "b": 1}, [col("any", "a", False), col("long", "b")], True, False),
    ("dict_empty_list_value", lambda: {"a": [], "b": 1}, [col("any", "a"), col("long", "b")], True, False),
    ("dict_non_str_keys", lambda: {1: "a"}, ANY, False, True),
    ("dict_mixed_arrays", lambda: {"a": np.array([1, 2]), "b": 1}, [col(arr("long"), "a"), col("long", "b")], True, False),
    ("dict_empty_ndarray_value", lambda: {"a": np.array([]), "b": 1}, ANY, False, True),
    ("list_of_lists_int", lambda: [[1, 2], [3]], [col(arr("long"))], False, False),
    ("list_of_lists_mixed", lambda: [[1], ["a"]], ANY, False, True),
    ("list_with_empty_list", lambda: [[], [1]], [col(arr("long"))], False, False),
    ("list_none_then_list", lambda: [None, [1]], [col(arr("long"))], False, False),
    ("list_of_2d_arrays", lambda: [np.zeros((2, 2))], [col(arr(arr("double")))], False, False),
    ("list_dict_list_dict", lambda: [{"a": [{"b": 1}, {"b": 2, "c": "x"}]}],
     [col(arr(obj(b=("long", True), c=("string", False))), "a")], False, False),
    ("empty_list", lambda: [], [col("string")], False, False),
    ("empty_dict", lambda: {}, ANY, False, True),
    ("set", lambda: {1, 2}, ANY, False, True),
    ("tuple", lambda: (1, 2), ANY, False, True),
    ("object", lambda: object(), [col("string")], False, False),
]


@pytest.mark.parametrize(("data", "expected", "hint", "fallback"), [row[1:] for row in INFER_TABLE],
                         ids=[row[0] for row in INFER_TABLE])
def test_infer_signature_inputs(data, expected, hint, fallback, caplog):
    caplog.set_level(logging.WARNING, logger="fluvial")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signature = infer_signature(data())
    as_dict = signature.to_dict()
    assert json.loads(as_dict["inputs"]) == expected
    assert as_dict["outputs"] is None and as_dict["params"] is None
    assert any(INT_HINT in str(w.message) for w in caught) is hint
    assert all(issubclass(w.category, UserWarning) for w in caught)
    assert (FALLBACK in caplog.text) is fallback


def test_json_text_is_mlflows():
    signature = infer_signature(pd.DataFrame({"a": [1.5], "b": [["x"]]}), np.array([1, 2]))
    assert signature.to_dict() == {
        "inputs": '[{"type": "double", "name": "a", "required": true}, '
                  '{"type": "array", "items": {"type": "string"}, "name": "b", "required": true}]',
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "params": None,
    }


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (np.array([1, 2]), [tensor("int64", -1)]),
        (np.zeros((2, 3)), [tensor("float64", -1, 3)]),
        (["a"], [col("string")]),
        (pd.DataFrame({"p": [0.5]}), [col("double", "p")]),
        (pd.Series([1.5]), [col("double")]),
    ],
)
def test_infer_signature_outputs(output, expected):
    signature = infer_signature(None, output)
    assert signature.inputs is None
    assert json.loads(signature.to_dict()["outputs"]) == expected


def test_output_fallback_logs_without_the_input_note(caplog):
    caplog.set_level(logging.WARNING, logger="fluvial")
    signature = infer_signature(pd.DataFrame({"a": [1.0]}), {1, 2})
    assert signature.outputs == Schema([ColSpec(AnyType())])
    assert "Failed to infer schema for outputs" in caplog.text
    assert "AnyType. " not in caplog.text


def pspec(name: str, default: Any, t: str, shape: list[int] | None = None) -> dict[str, Any]:
    return {"name": name, "default": default, "shape": shape, "type": t}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"f": 1.5, "i": 3, "s": "x", "b": True},
         [pspec("f", 1.5, "double"), pspec("i", 3, "long"), pspec("s", "x", "string"), pspec("b", True, "boolean")]),
        ({"l": [1, 2]}, [pspec("l", [1, 2], "long", [-1])]),
        ({"l": ["a", "b"]}, [pspec("l", ["a", "b"], "string", [-1])]),
        ({"l": [1.0]}, [pspec("l", [1.0], "double", [-1])]),
        ({"l": [True]}, [pspec("l", [True], "boolean", [-1])]),
        ({"d": dt.datetime(2020, 1, 1)}, [pspec("d", "2020-01-01T00:00:00", "datetime")]),
        ({"d": dt.date(2020, 1, 1)}, [pspec("d", "2020-01-01", "datetime")]),
        ({"d": [dt.datetime(2020, 1, 1, 5, 6)]}, [pspec("d", ["2020-01-01T05:06:00"], "datetime", [-1])]),
        ({"a": np.int32(1), "b": np.float32(1.5), "c": np.int64(3), "d": np.float64(2.5)},
         [pspec("a", 1, "integer"), pspec("b", 1.5, "float"), pspec("c", 3, "long"), pspec("d", 2.5, "double")]),
        ({"o": {"a": 1, "b": "x"}}, [{**pspec("o", {"a": 1, "b": "x"}, "object"), "properties": {
            "a": {"type": "long", "required": True}, "b": {"type": "string", "required": True}}}]),
        ({"a": np.array([1, 2])}, [pspec("a", [1, 2], "long", [-1])]),
        ({1: 2}, [pspec("1", 2, "long")]),
        ({"l": []}, [pspec("l", [], "datetime", [-1])]),  # MLflow's quirk: all([]) is true
    ],
)
def test_infer_params(params, expected):
    signature = infer_signature(params=params)
    assert signature.inputs is None and signature.outputs is None
    assert json.loads(signature.to_dict()["params"]) == expected
    assert ParamSchema.from_json(signature.to_dict()["params"]) == signature.params


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n": None}, "Failed to infer schema for parameters: [('n', None, MlflowException('Expected parameters "
                      "to be 1D array or scalar, got NoneType'))]"),
        ({"l": [[1], [2]]}, "got 2D array"),
        ({"b": b"x"}, "Binary type is not supported for parameters"),
        ({"l": [1, "a"]}, "Can not safely convert `<class 'int'>` to `DataType.string` for value `1`"),
        ({"t": (1, 2)}, "got tuple"),
    ],
)
def test_infer_params_errors(params, message):
    with pytest.raises(MlflowException) as info:
        infer_signature(params=params)
    assert message in info.value.message
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_infer_params_rejects_non_dicts():
    with pytest.raises(MlflowException, match="Expected parameters to be dict, got list"):
        _infer_param_schema([1])  # type: ignore[arg-type]


def test_nothing_to_infer():
    with pytest.raises(ValueError, match="At least one of inputs, outputs or params"):
        infer_signature()
    with pytest.raises(ValueError):
        infer_signature(None, None, {})  # empty params give no params schema


def test_pydantic_inputs_are_refused():
    pydantic = pytest.importorskip("pydantic")

    class Row(pydantic.BaseModel):
        a: int

    with pytest.raises(InvalidDataForSignatureInferenceError, match="Pydantic"):
        infer_signature([Row(a=1)])


def test_infer_schema_used_by_datasets():
    with pytest.warns(UserWarning, match="Integer columns"):
        schema = _infer_schema(pd.DataFrame({"a": [1], "b": ["x"]}))
    assert schema == Schema([ColSpec("long", "a"), ColSpec("string", "b")])
    with pytest.raises(MlflowException, match=r"Failed to infer schema\. Expected one of the following types"):
        _infer_schema({1, 2})


def test_numpy_column_labels_become_python_values():
    df = pd.DataFrame(np.zeros((1, 2)), columns=np.array([3, 4]))
    assert json.loads(infer_signature(df).to_dict()["inputs"]) == [col("double", 3), col("double", 4)]


# --- ModelSignature ----------------------------------------------------------------------------------

def test_signature_dict_roundtrip_and_equality():
    signature = ModelSignature(
        Schema([ColSpec("double", "a")]),
        Schema([TensorSpec(np.dtype("float32"), (-1, 2))]),
        ParamSchema([ParamSpec("k", "long", 3)]),
    )
    as_dict = signature.to_dict()
    assert list(as_dict) == ["inputs", "outputs", "params"]
    again = ModelSignature.from_dict(as_dict)
    assert again == signature and again.to_dict() == as_dict
    assert again != ModelSignature(Schema([ColSpec("double", "a")]))
    assert again != "signature"


def test_from_dict_tolerates_missing_keys_and_flags():
    only_inputs = ModelSignature.from_dict({"inputs": '[{"type": "string", "required": true}]'})
    assert only_inputs.outputs is None and only_inputs.params is None
    assert only_inputs._is_signature_from_type_hint is False and only_inputs._is_type_hint_from_example is False
    flagged = ModelSignature.from_dict({"inputs": '[{"type": "string"}]', "outputs": None, "params": None,
                                        "is_signature_from_type_hint": True, "type_hint_from_example": True})
    assert flagged._is_signature_from_type_hint is True and flagged._is_type_hint_from_example is True
    assert flagged.to_dict() == {"inputs": '[{"type": "string", "required": true}]', "outputs": None, "params": None}


def test_signature_repr():
    signature = ModelSignature(Schema([ColSpec("double", "a")]), params=ParamSchema([ParamSpec("k", "long", 3)]))
    assert repr(signature) == "inputs: \n  ['a': double (required)]\noutputs: \n  None\nparams: \n  ['k': long (default: 3)]\n"


def test_signature_argument_types():
    with pytest.raises(TypeError, match="inputs must be either None"):
        ModelSignature(inputs=[ColSpec("double")])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params"):
        ModelSignature(Schema([ColSpec("double")]), params={"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ModelSignature()


@dataclasses.dataclass
class _Request:
    text: str
    top_k: int = 3


def test_dataclasses_as_schemas():
    signature = ModelSignature(inputs=_Request, outputs=_Request)
    assert signature.inputs == Schema([ColSpec("string", "text"), ColSpec("long", "top_k")])
    assert infer_signature(_Request("x")).inputs == signature.inputs
