"""Models from code (a Python file as ``python_model``, ``set_model``, ``ModelConfig``), inferred code
paths, and the working directory on ``sys.path`` for ``models predict``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

import fluvial as mlflow
from fluvial.exceptions import InvalidParameterValue, MlflowException

# The model file as MLflow's docs write it (``import mlflow``): fluvial runs it with its own modules.
MODEL_FILE = '''
import mlflow
from mlflow.models import ModelConfig, set_model
import {helper}

config = ModelConfig(development_config={{"k": 0}})
import os
with open("executions.txt", "a") as fh:  # one line (the process id) each time this file runs
    fh.write(f"{{os.getpid()}}\\n")


class Model(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [{helper}.double(v) + config.get("k") for v in model_input["a"]]


set_model(Model())
'''


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A working directory with model.py, a local helper module and a local package."""
    (tmp_path / "helper_local.py").write_text("def double(v):\n    return 2 * v\n")
    (tmp_path / "model.py").write_text(MODEL_FILE.format(helper="helper_local"))
    monkeypatch.syspath_prepend(str(tmp_path))  # as when running a script in this directory
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith(("helper_local", "pkg_local"))]:
        del sys.modules[name]


def _runs(project: Path) -> int:
    """How often the model file ran in this process (requirement inference loads it in a subprocess)."""
    path = project / "executions.txt"
    return path.read_text().splitlines().count(str(os.getpid())) if path.exists() else 0


DATA = pd.DataFrame({"a": [1, 2, 3]})


def test_save_and_load_with_dict_config(project):
    mlflow.pyfunc.save_model("m", python_model="model.py", model_config={"k": 10}, code_paths=["helper_local.py"])
    assert _runs(project) == 0  # saved, not executed
    meta = yaml.safe_load((project / "m" / "MLmodel").read_text())
    pyfunc = meta["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert pyfunc["model_code_path"] == str(project / "model.py")
    assert pyfunc["config"] == {"k": 10} and pyfunc["code"] == "code"
    assert (project / "m" / "model.py").is_file() and not (project / "m" / "python_model.pkl").exists()
    model = mlflow.pyfunc.load_model("m")
    assert _runs(project) == 1
    assert model.predict(DATA) == [12, 14, 16]
    assert model.model_config == {"k": 10}
    assert mlflow.pyfunc.load_model("m", model_config={"k": 100}).predict(DATA) == [102, 104, 106]


def test_yaml_config_file_and_logging(project, tracking_uri):
    (project / "config.yml").write_text("k: 5\n")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model("model", python_model=project / "model.py", model_config="config.yml",
                                       input_example=DATA.astype(float))
    assert _runs(project) == 1  # run once at save time, to infer the signature from the example
    assert info.flavors["python_function"]["config"] == {"k": 5}
    assert info.signature is not None and info.signature.inputs.input_names() == ["a"]
    os.remove("helper_local.py")  # the model must not depend on the working directory now...
    sys.modules.pop("helper_local", None)
    with pytest.raises(MlflowException, match="helper_local"):
        mlflow.pyfunc.load_model(info.model_uri)  # ...and it does: no code_paths were given
    (project / "helper_local.py").write_text("def double(v):\n    return 2 * v\n")
    assert mlflow.pyfunc.load_model(info.model_uri).predict(DATA.astype(float)) == [7, 9, 11]


def test_model_config_reads_development_config_outside_loading(project):
    from fluvial.models import ModelConfig

    assert ModelConfig(development_config={"a": 1}).get("a") == 1
    (project / "dev.yaml").write_text("a: 2\nb: [1, 2]\n")
    config = ModelConfig(development_config=str(project / "dev.yaml"))
    assert config.to_dict() == {"a": 2, "b": [1, 2]}
    with pytest.raises(KeyError, match="nope"):
        config.get("nope")
    with pytest.raises(FileNotFoundError):
        ModelConfig()
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        ModelConfig(development_config="missing.yaml")


def test_model_without_model_config_fails_modelconfig_at_load(project):
    mlflow.pyfunc.save_model("m", python_model="model.py")
    with pytest.raises(MlflowException, match="Config file is not provided"):
        mlflow.pyfunc.load_model("m")


def test_bad_model_files(project):
    with pytest.raises(InvalidParameterValue, match="Perhaps you meant"):
        mlflow.pyfunc.save_model("m1", python_model="model")
    assert not (project / "m1").exists()
    (project / "no_set.py").write_text("x = 1\n")
    mlflow.pyfunc.save_model("m2", python_model="no_set.py")
    with pytest.raises(MlflowException, match="set_model"):
        mlflow.pyfunc.load_model("m2")
    (project / "broken.py").write_text("raise RuntimeError('boom')\n")
    mlflow.pyfunc.save_model("m3", python_model="broken.py")
    with pytest.raises(MlflowException, match=r"Failed to run user code.*boom"):
        mlflow.pyfunc.load_model("m3")
    from fluvial.models import set_model

    with pytest.raises(MlflowException, match="path is not a model"):
        set_model("model.py")


def test_function_model_from_code(project):
    (project / "fn.py").write_text(textwrap.dedent('''
        from fluvial.models import set_model

        def predict(model_input):
            return model_input.assign(b=model_input["a"] * 3)

        set_model(predict)
    '''))
    mlflow.pyfunc.save_model("m", python_model="fn.py")
    assert mlflow.pyfunc.load_model("m").predict(DATA)["b"].tolist() == [3, 6, 9]


@pytest.mark.slow  # two model loads in subprocesses (code capture, requirement inference)
def test_infer_code_paths_saves_local_modules_only(project):
    pkg = project / "pkg_local"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "ops.py").write_text("def double(v):\n    return 2 * v\n")
    (pkg / "unused.py").write_text("raise RuntimeError('never imported')\n")
    (project / "model.py").write_text(MODEL_FILE.format(helper="pkg_local.sub.ops").replace(
        "import pkg_local.sub.ops", "import pkg_local.sub.ops\nimport yaml, numpy  # site-packages: not copied"))
    (pkg / "sub" / "__pycache__").mkdir()
    (pkg / "sub" / "__pycache__" / "ops.cpython-311.pyc").write_bytes(b"\0")
    mlflow.pyfunc.save_model("m", python_model="model.py", model_config={"k": 1}, infer_code_paths=True)
    code = project / "m" / "code"
    saved = sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.is_file())
    assert saved == ["pkg_local/__init__.py", "pkg_local/sub/__init__.py", "pkg_local/sub/ops.py"]
    assert yaml.safe_load((project / "m" / "MLmodel").read_text())["flavors"]["python_function"]["code"] == "code"
    # loads from the saved copy alone
    import shutil

    shutil.rmtree(pkg)
    for name in [n for n in sys.modules if n.startswith("pkg_local")]:
        del sys.modules[name]
    try:
        assert mlflow.pyfunc.load_model("m").predict(DATA) == [3, 5, 7]
    finally:
        sys.path.remove(str(code))
    with pytest.raises(MlflowException, match="code_paths"):
        mlflow.pyfunc.save_model("m2", python_model="model.py", infer_code_paths=True, code_paths=["model.py"])


def test_code_paths_skip_pycache(tmp_path):
    src = tmp_path / "src" / "lib_mod"
    (src / "__pycache__").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (src / "stale.pyc").write_bytes(b"\0")

    def fn(df):
        return df

    mlflow.pyfunc.save_model("m", python_model=fn, code_paths=[str(src)], pip_requirements=[])
    saved = sorted(str(p.relative_to(tmp_path / "m" / "code")) for p in (tmp_path / "m" / "code").rglob("*"))
    assert saved == ["lib_mod", "lib_mod/__init__.py"]


def test_models_predict_puts_the_working_directory_on_sys_path(project, tmp_path):
    """As MLflow's scoring server: a model whose code imports a module next to where it is served."""
    mlflow.pyfunc.save_model("m", python_model="model.py", model_config={"k": 0})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fluvial_cli.py").write_text("import sys\nfrom fluvial.cli import main\nsys.exit(main())\n")
    (project / "in.json").write_text('{"dataframe_split": {"columns": ["a"], "data": [[1], [2]]}}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(Path(mlflow.__file__).parents[1])

    def predict(cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(bin_dir / "fluvial_cli.py"), "models", "predict", "-m",
                               str(project / "m"), "-i", str(project / "in.json"), "--env-manager", "local"],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=120)

    ok = predict(project)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"predictions": [2, 4]}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    failed = predict(elsewhere)  # the helper module is only importable from the project directory
    assert failed.returncode != 0 and "helper_local" in failed.stderr
