"""The companion files of a model directory, input examples, scoring payload parsing and dataset JSON,
side by side with MLflow 2.22.5 (run in its own virtualenv, see ``_mlflow.py``).

fluvial writes its files first; one MLflow script then saves a scikit-learn model, writes the same input
examples, parses the same payloads, builds the same datasets, and reads what fluvial wrote.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from _mlflow import run_mlflow

from fluvial.models import environment as env
from fluvial.models import input_example as ie
from fluvial.models import serving_input as si
from fluvial.models.infer_requirements import infer_pip_requirements
from fluvial.models.requirements import installed_version

pytestmark = [pytest.mark.compat, pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer column")]

# Python source shared by both sides (numpy as np, pandas as pd, datetime as dt in scope).
CASES = """
import scipy.sparse as sp
CASES = {
    "df": pd.DataFrame({"a": [1.0, np.nan, np.inf], "b": [1, 2, 3], "s": ["x", None, "z"]}, index=[4, 5, 6]),
    "df_intcols": pd.DataFrame([[1, 2], [3, 4]]),
    "df_kinds": pd.DataFrame({
        "t": pd.to_datetime(["2020-01-01 00:00:00", None]), "by": [b"ab", b"\\x00\\xff"],
        "i": pd.array([1, None], dtype="Int64"), "st": pd.array(["a", None], dtype="string"),
        "f32": np.array([1.5, np.nan], dtype=np.float32), "b": [True, False], "d": [dt.date(2020, 1, 1), None],
        "c": pd.Categorical(["a", "b"]), "l": [[1, 2], [3]], "o": ["a", np.nan],
    }),
    "df_tz": pd.DataFrame({"t": pd.to_datetime(["2020-01-01"]).tz_localize("UTC")}),
    "df_mixedcols": pd.DataFrame([[1, 2]], columns=[0, "a"]),
    "df_empty": pd.DataFrame({"a": []}),
    "df_bigbytes": pd.DataFrame({"b": [b"x" * 100]}),
    "nd": np.array([[1.0, np.nan], [np.inf, -np.inf]]),
    "nd_int": np.arange(6).reshape(2, 3),
    "nd_str": np.array(["a", "b"]),
    "nd_obj": np.array([1, "a", None], dtype=object),
    "nd_bytes": np.array([b"ab", b"cd"]),
    "nd_dt": np.array(["2020-01-01T01:02:03", "NaT"], dtype="datetime64[s]"),
    "nd_f32": np.array([1.5, np.nan], dtype=np.float32),
    "dict_nd": {"x": np.array([1, 2]), "y": np.array([[1.5], [2.5]])},
    "dict": {"a": 1, "b": [1, 2], "c": "s", "d": None},
    "dict_nan": {"a": float("nan"), "b": [1.0, float("nan")], "c": np.int64(3)},
    "list": [1, 2, 3],
    "list_dicts": [{"a": 1}, {"a": 2, "b": "x"}],
    "str": "hello", "int": 5, "float": 1.5, "bool": True, "bytes": b"abc", "npscalar": np.float32(1.5),
    "datetime": dt.datetime(2020, 1, 2, 3, 4, 5),
    "csr": sp.csr_matrix(np.array([[0, 1.0], [2.0, 0]])),
    "csc": sp.csc_matrix(np.array([[0, 1.0], [np.nan, 0]])),
    "tuple_df": (pd.DataFrame({"a": [1.0]}), {"p": 1, "q": "s"}),
    "tuple_nd": (np.array([1, 2]), {"p": [1, 2]}),
    "llm": {"messages": [{"role": "user", "content": "hi"}]},
    "llm_params": ({"messages": [{"role": "user", "content": "hi"}]}, {"temperature": 0.5}),
    "err_list_nd": [np.array([1])],
    "err_mixed_dict": {"a": np.array([1]), "b": 1},
    "err_tuple3": (1, 2, 3),
    "err_set": {1, 2},
    "err_none": None,
}
FRAMES = {
    "main": pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [1, 2, 3], "s": ["x", "y", "z"], "t": [0, 1, 0]}),
    "ints": pd.DataFrame({"a": [1, 2, 3]}, index=[5, 6, 7]),
    "nested": pd.DataFrame({"a": [1, 2], "d": [{"x": 1}, {"x": 2}], "l": [[1], [2]]}),
    "dates": pd.DataFrame({"a": pd.to_datetime(["2020-01-01"]), "s": ["x"]}),
    "intlabels": pd.DataFrame([[1.5, "a"]], columns=[3, 1]),
}
ARRAYS = {
    "plain": (np.arange(12, dtype=np.float32).reshape(3, 4), np.array([0, 1, 0])),
    "named": ({"a": np.arange(3), "b": np.array(["x", "y", "z"])}, None),
}
SOURCES = ["/tmp/x.csv", "s3://b/k.csv", "https://h/x.csv", "file:///tmp/y.csv", "gs://b/x", "relative/p.csv"]
"""

SCHEMA_AB = '[{"type": "double", "name": "a", "required": true}, {"type": "long", "name": "b", "required": true}]'
SCHEMA_BIN = ('[{"type": "double", "name": "a", "required": true}, {"type": "long", "name": "b", "required": true}, '
              '{"type": "binary", "name": "c", "required": true}]')
SCHEMA_X = '[{"type": "double", "name": "x", "required": true}]'
TENSOR = '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]'
PAYLOADS: list[tuple[Any, str | None]] = [
    ({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 1], [3.0, 4]]}}, None),
    ({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 1], [3.0, 4]], "index": [5, 6]}}, SCHEMA_AB),
    ({"dataframe_records": [{"a": 1, "b": 1}, {"a": 2, "b": 3}]}, SCHEMA_AB),
    ({"dataframe_records": [{"a": 1.0, "b": 1, "c": "eHk=\n"}]}, SCHEMA_BIN),
    ({"dataframe_records": [{"a": 1, "b": "x"}]}, SCHEMA_AB),
    ({"instances": [{"a": 1, "b": "s"}, {"a": 2, "b": "t"}]}, None),
    ({"instances": [[1, 2], [3, 4]]}, None),
    ({"instances": {"a": [1, 2], "b": [3]}}, None),
    ({"instances": [{"x": 1}, {"x": 2}]}, SCHEMA_X),
    ({"inputs": {"a": [1, 2], "b": 3}}, None),
    ({"inputs": [[1, 2], [3]]}, None),
    ({"inputs": "text"}, None),
    ({"inputs": [1, 2]}, SCHEMA_X),
    ({"inputs": {"x": 1}}, SCHEMA_X),
    ({"inputs": [[1, 2]]}, TENSOR),
    ({"inputs": {"a": 1}}, TENSOR),
    ({"inputs": [1], "params": {"p": 1}}, None),
    ({"columns": ["a"], "data": [[1]]}, None),
    ({"inputs": [1], "instances": [1]}, None),
    ({"dataframe_split": [[1]]}, None),
    ({"dataframe_split": {"columns": ["a"]}}, None),
    ({"dataframe_records": {"a": 1}}, None),
    ("[1, 2]", None),
    ("{bad", None),
]

DESCRIBE = """
def cell(v):
    # a missing string is None under pandas 2 and NaN under pandas 3 (the two sides' pandas differ)
    return "<missing>" if v is None or (isinstance(v, float) and v != v) else repr(v)

def describe(value):
    if isinstance(value, pd.DataFrame):
        return {"kind": "DataFrame", "columns": [repr(c) for c in value.columns],
                "dtypes": ["object" if str(d) in ("str", "string") else str(d) for d in value.dtypes],
                "index": [repr(i) for i in value.index],
                "values": [[cell(v) for v in row] for row in value.itertuples(index=False)]}
    if isinstance(value, np.ndarray):
        return {"kind": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape), "values": repr(value.tolist())}
    if hasattr(value, "toarray"):
        return {"kind": type(value).__name__, "data": repr(value.data.tolist()), "dtype": str(value.data.dtype),
                "indices": repr(value.indices.tolist()), "indptr": repr(value.indptr.tolist()), "shape": list(value.shape)}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): describe(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"kind": "list", "items": [describe(v) for v in value]}
    return {"kind": type(value).__name__, "repr": repr(value)}

def describe_error(exc):
    message = re.sub(r"\\{'[a-z_]+'(, '[a-z_]+')*\\}", "{FIELDS}", str(getattr(exc, "message", exc)))
    return {"kind": "error", "code": str(getattr(exc, "error_code", "")), "message": message.split("Error:")[0]}
"""

MLFLOW_SCRIPT = """
import datetime as dt, json, os, re, sys, warnings
from pathlib import Path
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd, yaml
import mlflow, mlflow.data, mlflow.sklearn
from mlflow.models import Model
from mlflow.models.utils import _Example
from mlflow.pyfunc.scoring_server import _split_data_and_params, infer_and_parse_data
from mlflow.types import Schema
from mlflow.utils.environment import _PythonEnv, _get_requirements_from_file
from sklearn.linear_model import LogisticRegression

ours = Path(sys.argv[1])
payloads = json.loads(sys.argv[2])
exec(CASES_SRC)
exec(DESCRIBE_SRC)
out = {}

X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1, 2, 1, 2]})
mlflow.sklearn.save_model(LogisticRegression().fit(X, [0, 1, 0, 1]), "mlflow_model", input_example=X.head(2))
out["model_dir"] = os.path.abspath("mlflow_model")
out["files"] = {f: Path("mlflow_model", f).read_text() for f in
                ("conda.yaml", "python_env.yaml", "requirements.txt", "input_example.json", "serving_input_example.json")}
out["example_info"] = Model.load("mlflow_model").saved_input_example_info

examples = {}
for name, value in CASES.items():
    try:
        e = _Example(value)
        examples[name] = {"info": e.info, "example": e.json_input_example, "serving": e.json_serving_input}
    except Exception as exc:
        examples[name] = {"error": str(exc)}
out["examples"] = examples

read_back = {}
for d in sorted((ours / "examples").iterdir()):
    info = json.loads((d / "info.json").read_text())
    model = Model(saved_input_example_info=info)
    read_back[d.name] = {"data": describe(model.load_input_example(str(d))),
                         "params": model.load_input_example_params(str(d))}
out["read_back"] = read_back
out["our_python_env"] = _PythonEnv.from_yaml(str(ours / "env" / "python_env.yaml")).to_dict()
out["our_requirements"] = [str(r) for r in _get_requirements_from_file(ours / "env" / "requirements.txt")]

datasets = {}
for name, df in FRAMES.items():
    for i, src in enumerate(SOURCES):
        datasets[f"{name}-{i}"] = mlflow.data.from_pandas(df, source=src, name=name).to_dict()
for name, (features, targets) in ARRAYS.items():
    datasets[f"np-{name}"] = mlflow.data.from_numpy(features, source="/tmp/n.npy", targets=targets).to_dict()
out["datasets"] = datasets

parsed = []
for payload, schema_json in payloads:
    schema = Schema.from_json(schema_json) if schema_json else None
    try:
        data, params = _split_data_and_params(payload)
        parsed.append({"data": describe(infer_and_parse_data(data, schema)), "params": params})
    except Exception as exc:
        parsed.append(describe_error(exc))
out["parsed"] = parsed
emit(out)
"""


def _namespace() -> dict[str, Any]:
    import datetime as dt

    import numpy as np
    import pandas as pd

    ns: dict[str, Any] = {"np": np, "pd": pd, "dt": dt, "re": re}
    exec(CASES, ns)
    exec(DESCRIBE, ns)
    return ns


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """fluvial's files, then MLflow's results (one MLflow process for the whole module)."""
    ns = _namespace()
    ours = tmp_path_factory.mktemp("ours")
    for name, value in ns["CASES"].items():
        folder = ours / "examples" / name
        folder.mkdir(parents=True)
        try:
            info = ie.save_input_example(str(folder), value)
        except Exception:
            info = None
        if info is None:
            folder.rmdir()
        else:
            (folder / "info.json").write_text(json.dumps(info))
    (ours / "env").mkdir()
    env.write_environment(str(ours / "env"), default_pip_requirements=["scikit-learn==1.9.1", "cloudpickle==3.1.3"],
                          extra_pip_requirements=["numpy[extra] >= 1.0, <3; python_version>'3'"])
    source = f"CASES_SRC = {CASES!r}\nDESCRIBE_SRC = {DESCRIBE!r}\n" + textwrap.dedent(MLFLOW_SCRIPT)
    cwd = tmp_path_factory.mktemp("mlflow")
    mlflow = run_mlflow(source, str(ours), json.dumps(PAYLOADS), cwd=cwd, name="model_files.py", timeout=400)
    return {"ours": ours, "mlflow": mlflow, "ns": ns}


def names(requirements: list[str]) -> list[str]:
    return [re.split(r"[=<>!~\[;@ ]", r, maxsplit=1)[0] for r in requirements]


def test_environment_files_match(side_by_side: dict[str, Any], tmp_path: Path) -> None:
    files = side_by_side["mlflow"]["files"]
    mlflow_reqs = files["requirements.txt"].split("\n")
    assert mlflow_reqs[0] == "mlflow==2.22.5" and not files["requirements.txt"].endswith("\n")

    # the same inputs through fluvial: the flavor defaults, united with what inference finds in MLflow's model
    defaults = [env.pinned("scikit-learn"), env.pinned("cloudpickle")]
    model_dir = side_by_side["mlflow"]["model_dir"]
    env.write_environment(str(tmp_path), default_pip_requirements=defaults,
                          infer_from=lambda: infer_pip_requirements(model_dir, fallback=defaults))
    ours = (tmp_path / "requirements.txt").read_text()
    assert not ours.endswith("\n")
    # MLflow's list minus its own pin; ours may hold more when this interpreter's loading of the model imports
    # more (pandas 3 imports pyarrow when it is installed, as it is here for PySpark)
    assert set(names(mlflow_reqs[1:])) <= set(names(ours.split("\n")))
    for theirs in mlflow_reqs[1:]:
        name, version = theirs.split("==")
        if installed_version(name) == version:
            assert theirs in ours.split("\n")

    conda_mlflow = yaml.safe_load(files["conda.yaml"])
    conda_ours = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert list(conda_ours) == list(conda_mlflow) == ["channels", "dependencies", "name"]
    assert conda_ours["channels"] == conda_mlflow["channels"] and conda_ours["name"] == conda_mlflow["name"]
    assert conda_ours["dependencies"][:2] == conda_mlflow["dependencies"][:2]  # python=, pip<=
    assert set(names(conda_mlflow["dependencies"][2]["pip"][1:])) <= set(names(conda_ours["dependencies"][2]["pip"]))
    assert (tmp_path / "conda.yaml").read_text().startswith(files["conda.yaml"].split("  - mlflow==")[0])

    assert (tmp_path / "python_env.yaml").read_text() == files["python_env.yaml"]


def test_input_example_of_the_saved_model(side_by_side: dict[str, Any], tmp_path: Path) -> None:
    import pandas as pd

    mlflow = side_by_side["mlflow"]
    info = ie.save_input_example(str(tmp_path), pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2]}))
    assert info == mlflow["example_info"]
    assert (tmp_path / "input_example.json").read_text() == mlflow["files"]["input_example.json"]
    assert (tmp_path / "serving_input_example.json").read_text() == mlflow["files"]["serving_input_example.json"]


def test_every_example_type_is_written_alike(side_by_side: dict[str, Any]) -> None:
    theirs = side_by_side["mlflow"]["examples"]
    for name, value in side_by_side["ns"]["CASES"].items():
        try:
            e = ie.InputExample(value)
            ours: dict[str, Any] = {"info": e.info, "example": e.json_input_example, "serving": e.json_serving_input}
        except Exception as exc:
            ours = {"error": str(getattr(exc, "message", exc))}
        assert ours == theirs[name], name


def test_mlflow_reads_our_examples_back(side_by_side: dict[str, Any]) -> None:
    ns = side_by_side["ns"]
    read_back = side_by_side["mlflow"]["read_back"]
    folders = sorted((side_by_side["ours"] / "examples").iterdir())
    assert len(folders) == len(read_back) > 20
    for folder in folders:
        info = json.loads((folder / "info.json").read_text())
        ours = ns["describe"](ie.load_input_example(str(folder), info))
        assert ours == read_back[folder.name]["data"], folder.name
        assert ie.load_input_example_params(str(folder), info) == read_back[folder.name]["params"]


def test_mlflow_reads_our_environment(side_by_side: dict[str, Any]) -> None:
    mlflow = side_by_side["mlflow"]
    ours = side_by_side["ours"] / "env"
    assert mlflow["our_python_env"] == env.read_python_env(str(ours / "python_env.yaml"))
    assert mlflow["our_requirements"] == (ours / "requirements.txt").read_text().split("\n") == [
        "scikit-learn==1.9.1", "cloudpickle==3.1.3", 'numpy[extra]<3,>=1.0; python_version > "3"']


def test_datasets_are_identical(side_by_side: dict[str, Any]) -> None:
    import fluvial.data

    ns = side_by_side["ns"]
    theirs = side_by_side["mlflow"]["datasets"]
    for name, df in ns["FRAMES"].items():
        for i, src in enumerate(ns["SOURCES"]):
            assert fluvial.data.from_pandas(df, source=src, name=name).to_dict() == theirs[f"{name}-{i}"], (name, src)
    for name, (features, targets) in ns["ARRAYS"].items():
        assert fluvial.data.from_numpy(features, source="/tmp/n.npy", targets=targets).to_dict() == theirs[f"np-{name}"]


def test_serving_payloads_parse_alike(side_by_side: dict[str, Any]) -> None:
    from fluvial.models.schema import Schema

    ns = side_by_side["ns"]
    theirs = side_by_side["mlflow"]["parsed"]
    for (payload, schema_json), expected in zip(PAYLOADS, theirs, strict=True):
        schema = Schema.from_json(schema_json) if schema_json else None
        try:
            data, params = si.parse_serving_input(payload, schema)
            ours = {"data": ns["describe"](data), "params": params}
        except Exception as exc:
            ours = ns["describe_error"](exc)
        assert ours == expected, payload
