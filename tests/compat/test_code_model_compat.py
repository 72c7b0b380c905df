"""Models from code cross between MLflow 2.22.5 and fluvial, both ways: the same model file (written for
MLflow: ``import mlflow``, ``set_model``, ``ModelConfig``, a local package found by ``infer_code_paths``)
saved by one side loads in the other, from another working directory, and predicts the same."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow]

AGENT = '''
import mlflow
from mlflow.models import ModelConfig, set_model
from helpers_pkg.ops import scale

config = ModelConfig(development_config={"factor": 0, "offset": 0})


class Agent(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [scale(v, config.get("factor")) + config.get("offset") for v in model_input["a"]]


set_model(Agent())
'''

# fluvial's own spelling, loaded by MLflow: fluvial's set_model hands the model to MLflow's too
FLUVIAL_AGENT = AGENT.replace("import mlflow\nfrom mlflow.models", "import fluvial as mlflow\nfrom fluvial.models")

SAVE = '''
import sys
import {module} as mlflow
code = {{"code_paths": ["helpers_pkg"]}} if sys.argv[3] == "given" else {{"infer_code_paths": True}}
mlflow.pyfunc.save_model(sys.argv[1], python_model=sys.argv[2], model_config="config.yaml", **code)
emit({{"ok": True}})
'''

LOAD = '''
import sys
import pandas as pd
import {module} as mlflow
model = mlflow.pyfunc.load_model(sys.argv[1])
override = mlflow.pyfunc.load_model(sys.argv[1], model_config={{"offset": 100}})
data = pd.DataFrame({{"a": [1.0, 2.0, 3.0]}})
emit({{"default": list(model.predict(data)), "override": list(override.predict(data))}})
'''

WANT = {"default": [4.5, 7.5, 10.5], "override": [103.0, 106.0, 109.0]}


def _project(root: Path, agent: str) -> Path:
    project = root / "project"
    (project / "helpers_pkg").mkdir(parents=True)
    (project / "helpers_pkg" / "__init__.py").write_text("")
    (project / "helpers_pkg" / "ops.py").write_text("def scale(v, factor):\n    return v * factor\n")
    (project / "agent.py").write_text(textwrap.dedent(agent))
    (project / "config.yaml").write_text("factor: 3\noffset: 1.5\n")
    (root / "elsewhere").mkdir()
    return project


def _side(module: str):
    def run(source: str, *args: str, cwd: Path) -> dict:
        script = source.format(module=module)
        if module == "mlflow":
            return run_script(require_mlflow(), script, *args, cwd=cwd, name="mlflow_side.py")
        return run_fluvial(script, *args, cwd=cwd, name="fluvial_side.py")

    return run


@pytest.mark.parametrize(("saver", "loader", "agent"), [
    ("mlflow", "fluvial", AGENT),
    ("fluvial", "mlflow", AGENT),
    ("fluvial", "mlflow", FLUVIAL_AGENT),
], ids=["mlflow-to-fluvial", "fluvial-to-mlflow", "fluvial-spelling-to-mlflow"])
def test_code_model_crosses(saver, loader, agent, tmp_path):
    require_mlflow()
    project = _project(tmp_path, agent)
    model_dir = tmp_path / "model"
    # MLflow 2.22.5's infer_code_paths finds no module here (its capture subprocess cannot import the
    # package), so MLflow gets the package as code_paths; fluvial infers it.
    _side(saver)(SAVE, str(model_dir), "agent.py", "given" if saver == "mlflow" else "inferred", cwd=project)
    meta = yaml.safe_load((model_dir / "MLmodel").read_text())
    pyfunc = meta["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert pyfunc["model_code_path"] == str(project / "agent.py")
    assert pyfunc["config"] == {"factor": 3, "offset": 1.5} and pyfunc["code"] == "code"
    saved = sorted(str(p.relative_to(model_dir / "code")) for p in (model_dir / "code").rglob("*.py"))
    assert saved == ["helpers_pkg/__init__.py", "helpers_pkg/ops.py"]
    loaded = _side(loader)(LOAD, str(model_dir), cwd=tmp_path / "elsewhere")
    assert loaded == WANT
