"""Models cross between MLflow (2.22.5 and 3.17.2, each in its own virtualenv) and fluvial, both ways:
scikit-learn models in every serialization format, custom PythonModels (pickled by value, with
artifacts, code_paths and model_config). Predictions must be identical."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fluvial as mlflow
from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

pytestmark = pytest.mark.compat
VERSIONS = ["2.22.5", "3.17.2"]
ENV = {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}  # MLflow 3 refuses pickles without it


@pytest.fixture
def data(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.assign(target=y).to_csv(tmp_path / "iris.csv", index=False)
    return tmp_path / "iris.csv"


def _frame(path: Path) -> tuple[pd.DataFrame, pd.Series]:
    df = pd.read_csv(path)
    return df.drop(columns=["target"]), df["target"]


SKLEARN_SAVE = """
import sys, json
import pandas as pd
from sklearn.linear_model import LogisticRegression
import {module} as mlflow
from {module}.models import infer_signature
df = pd.read_csv(sys.argv[1]); X, y = df.drop(columns=["target"]), df["target"]
model = LogisticRegression(max_iter=500).fit(X, y)
out = {{}}
for fmt in sys.argv[3].split(","):
    mlflow.sklearn.save_model(model, sys.argv[2] + "/" + fmt, serialization_format=fmt,
                              signature=infer_signature(X, model.predict(X)), input_example=X[:3])
out["predictions"] = model.predict(X).tolist()
out["proba"] = model.predict_proba(X).tolist()
emit(out)
"""

SKLEARN_LOAD = """
import sys
import pandas as pd
import {module} as mlflow
df = pd.read_csv(sys.argv[1]); X = df.drop(columns=["target"])
out = {{}}
for fmt in sys.argv[3].split(","):
    path = sys.argv[2] + "/" + fmt
    out[fmt] = {{"pyfunc": [int(v) for v in mlflow.pyfunc.load_model(path).predict(X)],
                "proba": mlflow.sklearn.load_model(path).predict_proba(X).tolist(),
                "signature": mlflow.models.Model.load(path).signature.to_dict()}}
emit(out)
"""


def _formats(version: str) -> str:
    return "cloudpickle,pickle,skops" if version.startswith("3") else "cloudpickle,pickle"


@pytest.mark.parametrize("version", VERSIONS)
def test_sklearn_saved_by_mlflow_loads_in_fluvial(version, data, tmp_path):
    python = require_mlflow(version)
    formats = _formats(version)
    saved = run_script(python, SKLEARN_SAVE.format(module="mlflow"), str(data), str(tmp_path / "m"), formats,
                       cwd=tmp_path, env=ENV)
    X, _ = _frame(data)
    for fmt in formats.split(","):
        path = str(tmp_path / "m" / fmt)
        assert mlflow.pyfunc.load_model(path).predict(X).tolist() == saved["predictions"]
        np.testing.assert_allclose(mlflow.sklearn.load_model(path).predict_proba(X), saved["proba"], rtol=0, atol=0)
        assert mlflow.models.Model.load(path).get_input_schema().input_names() == list(X.columns)


@pytest.mark.parametrize("version", VERSIONS)
def test_sklearn_saved_by_fluvial_loads_in_mlflow(version, data, tmp_path):
    python = require_mlflow(version)
    formats = _formats(version)
    saved = run_fluvial(SKLEARN_SAVE.format(module="fluvial"), str(data), str(tmp_path / "m"), formats, cwd=tmp_path)
    loaded = run_script(python, SKLEARN_LOAD.format(module="mlflow"), str(data), str(tmp_path / "m"), formats,
                        cwd=tmp_path, env=ENV)
    for fmt in formats.split(","):
        assert loaded[fmt]["pyfunc"] == saved["predictions"]
        np.testing.assert_allclose(loaded[fmt]["proba"], saved["proba"], rtol=0, atol=0)
        assert loaded[fmt]["signature"] == mlflow.models.Model.load(str(tmp_path / "m" / fmt)).signature.to_dict()


CUSTOM_SAVE = """
import sys, os
import pandas as pd
import {module} as mlflow

class Scaled(mlflow.pyfunc.PythonModel):          # defined in __main__: pickled by value
    def load_context(self, context):
        with open(context.artifacts["offset"]) as fh:
            self.offset = float(fh.read())
        self.factor = context.model_config["factor"]

    def predict(self, context, model_input, params=None):
        import helper_lib                           # travels with the model through code_paths
        return helper_lib.combine(model_input["x"], self.offset, self.factor)

work = sys.argv[1]
with open(os.path.join(work, "offset.txt"), "w") as fh:
    fh.write("0.5")
os.makedirs(os.path.join(work, "lib"), exist_ok=True)
with open(os.path.join(work, "lib", "helper_lib.py"), "w") as fh:
    fh.write("def combine(x, offset, factor):\\n    return ((x + offset) * factor).tolist()\\n")
sys.path.insert(0, os.path.join(work, "lib"))
mlflow.pyfunc.save_model(os.path.join(work, "custom"), python_model=Scaled(),
                         artifacts={{"offset": os.path.join(work, "offset.txt")}},
                         code_paths=[os.path.join(work, "lib", "helper_lib.py")], model_config={{"factor": 3}})
emit({{"saved": True}})
"""

CUSTOM_LOAD = """
import sys
import pandas as pd
import {module} as mlflow
model = mlflow.pyfunc.load_model(sys.argv[1] + "/custom")
emit({{"predictions": list(model.predict(pd.DataFrame({{"x": [1.0, 2.0, 4.0]}}))),
       "config": model.model_config, "class": type(model.unwrap_python_model()).__name__}})
"""

EXPECTED_CUSTOM = {"predictions": [4.5, 7.5, 13.5], "config": {"factor": 3}, "class": "Scaled"}


@pytest.mark.parametrize("version", VERSIONS)
def test_custom_model_saved_by_mlflow_loads_in_fluvial(version, tmp_path):
    python = require_mlflow(version)
    run_script(python, CUSTOM_SAVE.format(module="mlflow"), str(tmp_path), cwd=tmp_path, env=ENV)
    # a fresh fluvial process: no helper_lib on sys.path, no mlflow package anywhere
    assert run_fluvial(CUSTOM_LOAD.format(module="fluvial"), str(tmp_path), cwd=tmp_path) == EXPECTED_CUSTOM


@pytest.mark.parametrize("version", VERSIONS)
def test_custom_model_saved_by_fluvial_loads_in_mlflow(version, tmp_path):
    python = require_mlflow(version)
    run_fluvial(CUSTOM_SAVE.format(module="fluvial"), str(tmp_path), cwd=tmp_path)
    meta = json.loads(json.dumps(mlflow.models.Model.load(str(tmp_path / "custom")).to_dict()))
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.pyfunc.model"
    assert run_script(python, CUSTOM_LOAD.format(module="mlflow"), str(tmp_path), cwd=tmp_path, env=ENV) == EXPECTED_CUSTOM
