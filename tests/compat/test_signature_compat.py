"""Signatures agree with MLflow: ``infer_signature`` gives the same MLmodel JSON as MLflow 2.22.5 on the
same data, schema JSON written by either program parses in the other and comes back unchanged, and
schema enforcement accepts and refuses the same inputs with the same messages.

The data are Python expressions that both programs evaluate (MLflow's virtualenv has pandas 2, ours
pandas 3, so pickles would not travel). MLflow runs once per kind of check, in a subprocess of its own
virtualenv (see ``_mlflow.py``).
"""

from __future__ import annotations

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
from _mlflow import mlflow_python, run_mlflow, run_script

from fluvial.models.enforcement import enforce_schema
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
    SparkMLVector,
    TensorSpec,
)
from fluvial.models.signature import ModelSignature, infer_signature

pytestmark = pytest.mark.compat

# (id, what the expression is: inputs | outputs | params, expression)
INFER_CASES: list[tuple[str, str, str]] = [
    (f"in_{i}", "inputs", expr) for i, expr in enumerate([
        "pd.DataFrame({'a': np.array([1, 2], dtype='int32')})",
        "pd.DataFrame({'a': [1, 2]})",
        "pd.DataFrame({'a': np.array([1.5], dtype='float32')})",
        "pd.DataFrame({'a': [1.5, 2.0]})",
        "pd.DataFrame({'a': np.array([1.5], dtype='float16')})",
        "pd.DataFrame({'a': [True, False]})",
        "pd.DataFrame({'a': ['x', 'y']})",
        "pd.DataFrame({'a': pd.Series(['x', 'y'], dtype=object)})",
        "pd.DataFrame({'a': [b'x', b'y']})",
        "pd.DataFrame({'a': pd.to_datetime(['2020-01-01', '2021-01-01'])})",
        "pd.DataFrame({'a': np.array(['2020-01-01'], dtype='datetime64[s]')})",
        "pd.DataFrame({'a': pd.to_datetime(['2020-01-01']).tz_localize('UTC')})",
        "pd.DataFrame({'a': pd.to_datetime(['2020-01-01', None])})",
        "pd.DataFrame({'a': np.array([1, 2], dtype='uint8')})",
        "pd.DataFrame({'a': np.array([1, 2], dtype='int16')})",
        "pd.DataFrame({'a': np.array([1, 2], dtype='uint32')})",
        "pd.DataFrame({'a': np.array([1, 2], dtype='uint64')})",
        "pd.DataFrame({'a': pd.Categorical(['x', 'y', 'x'])})",
        "pd.DataFrame({'a': pd.Categorical([1, 2])})",
        "pd.DataFrame({'a': ['x', None]})",
        "pd.DataFrame({'a': [1.0, np.nan]})",
        "pd.DataFrame({'a': np.array([1.0, np.nan], dtype='float32')})",
        "pd.DataFrame({'a': [np.nan, np.nan]})",
        "pd.DataFrame({'a': [None, None]})",
        "pd.DataFrame({'a': pd.Series([1.5, None], dtype=object)})",
        "pd.DataFrame({'a': pd.Series(['x', np.nan], dtype=object)})",
        "pd.DataFrame({'a': pd.array([1, None], dtype='Int64')})",
        "pd.DataFrame({'a': pd.array([True, None], dtype='boolean')})",
        "pd.DataFrame({'a': pd.array(['x', None], dtype='string')})",
        "pd.DataFrame({'a': [decimal.Decimal('1.5')]})",
        "pd.DataFrame({'a': [dt.date(2020, 1, 1), dt.date(2021, 1, 1)]})",
        "pd.DataFrame({'a': pd.Series([dt.datetime(2020, 1, 1), None], dtype=object)})",
        "pd.DataFrame({'a': [[1, 2], [3]]})",
        "pd.DataFrame({'a': [['x'], ['y', 'z']]})",
        "pd.DataFrame({'a': [[[1.0]], [[2.0, 3.0]]]})",
        "pd.DataFrame({'a': [np.array([1, 2]), np.array([3, 4])]})",
        "pd.DataFrame({'a': [[], [1]]})",
        "pd.DataFrame({'a': [{'x': 1}, {'x': 2, 'y': 's'}]})",
        "pd.DataFrame({'a': [{'x': None}, {'x': 1}]})",
        "pd.DataFrame({'a': [1, 'x']})",
        "pd.DataFrame({'a': pd.to_timedelta([1, 2], unit='s')})",
        "pd.DataFrame({'a': np.array([1 + 2j])})",
        "pd.DataFrame(np.array([[1.0, 2.0], [3.0, 4.0]]))",
        "pd.DataFrame({'a': [1.0, 2.0], 'b': [1, 2], 'c': ['x', 'y'], 'd': [True, False]})",
        "pd.DataFrame({'a': pd.Series([], dtype='float64')})",
        "pd.DataFrame({'a': pd.Series([], dtype=object)})",
        "pd.DataFrame({'a': [(1, 2)]})",
        "pd.Series([1.0, 2.0])",
        "pd.Series([1, 2], name='x')",
        "pd.Series([1.0, 2.0], name=0)",
        "pd.Series(['a', 'b'])",
        "np.zeros((3, 4), dtype='float32')",
        "np.zeros((3, 4, 5), dtype='int8')",
        "np.array([1.0, 2.0])",
        "np.array(['a', 'bc'])",
        "np.array([b'a', b'bc'])",
        "np.array([True, False])",
        "np.array([1, 'a'], dtype=object)",
        "np.array(['2020-01-01'], dtype='datetime64[D]')",
        "np.array(1.5)",
        "np.array([1], dtype='uint64')",
        "np.array([])",
        "np.zeros((2,), dtype='complex128')",
        "{'a': np.zeros((2, 3)), 'b': np.array(['x', 'y'])}",
        "{'a': np.zeros((2,), dtype='int32')}",
        "sp.csr_matrix(np.eye(3, 5, dtype='float32'))",
        "sp.csc_matrix(np.eye(4, 2))",
        "['a', 'b']", "'hello'", "5", "5.5", "True", "b'xy'", "bytearray(b'xy')",
        "dt.datetime(2020, 1, 1)", "dt.date(2020, 1, 1)", "np.datetime64('2020-01-01')", "pd.Timestamp('2020-01-01')",
        "[dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1)]",
        "[1, 2, 3]", "[1.0, 2.5]", "[1, 2.5]", "[True, False]", "[b'a', b'b']", "[None, 'a']", "[None, None]",
        "[1.0, float('nan')]",
        "[{'a': 1, 'b': 'x'}, {'a': 2}]",
        "[{'a': 1, 'b': None}, {'a': 2, 'b': 'y'}]",
        "[{'a': [1, 2], 'b': {'c': 'x'}}, {'a': [3], 'b': {'c': 'y', 'd': 1.5}}]",
        "[{'a': 1}, {'a': 'x'}]",
        "[{'a': 1.0}, {'a': float('nan')}]",
        "[{1: 'a'}]",
        "[{}, {}]",
        "{'a': 1, 'b': 'x', 'c': 2.5, 'd': True}",
        "{'a': [1, 2], 'b': ['x']}",
        "{'a': {'x': 1, 'y': [1.0]}, 'b': 'z'}",
        "{'a': {'k1': 1, 'k2': 2}}",
        "{'a': None, 'b': 1}",
        "{'a': [], 'b': 1}",
        "{'a': {}, 'b': 1}",
        "{1: 'a', 2: 'b'}",
        "{'a': np.array([1, 2]), 'b': 1}",
        "{'a': np.array([]), 'b': 1}",
        "[[1, 2], [3]]", "[['a'], ['b', 'c']]", "[[1], ['a']]", "[[], [1]]", "[None, [1]]",
        "[np.array([1, 2]), np.array([3])]", "[np.zeros((2, 2))]", "[[1, None], [2]]",
        "[np.int32(1), np.int32(2)]", "[np.float32(1.0)]",
        "[{'a': [{'b': 1}, {'b': 2, 'c': 'x'}]}]",
        "[]", "{}", "{1, 2}", "(1, 2)", "object()", "[1, 'a']",
        "np.int64(3)", "np.float32(3)", "np.str_('x')", "decimal.Decimal('1.5')",
    ])
] + [
    (f"out_{i}", "outputs", expr) for i, expr in enumerate([
        "np.array([1, 2])", "np.zeros((2, 3))", "['a']", "pd.DataFrame({'p': [0.5]})", "pd.Series([1.5])",
    ])
] + [
    (f"params_{i}", "params", expr) for i, expr in enumerate([
        "{'f': 1.5, 'i': 3, 's': 'x', 'b': True}",
        "{'l': [1, 2]}", "{'l': ['a', 'b']}", "{'l': [1.0, 2.0]}", "{'l': [True]}",
        "{'d': dt.datetime(2020, 1, 1)}", "{'d': dt.date(2020, 1, 1)}", "{'d': [dt.datetime(2020, 1, 1, 5, 6)]}",
        "{'a': np.int32(1), 'b': np.float32(1.5), 'c': np.int64(3), 'd': np.float64(2.5)}",
        "{'n': None}", "{'o': {'a': 1, 'b': 'x'}}", "{'l': [[1], [2]]}", "{'b': b'x'}",
        "{'a': np.array([1, 2])}", "{1: 2}", "{'l': []}", "{'l': [1, 'a']}", "{'t': (1, 2)}",
    ])
]

# Where fluvial follows MLflow 3 (a None after a concrete type merges instead of failing inference).
FOLLOWS_MLFLOW_3 = {
    "pd.DataFrame({'a': [{'x': 1}, {'x': None}]})",
    "[{'a': {'x': 1}}, {'a': {'x': None}}]",
    "[[1], [None]]",
}
INFER_CASES += [(f"v3_{i}", "inputs", expr) for i, expr in enumerate(sorted(FOLLOWS_MLFLOW_3))]

INFER_SCRIPT = """
import datetime as dt, decimal, json, logging, sys, warnings
import numpy as np, pandas as pd, scipy.sparse as sp
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
from mlflow.models import infer_signature

out = {}
for cid, kind, expr in json.load(open(sys.argv[1])):
    try:
        value = eval(expr)
        if kind == "inputs":
            signature = infer_signature(value)
        elif kind == "outputs":
            signature = infer_signature(None, value)
        else:
            signature = infer_signature(params=value)
        out[cid] = {"signature": signature.to_dict()}
    except Exception as exc:
        out[cid] = {"error": str(exc)}
emit(out)
"""


def _fluvial_infer(kind: str, expr: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = eval(expr)
            if kind == "inputs":
                signature = infer_signature(value)
            elif kind == "outputs":
                signature = infer_signature(None, value)
            else:
                signature = infer_signature(params=value)
            return {"signature": signature.to_dict()}
        except Exception as exc:
            return {"error": str(exc)}


def _run(version: str, script: str, payload: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    cwd = tmp_path_factory.mktemp(f"mlflow-{version}")
    (cwd / "payload.json").write_text(json.dumps(payload))
    if version == "2.22.5":
        return run_mlflow(script, str(cwd / "payload.json"), cwd=cwd)
    python = mlflow_python(version)
    if python is None:
        pytest.skip(f"MLflow {version} is not installed (.venvs/mlflow-{version})")
    return run_script(python, script, str(cwd / "payload.json"), cwd=cwd)


@pytest.fixture(scope="module")
def mlflow_inferred(tmp_path_factory) -> dict[str, Any]:
    cases = [c for c in INFER_CASES if c[2] not in FOLLOWS_MLFLOW_3]
    return _run("2.22.5", INFER_SCRIPT, cases, tmp_path_factory)


def test_infer_signature_matches_mlflow(mlflow_inferred, caplog):
    caplog.set_level(logging.CRITICAL, logger="fluvial")
    mismatches = {}
    for cid, kind, expr in INFER_CASES:
        if expr in FOLLOWS_MLFLOW_3:
            continue
        mine = _fluvial_infer(kind, expr)
        if mine != mlflow_inferred[cid]:
            mismatches[expr] = {"mlflow": mlflow_inferred[cid], "fluvial": mine}
    assert mismatches == {}


def test_where_fluvial_follows_mlflow_3(tmp_path_factory, caplog):
    caplog.set_level(logging.CRITICAL, logger="fluvial")
    cases = [c for c in INFER_CASES if c[2] in FOLLOWS_MLFLOW_3]
    theirs = _run("3.17.2", INFER_SCRIPT, cases, tmp_path_factory)
    for cid, kind, expr in cases:
        assert _fluvial_infer(kind, expr) == theirs[cid], expr


def test_mlflow_written_signatures_parse_in_fluvial(mlflow_inferred):
    for cid, result in mlflow_inferred.items():
        if "signature" in result:
            assert ModelSignature.from_dict(result["signature"]).to_dict() == result["signature"], cid


# Every spec kind, written by fluvial, read back by MLflow.
FLUVIAL_SIGNATURES = [
    ModelSignature(
        Schema([
            ColSpec("boolean", "b"), ColSpec("integer", "i"), ColSpec("long", "l", required=False),
            ColSpec("float", "f"), ColSpec("double", "d"), ColSpec("string", "s"), ColSpec("binary", "bin"),
            ColSpec("datetime", "dt"), ColSpec(Array(Array("long")), "aa"),
            ColSpec(Object([Property("z", "string"), Property("a", Array("double"), required=False)]), "o"),
            ColSpec(Map(Object([Property("k", "long")])), "m"), ColSpec(AnyType(), "any", required=False),
            ColSpec(SparkMLVector(), "vec"), ColSpec(Array(Map(AnyType())), "am"),
        ]),
        Schema([TensorSpec(np.dtype("float32"), (-1, 4))]),
        ParamSchema([
            ParamSpec("f", "double", 1.5), ParamSpec("l", "long", [1, 2], (-1,)),
            ParamSpec("d", "datetime", dt.datetime(2020, 1, 2, 3, 4)), ParamSpec("s", "string", None),
            ParamSpec("o", Object([Property("a", "long")]), {"a": 1}), ParamSpec("b", "boolean", False),
            ParamSpec("dl", "datetime", ["2020-01-01"], (-1,)),
        ]),
    ),
    ModelSignature(Schema([ColSpec("double", 0), ColSpec("double", 1)]), Schema([ColSpec("string")])),
    ModelSignature(Schema([TensorSpec(np.dtype("str"), (-1,), "s"), TensorSpec(np.dtype("datetime64[D]"), (-1, 2), "d"),
                           TensorSpec(np.dtype("object"), (-1,), "o"), TensorSpec(np.dtype("bytes"), (-1, 1), "b")])),
    ModelSignature(outputs=Schema([ColSpec(Array("string"))])),
    ModelSignature(params=ParamSchema([ParamSpec("k", "integer", 3)])),
]

READ_BACK_SCRIPT = """
import json, sys
from mlflow.models.signature import ModelSignature
emit([ModelSignature.from_dict(d).to_dict() for d in json.load(open(sys.argv[1]))])
"""


@pytest.mark.parametrize("version", ["2.22.5", "3.17.2"])
def test_fluvial_written_signatures_parse_in_mlflow(version, tmp_path_factory):
    written = [s.to_dict() for s in FLUVIAL_SIGNATURES]
    assert _run(version, READ_BACK_SCRIPT, written, tmp_path_factory) == written


# --- enforcement -------------------------------------------------------------------------------------

def _col(t: str, name: Any = None, required: bool = True, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"type": t, **extra}
    if name is not None:
        d["name"] = name
    d["required"] = required
    return d


def _schema(*cols: dict[str, Any]) -> str:
    return json.dumps(list(cols))


def _tensor(dtype: str, *shape: int, name: str | None = None) -> dict[str, Any]:
    spec = {"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": list(shape)}}
    return spec if name is None else {"name": name, **spec}


D, L = _col("double", "x"), _col("long", "x")
OBJ_A = {"a": {"type": "long", "required": True}}
# (schema JSON, data expression)
ENFORCE_CASES: list[tuple[str, str]] = [
    (_schema(D), "pd.DataFrame({'x': [1.5, 2.0]})"),
    (_schema(D), "pd.DataFrame({'x': np.array([1.5], dtype='float32')})"),
    (_schema(D), "pd.DataFrame({'x': np.array([1, 2], dtype='int32')})"),
    (_schema(D), "pd.DataFrame({'x': [1, 2]})"),
    (_schema(D), "pd.DataFrame({'x': [0, 1]})"),
    (_schema(D), "pd.DataFrame({'x': np.array([1], dtype='uint64')})"),
    (_schema(D), "pd.DataFrame({'x': [True]})"),
    (_schema(D), "pd.DataFrame({'x': ['a']})"),
    (_schema(D), "pd.DataFrame({'x': pd.Series([1.5, None], dtype=object)})"),
    (_schema(D), "pd.DataFrame({'x': pd.Series([1, 2], dtype=object)})"),
    (_schema(D), "pd.DataFrame({'x': [decimal.Decimal('1.5')]})"),
    (_schema(D), "pd.DataFrame({'x': pd.array([1, None], dtype='Int64')})"),
    (_schema(D), "pd.DataFrame({'x': pd.array([1.5, None], dtype='Float64')})"),
    (_schema(_col("float", "x")), "pd.DataFrame({'x': [1.5]})"),
    (_schema(_col("float", "x")), "pd.DataFrame({'x': np.array([1.5], dtype='float16')})"),
    (_schema(_col("float", "x")), "pd.DataFrame({'x': [0, 1]})"),
    (_schema(L), "pd.DataFrame({'x': np.array([1], dtype='uint32')})"),
    (_schema(L), "pd.DataFrame({'x': [1.0, np.nan]})"),
    (_schema(L), "pd.DataFrame({'x': [1.5, np.nan]})"),
    (_schema(L), "pd.DataFrame({'x': pd.Series(['1'], dtype=object)})"),
    (_schema(L), "pd.DataFrame({'x': pd.array([1, 2], dtype='Int64')})"),
    (_schema(_col("integer", "x")), "pd.DataFrame({'x': [1]})"),
    (_schema(_col("integer", "x")), "pd.DataFrame({'x': np.array([1], dtype='uint16')})"),
    (_schema(_col("string", "x")), "pd.DataFrame({'x': ['a', None]})"),
    (_schema(_col("string", "x")), "pd.DataFrame({'x': [1]})"),
    (_schema(_col("string", "x")), "pd.DataFrame({'x': pd.Categorical(['a'])})"),
    (_schema(_col("boolean", "x")), "pd.DataFrame({'x': [True, None]})"),
    (_schema(_col("boolean", "x")), "pd.DataFrame({'x': [1]})"),
    (_schema(_col("binary", "x")), "pd.DataFrame({'x': np.array([b'ab', b'c'])})"),
    (_schema(_col("binary", "x")), "pd.DataFrame({'x': [1]})"),
    (_schema(_col("datetime", "x")), "pd.DataFrame({'x': np.array(['2020-01-01'], dtype='datetime64[s]')})"),
    (_schema(_col("datetime", "x")), "pd.DataFrame({'x': pd.Series(['2020-01-01'], dtype=object)})"),
    (_schema(_col("datetime", "x")), "pd.DataFrame({'x': pd.Series(['nope'], dtype=object)})"),
    (_schema(_col("datetime", "x")), "pd.DataFrame({'x': [dt.date(2020, 1, 1)]})"),
    (_schema(D, _col("double", "y")), "pd.DataFrame({'x': [1.0]})"),
    (_schema(D, _col("double", "y")), "pd.DataFrame({'x': [1.0], 'z': [2.0]})"),
    (_schema(D, _col("double", "y", required=False)), "pd.DataFrame({'x': [1.0]})"),
    (_schema(D), "pd.DataFrame({'x': [1.0], 'z': [2.0], 'w': ['a']})"),
    (_schema(D, _col("long", "y")), "pd.DataFrame({'y': [1], 'x': [1.0]})"),
    (_schema(_col("double"), _col("long")), "pd.DataFrame({'p': [1.0], 'q': [1], 'r': ['z']})"),
    (_schema(_col("double"), _col("long")), "pd.DataFrame({'p': [1.0]})"),
    (_schema(_col("double", 0), _col("double", 5)), "pd.DataFrame(np.array([[1.0, 2.0]]))"),
    (_schema(D), "pd.Series([1.0], name='x')"),
    (_schema(_col("string")), "'hello'"),
    (_schema(_col("long")), "5"),
    (_schema(_col("double")), "[1.0, 2.0]"),
    (_schema(D, _col("string", "y")), "[{'x': 1.0, 'y': 'a'}, {'x': 2.0, 'y': 'b'}]"),
    (_schema(D, _col("string", "y")), "{'x': 1.0, 'y': 'a'}"),
    (_schema(_col("string", "x")), "{'x': ['a', 'b']}"),
    (_schema(D), "{'x': [1.0, 2.0]}"),
    (_schema(D, _col("long", "y")), "{'x': np.array([1.0, 2.0]), 'y': np.array([1, 2])}"),
    (_schema(D), "{'x': [1.0, 2.0], 'y': [1.0]}"),
    (_schema(_col("double", "a"), _col("double", "b")), "np.array([[1.0, 2.0]])"),
    (_schema(D), "object()"),
    (_schema(D), "(1.0, 2.0)"),
    (_schema(_col("array", "x", items={"type": "long"})), "pd.DataFrame({'x': [[1, 2], [3]]})"),
    (_schema(_col("array", "x", items={"type": "long"})), "pd.DataFrame({'x': [[1.5]]})"),
    (_schema(_col("array", "x", items={"type": "long"})), "pd.DataFrame({'x': [1]})"),
    (_schema(_col("array", "x", required=False, items={"type": "long"})), "pd.DataFrame({'x': [None, [1]]})"),
    (_schema(_col("array", "x", items={"type": "array", "items": {"type": "long"}})),
     "pd.DataFrame({'x': [[[1], [2, 3]]]})"),
    (_schema(_col("object", "x", properties={**OBJ_A, "b": {"type": "string", "required": False}})),
     "pd.DataFrame({'x': [{'a': 1}, {'a': 2, 'b': 's'}]})"),
    (_schema(_col("object", "x", properties=OBJ_A)), "pd.DataFrame({'x': [{'b': 1}]})"),
    (_schema(_col("object", "x", properties=OBJ_A)), "pd.DataFrame({'x': [{'a': 1, 'c': 2}]})"),
    (_schema(_col("object", "x", properties=OBJ_A)), "pd.DataFrame({'x': [{'a': 'no'}]})"),
    (_schema(_col("object", "x", properties=OBJ_A)), "pd.DataFrame({'x': [5]})"),
    (_schema(_col("map", "x", values={"type": "double"})), "pd.DataFrame({'x': [{'a': 1.0, 'b': 2.0}]})"),
    (_schema(_col("map", "x", values={"type": "double"})), "pd.DataFrame({'x': [{1: 1.0}]})"),
    (_schema(_col("map", "x", values={"type": "double"})), "pd.DataFrame({'x': [{'a': 'z'}]})"),
    (_schema(_col("any", "x")), "pd.DataFrame({'x': [1, 'a', None]})"),
    (_schema(_tensor("float64", -1, 2)), "np.zeros((3, 2))"),
    (_schema(_tensor("float64", -1, 2)), "np.zeros((3, 2), dtype='float32')"),
    (_schema(_tensor("float64", -1, 2)), "np.zeros((3, 3))"),
    (_schema(_tensor("str", -1)), "np.array(['a', 'bcd'])"),
    (_schema(_tensor("float64", -1, -1)), "np.array([np.zeros(2), np.zeros(3)], dtype=object)"),
    (_schema(_tensor("float64", -1, 2)), "sp.csr_matrix(np.eye(2))"),
    (_schema(_tensor("float64", -1, 2)), "pd.DataFrame({'a': [1.0], 'b': [2.0]})"),
    (_schema(_tensor("float64", -1, 3)), "pd.DataFrame({'a': [1.0], 'b': [2.0]})"),
    (_schema(_tensor("float32", -1)), "pd.DataFrame({'a': [1.0, 2.0]})"),
    (_schema(_tensor("float32", -1, 2)), "pd.DataFrame({'a': [[1, 2], [3, 4]]})"),
    (_schema(_tensor("float32", -1, 2)), "pd.DataFrame({'a': [[1, 2], [3, 4, 5]]})"),
    (_schema(_tensor("float64", -1, 2)), "pd.DataFrame({'a': []})"),
    (_schema(_tensor("float64", -1)), "[1.0, 2.0]"),
    (_schema(_tensor("float64", -1, name="a"), _tensor("int32", -1, 2, name="b")),
     "{'a': np.zeros(2), 'b': np.zeros((2, 2), dtype='int32'), 'z': np.zeros(1)}"),
    (_schema(_tensor("float64", -1, name="a"), _tensor("int32", -1, 2, name="b")), "{'a': np.zeros(2)}"),
    (_schema(_tensor("float32", -1, name="a"), _tensor("int64", -1, 2, name="b")),
     "pd.DataFrame({'a': [1.0, 2.0], 'b': [[1, 2], [3, 4]]})"),
    (_schema(_tensor("float64", -1, name="a")), "np.zeros(3)"),
    (_schema(_tensor("float64", -1, name="a")), "{'a': [1.0]}"),
]

# Refused by both, MLflow with a raw pandas error, fluvial with a message naming the column. (Two more
# deliberate differences are in the unit tests: fluvial accepts pandas' string dtype for string columns,
# as MLflow 3 does, and a list of lists for the single array column MLflow itself infers from it.)
REFUSED_BY_BOTH: list[tuple[str, str]] = [
    (_schema(L), "pd.DataFrame({'x': pd.array([1, None], dtype='Int64')})"),
    (_schema(_col("boolean", "x")), "pd.DataFrame({'x': pd.array([True, None], dtype='boolean')})"),
    (_schema(_col("datetime", "x")), "pd.DataFrame({'x': pd.to_datetime(['2020-01-01']).tz_localize('UTC')})"),
    (_schema(D), "{'x': np.zeros((2, 2))}"),
]

# Both programs run this with their own ``enforce_schema`` and ``Schema`` in scope.
CHECK_SOURCE = """
def describe(v):
    if isinstance(v, pd.DataFrame):
        return {"columns": [str(c) for c in v.columns], "dtypes": [str(t) for t in v.dtypes],
                "values": json.loads(v.to_json(orient="values", date_format="iso", default_handler=str))}
    if isinstance(v, np.ndarray):
        return {"dtype": str(v.dtype), "shape": list(v.shape)}
    if isinstance(v, dict):
        return {str(k): describe(x) for k, x in v.items()}
    return {"type": type(v).__name__, "shape": list(getattr(v, "shape", ()))}

def check(schema_json, expr):
    try:
        return {"ok": describe(enforce_schema(eval(expr), Schema.from_json(schema_json)))}
    except Exception as exc:
        return {"error": str(exc)}
"""

ENFORCE_SCRIPT = """
import datetime as dt, decimal, json, logging, sys, warnings
import numpy as np, pandas as pd, scipy.sparse as sp
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
from mlflow.models.utils import _enforce_schema as enforce_schema
from mlflow.types.schema import Schema
""" + CHECK_SOURCE + """
emit([check(s, e) for s, e in json.load(open(sys.argv[1]))])
"""

_STRING_DTYPES = {"str": "object", "string": "object"}


def _normalised(result: dict[str, Any]) -> dict[str, Any]:
    """pandas 3 gives string columns the ``str`` dtype where pandas 2 (MLflow's) has ``object``."""
    ok = result.get("ok")
    if isinstance(ok, dict) and "dtypes" in ok:
        return {"ok": {**ok, "dtypes": [_STRING_DTYPES.get(d, d) for d in ok["dtypes"]]}}
    return result


@pytest.fixture(scope="module")
def mlflow_enforced(tmp_path_factory) -> list[dict[str, Any]]:
    return _run("2.22.5", ENFORCE_SCRIPT, ENFORCE_CASES + REFUSED_BY_BOTH, tmp_path_factory)


@pytest.fixture(scope="module")
def fluvial_check() -> Any:
    namespace: dict[str, Any] = {"np": np, "pd": pd, "sp": sp, "dt": dt, "decimal": decimal, "json": json,
                                 "enforce_schema": enforce_schema, "Schema": Schema}
    exec(CHECK_SOURCE, namespace)
    return namespace["check"]


def test_enforcement_matches_mlflow(mlflow_enforced, fluvial_check, caplog):
    caplog.set_level(logging.CRITICAL, logger="fluvial")
    mismatches = []
    for (schema_json, expr), theirs in zip(ENFORCE_CASES, mlflow_enforced, strict=False):
        mine = fluvial_check(schema_json, expr)
        if _normalised(mine) != _normalised(theirs):
            mismatches.append({"schema": schema_json, "data": expr, "mlflow": theirs, "fluvial": mine})
    assert mismatches == []
    for (schema_json, expr), theirs in zip(REFUSED_BY_BOTH, mlflow_enforced[len(ENFORCE_CASES):], strict=True):
        assert "error" in theirs and "error" in fluvial_check(schema_json, expr), expr
