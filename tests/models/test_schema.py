"""Schemas and their JSON form: every spec kind round-trips, with MLflow's key order and defaults."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from typing import Optional

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.schema import (
    AnyType,
    Array,
    ColSpec,
    DataType,
    Map,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
    SparkMLVector,
    TensorSpec,
    convert_dataclass_to_schema,
)


def roundtrip(schema: Schema) -> Schema:
    again = Schema.from_json(schema.to_json())
    assert again == schema
    assert again.to_json() == schema.to_json()
    return again


# --- DataType ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("member", "numpy", "pandas", "python"),
    [
        (DataType.boolean, np.dtype("bool"), np.dtype("bool"), bool),
        (DataType.integer, np.dtype("int32"), np.dtype("int32"), int),
        (DataType.long, np.dtype("int64"), np.dtype("int64"), int),
        (DataType.float, np.dtype("float32"), np.dtype("float32"), float),
        (DataType.double, np.dtype("float64"), np.dtype("float64"), float),
        (DataType.string, np.dtype("str"), object, str),
        (DataType.binary, np.dtype("bytes"), object, bytes),
        (DataType.datetime, np.dtype("datetime64[ns]"), np.dtype("datetime64[ns]"), dt.date),
    ],
)
def test_datatype_conversions(member, numpy, pandas, python):
    assert member.to_numpy() == numpy
    assert member.to_pandas() == pandas
    assert member.to_python() is python
    assert repr(member) == member.name
    assert DataType[member.name] is member


def test_datatype_values_and_lookup():
    assert [t.value for t in DataType] == list(range(1, 9))
    assert DataType.from_numpy_type(np.dtype("int32")) is DataType.integer
    assert DataType.from_numpy_type(np.dtype("int8")) is None
    assert str(DataType.double) == "DataType.double"  # as it appears in error messages


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (DataType.long, 1, True), (DataType.long, np.int64(1), True), (DataType.long, np.int32(1), False),
        (DataType.long, True, False), (DataType.integer, 1, True), (DataType.integer, np.int32(1), True),
        (DataType.double, 1.5, True), (DataType.double, np.float64(1.5), True),
        (DataType.double, np.float32(1.5), False), (DataType.float, 1.5, True), (DataType.float, np.float32(1), True),
        (DataType.string, "a", True), (DataType.string, np.str_("a"), True), (DataType.string, object(), True),
        (DataType.binary, b"a", True), (DataType.binary, bytearray(b"a"), True), (DataType.binary, "a", False),
        (DataType.boolean, True, True), (DataType.boolean, np.bool_(True), True), (DataType.boolean, 1, False),
        (DataType.datetime, dt.date(2020, 1, 1), True), (DataType.datetime, dt.datetime(2020, 1, 1), True),
        (DataType.datetime, np.datetime64("2020-01-01"), True), (DataType.datetime, "2020-01-01", False),
    ],
)
def test_check_type_is_exact(dtype, value, expected):
    assert DataType.check_type(dtype, value) is expected


# --- JSON encoding -----------------------------------------------------------------------------------

def test_colspec_json_key_order_and_int_names():
    schema = Schema([ColSpec("double", "a"), ColSpec(DataType.long, "b", required=False)])
    assert schema.to_json() == (
        '[{"type": "double", "name": "a", "required": true}, {"type": "long", "name": "b", "required": false}]'
    )
    int_named = roundtrip(Schema([ColSpec("double", 0), ColSpec("double", 1)]))
    assert int_named.to_json() == (
        '[{"type": "double", "name": 0, "required": true}, {"type": "double", "name": 1, "required": true}]'
    )
    assert [c.name for c in int_named.inputs] == [0, 1]
    assert Schema([ColSpec("string")]).to_json() == '[{"type": "string", "required": true}]'


@pytest.mark.parametrize("member", list(DataType))
def test_every_datatype_roundtrips(member):
    for schema in (Schema([ColSpec(member, "x")]), Schema([ColSpec(member)]), Schema([ColSpec(member, "x", False)])):
        roundtrip(schema)


def test_composite_types_json():
    arr = ColSpec(Array(Array("long")), "a")
    assert arr.to_dict() == {"type": "array", "items": {"type": "array", "items": {"type": "long"}},
                             "name": "a", "required": True}
    obj = ColSpec(Object([Property("z", "string"), Property("b", Array("double"), required=False)]), "o")
    assert json.dumps(obj.to_dict()) == (
        '{"type": "object", "properties": {"b": {"type": "array", "items": {"type": "double"}, "required": false}, '
        '"z": {"type": "string", "required": true}}, "name": "o", "required": true}'
    )
    mp = ColSpec(Map(Object([Property("k", "long")])), "m")
    assert mp.to_dict() == {"type": "map", "values": {"type": "object", "properties": {"k": {"type": "long",
                            "required": True}}}, "name": "m", "required": True}
    assert ColSpec(AnyType(), "n", required=False).to_dict() == {"type": "any", "name": "n", "required": False}
    assert ColSpec(SparkMLVector(), "v").to_dict() == {"type": "sparkml_vector", "name": "v", "required": True}
    roundtrip(Schema([arr, obj, mp, ColSpec(AnyType(), "n", required=False), ColSpec(SparkMLVector(), "v"),
                      ColSpec(Array(Map("binary")), "am"), ColSpec(Array(AnyType()), "aa")]))


def test_required_defaults_to_true_when_absent():
    schema = Schema.from_json(
        '[{"type": "double", "name": "a"}, {"type": "array", "items": {"type": "long"}, "name": "b"},'
        ' {"type": "object", "properties": {"p": {"type": "string"}}, "name": "c"}]'
    )
    assert [c.required for c in schema.inputs] == [True, True, True]
    assert schema.inputs[2].type.properties[0].required is True


def test_tensorspec_json():
    unnamed = Schema([TensorSpec(np.dtype("float32"), (-1, 4))])
    assert unnamed.to_json() == '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'
    named = Schema([TensorSpec(np.dtype("str"), [-1], "s"), TensorSpec(np.dtype("datetime64[D]"), (-1, 2, 3), "d")])
    assert named.to_json() == (
        '[{"name": "s", "type": "tensor", "tensor-spec": {"dtype": "str", "shape": [-1]}}, '
        '{"name": "d", "type": "tensor", "tensor-spec": {"dtype": "datetime64[D]", "shape": [-1, 2, 3]}}]'
    )
    for dtype in ("int8", "uint64", "float16", "bool", "bytes", "object", "complex128"):
        roundtrip(Schema([TensorSpec(np.dtype(dtype), (-1,))]))
    assert roundtrip(named).inputs[1].shape == (-1, 2, 3)


def test_tensorspec_rejects_sized_flexible_and_non_dtypes():
    with pytest.raises(MlflowException, match=r'Use np.dtype\("str"\) instead'):
        TensorSpec(np.dtype("<U5"), (-1,))
    with pytest.raises(TypeError):
        TensorSpec("float32", (-1,))
    with pytest.raises(TypeError):
        TensorSpec(np.dtype("float32"), 5)


def test_reprs():
    schema = Schema([ColSpec("double", "a"), ColSpec(Array("long"), "b", required=False)])
    assert repr(schema) == "['a': double (required), 'b': Array(long) (optional)]"
    assert repr(Schema([TensorSpec(np.dtype("float64"), (-1, 2))])) == "[Tensor('float64', (-1, 2))]"
    assert repr(TensorSpec(np.dtype("int8"), (-1,), "t")) == "'t': Tensor('int8', (-1,))"
    assert repr(Object([Property("a", "long")])) == "{a: long (required)}"
    assert repr(Map("double")) == "Map(str -> DataType.double)"  # as MLflow prints it
    assert repr(AnyType()) == "Any"


# --- Schema rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([], "empty inputs"),
        ([ColSpec("double", "a"), ColSpec("double")], "combination of named and unnamed"),
        ([ColSpec("double", "a"), TensorSpec(np.dtype("float64"), (-1,), "b")], "combination of ColSpec and TensorSpec"),
        ([TensorSpec(np.dtype("float64"), (-1,)), TensorSpec(np.dtype("float64"), (-1,))], "multiple unnamed TensorSpecs"),
        ([ColSpec("double", required=False)], "unnamed optional inputs"),
    ],
)
def test_invalid_schemas(inputs, message):
    with pytest.raises(MlflowException, match=message) as info:
        Schema(inputs)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_schema_not_a_list():
    with pytest.raises(InvalidParameterValue, match="must be a list"):
        Schema(ColSpec("double"))  # type: ignore[arg-type]


def test_schema_accessors():
    schema = Schema([ColSpec("double", "a"), ColSpec("string", "b", required=False), ColSpec("long", "c")])
    assert schema.input_names() == ["a", "b", "c"]
    assert schema.required_input_names() == ["a", "c"]
    assert schema.optional_input_names() == ["b"]
    assert schema.input_types() == [DataType.double, DataType.string, DataType.long]
    assert schema.has_input_names() and not schema.is_tensor_spec()
    assert schema.numpy_types() == [np.dtype("float64"), np.dtype("str"), np.dtype("int64")]
    assert schema.pandas_types() == [np.dtype("float64"), object, np.dtype("int64")]
    assert schema.input_types_dict() == {"a": DataType.double, "b": DataType.string, "c": DataType.long}
    assert list(schema.input_dict()) == ["a", "b", "c"]
    assert len(schema) == 3 and list(schema) == schema.inputs
    unnamed = Schema([ColSpec("double"), ColSpec("long")])
    assert unnamed.input_names() == [0, 1] and not unnamed.has_input_names()
    with pytest.raises(MlflowException):
        unnamed.input_dict()
    tensors = Schema([TensorSpec(np.dtype("int8"), (-1,), "x")])
    assert tensors.is_tensor_spec() and tensors.numpy_types() == [np.dtype("int8")]
    assert tensors.required_input_names() == ["x"]
    with pytest.raises(MlflowException, match="TensorSpec only supports numpy types"):
        tensors.pandas_types()
    with pytest.raises(MlflowException, match="not DataType"):
        Schema([ColSpec(Array("long"), "a")]).numpy_types()


def test_equality():
    assert Schema([ColSpec("double", "a")]) == Schema([ColSpec(DataType.double, "a")])
    assert Schema([ColSpec("double", "a")]) != Schema([ColSpec("double", "a", required=False)])
    assert Schema([ColSpec("double", "a")]) != Schema([ColSpec("float", "a")])
    assert Schema([ColSpec("double", "a")]) != [ColSpec("double", "a")]
    assert TensorSpec(np.dtype("int8"), (-1,)) != TensorSpec(np.dtype("int8"), (-1, 1))
    assert Array("long") != SparkMLVector() and SparkMLVector() == SparkMLVector()


def test_unsupported_type_names():
    with pytest.raises(InvalidParameterValue, match="Unsupported type 'decimal'"):
        ColSpec("decimal")
    with pytest.raises(TypeError):
        ColSpec(3.5)  # type: ignore[arg-type]
    with pytest.raises(MlflowException, match="Missing keys in ColSpec"):
        Schema.from_json('[{"name": "a"}]')
    with pytest.raises(MlflowException, match="Missing keys in Array JSON"):
        Schema.from_json('[{"type": "array", "name": "a"}]')


# --- composite types ---------------------------------------------------------------------------------

def test_object_rules():
    obj = Object([Property("b", "long"), Property("a", "string")])
    assert [p.name for p in obj.properties] == ["a", "b"]  # sorted
    with pytest.raises(MlflowException, match="empty properties"):
        Object([])
    with pytest.raises(MlflowException, match="duplicated property names"):
        Object([Property("a", "long"), Property("a", "double")])
    with pytest.raises(MlflowException, match="Expected name to be a string"):
        Property(1, "long")  # type: ignore[arg-type]


def test_merges():
    a = Object([Property("x", "long"), Property("y", "string")])
    b = Object([Property("x", "long"), Property("z", "boolean")])
    merged = a._merge(b)
    assert merged == Object([Property("x", "long"), Property("y", "string", False), Property("z", "boolean", False)])
    # None (AnyType) merges with a concrete type in either order
    none_x = Object([Property("x", AnyType(), False)])
    assert a._merge(none_x).properties[0] == Property("x", "long", required=False)
    assert none_x._merge(Object([Property("x", "long")])) == Object([Property("x", "long", required=False)])
    assert Array("long")._merge(Array(AnyType())) == Array("long")
    assert AnyType()._merge(DataType.string) is DataType.string
    with pytest.raises(MlflowException):
        Array("long")._merge(Array("string"))
    with pytest.raises(MlflowException):
        Map("long")._merge(Array("long"))


# --- params ------------------------------------------------------------------------------------------

def test_paramspec_json():
    schema = ParamSchema([
        ParamSpec("f", "double", 1.5),
        ParamSpec("l", DataType.long, [1, 2], shape=(-1,)),
        ParamSpec("d", "datetime", dt.datetime(2020, 1, 2, 3, 4)),
        ParamSpec("dl", "datetime", ["2020-01-01"], shape=[-1]),
        ParamSpec("o", Object([Property("a", "long")]), {"a": 1}),
        ParamSpec("n", "string", None),
    ])
    assert schema.to_json() == (
        '[{"name": "f", "default": 1.5, "shape": null, "type": "double"}, '
        '{"name": "l", "default": [1, 2], "shape": [-1], "type": "long"}, '
        '{"name": "d", "default": "2020-01-02T03:04:00", "shape": null, "type": "datetime"}, '
        '{"name": "dl", "default": ["2020-01-01"], "shape": [-1], "type": "datetime"}, '
        '{"name": "o", "default": {"a": 1}, "shape": null, "type": "object", "properties": '
        '{"a": {"type": "long", "required": true}}}, '
        '{"name": "n", "default": null, "shape": null, "type": "string"}]'
    )
    again = ParamSchema.from_json(schema.to_json())
    assert again == schema and again.to_json() == schema.to_json()
    assert again.params[2].default == dt.datetime(2020, 1, 2, 3, 4)
    assert repr(again.params[0]) == "'f': double (default: 1.5)"
    assert repr(again.params[1]) == "'l': long (default: [1, 2]) (shape: (-1,))"


def test_paramspec_legacy_dtype_key_and_checks():
    spec = ParamSpec.from_json_dict(name="p", dtype="long", default=3)
    assert spec.dtype is DataType.long and spec.shape is None
    with pytest.raises(InvalidParameterValue, match="Binary type is not supported"):
        ParamSpec("b", "binary", b"x")
    with pytest.raises(InvalidParameterValue, match="Unsupported type 'bytes'"):
        ParamSpec("b", "bytes", b"x")
    with pytest.raises(InvalidParameterValue, match="Failed to validate type and shape for 'i': long"):
        ParamSpec("i", "long", "seven")
    with pytest.raises(InvalidParameterValue, match="Duplicated parameters found in schema: \\['a'\\]"):
        ParamSchema([ParamSpec("a", "long", 1), ParamSpec("a", "double", 1.0)])
    with pytest.raises(InvalidParameterValue, match="Missing keys in ParamSpec JSON"):
        ParamSchema.from_json('[{"name": "a", "type": "long"}]')
    assert ParamSpec(5, "long", 1).name == "5"  # names are strings
    assert ParamSpec("w", "double", 2).default == 2.0  # widened on construction


# --- dataclasses -------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Inner:
    k: str
    v: Optional[float] = None


@dataclasses.dataclass
class _Outer:
    name: str
    count: int
    ratio: float
    flag: bool
    blob: bytes
    when: dt.date
    tags: list[str]
    inner: _Inner
    inners: list[_Inner]
    maybe: Optional[int] = None


def test_convert_dataclass_to_schema():
    schema = convert_dataclass_to_schema(_Outer)
    assert [(c.name, c.required) for c in schema.inputs][-1] == ("maybe", False)
    assert schema.input_types()[:7] == [DataType.string, DataType.long, DataType.float, DataType.boolean,
                                        DataType.binary, DataType.datetime, Array("string")]
    inner = Object([Property("k", "string"), Property("v", "float", required=False)])
    assert schema.input_types()[7:9] == [inner, Array(inner)]
    with pytest.raises(TypeError):
        convert_dataclass_to_schema(object)


# --- properties --------------------------------------------------------------------------------------

_scalar_types = st.sampled_from(list(DataType))


def _types(depth: int = 2):
    if depth == 0:
        return st.one_of(_scalar_types, st.just(AnyType()))
    inner = _types(depth - 1)
    return st.one_of(
        _scalar_types,
        st.just(AnyType()),
        inner.map(Array),
        inner.map(Map),
        st.dictionaries(st.text(min_size=1, max_size=5), st.tuples(inner, st.booleans()), min_size=1, max_size=3)
        .map(lambda d: Object([Property(k, t, r) for k, (t, r) in d.items()])),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_types(), st.booleans()), min_size=1, max_size=4), st.booleans())
def test_any_colspec_schema_roundtrips(columns, named):
    specs = [ColSpec(t, f"c{i}" if named else None, required if named else True) for i, (t, required) in enumerate(columns)]
    roundtrip(Schema(specs))


def test_parsing_a_signature_does_not_import_numpy():
    code = (
        "import sys\n"
        "from fluvial.models.signature import ModelSignature\n"
        "s = ModelSignature.from_dict({'inputs': '[{\"type\": \"double\", \"name\": \"a\", \"required\": true}]',"
        " 'outputs': '[{\"type\": \"array\", \"items\": {\"type\": \"long\"}, \"required\": true}]'})\n"
        "s.to_dict()\n"
        "assert 'numpy' not in sys.modules and 'pandas' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
